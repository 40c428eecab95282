"""`highs_matrix`: restrictions (fixed columns) and the per-workload block relaxation."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

import optimizer.solve as solve_mod
from optimizer.highs_matrix import HighsMatrix, block_relaxation, feasible, highs_matrix, restrict
from optimizer.model import build_model
from optimizer.model.synthetic import synthetic_fleet
from optimizer.solve import RunOptions, SolveStatus, solve


def _fleet(seed: int, **kw: Any) -> Any:
    shape = {"candidates": 8, "periods": 2, "sites": 3, "regions": 2, "workloads": 3} | kw
    return dataclasses.replace(synthetic_fleet(seed=seed, **shape), min_replicas_per_active_site=1)


def _optimum(mat: HighsMatrix, integer: bool) -> tuple[float, Any]:
    h = solve_mod._highs_of(mat, RunOptions(mip_gap=1e-9), integer=integer)
    h.run()
    assert h.getModelStatus().name == "kOptimal"
    return float(h.getInfo().objective_function_value) + mat.offset, np.array(h.getSolution().col_value)


def _blocks(model: Any, mat: HighsMatrix) -> tuple[list[Any], list[tuple[int, int]]]:
    wb = model.workload_blocks()
    where = {v.name: i for i, v in enumerate(mat.variables)}
    rows = {n: i for i, n in enumerate(mat.row_names)}
    blocks = [np.array([where[n] for n in b], dtype=np.int64) for b in wb.blocks]
    return blocks, [(where[c], rows[r]) for c, r in wb.linked]


@pytest.mark.parametrize("zero", [False, True])
def test_matrix_holds_every_row_of_the_problem(zero: bool) -> None:
    """Rows as CSR arrays, with or without terms whose coefficient is 0 (those are dropped)."""
    import pulp

    prob = pulp.LpProblem("m", pulp.LpMinimize)
    add = getattr(prob, "add_variable", None)  # PuLP >= 3.3; LpVariable(...) directly is deprecated
    x, y, z = (add(n, 0) if add else pulp.LpVariable(n, 0) for n in "xyz")
    prob += x + 2 * y + 3
    prob += x + y >= 1, "a"
    prob += (0 * x if zero else 4 * x) + z <= 5, "b"
    prob += 2 * y - z == 0, "c"
    mat = highs_matrix(prob)
    dense = np.zeros((3, 3))
    for i in range(3):
        end = mat.starts[i + 1] if i < 2 else len(mat.index)
        dense[i, mat.index[mat.starts[i] : end]] = mat.value[mat.starts[i] : end]
    names = [v.name for v in mat.variables]
    want = {"a": {"x": 1, "y": 1}, "b": {"z": 1} if zero else {"x": 4, "z": 1}, "c": {"y": 2, "z": -1}}
    for i, row in enumerate(mat.row_names):
        assert {names[j]: dense[i, j] for j in range(3) if dense[i, j]} == want[row]
    assert len(mat.index) == (5 if zero else 6)
    assert mat.row_lower.tolist() == [1, -np.inf, 0] and mat.row_upper.tolist() == [np.inf, 5, 0]
    assert mat.cost.tolist() == [1, 2, 0] and mat.offset == 3


@pytest.mark.parametrize("seed", range(6))
def test_restriction_completed_by_the_fixed_values_is_a_plan_of_the_model(seed: int) -> None:
    """Fix the integer columns a plan leaves at 0 and half of the others at the plan's values: the
    restriction's optimum, completed, meets every row of the model and costs what it reports; it
    is never dearer than the plan it was cut from."""
    model = build_model(_fleet(seed))
    mat = highs_matrix(model.problem)
    best, x = _optimum(mat, integer=True)
    x = np.round(x, 9)
    rng = np.random.default_rng(seed)
    free = np.ones(len(mat.variables), dtype=bool)
    ints = mat.integer
    free[ints[(x[ints] == 0) | (rng.random(len(ints)) < 0.5)]] = False
    part = restrict(mat, free, x)
    assert part.consistent and len(part.columns) == int(free.sum())
    value, y = _optimum(part.matrix, integer=True)
    full = x.copy()
    full[part.columns] = y
    assert feasible(mat, full)
    assert value == pytest.approx(float(mat.cost @ full) + mat.offset, rel=1e-9, abs=1e-6)
    assert value == pytest.approx(best, rel=1e-6, abs=1e-6)  # the plan itself is in the restriction


def test_restriction_says_when_the_fixed_values_break_a_row_it_drops() -> None:
    for seed in range(20):  # a fleet whose optimum routes traffic to replicas
        model = build_model(_fleet(seed))
        mat = highs_matrix(model.problem)
        _best, x = _optimum(mat, integer=True)
        replicas = [mat.variables.index(v) for v in model.replicas.values()]
        if x[replicas].sum() > 0:
            break
    no_replicas = x.copy()
    no_replicas[replicas] = 0.0  # the routed traffic is left without capacity
    free = np.zeros(len(mat.variables), dtype=bool)
    assert not restrict(mat, free, no_replicas).consistent
    assert restrict(mat, free, x).consistent


def _dense_restriction(mat: HighsMatrix, free: Any, x: Any, rows: Any) -> tuple[Any, Any, Any, bool]:
    """The restriction written out on the dense matrix: (kept rows, shifted lower, shifted upper,
    consistent), the oracle for `restrict`'s sparse bookkeeping."""
    dense = np.zeros((len(mat.row_lower), len(mat.variables)))
    for i in range(len(mat.row_lower)):
        cols, vals = mat.row(i)
        np.add.at(dense[i], cols, vals)
    fixed_activity = dense[:, ~free] @ x[~free]
    kept = np.flatnonzero(rows & (mat.value.size > 0) & np.any(dense[:, free] != 0, axis=1))
    dropped = rows.copy()
    dropped[kept] = False
    act = dense[dropped] @ x
    tol = 1e-9 * np.maximum(1.0, np.abs(act))
    ok = bool(np.all(act >= mat.row_lower[dropped] - tol) and np.all(act <= mat.row_upper[dropped] + tol))
    return kept, mat.row_lower[kept] - fixed_activity[kept], mat.row_upper[kept] - fixed_activity[kept], ok


@pytest.mark.parametrize("seed", range(6))
def test_restriction_matches_the_dense_oracle_and_holds_matches_feasible(seed: int) -> None:
    """Random free columns and row masks: `restrict` keeps exactly the rows with a free nonzero
    (within the mask), shifts their bounds by the fixed activity, keeps the free nonzeros and
    says whether the dropped rows hold; `Restriction.holds` on a completion is `feasible` on the
    model's rows when every row is considered."""
    model = build_model(_fleet(seed))
    mat = highs_matrix(model.problem)
    _best, x = _optimum(mat, integer=True)
    rng = np.random.default_rng(seed)
    seen = set()
    for trial in range(6):
        free = rng.random(len(mat.variables)) < (0.05 if trial % 2 else 0.4)
        rows = rng.random(len(mat.row_lower)) < 0.8 if trial >= 3 else np.ones(len(mat.row_lower), dtype=bool)
        part = restrict(mat, free, x, rows if trial >= 3 else None)
        kept, low, high, ok = _dense_restriction(mat, free, x, rows)
        assert part.rows.tolist() == kept.tolist()
        assert np.allclose(part.matrix.row_lower, low) and np.allclose(part.matrix.row_upper, high)
        assert part.consistent == ok
        assert part.columns.tolist() == np.flatnonzero(free).tolist()
        assert len(part.matrix.index) == int(np.sum(free[mat.index] & rows[mat.rows_of]))
        assert [mat.row_names[i] for i in kept] == part.matrix.row_names
        if trial < 3:
            for scale in (1.0, 0.5, 1.5):
                values = x.copy()
                values[free] = x[free] * scale
                assert part.holds(mat, values) == feasible(mat, values)
                seen.add(feasible(mat, values))
    assert seen == {True, False}  # both outcomes were compared


@pytest.mark.parametrize("seed", range(8))
def test_block_relaxation_bounds_the_lp_and_the_mip_from_below(seed: int) -> None:
    """The sum of the per-workload LP optima is a valid bound: at most the whole-model LP (so at
    most the MIP optimum); and with no fleet-wide limit (supply, site GPUs, budget, GPU types) it
    equals the whole-model LP without the `min_instances` rows (they read shared instance counts,
    and the blocks drop them). The MIP itself is checked on the first seeds."""
    data = _fleet(seed, gpu_types=3)
    for limits in (True, False):
        if not limits:
            data = dataclasses.replace(
                data,
                supply_max_gpus={},
                sites=tuple(dataclasses.replace(s, max_gpus=None, power_limit_kw=None) for s in data.sites),
                max_gpu_types=None,
                budget_usd_per_month=None,
            )
        model = build_model(data)
        mat = highs_matrix(model.problem)
        blocks, linked = _blocks(model, mat)
        relaxation = block_relaxation(mat, blocks, linked)
        assert relaxation is not None and len(relaxation.blocks) == len(blocks)
        bound = relaxation.offset + sum(_optimum(b.matrix, integer=False)[0] for b in relaxation.blocks)
        lp, _ = _optimum(mat, integer=False)
        assert bound <= lp + 1e-6 * max(1.0, abs(lp))
        if seed < 2:
            mip, _ = _optimum(mat, integer=True)
            assert bound <= mip + 2e-6 * max(1.0, abs(mip))
        if not limits:  # equal to the whole LP without the rows that read shared instance counts
            rows = frozenset(c.name for c in model.constraints.get("min_instances", {}).values())
            loose, _ = _optimum(mat.without_rows(rows), integer=False)
            assert bound == pytest.approx(loose, rel=1e-6, abs=1e-6)


def test_block_relaxation_refuses_a_shared_column_that_pays_to_be_used() -> None:
    model = build_model(_fleet(2))
    mat = highs_matrix(model.problem)
    blocks, linked = _blocks(model, mat)
    shared = np.ones(len(mat.variables), dtype=bool)
    for b in blocks:
        shared[b] = False
    j = int(np.flatnonzero(shared)[0])
    cost = mat.cost.copy()
    cost[j] = -1.0
    assert block_relaxation(dataclasses.replace(mat, cost=cost), blocks, linked) is None


@pytest.mark.parametrize("seed", range(5))
def test_a_model_solved_through_the_block_relaxation_keeps_its_optimum(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above BLOCKS_FROM_COLUMNS the LP phase is the per-workload relaxation: the same optimum,
    and a bound that is valid all along."""
    data = _fleet(seed)
    want = solve(build_model(data), mip_gap=1e-9)
    monkeypatch.setattr(solve_mod, "BLOCKS_FROM_COLUMNS", 0)
    got = solve(build_model(data), mip_gap=1e-9)
    assert got.status is SolveStatus.OPTIMAL
    assert got.objective == pytest.approx(want.objective, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_a_model_too_big_for_the_final_mip_returns_its_best_plan_with_a_valid_gap(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above FULL_MIP_MAX_COLUMNS the whole-model MIP is not started once a plan is in hand: the
    plan comes back feasible (or optimal when it meets the bound), with a bound no higher than the
    true optimum, and it meets every row of the model."""
    data = _fleet(seed, periods=3)
    exact = solve(build_model(data), mip_gap=1e-9)
    monkeypatch.setattr(solve_mod, "BLOCKS_FROM_COLUMNS", 0)
    monkeypatch.setattr(solve_mod, "FULL_MIP_MAX_COLUMNS", 0)
    model = build_model(data)
    got = solve(model, mip_gap=1e-9)
    assert got.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert got.objective >= exact.objective - 1e-6 * max(1.0, exact.objective)
    assert got.solver.best_bound is not None
    assert got.solver.best_bound <= exact.objective + 1e-6 * max(1.0, exact.objective)
    if got.status is SolveStatus.FEASIBLE:
        assert "no whole-model MIP" in got.solver.raw_status and got.solver.gap is not None
    mat = highs_matrix(model.problem)
    assert feasible(mat, np.array([float(v.varValue or 0.0) for v in mat.variables]))


@pytest.mark.parametrize("seed", range(4))
def test_workload_by_workload_mips_improve_a_plan_and_keep_it_feasible(seed: int) -> None:
    """`_workload_phase` from the rounded per-workload LP: every plan it returns meets every row of
    the model and is no dearer than the plan it started from."""
    from optimizer.model.incumbent import rounded_start

    model = build_model(_fleet(seed, periods=3))
    mat = highs_matrix(model.problem)
    opts = RunOptions(mip_gap=1e-9, relaxations=model.relaxation_rows(), blocks=model.workload_blocks())
    bound, values = solve_mod._block_phase(mat, opts, 30.0)
    assert bound is not None and values is not None
    rounded = solve_mod._rounded_phase(mat, lambda x: rounded_start(model, x), values)
    if rounded is None:
        pytest.skip("rounding broke a fleet-wide limit on this seed")
    support = np.maximum(np.abs(values), np.abs(rounded.values))
    found = solve_mod._workload_phase(mat, opts, support, rounded, 30.0)
    assert feasible(mat, found.values)
    assert found.objective <= rounded.objective + 1e-9
    assert found.objective == pytest.approx(float(mat.cost @ found.values) + mat.offset)
    assert found.objective >= bound - 1e-6 * max(1.0, bound)


def _workload_steps(seed: int, **kw: Any) -> tuple[HighsMatrix, Any]:
    """A generated fleet's matrix and its workload steps over the per-workload LP's support."""
    model = build_model(_fleet(seed, **kw))
    mat = highs_matrix(model.problem)
    opts = RunOptions(mip_gap=1e-9, relaxations=model.relaxation_rows(), blocks=model.workload_blocks())
    _bound, values = solve_mod._block_phase(mat, opts, 30.0)
    assert values is not None
    steps = solve_mod._WorkloadSteps.of(mat, opts, np.abs(values))
    assert steps is not None
    return mat, steps


@pytest.mark.parametrize("seed", range(3))
def test_pair_steps_join_workloads_that_share_instance_pools(seed: int) -> None:
    """`_WorkloadSteps.pairs`: distinct ordered pairs, each sharing at least one instance pool of
    its workloads' support (so of the pools their single steps free), at most PAIR_PARTNERS
    partners chosen per workload; a pair step frees exactly the union of the two single steps."""
    mat, steps = _workload_steps(seed, workloads=4)
    pairs = steps.pairs(np.zeros(len(mat.variables)))
    assert pairs and len(pairs) == len(set(pairs)) and all(a < b for a, b in pairs)
    assert len(pairs) <= solve_mod.PAIR_PARTNERS * len(steps.blocks)
    inst = set(steps.inst_cols.tolist())

    def pools(b: int) -> set[int]:
        return {j for j in np.flatnonzero(steps.free_columns((b,), False)).tolist() if j in inst}

    assert all(pools(a) & pools(b) for a, b in pairs)
    for a, b in pairs:
        union = steps.free_columns((a,), False) | steps.free_columns((b,), False)
        assert np.array_equal(steps.free_columns((a, b), False), union)


@pytest.mark.parametrize("seed", [0, 1, 3])  # seed 2: one workload's constructive step finds no plan
def test_a_step_carries_the_row_activity_of_the_plan_it_returns(seed: int) -> None:
    """`_WorkloadSteps.step` updates only the rows it kept; the activity it remembers for the plan
    it returns equals the whole matrix's activity at that plan, for constructive steps (rows of
    workloads still to plan left out) and for improving steps, and every plan it returns meets
    every row it is responsible for."""
    mat, steps = _workload_steps(seed, workloads=4, periods=3)
    later = np.ones(len(steps.blocks), dtype=bool)
    x = np.zeros(len(mat.variables))
    taken = 0
    for b in range(len(steps.blocks)):
        later[b] = False
        found = steps.step((b,), x, False, 10.0, None, later.copy())
        if found is None:
            later[b] = True
            continue
        assert np.allclose(steps._activity_at(found), mat.activity(found), rtol=1e-12, atol=1e-9)
        x, taken = found, taken + 1
    assert taken == len(steps.blocks) and feasible(mat, x)  # every workload planned
    for b in range(len(steps.blocks)):
        again = steps.step((b,), x, True, 10.0, None)
        assert again is not None  # x itself is a plan of the step
        assert feasible(mat, again)
        assert np.allclose(steps._activity_at(again), mat.activity(again), rtol=1e-12, atol=1e-9)
        x = again
