"""End-to-end pipeline on a small problem: plan contents, pruning exactness, baselines."""

from __future__ import annotations

import math

import pytest
from helpers import DATA

from optimizer.candidates import annuity_factor, build_candidates, daily_requests, profile_factors
from optimizer.check import check_plan, recompute_costs
from optimizer.model import build_model
from optimizer.pipeline import PlanResult, baseline_problem
from optimizer.schema.loader import load_problem
from optimizer.solve import SolveStatus, solve


def test_small_plan_is_optimal_and_checks(small_result: PlanResult) -> None:
    plan = small_result.plan
    assert plan.status == "optimal"
    assert check_plan(plan) == []
    assert math.isclose(sum(plan.cost_breakdown.values()), plan.monthly_cost_usd, rel_tol=1e-9)
    costs = recompute_costs(plan)
    for term, v in costs.items():
        assert math.isclose(v, plan.cost_breakdown[term], rel_tol=1e-6, abs_tol=1e-3)
    assert plan.deployments and plan.routing and plan.demand
    # every workload's demand is fully served
    assert all(w.served_share == pytest.approx(1.0) for w in plan.workloads)


def test_residency_user_region_keeps_traffic_home(small_result: PlanResult) -> None:
    plan = small_result.plan
    juris = {s.id: s.jurisdiction for s in plan.sites}
    for f in plan.routing:
        if f.workload == "analyst":
            assert juris[f.site] == f.region


def test_tight_ttft_uses_near_sites(small_result: PlanResult) -> None:
    plan = small_result.plan
    for f in plan.routing:
        if f.workload == "chat_small":
            assert f.ttft_ms <= 100.0 + 1e-9
            assert f.rtt_ms < 90.0  # the transatlantic paths are too slow with any configuration's TTFT


def test_pruning_never_changes_the_optimum() -> None:
    loaded = load_problem(DATA / "small.yaml")
    pruned = build_candidates(loaded.problem, loaded.catalog, prune=True)
    full = build_candidates(loaded.problem, loaded.catalog, prune=False)
    assert len(pruned.fleet.candidates) < len(full.fleet.candidates)
    a = solve(build_model(pruned.fleet))
    b = solve(build_model(full.fleet))
    assert a.status is SolveStatus.OPTIMAL and b.status is SolveStatus.OPTIMAL
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def test_demand_conversion_and_profile() -> None:
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    analyst = p.workloads[1]
    assert daily_requests(analyst) == pytest.approx(150e6 / 400)
    f = profile_factors(p, p.workloads[0])
    hours = [8, 16]
    assert sum(x * h for x, h in zip(f, hours, strict=True)) / 24 == pytest.approx(1.0)
    cs = build_candidates(p, loaded.catalog)
    total = sum(
        v * h * 3600
        for (w, _, t), v in cs.fleet.demand_rps.items()
        if w == "chat_small"
        for h in [8 if t == "peak" else 16]
    )
    assert total == pytest.approx(3e6)


def test_annuity_factor() -> None:
    assert annuity_factor(0.0, 4) == pytest.approx(0.25)
    assert annuity_factor(0.1, 3) == pytest.approx(0.1 / (1 - 1.1**-3))


def test_baselines_present_and_not_cheaper(small_result: PlanResult) -> None:
    names = {b.name: b for b in small_result.plan.baselines}
    od = names["on_demand_single_gpu_bf16"]
    assert od.monthly_cost_usd is not None
    assert od.monthly_cost_usd >= small_result.plan.monthly_cost_usd - 1e-6
    assert names["serverless_only"].monthly_cost_usd is None  # serverless not allowed here


def test_baseline_problem_is_simple() -> None:
    loaded = load_problem(DATA / "small.yaml")
    bp = baseline_problem(loaded.problem, loaded.catalog, "h100_sxm")
    assert bp is not None
    assert all(s.kind == "central" for s in bp.sites)
    assert all(w.precisions == ("bf16",) for w in bp.workloads)
    assert bp.purchase_options.spot is None and bp.purchase_options.committed_1y is None
