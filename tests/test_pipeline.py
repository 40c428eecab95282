"""End-to-end pipeline on a small problem: plan contents, pruning exactness, baselines."""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import DATA

from optimizer.candidates import annuity_factor, build_candidates, daily_requests, profile_factors
from optimizer.check import check_plan, recompute_costs
from optimizer.loading.problem_file import load_problem
from optimizer.model import build_model
from optimizer.model.restrict import restrict_fleet
from optimizer.pipeline import PlanResult, SolveOptions, solve_problem
from optimizer.schema.problem import MeasuredThroughput
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
    od = names["on_demand_single_gpu"]
    assert od.monthly_cost_usd is not None and od.note == "proven optimal"
    assert od.monthly_cost_usd >= small_result.plan.monthly_cost_usd - 1e-6
    assert names["serverless_only"].monthly_cost_usd is None  # serverless not allowed here


def test_baseline_is_a_restriction_of_the_plans_problem() -> None:
    """Only offers (on-demand, one GPU type) and the serverless API are taken away; the candidates
    (precisions, quality floor, measurements) and routes (latency, residency) are the plan's own."""
    loaded = load_problem(DATA / "small.yaml")
    fleet = build_candidates(loaded.problem, loaded.catalog).fleet
    gpu = fleet.offers[0].gpu
    bp = restrict_fleet(fleet, options=frozenset({"on_demand"}), gpu=gpu, serverless=False)
    assert {(o.gpu, o.option) for o in bp.offers} <= {(gpu, "on_demand")}
    assert bp.candidates == fleet.candidates and bp.routes == fleet.routes
    assert all(w.serverless_usd_per_request is None for w in bp.workloads)


def test_single_gpu_baseline_solves_share_one_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU types' baseline MIPs share one limit: with none left after the first, the others
    (whose bounds, all 0 here, are below its cost) are named as unsolved in the note."""
    import optimizer.pipeline as pipeline
    from optimizer.model.synthetic import synthetic_fleet

    fleet = synthetic_fleet(candidates=8, periods=2, sites=3, regions=2, workloads=2, seed=1)
    full, _ = pipeline.cheapest_single_gpu(fleet, SolveOptions(), 60.0)
    assert full is not None and not full.unsolved
    monkeypatch.setattr(pipeline, "quick_bound", lambda model, opts: 0.0)
    best, skipped = pipeline.cheapest_single_gpu(fleet, SolveOptions(), 0.0)
    assert best is not None and best.gpu == "gpu0" and best.unsolved == ("gpu3",), skipped
    note = pipeline._gap_note(best)
    assert "not proven the cheapest GPU type: gpu3 left unsolved" in note
    assert full.cost <= best.cost + 1e-6


def _with_measurement(tokens_per_s: float, tpot_ms: float | None = None) -> tuple[Any, Any]:
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    m = MeasuredThroughput(
        gpu="h100_sxm",
        precision="fp8",
        tensor_parallel=1,
        output_tokens_per_s_per_replica=tokens_per_s,
        tpot_ms=tpot_ms,
    )
    wl = tuple(w.model_copy(update={"measured": (m,)}) if w.id == "chat_small" else w for w in p.workloads)
    return p.model_copy(update={"workloads": wl}), loaded.catalog


def test_measured_throughput_replaces_the_prediction() -> None:
    problem, catalog = _with_measurement(20000.0)
    cs = build_candidates(problem, catalog, prune=False)
    hits = [
        c
        for c in cs.info.values()
        if c.workload == "chat_small"
        and c.gpu == "h100_sxm"
        and c.precision == "fp8"
        and c.tensor_parallel == 1
        and not c.speculative
    ]
    assert hits and all(c.measured for c in hits)
    assert all(c.capacity_rps == pytest.approx(20000.0 / 200.0) for c in hits)  # tokens/s / output tokens
    others = [c for c in cs.info.values() if c.workload == "chat_small" and c.precision != "fp8"]
    assert others and not any(c.measured for c in others)
    plan = solve_problem(problem, catalog, SolveOptions(baselines=False)).plan
    assert any(d.predicted.measured for d in plan.deployments if d.workload == "chat_small")


def test_measured_latency_over_target_drops_the_configuration() -> None:
    problem, catalog = _with_measurement(20000.0, tpot_ms=500.0)  # far above the 40 ms target
    cs = build_candidates(problem, catalog, prune=False)
    assert not any(c.measured for c in cs.info.values())
