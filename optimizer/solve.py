"""Solve a `FleetModel`: solver choice and options, a typed status, wall time, bound and gap.

HiGHS (through PuLP's highspy-based `pulp.HiGHS`) is the default; CBC (PuLP's bundled
`PULP_CBC_CMD`) is the fallback when HiGHS is unavailable or fails, and can be chosen. A solve never
returns None: errors raise `SolverError`, an infeasible problem raises `InfeasibleError`. Explaining
*why* it is infeasible is the job of `optimizer.diagnosis`, the layer above this one.

Status mapping. PuLP reports "Optimal" for a time-limited MIP that only has an incumbent, so the
status comes from the solver itself: HiGHS's model status and primal solution status, CBC's result
line and PuLP's solution status; a stopped solve with an incumbent is FEASIBLE unless its reported
gap is within the requested `mip_gap`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pulp

from optimizer.errors import ExitCode, InfeasibleError, SolverError
from optimizer.highs_matrix import (
    HighsMatrix,
    block_relaxation,
    highs_matrix,
    restrict,
    row_blocks,
)
from optimizer.highs_matrix import feasible as _feasible
from optimizer.model.data import COST_TERMS
from optimizer.model.fleet_model import FleetModel, WorkloadBlocks
from optimizer.model.incumbent import rounded_start
from optimizer.model.routing import candidate_traffic
from optimizer.outputs import native_stdout_to_stderr

SolverName = Literal["highs", "cbc"]
StartFn = Callable[[Mapping[Any, float]], Mapping[Any, float]]
"""Turns the LP relaxation's values (variable -> value) into a starting plan for the MIP."""
DiveFn = Callable[[Mapping[Any, float]], Sequence[Any]]
"""The columns (variables) to fix at 0 when the rounding of the LP relaxation's values broke a
rule it cannot repair (`FleetModel.gpu_type_dive`); the LP is re-solved with them fixed."""
_log = logging.getLogger("optimizer")


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    """Proven optimal within the requested relative gap."""
    FEASIBLE = "feasible"
    """Stopped at a limit with an incumbent; `SolverInfo.gap` says how far from proven."""
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def exit_code(self) -> ExitCode:
        return {
            SolveStatus.OPTIMAL: ExitCode.OK,
            SolveStatus.FEASIBLE: ExitCode.NOT_PROVEN_OPTIMAL,
            SolveStatus.INFEASIBLE: ExitCode.INFEASIBLE,
        }.get(self, ExitCode.INTERNAL_ERROR)


@dataclass(frozen=True, slots=True)
class SolverInfo:
    """What ran, how, and what it proved."""

    name: str
    """`highs` or `cbc`."""
    version: str
    options: Mapping[str, Any]
    """time_limit_s, mip_gap, threads as passed to the solver."""
    wall_time_s: float
    raw_status: str
    """The solver's own status text (e.g. HiGHS `Time limit reached`, CBC `Stopped on time limit`)."""
    best_bound: float | None = None
    """Proven lower bound on the objective (USD/month), where the solver reports it."""
    gap: float | None = None
    """Relative gap |objective - bound| / |objective| at the end, where known."""
    fallback_reason: str | None = None
    """Why the requested solver was not used (CBC ran instead of HiGHS)."""


@dataclass(frozen=True)
class Solution:
    """A solved fleet plan in model terms (ids and numbers); zero entries are left out."""

    status: SolveStatus
    objective: float
    """USD per month: the sum of `cost_terms`."""
    cost_terms: Mapping[str, float]
    """Every data.COST_TERMS entry -> USD per month."""
    replicas: Mapping[tuple[str, str, str, str], int]
    """(candidate, site, option, period) -> replicas; fixed options repeated in every period."""
    instances: Mapping[tuple[str, str, str, str, str], int]
    """(site, gpu, option, period, tenant) -> instances; fixed options repeated in every period."""
    traffic: Mapping[tuple[str, str, str, str, str], float]
    """(workload, region, site, candidate, period) -> rps."""
    serverless: Mapping[tuple[str, str, str], float]
    """(workload, region, period) -> rps sent to the serverless API."""
    unmet: Mapping[tuple[str, str, str], float]
    """(workload, region, period) -> rps left unserved (only where shortfall is allowed)."""
    active_sites: frozenset[tuple[str, str]]
    """(workload, site) holding replicas or traffic."""
    gpu_types: frozenset[str]
    """GPU types with instances."""
    solver: SolverInfo
    model_stats: Mapping[str, int] = field(default_factory=dict)
    """Variable and constraint counts of the solved model."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of `solve`, passed to every solver run (diagnosis re-solves included)."""

    solver: SolverName = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-6
    threads: int | None = None
    msg: bool = False
    start: StartFn | None = None
    """HiGHS only: turns the LP relaxation's values into a starting plan (see `_run_highs`)."""
    relaxations: tuple[frozenset[str], ...] = ()
    """Row names the LP phase may leave out, level by level (`FleetModel.relaxation_rows`)."""
    column_groups: tuple[tuple[str, ...], ...] = ()
    """Integer columns the widest neighbourhood frees together (`FleetModel.column_groups`)."""
    blocks: WorkloadBlocks | None = None
    """Columns by workload, for the per-workload LP relaxation (`FleetModel.workload_blocks`)."""
    dive: DiveFn | None = None
    """Columns to fix at 0 and re-solve the LP with, when its rounding fails (`_dive_phase`)."""
    release: Callable[[], None] | None = None
    """HiGHS only: called once the rows are in the solver's matrix, to free the PuLP rows' terms
    (`FleetModel.release_row_terms`); the run then has no CBC fallback (CBC reads those rows)."""


@dataclass(frozen=True, slots=True)
class _Run:
    status: SolveStatus
    info: SolverInfo
    failure: str | None = None
    """Why no plan came out (solver failure, or stopped before any incumbent)."""
    retry: bool = True
    """A failure another solver may not share (HiGHS -> CBC fallback); False for limits reached."""
    released: bool = False
    """The caller's PuLP rows were released during the run (`RunOptions.release`)."""


def solve(
    model: FleetModel,
    *,
    solver: SolverName = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-6,
    threads: int | None = None,
    msg: bool = False,
    warm_start: bool = True,
) -> Solution:
    """Solve `model`; a plan (OPTIMAL or FEASIBLE) or an exception, never None.

    `warm_start` (HiGHS): solve the LP relaxation first for a lower bound and start the MIP from its
    rounding (`model.incumbent.rounded_start`), so a time-limited run has a plan and a proven gap.

    Raises InfeasibleError when the solver proves that no plan exists (without a diagnosis: for one
    naming workload, region, period and binding rule, use `optimizer.diagnosis.solve_diagnosed`),
    SolverError on solver failure, unboundedness, or no incumbent within the time limit.
    """
    if solver not in ("highs", "cbc"):
        raise SolverError(f"unknown solver {solver!r}; use 'highs' or 'cbc'")
    start: StartFn | None = None
    if warm_start and not model.elastic:

        def start(lp: Mapping[Any, float]) -> Mapping[Any, float]:
            return rounded_start(model, lp)

    relaxations = model.relaxation_rows() if start is not None else ()
    groups = model.column_groups() if start is not None else ()
    blocks = model.workload_blocks() if start is not None else None
    dive = model.gpu_type_dive if start is not None and model.gpu_used else None
    big = solver == "highs" and len(model.columns) > RELEASE_ROWS_FROM_COLUMNS
    release = model.release_row_terms if big else None
    opts = RunOptions(
        solver, time_limit_s, mip_gap, threads, msg, start, relaxations, groups, blocks, dive, release
    )
    run = run_solver(model.problem, opts, model.columns)
    if run.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError(f"problem is infeasible ({run.info.name}: {run.info.raw_status})")
    if run.status is SolveStatus.UNBOUNDED:
        raise SolverError(f"{run.info.name}: the model is unbounded (a negative price?)")
    if run.status is SolveStatus.ERROR:
        raise SolverError(f"{run.info.name}: {run.failure or run.info.raw_status}")
    return extract_solution(model, run.status, run.info)


RELEASE_ROWS_FROM_COLUMNS = 250_000
"""Models with more columns than this release their PuLP rows' terms once HiGHS has the matrix
(`FleetModel.release_row_terms`): on the synthetic huge model (1.7 million columns) the run's
peak memory fell from 4,046 MB to 3,531 MB (with the matrix built without copies). Such a model
is solved once; a HiGHS failure is then reported, not retried with CBC."""


def relaxation_bound(model: FleetModel, opts: RunOptions) -> float | None:
    """Optimum of the LP relaxation (every integer made continuous): a valid lower bound on the
    MIP's cost. math.inf when even the relaxation is infeasible; None when the LP did not solve.

    The model is left as built (integrality restored); variable values are the LP's until the next
    solve.
    """
    integers = [v for v in model.columns if v.cat == pulp.LpInteger]
    for v in integers:
        v.cat = pulp.LpContinuous
    try:
        run = run_solver(model.problem, opts, model.columns)
    finally:
        for v in integers:
            v.cat = pulp.LpInteger
    if run.status is SolveStatus.INFEASIBLE:
        return math.inf
    if run.status is not SolveStatus.OPTIMAL:
        return None
    return float(model.problem.objective.value() or 0.0)


def quick_bound(model: FleetModel, opts: RunOptions) -> float | None:
    """A valid lower bound on the MIP's cost, fast: the LP relaxation without the rows
    `FleetModel.relaxation_rows` lets a quick bound leave out (the site-activity rows, the big-M
    rows that slow the simplex most), as the LP phase's loosest level. math.inf when even that
    is infeasible; None when it did not solve within `opts.time_limit_s`. HiGHS only; with CBC,
    the whole relaxation (`relaxation_bound`)."""
    if opts.solver == "cbc" or not pulp.HiGHS(msg=False).available():
        return relaxation_bound(model, opts)
    loosest = model.relaxation_rows()[-1]
    mat = highs_matrix(model.problem, model.columns)
    if not len(mat.variables):
        return float(mat.offset)
    h = _highs_of(mat.without_rows(loosest), opts, integer=False)
    h.setOptionValue("time_limit", float(max(0.05, opts.time_limit_s)))
    with native_stdout_to_stderr(discard=not opts.msg):
        h.run()
    status = str(h.getModelStatus().name)
    if status == "kInfeasible":
        return math.inf
    if status != "kOptimal":
        return None
    return float(h.getInfo().objective_function_value) + mat.offset


# ---------------------------------------------------------------- running solvers


def run_solver(problem: Any, opts: RunOptions, columns: list[Any] | None = None) -> _Run:
    """Run the chosen solver on a PuLP problem, falling back from HiGHS to CBC on failure.

    `columns`: `problem.variables()` when the caller has it already (`FleetModel.columns`); PuLP
    re-scans every row to list them (about 8 s on the synthetic huge model).
    """
    if not (problem.variables() if columns is None else columns):
        info = SolverInfo("none", "", _options(opts), 0.0, "empty model", 0.0, 0.0)
        return _Run(SolveStatus.OPTIMAL, info)
    if opts.solver == "cbc":
        run = _run_cbc(problem, opts)
    else:
        run = _run_highs(problem, opts, columns)
        if run.failure is not None and run.retry and run.released:
            run = _Run(
                run.status, run.info, f"{run.failure} (no CBC fallback: the model's rows were released)"
            )
        elif run.failure is not None and run.retry:
            reason = f"highs failed: {run.failure}"
            _log.warning("%s; solving with CBC instead (recorded as solve.fallback_reason)", reason)
            cbc = _run_cbc(problem, opts)
            run = _Run(cbc.status, _with_fallback(cbc.info, reason), cbc.failure)
    if run.failure is not None:
        return _Run(SolveStatus.ERROR, run.info, run.failure, run.retry)
    return run


def _with_fallback(info: SolverInfo, reason: str) -> SolverInfo:
    return SolverInfo(
        info.name,
        info.version,
        info.options,
        info.wall_time_s,
        info.raw_status,
        info.best_bound,
        info.gap,
        reason,
    )


def _options(opts: RunOptions) -> dict[str, Any]:
    return {"time_limit_s": opts.time_limit_s, "mip_gap": opts.mip_gap, "threads": opts.threads}


HIGHS_STOPPED = frozenset(
    {
        "kTimeLimit",
        "kIterationLimit",
        "kSolutionLimit",
        "kInterrupt",
        "kHighsInterrupt",
        "kObjectiveBound",
        "kObjectiveTarget",
        "kMemoryLimit",
    }
)
"""HiGHS model statuses of a solve stopped at a limit (an incumbent may exist)."""


def map_highs_status(
    model_status: str,
    has_incumbent: bool,
    gap: float | None,
    mip_gap: float,
    objective_bounded_below: bool = True,
) -> SolveStatus:
    """Project status from HiGHS's model status name (e.g. `kTimeLimit`) and whether a primal
    feasible solution exists.

    >>> map_highs_status("kTimeLimit", True, 0.03, 1e-6).value
    'feasible'
    >>> map_highs_status("kTimeLimit", False, None, 1e-6).value
    'error'
    """
    if model_status == "kOptimal":
        return SolveStatus.OPTIMAL
    if model_status == "kInfeasible":
        return SolveStatus.INFEASIBLE
    if model_status == "kUnboundedOrInfeasible":
        return SolveStatus.INFEASIBLE if objective_bounded_below else SolveStatus.UNBOUNDED
    if model_status == "kUnbounded":
        return SolveStatus.UNBOUNDED
    if model_status in HIGHS_STOPPED:
        if not has_incumbent:
            return SolveStatus.ERROR
        return SolveStatus.OPTIMAL if gap is not None and gap <= mip_gap else SolveStatus.FEASIBLE
    return SolveStatus.ERROR


def map_cbc_status(pulp_status: int, sol_status: int, gap: float | None, mip_gap: float) -> SolveStatus:
    """Project status from PuLP's status and solution status after CBC.

    PuLP marks a CBC run stopped on a limit with an incumbent as status Optimal (1) with solution
    status IntegerFeasible (2): that is FEASIBLE unless the reported gap is within `mip_gap`.

    >>> map_cbc_status(1, 2, 0.2, 1e-6).value, map_cbc_status(1, 1, None, 1e-6).value
    ('feasible', 'optimal')
    """
    if pulp_status == pulp.LpStatusOptimal:
        if sol_status == pulp.LpSolutionOptimal:
            return SolveStatus.OPTIMAL
        if sol_status == pulp.LpSolutionIntegerFeasible:
            return SolveStatus.OPTIMAL if gap is not None and gap <= mip_gap else SolveStatus.FEASIBLE
        return SolveStatus.ERROR
    if pulp_status == pulp.LpStatusInfeasible:
        return SolveStatus.INFEASIBLE
    if pulp_status == pulp.LpStatusUnbounded:
        return SolveStatus.UNBOUNDED
    return SolveStatus.ERROR


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9)... 0 when both are 0 (HiGHS's convention)."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    diff = abs(objective - bound)
    return 0.0 if diff <= 1e-9 else diff / max(abs(objective), 1e-9)


def _no_incumbent(raw: str, wall: float) -> str:
    return f"stopped ({raw}) after {wall:.1f} s before finding any feasible plan; raise the time limit"


_HIGHS_SCHEDULER: dict[str, int | None] = {}
"""Thread count HiGHS's process-wide task scheduler was last started for (key `threads`)."""


def _prepare_highs_scheduler(threads: int | None) -> None:
    """Restart HiGHS's global task scheduler when this run asks for another thread count.

    HiGHS starts one process-wide scheduler on its first MIP solve and refuses (model status
    "Not Set") any later run whose `threads` option differs from it. Solving once with the
    default and then with `threads=1` in the same process therefore failed, and used to fall
    back to CBC silently. `Highs.resetGlobalScheduler(True)` tears it down so the next run
    starts one with the requested count.
    """
    if "threads" in _HIGHS_SCHEDULER and _HIGHS_SCHEDULER["threads"] == threads:
        return
    import highspy

    reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
    if reset is not None and "threads" in _HIGHS_SCHEDULER:
        reset(True)
    _HIGHS_SCHEDULER["threads"] = threads


TIGHTER_LP_FACTOR = 1.0
"""A tighter LP level is tried only when the LP budget left is at least this many times what the
loosest level took. Tighter levels re-solve warm from the looser one's basis (a fraction of its
time); solved cold, the synthetic large problem's second level ran out of time after 19 s that
the integer phases then lacked."""
LP_SHARE = 0.5
"""Most of the time limit the LP relaxation may take (the rest is left for integer plans)."""
LP_OVERRUN_SHARE = 0.15
"""A tighter LP level may run on past `LP_SHARE` by up to this share of the limit (and is started
when the loosest level's time fits in what is left of both): stopped at the share, its time is
lost and the run goes on with the looser level's values
(synthetic large, 30 s: the second level stopped at 15.1 s, about half a second short, and the
neighbourhoods then found 43,354 from the loosest LP's values instead of 35,314; on a slower
machine the loosest level took 8.5 s of the 15 s share, level two was not started and the plan
was 41,290, and with the allowance level two ended at 18.3 s and the plan was 39,604)."""
ZERO = 1e-9
"""An LP value at most this is zero: the neighbourhood MIP fixes such integer columns to 0."""


def _highs_of(mat: HighsMatrix, opts: RunOptions, integer: bool = True) -> Any:
    """A fresh `highspy.Highs` holding `mat` (integrality set unless not `integer`), with the run's
    options. Fresh each time: re-running one object after changing integrality gave wrong MIP
    optima in HiGHS 1.16 (below its own LP bound), so the LP and the MIP never share an object.
    The objective's constant (`mat.offset`) is never given to HiGHS: every objective and bound
    read back is HiGHS's figure + `mat.offset` (HiGHS 1.16's presolve dropped the offset of a
    start handed over with `setSolution`, and then misreported optima)."""
    import highspy

    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", bool(opts.msg))
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
    h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    n = len(mat.variables)
    h.addVars(n, mat.lower, mat.upper)
    if n:
        h.changeColsCost(n, list(range(n)), mat.cost)
    if len(mat.row_lower):
        h.addRows(
            len(mat.row_lower), mat.row_lower, mat.row_upper, len(mat.index), mat.starts, mat.index, mat.value
        )
    if integer:
        _set_integrality(h, mat, True)
    return h


def _set_integrality(h: Any, mat: HighsMatrix, integer: bool) -> None:
    import highspy
    import numpy as np

    if len(mat.integer):
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        kinds = np.full(len(mat.integer), int(kind.value), dtype=np.uint8)
        h.changeColsIntegrality(len(mat.integer), mat.integer, kinds)


@dataclass
class _Incumbent:
    """The best checked plan found so far outside the final MIP run, and where it came from."""

    values: Any
    objective: float
    source: str


START_BROKEN_FROM = (1, 16)
"""HiGHS versions from this one on are not handed a starting solution: HiGHS 1.16.0, given a
feasible start with `setSolution`, reported a dearer plan as optimal on small models (found by
tests/model/test_oracle.py, seed 167: 3426.62 "optimal" against the true 1585.02; 1.13-1.15 are
right on the same model). The start is still kept as the incumbent whenever the MIP does not
beat it, so only HiGHS's pruning with it is lost."""


def _highs_takes_start(version: str) -> bool:
    """HiGHS `version` (e.g. "1.15.1") can be handed a starting solution (see START_BROKEN_FROM).

    >>> _highs_takes_start("1.15.1"), _highs_takes_start("1.16.0")
    (True, False)
    """
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    return len(parts) == 2 and parts < START_BROKEN_FROM


def _offer_start(h: Any, best: _Incumbent | None, mat: HighsMatrix, columns: Any = None) -> None:
    """Hand `best` to HiGHS as a starting solution of `mat` (it prunes with it and improves on it),
    where this HiGHS version handles one correctly. `columns`: for a restriction of the model,
    the model's column of each of `mat`'s (the plan's other columns are the restriction's fixed
    values, in `mat.offset`)."""
    if best is None:
        return
    # a cutoff: HiGHS prunes every node that cannot beat the plan in hand (the constant `offset`
    # is not in HiGHS's objective)
    h.setOptionValue("objective_bound", float(best.objective - mat.offset))
    if not _highs_takes_start(str(h.version())):
        return
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = list(best.values if columns is None else best.values[columns])
    sol.value_valid = True
    h.setSolution(sol)


def _cheaper(a: float, b: float) -> bool:
    """Cost `a` is below `b` by more than round-off."""
    return a < b - 1e-9 * max(1.0, abs(b))


def _better(best: _Incumbent | None, values: Any, objective: float, source: str) -> _Incumbent | None:
    """The cheaper of `best` and the plan (`values`, `objective`)."""
    if best is None or _cheaper(objective, best.objective):
        return _Incumbent(values, objective, source)
    return best


def _within(objective: float, bound: float | None, mip_gap: float) -> bool:
    """`objective` is proven within `mip_gap` (relative) of the lower `bound`."""
    gap = relative_gap(objective, bound)
    return gap is not None and gap <= mip_gap


def _lp_phase(
    mat: HighsMatrix, opts: RunOptions, limit_s: float, overrun_s: float = 0.0
) -> tuple[float | None, Any]:
    """LP relaxation within `limit_s`: (its optimum, the column values), or (None, None). A
    tighter level is started while `TIGHTER_LP_FACTOR` x the loosest level's time fits in what is
    left of `limit_s` plus `overrun_s`, and may finish up to `overrun_s` after `limit_s`.

    With `opts.relaxations` (levels of rows that may be left out, each a superset of the last),
    the loosest relaxation is solved first (fast: a valid bound and values to round in any case),
    then each tighter one while time is left, by adding its rows to the solved LP (a warm dual
    simplex re-solve: on the synthetic large problem 6 s where a cold solve took 25 s); the
    tightest that solves gives bound and values. Without them, the LP relaxation of the whole model.
    """
    import numpy as np

    levels = [*reversed(opts.relaxations)] if opts.relaxations else [frozenset()]
    begin = time.perf_counter()
    found: tuple[float | None, Any] = (None, None)
    relax = _highs_of(mat.without_rows(levels[0]), opts, integer=False)
    first_s = 0.0
    for i, names in enumerate(levels):
        # a tighter level (i > 0: the looser one solved) may use the overrun allowance too
        room = limit_s - (time.perf_counter() - begin) + (overrun_s if i else 0.0)
        if i and (room <= 0.05 or TIGHTER_LP_FACTOR * first_s > room):
            break  # no time left for a tighter LP
        if i:
            relax.addRows(*mat.rows_named(levels[i - 1] - names))
        # HiGHS's time limit counts every run of the object: the earlier levels' time included
        relax.setOptionValue("time_limit", float(time.perf_counter() - begin + max(0.05, room)))
        relax.run()
        status = str(relax.getModelStatus().name)
        elapsed = time.perf_counter() - begin
        _log.debug("highs: LP without %d rows: %s after %.1f s", len(names), status, elapsed)
        if status != "kOptimal":
            break
        values = np.array(relax.getSolution().col_value, dtype=float)
        found = (float(relax.getInfo().objective_function_value) + mat.offset, values)
        first_s = first_s or elapsed
    return found


BLOCKS_FROM_COLUMNS = 250_000
"""Models with more columns than this skip the whole-model LP and go straight to the per-workload
relaxation (`_block_phase`): the synthetic huge problem's LP (1.7 million columns) did not solve
in 150 s by dual simplex nor in 300 s by interior point, while its 50 workload blocks of about
35,000 columns each solve in seconds. Smaller models use the block relaxation only when the
whole-model LP found nothing in its share."""
FULL_MIP_MAX_COLUMNS = 250_000
"""With a plan in hand, the final whole-model MIP is not started on models with more columns than
this: on the synthetic huge problem it grew past 8 GB before its first node. The plan is returned
with the gap to the best bound found."""


def _block_columns(mat: HighsMatrix, blocks: WorkloadBlocks) -> tuple[list[Any], list[tuple[int, int]]]:
    """Column indices of each non-empty workload block of `mat`, and (instance column, packing
    row) index pairs."""
    import numpy as np

    where, rows = mat.column_of, mat.row_of
    cols = [np.array([where[n] for n in b if n in where], dtype=np.int64) for b in blocks.blocks]
    linked = [(where[c], rows[r]) for c, r in blocks.linked if c in where and r in rows]
    return [c for c in cols if len(c)], linked


def _block_workers(opts: RunOptions, blocks: int) -> int:
    """Threads solving the per-workload LPs at once: the run's `threads`, else the machine's cores."""
    return max(1, min(blocks, opts.threads or os.cpu_count() or 1))


def _block_phase(mat: HighsMatrix, opts: RunOptions, limit_s: float) -> tuple[float | None, Any]:
    """The per-workload LP relaxation (`highs_matrix.block_relaxation`) within `limit_s`:
    (its optimum, a valid lower bound, and the column values), or (None, None) when the blocks do
    not all solve in time or the model does not split. The `active_replicas` rows are left out
    (the first relaxation level: the same bound, a faster simplex).

    Each workload's LP is solved alone (up to `_block_workers` at once), with instance costs
    charged per GPU its replicas use and the fleet-wide limits (supply, site GPUs and power, GPU
    types, budget) left out, so the sum of their optima is at most the whole-model LP's (equal
    when those limits do not bind). The values: every workload's, and each instance count at the
    GPUs its packing row needs (what the rounding and the neighbourhoods read)."""
    import numpy as np

    if opts.blocks is None or not opts.blocks.blocks:
        return None, None
    begin = time.perf_counter()
    loose = mat.without_rows(opts.relaxations[0]) if opts.relaxations else mat  # same bound, faster
    blocks, linked = _block_columns(loose, opts.blocks)
    relaxation = block_relaxation(loose, blocks, linked)
    if relaxation is None:
        return None, None

    def run_block(k: int) -> tuple[float, Any] | None:
        """Block k's LP optimum and column values, or None if it is not optimal in time."""
        left = limit_s - (time.perf_counter() - begin)
        if left <= 0.0:
            return None
        part = relaxation.blocks[k]
        h = _highs_of(part.matrix, opts, integer=False)
        h.setOptionValue("time_limit", float(max(0.05, left)))
        h.run()
        if str(h.getModelStatus().name) != "kOptimal":
            _log.debug("highs: block %d LP: %s", k, h.getModelStatus().name)
            return None
        done = time.perf_counter() - begin
        _log.debug("highs: block %d LP of %d columns done after %.1f s", k, len(part.columns), done)
        return float(h.getInfo().objective_function_value), np.array(h.getSolution().col_value, dtype=float)

    # HiGHS releases the GIL while it solves: the blocks share the cores (results kept in block order)
    with ThreadPoolExecutor(max_workers=_block_workers(opts, len(relaxation.blocks))) as pool:
        solved = list(pool.map(run_block, range(len(relaxation.blocks))))
    if any(r is None for r in solved):
        return None, None
    values = np.zeros(len(mat.variables))
    total = relaxation.offset
    for part, result in zip(relaxation.blocks, solved, strict=True):
        assert result is not None
        total += result[0]
        values[part.columns] = result[1]
    for j, i in linked:  # instance counts the replicas need, fractional
        cols, vals = loose.row(i)
        g = -float(vals[cols == j].sum())
        values[j] = float(vals[cols != j] @ values[cols[cols != j]]) / g
    _log.debug(
        "highs: %d workload LPs: bound %.2f after %.1f s",
        len(relaxation.blocks),
        total,
        time.perf_counter() - begin,
    )
    return total, values


def _rounded_phase(mat: HighsMatrix, start: StartFn, lp_values: Any) -> _Incumbent | None:
    """The model's rounding of the LP values (`start`), kept if it meets every row."""
    import numpy as np

    relaxed = {v: float(lp_values[i]) for i, v in enumerate(mat.variables)}
    plan = start(relaxed)
    initial = np.array([float(plan.get(v, relaxed[v])) for v in mat.variables])
    if not _feasible(mat, initial):
        return None
    return _Incumbent(initial, float(mat.cost @ initial) + mat.offset, "rounded LP relaxation")


def _dive_phase(
    mat: HighsMatrix, opts: RunOptions, lp_values: Any, limit_s: float
) -> tuple[Any, _Incumbent | None]:
    """When the rounding of `lp_values` failed: the LP re-solved with `opts.dive`'s columns fixed
    at 0, and its rounding. Returns (the values the next phases start from, the rounded plan or
    None): the re-solved LP's values when it solved (its optimum is no bound for the whole
    model, which keeps the first LP's), else `lp_values`.

    Synthetic fleets with a GPU-type limit: the relaxation spreads instances over more types than
    allowed (the `used` binaries fractional), its rounding keeps them all and breaks the limit, and
    every LP-support neighbourhood is infeasible for the same reason; the run then had no plan.
    """
    assert opts.dive is not None and opts.start is not None
    relaxed = {v: float(lp_values[i]) for i, v in enumerate(mat.variables)}
    where = mat.column_of
    cols = [where[v.name] for v in opts.dive(relaxed) if v.name in where]
    if not cols:
        return lp_values, None
    upper = mat.upper.copy()
    upper[cols] = 0.0
    fixed = mat.with_columns(upper=upper)
    _bound, values = _lp_phase(fixed, opts, limit_s)
    _log.debug("highs: LP with %d columns fixed at 0: %s", len(cols), "no LP" if values is None else "solved")
    if values is None:
        return lp_values, None
    best = _rounded_phase(mat, opts.start, values)
    _log.debug("highs: rounded start after the fixing %s", best and round(best.objective, 2))
    return values, best


GROUPS = -1
"""`slack` of the widest neighbourhood: unbounded, with whole column groups freed."""
NEIGHBOURHOODS: tuple[tuple[int | None, float], ...] = ((2, 0.3), (None, 0.5), (GROUPS, 0.5))
"""The LP-support neighbourhoods tried in turn, as (slack, share): integer columns the LP leaves at
0 are fixed to 0, the others bounded by ceil(LP value) + slack (None: unbounded; GROUPS: unbounded,
and a column is free when any column of its group is in the support: a slot or pool the LP uses in
some hour may be used in every hour); each may use `share` of the time left when it starts. The
tight one is small and fast; the wider ones, cut off at the plan in hand, improve on it (synthetic
medium seed 2: 41,716 -> 36,914 -> 31,927)."""


def _group_columns(mat: HighsMatrix, groups: tuple[tuple[str, ...], ...]) -> list[Any]:
    """Column indices of each group of column names (names not in `mat` are skipped)."""
    import numpy as np

    where = mat.column_of
    out = []
    for names in groups:
        cols = [where[n] for n in names if n in where]
        if len(cols) > 1:
            out.append(np.array(cols, dtype=np.int64))
    return out


def _neighbourhood_phase(
    mat: HighsMatrix,
    opts: RunOptions,
    lp_values: Any,
    best: _Incumbent | None,
    limit_s: float,
    slack: int | None,
) -> _Incumbent | None:
    """The MIP restricted to the LP's support (every integer column the LP leaves at 0 fixed to 0;
    with `slack`, the others at most ceil(LP value) + slack), widened by the support of `best`
    (an LP that left out the site-activity rows leaves every `active` binary at 0; fixing those
    to 0 made the neighbourhood infeasible whenever the LP had routed any traffic), solved within
    `limit_s` and cut off at `best`: a plan of the full problem when it finds one, usually far
    better than rounding (it picks whole replicas and instances where the LP used fractions).
    With `slack` = GROUPS, unbounded and widened to whole column groups (`opts.column_groups`).
    Returns the better plan."""
    import numpy as np

    ints = mat.integer
    support = np.abs(lp_values)
    if best is not None:  # the LP may leave out rows (site activity) the plan in hand had to meet
        support = np.maximum(support, np.abs(best.values))
    wide_groups = slack == GROUPS
    if wide_groups:
        for group in _group_columns(mat, opts.column_groups):
            if (support[group] > ZERO).any():
                support[group] = np.maximum(support[group], 1.0)
        slack = None
    x = support[ints]
    zero = (x <= ZERO) & (mat.lower[ints] <= 0.0)
    if not zero.any() or zero.all():
        return best
    upper = np.where(zero, 0.0, mat.upper[ints])
    if slack is not None:
        upper = np.minimum(upper, np.where(zero, 0.0, np.ceil(x - 1e-6) + slack))
    upper = np.maximum(upper, mat.lower[ints])
    bounded = mat.with_columns(upper=mat.upper.copy())
    bounded.upper[ints] = upper
    free = np.ones(len(mat.variables), dtype=bool)
    free[ints[zero]] = False  # fixed at 0: left out of what HiGHS is given
    part = restrict(bounded, free, np.zeros(len(mat.variables)))
    if not part.consistent:
        return best
    sub = _highs_of(part.matrix, opts)
    _offer_start(sub, best, part.matrix, part.columns)
    sub.setOptionValue("time_limit", float(max(0.05, limit_s)))
    sub.run()
    _log.debug(
        "highs: neighbourhood (%s) of %d free integer columns: %s, %s",
        "whole slots" if wide_groups else f"+{slack}",
        int((~zero).sum()),
        sub.getModelStatus().name,
        sub.getInfo().objective_function_value + part.matrix.offset,
    )
    if int(sub.getInfo().primal_solution_status) != 2:
        return best
    values = np.zeros(len(mat.variables))
    values[part.columns] = np.array(sub.getSolution().col_value, dtype=float)
    if not _feasible(mat, values):
        return best
    label = "LP-support neighbourhood" + ("" if slack is None else f" (+{slack})")
    if wide_groups:
        label += " (whole slots)"
    return _better(best, values, float(mat.cost @ values) + mat.offset, label)


PAIR_PARTNERS = 3
"""Partners per workload in `_workload_phase`'s pair steps (those sharing the most instance pools)."""
PAIR_STEP_MAX_S = 5.0
"""Longest a single pair step may run (most finish well within it)."""


@dataclass
class _WorkloadSteps:
    """One workload's MIP with the rest of a plan fixed (`step`), for `_workload_phase`."""

    mat: HighsMatrix
    opts: RunOptions
    support: Any
    blocks: list[Any]
    """Column indices of each workload."""
    inst_cols: Any
    inst_rows: Any
    """Instance columns and their packing rows."""
    always_free: Any
    """Shared columns that are no instance count (GPU-type binaries): free in every step."""
    row_block: Any
    """The workload whose columns alone a row holds, -1 for rows of several or of shared columns."""
    _activity: list[tuple[Any, Any]] = field(default_factory=list)
    """(plan, its row activity) of the last two plans a step started from or returned: most steps
    start from the plan in hand, which is usually the plan the step before returned; a step's
    activity is the one it started from with the rows it kept updated, so no step scans the
    whole matrix once the first activity is known."""

    @classmethod
    def of(cls, mat: HighsMatrix, opts: RunOptions, support: Any) -> _WorkloadSteps | None:
        import numpy as np

        if opts.blocks is None:
            return None
        blocks, linked = _block_columns(mat, opts.blocks)
        owner = np.full(len(mat.variables), -1, dtype=np.int64)
        for b, cols in enumerate(blocks):
            owner[cols] = b
        inst_cols = np.array([j for j, _ in linked], dtype=np.int64)
        inst_rows = np.array([i for _, i in linked], dtype=np.int64)
        always_free = owner < 0
        always_free[inst_cols] = False
        row_block = row_blocks(mat, owner)
        return cls(mat, opts, support, blocks, inst_cols, inst_rows, always_free, row_block)

    def _pools_of(self, cols: Any) -> Any:
        """The instance columns whose packing rows hold one of the columns `cols` (indices)."""
        return self.inst_cols[self.mat.rows_with(cols)[self.inst_rows]]

    def free_columns(self, group: tuple[int, ...], wide: bool) -> Any:
        """Mask of the columns a step over the workloads `group` frees: their integer columns in
        the support (all of them when `wide`), their continuous columns, the instance counts of
        the pools those pack into, and the shared columns that are no instance count."""
        import numpy as np

        mat = self.mat
        cols = np.concatenate([self.blocks[b] for b in group])
        free = np.zeros(len(mat.variables), dtype=bool)
        free[cols] = wide | ~mat.is_int[cols] | (self.support[cols] > ZERO)
        free[self._pools_of(np.flatnonzero(free))] = True
        return free | self.always_free

    def pairs(self, x: Any) -> list[tuple[int, int]]:
        """Pairs of workloads whose steps share instance pools (in the support or held in `x`),
        most shared pools first, at most `PAIR_PARTNERS` partners per workload: the moves one
        workload alone cannot make (two workloads trading GPUs of the same instances)."""
        import numpy as np

        pools: list[set[int]] = []
        for cols in self.blocks:
            used = cols[(self.support[cols] > ZERO) | (np.abs(x[cols]) > ZERO)]
            pools.append(set(self._pools_of(used).tolist()))
        chosen: dict[tuple[int, int], int] = {}
        for a in range(len(pools)):
            others = (b for b in range(len(pools)) if b != a)
            shared = sorted(((len(pools[a] & pools[b]), b) for b in others), reverse=True)
            for k, b in shared[:PAIR_PARTNERS]:
                if k > 0:
                    chosen[(min(a, b), max(a, b))] = k
        return sorted(chosen, key=lambda pair: (-chosen[pair], pair))

    def _activity_at(self, x: Any) -> Any:
        """Row activity at `x` (known for the last two plans, else computed)."""
        for plan, activity in self._activity:
            if plan is x:
                return activity
        return self._remember(x, self.mat.activity(x))

    def _remember(self, x: Any, activity: Any) -> Any:
        self._activity = [*self._activity[-1:], (x, activity)]
        return activity

    def step(
        self,
        group: tuple[int, ...],
        x: Any,
        wide: bool,
        limit_s: float,
        best: _Incumbent | None,
        later: Any = None,
    ) -> Any:
        """The MIP of the workloads `group` with every other column at `x` (`free_columns`).
        `later`: a mask of workloads not planned yet, whose own rows are left out (their columns
        are 0 in `x`). The completed plan's values when it meets every row of the model (every
        row with `later` None; else every row but those left out), or None."""
        import numpy as np

        mat = self.mat
        free = self.free_columns(group, wide)
        rows = None
        if later is not None:  # rows only a workload still to plan holds
            rows = ~((self.row_block >= 0) & later[np.maximum(self.row_block, 0)])
        start_activity = self._activity_at(x)
        part = restrict(mat, free, x, rows, start_activity)
        if not part.consistent or not len(part.matrix.integer):
            return None
        sub = _highs_of(part.matrix, self.opts)
        _offer_start(sub, best, part.matrix, part.columns)
        sub.setOptionValue("time_limit", float(max(0.05, limit_s)))
        sub.run()
        if int(sub.getInfo().primal_solution_status) != 2:
            return None
        values = x.copy()
        values[part.columns] = np.array(sub.getSolution().col_value, dtype=float)
        kept = part.activity(values)
        if not part.holds(mat, values, kept):
            return None
        activity = start_activity.copy()  # rows without a free column are unchanged
        activity[part.rows] = kept
        self._remember(values, activity)
        return values


def _workload_phase(
    mat: HighsMatrix, opts: RunOptions, support: Any, best: _Incumbent | None, limit_s: float
) -> _Incumbent | None:
    """Plans built and improved one workload at a time, within `limit_s`, for models too big for
    whole-model neighbourhoods (on the huge synthetic problem a few thousand free integer columns
    found no plan in 40 s; each step here is one workload's few hundred).

    Each step is one workload's MIP over its columns in `support` (the LP's and the plans') and
    the instance counts of the pools it packs into, every other column fixed
    (`_WorkloadSteps.step`, `highs_matrix.restrict`): it sees the GPUs the other workloads already
    hold and every fleet-wide limit at what they leave. First a plan is built from nothing,
    workloads in order of their LP cost (each step leaves out the rows of workloads still to plan;
    a workload whose step finds nothing is retried once after the others), kept if cheaper than
    `best`. Then passes, each step a plan of the whole model no dearer than the one before:
    single-workload passes (dearest first) alternate with passes over pairs of workloads that
    share instance pools (`_WorkloadSteps.pairs`: two workloads trading the GPUs of the same
    instances, which neither can do alone; on the synthetic large problem forced through this
    phase they took the plan from 55,731 to 34,725 in 4.5 s); once neither gains, passes with
    every column of the workload free (and after one that gains, single passes again). The phase
    ends when a wide pass gains nothing or at `limit_s`, not after a set number of passes.

    A step costs the nonzeros of the rows it frees, not the model's: `restrict` works through
    the matrix's column view, a step's plan is checked on the rows it kept (the others hold at
    the plan it started from), and the row activity is carried from plan to plan."""
    import numpy as np

    begin = time.perf_counter()
    steps = _WorkloadSteps.of(mat, opts, support)
    if steps is None:
        return best

    def left() -> float:
        return limit_s - (time.perf_counter() - begin)

    n = len(steps.blocks)
    built: Any = np.zeros(len(mat.variables))
    later = np.ones(n, dtype=bool)

    def dearest_first(x: Any) -> list[int]:
        return sorted(range(n), key=lambda b: -float(mat.cost[steps.blocks[b]] @ x[steps.blocks[b]]))

    order = dearest_first(support)
    queue = [(b, 0) for b in order]  # (workload, tries): a step that finds nothing is retried once, last
    while queue and built is not None:
        b, tries = queue.pop(0)
        later[b] = False
        found = steps.step((b,), built, False, 0.5 * left() / (len(queue) + 1), None, later)
        if found is None:
            later[b] = True  # still to plan: its rows stay out
            _log.debug("highs: workload %d found no plan in its constructive step (try %d)", b, tries + 1)
            if tries > 0:
                built = None
                break
            queue.append((b, 1))
            continue
        built = found
    if built is not None:
        _log.debug(
            "highs: constructive plan %.2f (%s)",
            float(mat.cost @ built) + mat.offset,
            "meets every row" if _feasible(mat, built) else "breaks a row",
        )
    if built is not None and _feasible(mat, built):
        best = _better(best, built, float(mat.cost @ built) + mat.offset, "workload-by-workload MIPs")
    _log.debug(
        "highs: workload-by-workload plan %s after %.1f s",
        best and round(best.objective, 2),
        limit_s - left(),
    )
    if best is None:
        return None
    # Single and pairs passes alternate while either gains; wide once neither does, and back to
    # single after a wide pass that gains; done once a wide pass gains nothing, or at the limit.
    stage = "single"
    gained = {"single": True, "pairs": True, "wide": True}
    for sweep in itertools.count():
        start_objective = best.objective
        groups: list[tuple[int, ...]]
        if stage == "pairs":
            groups = list(steps.pairs(best.values))
        else:
            groups = [(b,) for b in dearest_first(best.values)]
        for k, group in enumerate(groups):
            if left() <= 0.05:
                return best
            share = left() / (len(groups) - k)
            limit = min(share, PAIR_STEP_MAX_S) if len(group) > 1 else share
            values = steps.step(group, best.values, stage == "wide", limit, best)
            if values is not None:  # meets every row (`step`)
                objective = float(mat.cost @ values) + mat.offset
                if _cheaper(objective, best.objective):
                    best = _Incumbent(values, objective, "workload-by-workload MIPs")
        _log.debug(
            "highs: workload pass %d (%s, %d steps): %.2f after %.1f s",
            sweep,
            stage,
            len(groups),
            best.objective,
            limit_s - left(),
        )
        gained[stage] = _cheaper(best.objective, start_objective)
        if stage == "wide":
            if not gained["wide"]:
                break
            stage = "single"
        elif stage == "single":
            stage = "pairs"
        else:
            stage = "single" if gained["single"] or gained["pairs"] else "wide"
    return best


def _run_highs(problem: Any, opts: RunOptions, columns: list[Any] | None = None) -> _Run:
    """HiGHS through highspy directly: the matrix is passed in bulk (`highs_matrix`).

    With `opts.start` and integer columns, in phases sharing the time limit:
    1. the LP relaxation (at most `LP_SHARE` of the limit): a valid lower bound, kept if the MIP
       stops before proving a better one;
    2. `start`'s rounding of the LP values, kept if it meets every row;
    3. the MIP restricted to the support of the LP and of every plan found so far
       (`NEIGHBOURHOODS`: a tight one, then wider ones cut off at the plan in hand, the widest
       freeing whole slots and pools);
    4. the full MIP for the rest of the limit, started from the best plan so far.
    The best checked plan wins, so a time limit still returns a plan with a proven gap.
    """
    base = SolverInfo("highs", "", _options(opts), 0.0, "not run")
    if not pulp.HiGHS(msg=False).available():
        return _Run(SolveStatus.ERROR, base, "highspy is not installed")
    import numpy as np

    _prepare_highs_scheduler(opts.threads)
    begin = time.perf_counter()
    lp_bound: float | None = None
    best: _Incumbent | None = None
    released = False

    def left() -> float:
        return opts.time_limit_s - (time.perf_counter() - begin)

    try:
        mat = highs_matrix(problem, columns)
        if opts.release is not None:
            opts.release()
            released = True
        with native_stdout_to_stderr(discard=not opts.msg):  # HiGHS prints its banner and log on fd 1
            if opts.start is not None and len(mat.integer):
                lp_bound, lp_values = None, None
                if len(mat.variables) <= BLOCKS_FROM_COLUMNS:
                    lp_bound, lp_values = _lp_phase(
                        mat, opts, LP_SHARE * opts.time_limit_s, LP_OVERRUN_SHARE * opts.time_limit_s
                    )
                if lp_values is None:  # too big for the whole LP, or it found nothing in time
                    lp_bound, lp_values = _block_phase(mat, opts, LP_SHARE * opts.time_limit_s)
                _log.debug("highs: LP relaxation %s after %.1f s", lp_bound, opts.time_limit_s - left())
                if lp_values is not None:
                    best = _rounded_phase(mat, opts.start, lp_values)
                    _log.debug("highs: rounded start %s", best and round(best.objective, 2))
                    if best is None and opts.dive is not None:
                        lp_values, best = _dive_phase(mat, opts, lp_values, LP_SHARE * left())
                    support = np.abs(lp_values)  # the LP's, and every plan's found so far
                    big = len(mat.variables) > BLOCKS_FROM_COLUMNS
                    if big:
                        if best is not None:
                            support = np.maximum(support, np.abs(best.values))
                        best = _workload_phase(mat, opts, support, best, left())
                    for slack, share in () if big else NEIGHBOURHOODS:
                        if best is not None:
                            support = np.maximum(support, np.abs(best.values))
                            if _within(best.objective, lp_bound, opts.mip_gap):
                                break
                        best = _neighbourhood_phase(mat, opts, support, best, share * left(), slack)
                    _log.debug(
                        "highs: best plan %s (%s) after %.1f s",
                        best and round(best.objective, 2),
                        best and best.source,
                        opts.time_limit_s - left(),
                    )
            closed = best is not None and _within(best.objective, lp_bound, opts.mip_gap)
            too_big = best is not None and len(mat.variables) > FULL_MIP_MAX_COLUMNS
            h = None if closed or too_big else _highs_of(mat, opts)
            if h is not None:
                _offer_start(h, best, mat)
                h.setOptionValue("time_limit", float(max(0.05, left())))
                h.run()
    except Exception as exc:  # a failed run is reported (and may fall back to CBC), never raised
        return _Run(
            SolveStatus.ERROR,
            SolverInfo("highs", "", _options(opts), time.perf_counter() - begin, "error"),
            f"{type(exc).__name__}: {exc}",
            released=released,
        )
    run = _highs_result(problem, mat, opts, h, best, lp_bound, time.perf_counter() - begin)
    return dataclasses.replace(run, released=released) if released else run


def _highs_result(
    problem: Any,
    mat: HighsMatrix,
    opts: RunOptions,
    h: Any | None,
    best: _Incumbent | None,
    lp_bound: float | None,
    wall: float,
) -> _Run:
    """Status, bound and gap of a HiGHS run (the final MIP `h`, or None when `best` closed the gap
    against `lp_bound` before the MIP ran or the model is too big for it); the plan's values are put
    on the PuLP variables."""
    import highspy

    if h is None:
        with native_stdout_to_stderr(discard=not opts.msg):  # a first Highs() prints the banner
            version = str(highspy.Highs().version())  # type: ignore[no-untyped-call]
    else:
        version = str(h.version())
    is_mip = bool(len(mat.integer))
    if h is None:
        assert best is not None  # h is None only with a plan in hand (gap closed, or model too big)
        if _within(best.objective, lp_bound, opts.mip_gap):
            status_name, raw = "kOptimal", f"Optimal ({best.source} within the gap of the LP bound)"
        else:  # the whole-model MIP was not started (FULL_MIP_MAX_COLUMNS)
            status_name = "kSolutionLimit"
            raw = f"Feasible ({best.source}; no whole-model MIP above {FULL_MIP_MAX_COLUMNS:,} columns)"
        values, has_incumbent = list(best.values), True
        objective: float | None = best.objective
        dual_bound: float | None = lp_bound
        hinfo_gap = relative_gap(best.objective, lp_bound)
    else:
        ms = h.getModelStatus()
        status_name = str(getattr(ms, "name", ms))
        raw = str(h.modelStatusToString(ms))
        hinfo = h.getInfo()
        has_incumbent = int(hinfo.primal_solution_status) == 2  # kSolutionStatusFeasible
        objective = float(hinfo.objective_function_value) + mat.offset if has_incumbent else None
        values = list(h.getSolution().col_value) if has_incumbent else []
        dual_bound = None
        if is_mip and math.isfinite(float(hinfo.mip_dual_bound)):
            dual_bound = float(hinfo.mip_dual_bound) + mat.offset
        hinfo_gap = float(hinfo.mip_gap) if math.isfinite(float(hinfo.mip_gap)) else None
        cut_off = status_name in ("kInfeasible", "kObjectiveBound") or (
            status_name == "kOptimal" and not has_incumbent
        )
        if best is not None and cut_off:
            # cut off at `best`: HiGHS proved that no plan is cheaper than the one in hand
            values, objective, has_incumbent = list(best.values), best.objective, True
            status_name, dual_bound = "kOptimal", best.objective
            raw = f"Optimal (the {best.source}; the MIP proved no plan is cheaper)"
        elif best is not None and (objective is None or _cheaper(best.objective, objective)):
            values, objective, has_incumbent = list(best.values), best.objective, True
            raw += f" (the {best.source} is the best plan found)"
            if dual_bound is not None:  # nodes cut off at `best` hold no plan cheaper than it
                dual_bound = min(dual_bound, best.objective)
            if status_name == "kOptimal":  # cannot happen unless HiGHS misreports; do not claim a proof
                status_name = "kSolutionLimit"
    bound = dual_bound
    if lp_bound is not None and (bound is None or lp_bound > bound):
        bound = lp_bound
    gap = relative_gap(objective, bound) if has_incumbent else None
    if status_name == "kOptimal":
        bound = objective if bound is None or not is_mip else bound
        gap = relative_gap(objective, bound) if is_mip else 0.0
        if gap is not None and gap > opts.mip_gap and is_mip:  # HiGHS's own gap is the authority here
            gap = hinfo_gap if hinfo_gap is not None else gap
    bounded_below = all(a >= 0 for a in problem.objective.values())
    status = map_highs_status(status_name, has_incumbent, gap, opts.mip_gap, bounded_below)
    info = SolverInfo("highs", version, _options(opts), wall, raw, bound, gap)
    if status is SolveStatus.ERROR:
        if status_name in HIGHS_STOPPED:
            return _Run(status, info, _no_incumbent(raw, wall), retry=False)
        return _Run(status, info, f"HiGHS status {raw}")
    if has_incumbent:
        for i, var in enumerate(mat.variables):
            var.varValue = values[i]
    return _Run(status, info)


_CBC_RESULT = re.compile(r"^Result - (.+)$", re.M)
_CBC_NUMBER = r"\s*:?\s*([-+0-9.eE]+|inf|-inf)"


def _cbc_number(log: str, label: str) -> float | None:
    match = re.search(rf"^{label}{_CBC_NUMBER}", log, re.M)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def _run_cbc(problem: Any, opts: RunOptions) -> _Run:
    """CBC through `pulp.PULP_CBC_CMD`; bound, gap and version parsed from its log."""
    with tempfile.TemporaryDirectory(prefix="fleet_cbc_") as tmp:
        log_path = Path(tmp) / "cbc.log"
        with warnings.catch_warnings():  # the bundled CBC is deprecated for PuLP 4; it is our fallback
            warnings.simplefilter("ignore", DeprecationWarning)
            cmd = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=opts.time_limit_s,
                gapRel=opts.mip_gap,
                threads=opts.threads,
                logPath=str(log_path),
            )
        base = SolverInfo("cbc", "", _options(opts), 0.0, "not run")
        if not cmd.available():
            return _Run(SolveStatus.ERROR, base, "CBC is not available")
        start = time.perf_counter()
        try:
            with native_stdout_to_stderr(discard=not opts.msg):
                problem.solve(cmd)
        except Exception as exc:
            return _Run(SolveStatus.ERROR, base, f"{type(exc).__name__}: {exc}")
        wall = time.perf_counter() - start
        log = log_path.read_text() if log_path.exists() else ""
    if opts.msg:
        print(log, file=sys.stderr)
    version_match = re.search(r"^Version:\s*(\S+)", log, re.M)
    result = _CBC_RESULT.search(log)
    raw = result.group(1).strip() if result else pulp.LpStatus.get(problem.status, "unknown")
    objective = _cbc_number(log, "Objective value")
    bound = _cbc_number(log, "Lower bound")
    gap = _cbc_number(log, "Gap")
    if problem.sol_status == pulp.LpSolutionOptimal:
        bound = objective if bound is None else bound
        gap = relative_gap(objective, bound) if gap is None else gap
    status = map_cbc_status(problem.status, problem.sol_status, gap, opts.mip_gap)
    version = version_match.group(1) if version_match else ""
    info = SolverInfo("cbc", version, _options(opts), wall, raw, bound, gap)
    if status is SolveStatus.ERROR:
        if problem.status == pulp.LpStatusNotSolved:
            return _Run(status, info, _no_incumbent(raw, wall), retry=False)
        return _Run(status, info, f"CBC status {raw}")
    return _Run(status, info)


# ---------------------------------------------------------------- reading the solution


def _clean(value: float | None) -> float:
    v = float(value or 0.0)
    return v if v > 1e-9 else 0.0


def extract_solution(model: FleetModel, status: SolveStatus, info: SolverInfo) -> Solution:
    """Round integer variables to whole counts, then read every variable and cost term."""
    for var in model.columns:
        if var.cat == pulp.LpInteger:
            var.varValue = float(round(var.varValue or 0.0))
        elif var.varValue is not None and var.varValue < 0 and (var.lowBound or 0.0) >= 0:
            var.varValue = 0.0
    periods = model.index.periods
    replicas: dict[tuple[str, str, str, str], int] = {}
    for (c, s, o, t), n in model.replicas.items():
        count = int(n.varValue or 0)
        if count:
            for period in periods if t is None else (t,):
                replicas[(c, s, o, period)] = count
    instances: dict[tuple[str, str, str, str, str], int] = {}
    for (s, g, o, t, tenant), inst in model.instances.items():
        count = int(inst.varValue or 0)
        if count:
            for period in periods if t is None else (t,):
                instances[(s, g, o, period, tenant)] = count
    traffic = candidate_traffic(model)
    serverless = {k: v for k, x in model.serverless.items() if (v := _clean(x.varValue))}
    unmet = {k: v for k, x in model.unmet.items() if (v := _clean(x.varValue))}
    cost_terms = {term: float(model.cost_terms[term].value() or 0.0) for term in COST_TERMS}
    workload_of = {c.id: c.workload for c in model.data.candidates}
    active = {(workload_of[c], s) for (c, s, _o, _t) in replicas}
    active |= {(w, s) for (w, _r, s, _c, _t) in traffic}
    return Solution(
        status=status,
        objective=sum(cost_terms.values()),
        cost_terms=cost_terms,
        replicas=replicas,
        instances=instances,
        traffic=traffic,
        serverless=serverless,
        unmet=unmet,
        active_sites=frozenset(active),
        gpu_types=frozenset(g for (_s, g, _o, _t, _ten) in instances),
        solver=info,
        model_stats=model.stats(),
    )
