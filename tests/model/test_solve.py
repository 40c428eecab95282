"""Solver choice, status mapping, fallback, and infeasibility diagnoses."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import pulp
import pytest
from fleet_factory import offer, random_small_fleet
from test_rules import PEAK_OFF, fleet

import optimizer.solve as solve_mod
from optimizer.diagnosis import solve_diagnosed
from optimizer.errors import ExitCode, InfeasibleError, SolverError
from optimizer.model import build_model
from optimizer.model.data import CandidateData, RouteData, SiteData, WorkloadData
from optimizer.model.diagnose import precheck
from optimizer.model.synthetic import synthetic_fleet
from optimizer.solve import (
    RunOptions,
    SolverInfo,
    SolveStatus,
    _Run,
    map_cbc_status,
    map_highs_status,
    solve,
)

# ---------------------------------------------------------------- solvers agree


@pytest.mark.parametrize("seed", [0, 1, 2, 5, 8])
def test_cbc_and_highs_agree(seed: int) -> None:
    data = random_small_fleet(seed)
    try:
        highs = solve(build_model(data), solver="highs")
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve(build_model(data), solver="cbc")
        return
    cbc = solve(build_model(data), solver="cbc")
    assert cbc.solver.name == "cbc" and highs.solver.name == "highs"
    assert cbc.objective == pytest.approx(highs.objective, rel=1e-6, abs=1e-6)
    assert cbc.status is highs.status is SolveStatus.OPTIMAL


def test_solver_facts_are_recorded() -> None:
    sol = solve(build_model(fleet()), time_limit_s=10, mip_gap=1e-4, threads=1)
    info = sol.solver
    assert info.name == "highs" and info.version.count(".") >= 1
    assert info.options == {"time_limit_s": 10, "mip_gap": 1e-4, "threads": 1}
    assert info.wall_time_s > 0 and info.raw_status
    assert info.best_bound == pytest.approx(sol.objective) and info.gap == pytest.approx(0.0, abs=1e-9)
    assert info.fallback_reason is None
    assert sol.model_stats["variables"] == 3
    cbc = solve(build_model(fleet()), solver="cbc")
    assert cbc.solver.version and cbc.solver.best_bound == pytest.approx(cbc.objective)


def test_time_limit_gives_feasible_or_optimal_never_wrong() -> None:
    """A harder instance with a tiny time limit: either proven optimal, or feasible with a gap
    that is not within the requested one and a bound below the objective; or no incumbent at all,
    which is an error (never a plan)."""
    data = synthetic_fleet(candidates=20, periods=8, sites=4, regions=3, workloads=3, seed=0)
    for solver in ("highs", "cbc"):
        try:
            sol = solve(build_model(data), solver=solver, time_limit_s=1.0)
        except SolverError as exc:
            assert "time limit" in str(exc)
            continue
        assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
        if sol.status is SolveStatus.FEASIBLE:
            assert sol.status.exit_code is ExitCode.NOT_PROVEN_OPTIMAL
            assert sol.solver.gap is None or sol.solver.gap > 1e-6
            if sol.solver.best_bound is not None:
                assert sol.solver.best_bound <= sol.objective * (1 + 1e-9)
        else:
            assert sol.solver.gap is not None and sol.solver.gap <= 1e-6


def test_highs_status_mapping() -> None:
    assert map_highs_status("kOptimal", True, 0.0, 1e-6) is SolveStatus.OPTIMAL
    assert map_highs_status("kInfeasible", False, None, 1e-6) is SolveStatus.INFEASIBLE
    assert map_highs_status("kUnboundedOrInfeasible", False, None, 1e-6) is SolveStatus.INFEASIBLE
    assert map_highs_status("kUnboundedOrInfeasible", False, None, 1e-6, False) is SolveStatus.UNBOUNDED
    assert map_highs_status("kUnbounded", False, None, 1e-6) is SolveStatus.UNBOUNDED
    for stopped in ("kTimeLimit", "kSolutionLimit", "kInterrupt", "kIterationLimit", "kMemoryLimit"):
        assert map_highs_status(stopped, True, 0.05, 1e-6) is SolveStatus.FEASIBLE
        assert map_highs_status(stopped, True, None, 1e-6) is SolveStatus.FEASIBLE
        assert map_highs_status(stopped, True, 1e-7, 1e-6) is SolveStatus.OPTIMAL
        assert map_highs_status(stopped, False, None, 1e-6) is SolveStatus.ERROR
    for broken in ("kSolveError", "kModelError", "kUnknown", "kNotset"):
        assert map_highs_status(broken, False, None, 1e-6) is SolveStatus.ERROR


def test_cbc_status_mapping() -> None:
    assert map_cbc_status(pulp.LpStatusOptimal, pulp.LpSolutionOptimal, None, 1e-6) is SolveStatus.OPTIMAL
    # PuLP says "Optimal" for a CBC run stopped on time with an incumbent
    assert (
        map_cbc_status(pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible, 0.1, 1e-6)
        is SolveStatus.FEASIBLE
    )
    assert (
        map_cbc_status(pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible, None, 1e-6)
        is SolveStatus.FEASIBLE
    )
    assert (
        map_cbc_status(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible, None, 1e-6)
        is SolveStatus.INFEASIBLE
    )
    assert (
        map_cbc_status(pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded, None, 1e-6) is SolveStatus.UNBOUNDED
    )
    assert (
        map_cbc_status(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound, None, 1e-6)
        is SolveStatus.ERROR
    )


def test_status_exit_codes() -> None:
    assert SolveStatus.OPTIMAL.exit_code is ExitCode.OK
    assert SolveStatus.INFEASIBLE.exit_code is ExitCode.INFEASIBLE
    assert SolveStatus.ERROR.exit_code is ExitCode.INTERNAL_ERROR


def test_highs_failure_falls_back_to_cbc(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(problem: Any, opts: RunOptions, columns: Any = None) -> _Run:
        return _Run(SolveStatus.ERROR, SolverInfo("highs", "", {}, 0.0, "Solve error"), "simulated failure")

    monkeypatch.setattr(solve_mod, "_run_highs", broken)
    sol = solve(build_model(fleet()))
    assert sol.solver.name == "cbc"
    assert sol.solver.fallback_reason is not None and "simulated failure" in sol.solver.fallback_reason
    assert sol.objective == pytest.approx(3 * 2.0 * 730)


def test_a_large_model_releases_its_rows_once_highs_has_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above RELEASE_ROWS_FROM_COLUMNS the PuLP rows' terms are dropped after the matrix is built
    (memory); the plan is extracted and checked as usual, and the model refuses to be written."""
    from fleet_check import violations

    monkeypatch.setattr(solve_mod, "RELEASE_ROWS_FROM_COLUMNS", 0)
    data = fleet()
    model = build_model(data)
    rows = model.problem.numConstraints()
    sol = solve(model)
    assert model.rows_released and model.problem.numConstraints() == rows
    assert sol.status is SolveStatus.OPTIMAL and sol.objective == pytest.approx(3 * 2.0 * 730)
    assert violations(data, sol) == []
    with pytest.raises(ValueError, match="released"):
        model.write_lp("unused.lp")


def test_a_released_model_does_not_fall_back_to_cbc(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(problem: Any, opts: RunOptions, columns: Any = None) -> _Run:
        assert opts.release is not None
        opts.release()
        info = SolverInfo("highs", "", {}, 0.0, "Solve error")
        return _Run(SolveStatus.ERROR, info, "simulated failure", released=True)

    def never(problem: Any, opts: RunOptions) -> _Run:
        raise AssertionError("CBC cannot read released rows")

    monkeypatch.setattr(solve_mod, "RELEASE_ROWS_FROM_COLUMNS", 0)
    monkeypatch.setattr(solve_mod, "_run_highs", broken)
    monkeypatch.setattr(solve_mod, "_run_cbc", never)
    with pytest.raises(SolverError, match=r"simulated failure \(no CBC fallback"):
        solve(build_model(fleet()))


def test_highs_unavailable_falls_back_to_cbc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulp.HiGHS, "available", lambda self: False)
    sol = solve(build_model(fleet()))
    assert sol.solver.name == "cbc" and "highspy" in (sol.solver.fallback_reason or "")


def test_time_limit_without_incumbent_does_not_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def stopped(problem: Any, opts: RunOptions, columns: Any = None) -> _Run:
        info = SolverInfo("highs", "1", {}, 1.0, "Time limit reached")
        return _Run(
            SolveStatus.ERROR, info, "stopped before finding any feasible plan; raise the time limit", False
        )

    def never(problem: Any, opts: RunOptions) -> _Run:
        raise AssertionError("CBC must not run after a time limit")

    monkeypatch.setattr(solve_mod, "_run_highs", stopped)
    monkeypatch.setattr(solve_mod, "_run_cbc", never)
    with pytest.raises(SolverError, match="raise the time limit"):
        solve(build_model(fleet()))


def test_both_solvers_failing_raises_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(problem: Any, opts: RunOptions, columns: Any = None) -> _Run:
        return _Run(SolveStatus.ERROR, SolverInfo("x", "", {}, 0.0, "boom"), "boom")

    monkeypatch.setattr(solve_mod, "_run_highs", broken)
    monkeypatch.setattr(solve_mod, "_run_cbc", broken)
    with pytest.raises(SolverError, match="boom") as info:
        solve(build_model(fleet()))
    assert info.value.exit_code is ExitCode.INTERNAL_ERROR


def test_unknown_solver_is_an_error() -> None:
    with pytest.raises(SolverError, match="unknown solver"):
        solve(build_model(fleet()), solver="gurobi")  # type: ignore[arg-type]


def test_no_demand_is_an_empty_optimal_plan() -> None:
    sol = solve(build_model(fleet(demand_rps={})))
    assert sol.status is SolveStatus.OPTIMAL and sol.objective == 0.0 and sol.replicas == {}


def test_solution_is_frozen() -> None:
    sol = solve(build_model(fleet()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.objective = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------- infeasibility diagnoses


def _diagnosis(data: Any) -> str:
    with pytest.raises(InfeasibleError) as info:
        solve_diagnosed(build_model(data))
    assert info.value.exit_code is ExitCode.INFEASIBLE
    return str(info.value)


def test_region_without_route_fails_the_precheck() -> None:
    data = fleet(regions=("eu", "us"), demand_rps={("chat", "eu", "day"): 5.0, ("chat", "us", "day"): 5.0})
    msg = _diagnosis(data)
    assert "workload 'chat', region 'us', period 'day'" in msg
    assert "no route meets the latency target" in msg and "serverless is not allowed" in msg
    assert "'eu'" not in msg


def test_route_without_offer_fails_the_precheck() -> None:
    data = fleet(sites=(SiteData("fra"), SiteData("ams")), routes=(RouteData("chat", "eu", "ams", "c1"),))
    assert "no offer can host" in _diagnosis(data)


def test_partial_serverless_without_route_fails_the_precheck() -> None:
    wl = WorkloadData("chat", serverless_usd_per_request=1e-4, serverless_max_share=0.5)
    msg = _diagnosis(fleet(workloads=(wl,), routes=()))
    assert "serverless may take only 50%" in msg


def test_full_serverless_needs_no_route() -> None:
    wl = WorkloadData("chat", serverless_usd_per_request=1e-4)
    assert precheck(fleet(workloads=(wl,), routes=())) == []
    assert solve(build_model(fleet(workloads=(wl,), routes=()))).serverless


def test_model_routing_caps_below_demand_fail_the_precheck() -> None:
    wl = WorkloadData("chat", group_max_share={"llama": 0.8})
    assert "model routing share" in _diagnosis(fleet(workloads=(wl,)))


def test_spot_only_with_zero_spot_share_fails_the_precheck() -> None:
    data = fleet(offers=(offer("fra", "h100", "spot", 1.0),), spot_max_share=0.0)
    assert "spot share limit" in _diagnosis(data)


def test_hybrid_without_edge_site_fails_the_precheck() -> None:
    msg = _diagnosis(fleet(workloads=(WorkloadData("chat", placement="hybrid"),)))
    assert "workload 'chat'" in msg and "hybrid placement" in msg and "no edge site" in msg


def test_supply_limit_is_named_with_workload_region_and_period() -> None:
    demand = {("chat", "eu", "peak"): 25.0, ("chat", "eu", "off"): 5.0}
    msg = _diagnosis(fleet(periods=PEAK_OFF, demand_rps=demand, supply_max_gpus={("fra", "h100"): 2}))
    assert "workload 'chat', region 'eu', period 'peak'" in msg
    assert "supply limit at site 'fra' for GPU 'h100' (2 GPUs)" in msg
    assert "5 of 25 rps cannot be served" in msg
    assert "period 'off'" not in msg


def test_power_limit_is_named() -> None:
    data = fleet(sites=(SiteData("fra", power_limit_kw=1.0),), gpu_power_kw={"h100": 0.7})
    assert "power limit at site 'fra' (1 kW)" in _diagnosis(data)


def test_site_gpu_limit_is_named() -> None:
    assert "GPU limit of site 'fra' (2 GPUs)" in _diagnosis(fleet(sites=(SiteData("fra", max_gpus=2),)))


def test_budget_without_shortfall_is_named() -> None:
    msg = _diagnosis(fleet(budget_usd_per_month=2000.0))
    assert "region 'eu'" in msg and "budget of $2,000.00/month" in msg


def test_budget_below_forced_commitments_is_named() -> None:
    """Hybrid placement forces a replica at each site; even serving nothing breaks the budget."""
    sites = (SiteData("fra", "central"), SiteData("edge1", "edge"))
    data = fleet(
        sites=sites,
        offers=(offer("fra", "h100", "on_demand", 1.0), offer("edge1", "h100", "on_demand", 5.0)),
        routes=(RouteData("chat", "eu", "fra", "c1"), RouteData("chat", "eu", "edge1", "c1")),
        workloads=(WorkloadData("chat", placement="hybrid", unmet_usd_per_request=1.0),),
        budget_usd_per_month=100.0,
    )
    assert "budget" in _diagnosis(data)


def test_max_gpu_types_is_named() -> None:
    data = fleet(
        workloads=(WorkloadData("chat"), WorkloadData("code")),
        candidates=(
            CandidateData("c1", "chat", "llama", "h100", 1, 10.0),
            CandidateData("k1", "code", "qwen", "a100", 1, 10.0),
        ),
        offers=(offer("fra", "h100", "on_demand", 2.0), offer("fra", "a100", "on_demand", 2.0)),
        routes=(RouteData("chat", "eu", "fra", "c1"), RouteData("code", "eu", "fra", "k1")),
        demand_rps={("chat", "eu", "day"): 10.0, ("code", "eu", "day"): 10.0},
        max_gpu_types=1,
    )
    msg = _diagnosis(data)
    assert "at most 1 GPU types" in msg


def test_min_replicas_against_supply_names_both() -> None:
    msg = _diagnosis(
        fleet(
            demand_rps={("chat", "eu", "day"): 5.0},
            min_replicas_per_active_site=3,
            supply_max_gpus={("fra", "h100"): 2},
        )
    )
    assert "minimum of 3 replicas per active site" in msg and "supply limit at site 'fra'" in msg


def test_diagnosis_elastic_model_is_not_the_users_model() -> None:
    """The user's model is untouched by a diagnosis (objective and constraints as built)."""
    model = build_model(fleet(supply_max_gpus={("fra", "h100"): 2}))
    before = model.problem.numConstraints()
    with pytest.raises(InfeasibleError):
        solve_diagnosed(model)
    assert model.problem.numConstraints() == before
    assert not model.elastic and model.violation is None
    assert math.isclose(
        model.total_cost.value() or 0.0, sum(e.value() or 0.0 for e in model.cost_terms.values())
    )


@pytest.mark.parametrize("min_replicas", [1, 2])
def test_supply_limited_diagnosis_omits_a_minimum_that_does_not_bind(min_replicas: int) -> None:
    """25 rps needs 3 replicas anyway: a minimum of 1 or 2 per active site is not why 5 rps go unmet."""
    msg = _diagnosis(fleet(min_replicas_per_active_site=min_replicas, supply_max_gpus={("fra", "h100"): 2}))
    assert "supply limit at site 'fra' for GPU 'h100' (2 GPUs)" in msg and "5 of 25 rps" in msg
    assert "minimum" not in msg, msg


def test_plain_solve_reports_infeasible_without_diagnosing() -> None:
    """`solve` stays below the diagnosis layer: it raises, the diagnosis lives in optimizer.diagnosis."""
    with pytest.raises(InfeasibleError, match="infeasible"):
        solve(build_model(fleet(supply_max_gpus={("fra", "h100"): 2})))


def test_time_limited_solve_returns_a_checked_plan_with_its_gap() -> None:
    """The LP bound and the rounded-LP incumbent: a short limit still yields a plan and a gap."""
    from fleet_check import violations

    data = synthetic_fleet(candidates=30, periods=12, sites=6, regions=4, workloads=4, seed=0)
    sol = solve(build_model(data), time_limit_s=3.0, mip_gap=1e-9)
    assert sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert sol.solver.gap is not None and sol.solver.best_bound is not None
    assert sol.solver.best_bound <= sol.objective * (1 + 1e-9) + 1e-9
    assert violations(data, sol) == []


def test_rounded_lp_start_meets_every_row() -> None:
    """The rounding (incumbent.rounded_start) of a relaxation is feasible on random fleets."""
    import numpy as np

    from optimizer.model.incumbent import rounded_start

    kept = 0
    for seed in range(6):
        model = build_model(
            synthetic_fleet(candidates=12, periods=4, sites=3, regions=2, workloads=2, seed=seed)
        )
        mat = solve_mod.highs_matrix(model.problem)
        h = solve_mod._highs_of(mat, RunOptions(), integer=False)
        h.run()
        values = list(h.getSolution().col_value)
        relaxed = {v: values[i] for i, v in enumerate(mat.variables)}
        plan = rounded_start(model, relaxed)
        x = np.array([float(plan.get(v, relaxed[v])) for v in mat.variables])
        kept += solve_mod._feasible(mat, x)
    assert kept >= 4, kept


def _relaxed_values(model: Any) -> tuple[Any, Any]:
    """The model's matrix and its whole LP relaxation's column values."""
    import numpy as np

    mat = solve_mod.highs_matrix(model.problem)
    h = solve_mod._highs_of(mat, RunOptions(), integer=False)
    h.run()
    return mat, np.array(h.getSolution().col_value)


def test_every_rounding_with_a_gpu_type_limit_ends_in_a_plan() -> None:
    """Fleets whose GPU-type limit binds: the relaxation spreads over more types than allowed, so
    its rounding breaks the limit; the LP re-solved with the least-used types fixed off
    (`FleetModel.gpu_type_dive`, `solve._dive_phase`) rounds to a plan that meets every row. The
    rounding itself keeps a site it activates (spot-share repair included) at its minimum
    replicas in every period and adds replicas of GPU types already held."""
    from optimizer.model.incumbent import rounded_start

    dived = 0
    for seed in (0, 4, 6, 7):  # of seeds 0-7: 0, 4 and 7 need the dive, 6 the spot-share repair
        model = build_model(
            synthetic_fleet(candidates=30, periods=12, sites=6, regions=4, workloads=4, seed=seed)
        )
        assert model.gpu_used and model.index.data.max_gpu_types is not None
        mat, values = _relaxed_values(model)
        opts = RunOptions(start=lambda lp, m=model: rounded_start(m, lp), dive=model.gpu_type_dive)
        assert opts.start is not None
        plan = solve_mod._rounded_phase(mat, opts.start, values)
        if plan is None:
            relaxed = {v: float(values[i]) for i, v in enumerate(mat.variables)}
            off = model.gpu_type_dive(relaxed)
            assert len(off) == len(model.gpu_used) - model.index.data.max_gpu_types
            _values, plan = solve_mod._dive_phase(mat, opts, values, 10.0)
            dived += 1
        assert plan is not None, seed
        assert solve_mod._feasible(mat, plan.values)
    assert dived >= 2  # a guard that the fleets still exercise the dive, not a target


def test_gpu_type_dive_is_empty_when_the_limit_does_not_bind() -> None:
    model = build_model(synthetic_fleet(candidates=30, periods=12, sites=6, regions=4, workloads=4, seed=1))
    assert model.gpu_type_dive({}) == []
    one = next(iter(model.instances.values()))
    assert model.gpu_type_dive({one: 1.0}) == []


def test_neighbourhood_keeps_the_sites_the_rounded_plan_activates() -> None:
    """An LP without the site-activity rows leaves every `active` binary at 0; the LP-support
    neighbourhood must not fix them to 0 (that made it infeasible whenever traffic was routed):
    it widens the support by the rounded plan's and finds a plan no dearer than it."""
    import numpy as np

    from optimizer.model.incumbent import rounded_start

    data = dataclasses.replace(
        synthetic_fleet(candidates=16, periods=4, sites=4, regions=3, workloads=2, seed=3),
        min_replicas_per_active_site=1,
    )
    model = build_model(data)
    assert model.active
    mat = solve_mod.highs_matrix(model.problem)
    loosest = model.relaxation_rows()[-1]
    h = solve_mod._highs_of(mat.without_rows(loosest), RunOptions(), integer=False)
    h.run()
    lp = np.array(h.getSolution().col_value, dtype=float)
    act = [mat.variables.index(v) for v in model.active.values()]
    assert np.all(lp[act] <= 1e-9)  # the relaxation leaves the activity binaries at 0
    rounded = solve_mod._rounded_phase(mat, lambda x: rounded_start(model, x), lp)
    assert rounded is not None
    found = solve_mod._neighbourhood_phase(mat, RunOptions(), lp, rounded, 30.0, 2)
    assert found is not None and found.source.startswith("LP-support neighbourhood")
    assert found.objective <= rounded.objective + 1e-6
    assert solve_mod._feasible(mat, found.values)


def test_lp_levels_solved_warm_give_the_cold_optimum() -> None:
    """`_lp_phase` adds each tighter level's rows to the solved looser LP: its optimum is the one
    of the tighter LP solved from scratch, and `rows_named` + `without_rows` split the matrix."""
    import numpy as np

    data = dataclasses.replace(
        synthetic_fleet(candidates=16, periods=4, sites=4, regions=3, workloads=2, seed=3),
        min_replicas_per_active_site=2,
    )
    model = build_model(data)
    mat = solve_mod.highs_matrix(model.problem)
    levels = model.relaxation_rows()
    names = levels[-1]
    count, lower, _upper, nnz, _starts, _index, _value = mat.rows_named(names)
    rest = mat.without_rows(names)
    assert count == len(names) and count + len(rest.row_lower) == len(mat.row_lower)
    assert nnz + len(rest.index) == len(mat.index) and len(lower) == count
    opts = RunOptions(relaxations=levels)
    bound, values = solve_mod._lp_phase(mat, opts, 30.0)
    cold = solve_mod._highs_of(mat.without_rows(levels[0]), RunOptions(), integer=False)
    cold.run()
    assert bound == pytest.approx(cold.getInfo().objective_function_value + mat.offset, rel=1e-7)
    loosest = solve_mod._highs_of(rest, RunOptions(), integer=False)
    loosest.run()
    assert bound >= loosest.getInfo().objective_function_value + mat.offset - 1e-6
    assert values is not None and np.all(np.isfinite(values))
    assert len(levels) == 3 and levels[0] < levels[1] < levels[2]
    optima = []
    for level in levels:  # each level a relaxation of the one before
        h = solve_mod._highs_of(mat.without_rows(level), RunOptions(), integer=False)
        h.run()
        optima.append(h.getInfo().objective_function_value)
    assert optima[0] >= optima[1] - 1e-6 >= optima[2] - 2e-6


def test_column_groups_hold_each_slots_and_pools_hourly_columns() -> None:
    model = build_model(synthetic_fleet(candidates=10, periods=4, sites=3, regions=2, workloads=2, seed=1))
    groups = model.column_groups()
    assert groups and all(len(g) == len(set(g)) > 1 for g in groups)
    named = {n for g in groups for n in g}
    hourly = {v.name for (_c, _s, _o, t), v in model.replicas.items() if t is not None}
    hourly |= {v.name for (_s, _g, _o, t, _ten), v in model.instances.items() if t is not None}
    assert named == hourly
    by_slot: dict[tuple[str, str, str], set[str]] = {}
    for (c, s, o, t), v in model.replicas.items():
        if t is not None:
            by_slot.setdefault((c, s, o), set()).add(v.name)
    assert {frozenset(g) for g in groups} >= {frozenset(v) for v in by_slot.values() if len(v) > 1}


def test_whole_slot_neighbourhood_frees_every_hour_of_a_used_slot() -> None:
    """With one hour of a slot in the support, the GROUPS neighbourhood may use the slot in every
    hour: its plan is no dearer than the column-support neighbourhood's, and meets every row."""
    import numpy as np

    from optimizer.model.incumbent import rounded_start

    data = synthetic_fleet(candidates=16, periods=6, sites=4, regions=3, workloads=2, seed=4)
    model = build_model(data)
    mat = solve_mod.highs_matrix(model.problem)
    opts = RunOptions(relaxations=model.relaxation_rows(), column_groups=model.column_groups())
    _bound, lp = solve_mod._lp_phase(mat, opts, 30.0)
    rounded = solve_mod._rounded_phase(mat, lambda x: rounded_start(model, x), lp)
    narrow = solve_mod._neighbourhood_phase(mat, opts, lp, rounded, 30.0, None)
    wide = solve_mod._neighbourhood_phase(mat, opts, lp, rounded, 30.0, solve_mod.GROUPS)
    assert narrow is not None and wide is not None
    assert wide.objective <= narrow.objective + 1e-6 * max(1.0, narrow.objective)
    assert solve_mod._feasible(mat, np.asarray(wide.values))


def test_diagnosis_names_the_rules_it_had_no_time_to_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagnosis's re-solves share one time limit: families left when it is spent are named
    (here the clock runs out right after the first elastic re-solve)."""
    from optimizer import diagnosis

    real = diagnosis._Clock.options

    def no_time_after_the_base(
        self: diagnosis._Clock, opts: RunOptions, share: float = 1.0
    ) -> RunOptions | None:
        return real(self, opts, share) if share < 1.0 else None

    monkeypatch.setattr(diagnosis._Clock, "options", no_time_after_the_base)
    msg = _diagnosis(fleet(supply_max_gpus={("fra", "h100"): 2}))
    assert "stopped at its 60 s time limit before testing: supply" in msg, msg
    assert "5 of 25 rps" in msg


def test_diagnosis_clock_shares_one_limit() -> None:
    from optimizer import diagnosis

    clock = diagnosis._Clock(10.0, start=time.perf_counter() - 6.0)
    half = clock.options(RunOptions(time_limit_s=10.0), share=0.5)
    assert half is None  # 6 s of 10 spent: the first re-solve's half is gone
    rest = clock.options(RunOptions(time_limit_s=10.0))
    assert rest is not None and 3.5 < rest.time_limit_s <= 4.0
    assert clock.note() == ""
    clock.skipped.append("supply")
    assert "before testing: supply" in clock.note()
