"""Hand-built FleetData showing each rule bite, with the expected plan worked out by hand."""

from __future__ import annotations

import dataclasses

import pytest
from fleet_check import violations
from fleet_factory import offer

from optimizer.highs_matrix import highs_matrix
from optimizer.model import build_model
from optimizer.model.data import (
    CandidateData,
    FleetData,
    PeriodData,
    RouteData,
    SiteData,
    WorkloadData,
)
from optimizer.solve import RunOptions, Solution, SolveStatus, _highs_of, relaxation_bound, solve

DAY = (PeriodData("day", 730.0),)
PEAK_OFF = (PeriodData("peak", 365.0), PeriodData("off", 365.0))


def fleet(**kw: object) -> FleetData:
    """One workload `chat`, one region `eu`, one central site `fra`, candidate `c1` (1 GPU, 10 rps)
    on `h100` at $2/GPU-h on demand; 25 rps all day. Keyword arguments replace fields."""
    base = FleetData(
        periods=DAY,
        workloads=(WorkloadData("chat"),),
        regions=("eu",),
        sites=(SiteData("fra"),),
        candidates=(CandidateData("c1", "chat", "llama", "h100", 1, 10.0),),
        offers=(offer("fra", "h100", "on_demand", 2.0),),
        routes=(RouteData("chat", "eu", "fra", "c1"),),
        demand_rps={("chat", "eu", "day"): 25.0},
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def run(data: FleetData) -> Solution:
    sol = solve(build_model(data))
    assert sol.status is SolveStatus.OPTIMAL
    assert violations(data, sol) == []
    return sol


def replicas_at(sol: Solution, site: str, period: str, option: str | None = None) -> int:
    return sum(
        n
        for (_c, s, o, t), n in sol.replicas.items()
        if s == site and t == period and (option is None or o == option)
    )


def test_baseline_cost_is_whole_replicas_times_price_times_hours() -> None:
    sol = run(fleet())
    assert sol.replicas == {("c1", "fra", "on_demand", "day"): 3}  # ceil(25 / 10)
    assert sol.objective == pytest.approx(3 * 2.0 * 730)
    assert sol.cost_terms["on_demand"] == pytest.approx(sol.objective)
    assert set(sol.cost_terms) == {
        "on_demand",
        "spot",
        "committed",
        "owned_capital",
        "power",
        "egress",
        "serverless",
        "shortfall_penalty",
    }


def test_utilization_and_headroom_scale_the_replica_count() -> None:
    sol = run(
        fleet(sites=(SiteData("fra", utilization=0.5),), workloads=(WorkloadData("chat", headroom=0.2),))
    )
    assert replicas_at(sol, "fra", "day") == 6  # 25 x 1.2 = 30 rps over 5 usable rps each


def test_tight_ttft_route_set_keeps_traffic_at_the_near_site() -> None:
    """A tight TTFT target leaves only the near (dearer) site in the route set: traffic goes there,
    though the far site is cheaper; with both routes, the far one wins."""
    sites = (SiteData("near", "edge"), SiteData("far"))
    offers = (offer("near", "h100", "on_demand", 3.0), offer("far", "h100", "on_demand", 1.0))
    near_only = fleet(sites=sites, offers=offers, routes=(RouteData("chat", "eu", "near", "c1"),))
    sol = run(near_only)
    assert {s for (_w, _r, s, _c, _t) in sol.traffic} == {"near"}
    assert replicas_at(sol, "far", "day") == 0
    both = dataclasses.replace(near_only, routes=(*near_only.routes, RouteData("chat", "eu", "far", "c1")))
    assert {s for (_w, _r, s, _c, _t) in run(both).traffic} == {"far"}


def test_spot_share_cap_limits_spot_gpus() -> None:
    offers = (offer("fra", "h100", "on_demand", 4.0), offer("fra", "h100", "spot", 1.0, availability=0.8))
    free = run(fleet(offers=offers, demand_rps={("chat", "eu", "day"): 40.0}))
    assert replicas_at(free, "fra", "day", "on_demand") == 0
    assert replicas_at(free, "fra", "day", "spot") == 5  # 40 rps / (10 x 0.8)
    capped = run(fleet(offers=offers, demand_rps={("chat", "eu", "day"): 40.0}, spot_max_share=0.5))
    n_od = replicas_at(capped, "fra", "day", "on_demand")
    n_spot = replicas_at(capped, "fra", "day", "spot")
    assert 0 < n_spot <= 0.5 * (n_od + n_spot) + 1e-9  # one GPU per replica: the share is of GPUs
    # n_spot <= n_od and 10 n_od + 8 n_spot >= 40: 2 + 2 give 36 rps (short); cheapest is
    # 3 on-demand + 2 spot (46 rps).
    assert (n_od, n_spot) == (3, 2)
    assert capped.objective == pytest.approx((3 * 4.0 + 2 * 1.0) * 730)


def test_committed_covers_the_base_and_on_demand_the_peak() -> None:
    """Committed at $2.5/GPU-h is paid all 730 h ($1825/month per GPU); on-demand at $4 only in the
    hours held (365 h: $1460). Base load of 1 replica: committed ($1825 < $2920 on demand in both
    periods); the 3 extra peak replicas: on demand ($1460 < $1825 each)."""
    offers = (offer("fra", "h100", "on_demand", 4.0), offer("fra", "h100", "committed_1y", 2.5))
    demand = {("chat", "eu", "peak"): 40.0, ("chat", "eu", "off"): 10.0}
    sol = run(fleet(periods=PEAK_OFF, offers=offers, demand_rps=demand))
    assert sol.replicas == {
        ("c1", "fra", "committed_1y", "peak"): 1,
        ("c1", "fra", "committed_1y", "off"): 1,
        ("c1", "fra", "on_demand", "peak"): 3,
    }
    assert sol.cost_terms["committed"] == pytest.approx(2.5 * 730)
    assert sol.cost_terms["on_demand"] == pytest.approx(3 * 4.0 * 365)


def test_owned_cost_splits_into_capital_and_power() -> None:
    sol = run(fleet(offers=(offer("fra", "h100", "owned", 1.0),)))
    assert sol.cost_terms["owned_capital"] == pytest.approx(3 * 0.8 * 730)
    assert sol.cost_terms["power"] == pytest.approx(3 * 0.2 * 730)


def test_instance_packing_rounds_gpus_to_whole_instances() -> None:
    """9 one-GPU replicas on 8-GPU instances: 2 instances (16 GPUs) are paid for."""
    data = fleet(
        offers=(offer("fra", "h100", "on_demand", 2.0, gpi=8),), demand_rps={("chat", "eu", "day"): 85.0}
    )
    sol = run(data)
    assert replicas_at(sol, "fra", "day") >= 9  # idle GPUs of a paid instance may hold replicas too
    assert sol.instances == {("fra", "h100", "on_demand", "day", "shared"): 2}
    assert sol.objective == pytest.approx(2 * 8 * 2.0 * 730)


def test_replica_larger_than_instance_is_not_offered() -> None:
    """A 2-GPU replica never spans two 1-GPU instances: only the 2-GPU instance offer hosts it."""
    cands = (CandidateData("c2", "chat", "llama", "h100", 2, 10.0),)
    offers = (offer("fra", "h100", "on_demand", 1.0, gpi=1), offer("fra", "h100", "spot", 3.0, gpi=2))
    sol = run(fleet(candidates=cands, offers=offers, routes=(RouteData("chat", "eu", "fra", "c2"),)))
    assert {o for (_c, _s, o, _t) in sol.replicas} == {"spot"}


def test_dedicated_workload_gets_instances_of_its_own() -> None:
    two = dict(
        workloads=(WorkloadData("chat"), WorkloadData("code")),
        candidates=(
            CandidateData("c1", "chat", "llama", "h100", 1, 10.0),
            CandidateData("k1", "code", "qwen", "h100", 1, 10.0),
        ),
        offers=(offer("fra", "h100", "on_demand", 2.0, gpi=8),),
        routes=(RouteData("chat", "eu", "fra", "c1"), RouteData("code", "eu", "fra", "k1")),
        demand_rps={("chat", "eu", "day"): 10.0, ("code", "eu", "day"): 10.0},
    )
    shared = run(fleet(**two))
    assert shared.instances == {("fra", "h100", "on_demand", "day", "shared"): 1}
    two["workloads"] = (WorkloadData("chat"), WorkloadData("code", dedicated=True))
    dedicated = run(fleet(**two))
    assert dedicated.instances == {
        ("fra", "h100", "on_demand", "day", "shared"): 1,
        ("fra", "h100", "on_demand", "day", "code"): 1,
    }


def test_max_gpu_types_holds() -> None:
    """Each workload's cheapest GPU differs; with at most one type, one GPU serves both."""
    data = fleet(
        workloads=(WorkloadData("chat"), WorkloadData("code")),
        candidates=(
            CandidateData("c_h", "chat", "llama", "h100", 1, 10.0),
            CandidateData("c_a", "chat", "llama", "a100", 1, 10.0),
            CandidateData("k_h", "code", "qwen", "h100", 1, 10.0),
            CandidateData("k_a", "code", "qwen", "a100", 1, 10.0),
        ),
        offers=(offer("fra", "h100", "on_demand", 2.0), offer("fra", "a100", "on_demand", 2.2)),
        routes=tuple(
            RouteData(w, "eu", "fra", c)
            for w, c in (("chat", "c_h"), ("chat", "c_a"), ("code", "k_h"), ("code", "k_a"))
        ),
        demand_rps={("chat", "eu", "day"): 10.0, ("code", "eu", "day"): 10.0},
    )
    # make a100 the cheaper GPU for `code` by capacity
    data = dataclasses.replace(
        data,
        candidates=(*data.candidates[:3], CandidateData("k_a", "code", "qwen", "a100", 1, 20.0)),
        demand_rps={("chat", "eu", "day"): 10.0, ("code", "eu", "day"): 20.0},
    )
    assert run(data).gpu_types == {"h100", "a100"}
    limited = run(dataclasses.replace(data, max_gpu_types=1))
    assert len(limited.gpu_types) == 1


def test_budget_with_shortfall_reports_unmet_demand() -> None:
    data = fleet(
        workloads=(WorkloadData("chat", unmet_usd_per_request=1.0),), budget_usd_per_month=2 * 2.0 * 730
    )
    sol = run(data)
    assert replicas_at(sol, "fra", "day") == 2
    assert sol.unmet == {("chat", "eu", "day"): pytest.approx(5.0)}
    spend = sum(v for k, v in sol.cost_terms.items() if k != "shortfall_penalty")
    assert spend <= 2 * 2.0 * 730 + 1e-6
    assert sol.cost_terms["shortfall_penalty"] == pytest.approx(5.0 * 3600 * 730 * 1.0)


def test_supply_limit_moves_capacity_to_another_site() -> None:
    sites = (SiteData("fra"), SiteData("ams"))
    offers = (offer("fra", "h100", "on_demand", 1.0), offer("ams", "h100", "on_demand", 3.0))
    routes = (RouteData("chat", "eu", "fra", "c1"), RouteData("chat", "eu", "ams", "c1"))
    sol = run(fleet(sites=sites, offers=offers, routes=routes, supply_max_gpus={("fra", "h100"): 2}))
    assert (replicas_at(sol, "fra", "day"), replicas_at(sol, "ams", "day")) == (2, 1)


def test_site_gpu_and_power_limits() -> None:
    sites = (SiteData("fra", max_gpus=1), SiteData("ams", power_limit_kw=1.5))
    offers = (
        offer("fra", "h100", "on_demand", 1.0),
        offer("ams", "h100", "on_demand", 2.0),
        offer("ams", "a100", "on_demand", 3.0),
    )
    cands = (
        CandidateData("c1", "chat", "llama", "h100", 1, 10.0),
        CandidateData("c2", "chat", "llama", "a100", 1, 10.0),
    )
    routes = tuple(RouteData("chat", "eu", s, c) for s in ("fra", "ams") for c in ("c1", "c2"))
    sol = run(
        fleet(
            sites=sites,
            offers=offers,
            candidates=cands,
            routes=routes,
            gpu_power_kw={"h100": 0.7, "a100": 0.4},
            demand_rps={("chat", "eu", "day"): 40.0},
        )
    )
    # fra holds 1 GPU; ams 1.5 kW: two h100 (1.4 kW) or one h100 + one a100 (1.1 kW) ... cheapest
    # feasible for 4 replicas: fra 1 h100, ams 2 h100 (1.4 kW) leaves 0.1 kW, so the 4th can't fit:
    # ams 1 h100 + 2 a100 = 1.5 kW.
    assert replicas_at(sol, "fra", "day") == 1
    assert sol.replicas[("c1", "ams", "on_demand", "day")] == 1
    assert sol.replicas[("c2", "ams", "on_demand", "day")] == 2


def test_min_replicas_per_active_site() -> None:
    sol = run(fleet(demand_rps={("chat", "eu", "day"): 5.0}, min_replicas_per_active_site=2))
    assert replicas_at(sol, "fra", "day") == 2
    assert ("chat", "fra") in sol.active_sites


def test_min_replicas_hold_in_every_period() -> None:
    demand = {("chat", "eu", "peak"): 30.0, ("chat", "eu", "off"): 1.0}
    sol = run(fleet(periods=PEAK_OFF, demand_rps=demand, min_replicas_per_active_site=2))
    assert (replicas_at(sol, "fra", "peak"), replicas_at(sol, "fra", "off")) == (3, 2)


def test_an_active_site_holds_a_whole_instance_even_in_the_lp_relaxation() -> None:
    """One 1-GPU replica on an 8-GPU instance: the MIP buys the whole instance; so does the LP
    relaxation with the `min_instances` rows (without them it buys 1/8 of it)."""
    data = fleet(
        offers=(offer("fra", "h100", "on_demand", 2.0, gpi=8),),
        demand_rps={("chat", "eu", "day"): 1.0},
        min_replicas_per_active_site=1,
    )
    sol = run(data)
    assert sol.objective == pytest.approx(8 * 2.0 * 730)
    model = build_model(data)
    assert relaxation_bound(model, RunOptions()) == pytest.approx(sol.objective)
    rows = frozenset(c.name for c in model.constraints["min_instances"].values())
    h = _highs_of(highs_matrix(model.problem, model.columns).without_rows(rows), RunOptions(), integer=False)
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(sol.objective / 8)


def test_min_instances_rows_are_left_out_where_packing_implies_them() -> None:
    """A pool whose replicas fill whole instances (1-GPU replicas on 1-GPU instances) needs no
    `min_instances` row: the LP relaxation still buys the whole instance (packing and the minimum
    replicas imply it), and the MIP optimum is the same."""
    data = fleet(
        offers=(offer("fra", "h100", "on_demand", 2.0, gpi=1),),
        demand_rps={("chat", "eu", "day"): 1.0},
        min_replicas_per_active_site=1,
    )
    model = build_model(data)
    assert not model.constraints.get("min_instances")
    assert model.constraints["min_replicas"]
    sol = run(data)
    assert sol.objective == pytest.approx(2.0 * 730)
    assert relaxation_bound(model, RunOptions()) == pytest.approx(sol.objective)


def test_hybrid_placement_uses_a_central_and_an_edge_site() -> None:
    sites = (SiteData("fra", "central"), SiteData("edge1", "edge"))
    offers = (offer("fra", "h100", "on_demand", 1.0), offer("edge1", "h100", "on_demand", 5.0))
    routes = (RouteData("chat", "eu", "fra", "c1"), RouteData("chat", "eu", "edge1", "c1"))
    auto = run(fleet(sites=sites, offers=offers, routes=routes))
    assert {s for (_w, s) in auto.active_sites} == {"fra"}
    hybrid = run(
        fleet(
            sites=sites, offers=offers, routes=routes, workloads=(WorkloadData("chat", placement="hybrid"),)
        )
    )
    assert {s for (_w, s) in hybrid.active_sites} == {"fra", "edge1"}
    assert replicas_at(hybrid, "edge1", "day") == 1
    assert hybrid.objective == pytest.approx((2 * 1.0 + 5.0) * 730)


def test_model_routing_share_cap() -> None:
    """The small model is cheaper per request, but may serve at most 60% of demand."""
    cands = (
        CandidateData("big", "chat", "llama_70b", "h100", 1, 5.0),
        CandidateData("small", "chat", "llama_8b", "h100", 1, 20.0),
    )
    routes = (RouteData("chat", "eu", "fra", "big"), RouteData("chat", "eu", "fra", "small"))
    data = fleet(candidates=cands, routes=routes, demand_rps={("chat", "eu", "day"): 50.0})
    free = run(data)
    assert sum(x for k, x in free.traffic.items() if k[3] == "small") == pytest.approx(50.0)
    capped = run(
        dataclasses.replace(data, workloads=(WorkloadData("chat", group_max_share={"llama_8b": 0.6}),))
    )
    assert sum(x for k, x in capped.traffic.items() if k[3] == "small") <= 30.0 + 1e-6
    assert sum(x for k, x in capped.traffic.items() if k[3] == "big") >= 20.0 - 1e-6


def test_serverless_max_share() -> None:
    """Serverless is far cheaper per request than a replica: it takes all it may."""
    demand = {("chat", "eu", "day"): 28.5}
    free = run(fleet(workloads=(WorkloadData("chat", serverless_usd_per_request=1e-6),), demand_rps=demand))
    assert free.serverless == {("chat", "eu", "day"): pytest.approx(28.5)}
    assert free.replicas == {}
    wl = WorkloadData("chat", serverless_usd_per_request=1e-6, serverless_max_share=0.3)
    capped = run(fleet(workloads=(wl,), demand_rps=demand))  # <= 8.55 rps serverless: 2 replicas + 8.5
    assert replicas_at(capped, "fra", "day") == 2
    assert capped.serverless == {("chat", "eu", "day"): pytest.approx(8.5)}
    wl = WorkloadData("chat", serverless_usd_per_request=1e-6, serverless_max_share=0.2)
    tighter = run(fleet(workloads=(wl,), demand_rps=demand))  # <= 5.7 rps: 2 replicas fall short
    assert replicas_at(tighter, "fra", "day") == 3


def test_daily_coverage_shifts_batch_work_to_the_cheap_period() -> None:
    """Batch demand arrives at peak only. Committed capacity (paid all day) idles off-peak, so with
    daily coverage the work moves there: one committed replica serves 10 rps in both periods."""
    offers = (offer("fra", "h100", "on_demand", 4.0), offer("fra", "h100", "committed_1y", 2.5))
    demand = {("chat", "eu", "peak"): 20.0}
    hourly = run(fleet(periods=PEAK_OFF, offers=offers, demand_rps=demand))
    batch = run(
        fleet(
            periods=PEAK_OFF,
            offers=offers,
            demand_rps=demand,
            workloads=(WorkloadData("chat", daily_coverage=True),),
        )
    )
    assert batch.traffic[("chat", "eu", "fra", "c1", "off")] == pytest.approx(10.0)
    assert batch.objective == pytest.approx(2.5 * 730)
    assert hourly.objective == pytest.approx(2 * 4.0 * 365)
    assert batch.objective < hourly.objective


def test_egress_and_serverless_costs() -> None:
    wl = WorkloadData("chat", serverless_usd_per_request=1e-4, serverless_max_share=0.2)
    sol = run(
        fleet(
            workloads=(wl,),
            routes=(RouteData("chat", "eu", "fra", "c1", 1e-6),),
            demand_rps={("chat", "eu", "day"): 20.0},
        )
    )
    served = sum(sol.traffic.values())
    assert sol.cost_terms["egress"] == pytest.approx(served * 3600 * 730 * 1e-6)
    assert sol.cost_terms["serverless"] == pytest.approx(sum(sol.serverless.values()) * 3600 * 730 * 1e-4)


def test_headroom_protects_gpu_capacity_not_serverless_traffic() -> None:
    """All-serverless costs exactly demand x price, headroom or not (it used to be charged 1.5x)."""
    demand = {("chat", "eu", "day"): 28.5}
    wl = WorkloadData("chat", headroom=0.5, serverless_usd_per_request=1e-6)
    sol = run(fleet(workloads=(wl,), demand_rps=demand))
    assert sol.serverless == {("chat", "eu", "day"): pytest.approx(28.5)}
    assert sol.objective == pytest.approx(28.5 * 3600 * 730 * 1e-6)
    # With a 30 % cap (of demand, 8.55 rps), serverless covers 1.5 x its rps of the 42.75 rps need.
    wl = WorkloadData("chat", headroom=0.5, serverless_usd_per_request=1e-6, serverless_max_share=0.3)
    capped = run(fleet(workloads=(wl,), demand_rps=demand))
    assert capped.serverless[("chat", "eu", "day")] <= 0.3 * 28.5 + 1e-9
    assert sum(capped.traffic.values()) + 1.5 * capped.serverless[("chat", "eu", "day")] >= 42.75 - 1e-6
