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

import logging
import math
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pulp

from optimizer.errors import ExitCode, InfeasibleError, SolverError
from optimizer.model.data import COST_TERMS
from optimizer.model.fleet_model import FleetModel
from optimizer.model.incumbent import rounded_start
from optimizer.model.routing import candidate_traffic
from optimizer.outputs import native_stdout_to_stderr

SolverName = Literal["highs", "cbc"]
StartFn = Callable[[Mapping[Any, float]], Mapping[Any, float]]
"""Turns the LP relaxation's values (variable -> value) into a starting plan for the MIP."""
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


@dataclass(frozen=True, slots=True)
class _Run:
    status: SolveStatus
    info: SolverInfo
    failure: str | None = None
    """Why no plan came out (solver failure, or stopped before any incumbent)."""
    retry: bool = True
    """A failure another solver may not share (HiGHS -> CBC fallback); False for limits reached."""


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

    opts = RunOptions(solver, time_limit_s, mip_gap, threads, msg, start)
    run = run_solver(model.problem, opts)
    if run.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError(f"problem is infeasible ({run.info.name}: {run.info.raw_status})")
    if run.status is SolveStatus.UNBOUNDED:
        raise SolverError(f"{run.info.name}: the model is unbounded (a negative price?)")
    if run.status is SolveStatus.ERROR:
        raise SolverError(f"{run.info.name}: {run.failure or run.info.raw_status}")
    return extract_solution(model, run.status, run.info)


def relaxation_bound(model: FleetModel, opts: RunOptions) -> float | None:
    """Optimum of the LP relaxation (every integer made continuous): a valid lower bound on the
    MIP's cost. math.inf when even the relaxation is infeasible; None when the LP did not solve.

    The model is left as built (integrality restored); variable values are the LP's until the next
    solve.
    """
    integers = [v for v in model.problem.variables() if v.cat == pulp.LpInteger]
    for v in integers:
        v.cat = pulp.LpContinuous
    try:
        run = run_solver(model.problem, opts)
    finally:
        for v in integers:
            v.cat = pulp.LpInteger
    if run.status is SolveStatus.INFEASIBLE:
        return math.inf
    if run.status is not SolveStatus.OPTIMAL:
        return None
    return float(model.problem.objective.value() or 0.0)


# ---------------------------------------------------------------- running solvers


def run_solver(problem: Any, opts: RunOptions) -> _Run:
    """Run the chosen solver on a PuLP problem, falling back from HiGHS to CBC on failure."""
    if not problem.variables():
        info = SolverInfo("none", "", _options(opts), 0.0, "empty model", 0.0, 0.0)
        return _Run(SolveStatus.OPTIMAL, info)
    if opts.solver == "cbc":
        run = _run_cbc(problem, opts)
    else:
        run = _run_highs(problem, opts)
        if run.failure is not None and run.retry:
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


def _relative_gap(objective: float | None, bound: float | None) -> float | None:
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




@dataclass
class HighsMatrix:
    """A PuLP problem as HiGHS arrays, built once in bulk (no per-column or per-row API calls)."""

    variables: list[Any]
    cost: Any
    lower: Any
    upper: Any
    integer: Any
    """Indices of the integer columns."""
    row_lower: Any
    row_upper: Any
    starts: Any
    index: Any
    value: Any
    offset: float


def highs_matrix(problem: Any) -> HighsMatrix:
    """Columns, objective and rows of `problem` as numpy arrays (CSR rows)."""
    import numpy as np

    variables = list(problem.variables())
    col = {id(v): i for i, v in enumerate(variables)}
    n = len(variables)
    inf = math.inf
    lower = np.array([-inf if v.lowBound is None else float(v.lowBound) for v in variables], dtype=float)
    upper = np.array([inf if v.upBound is None else float(v.upBound) for v in variables], dtype=float)
    integer = np.array([i for i, v in enumerate(variables) if v.cat == pulp.LpInteger], dtype=np.int32)
    cost = np.zeros(n)
    for v, a in problem.objective.items():
        cost[col[id(v)]] += a
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    row_lower: list[float] = []
    row_upper: list[float] = []
    listed = problem.constraints
    for con in listed() if callable(listed) else listed.values():  # PuLP >= 3.3: a call; older: a dict
        starts.append(len(index))
        for v, a in con.items():
            if a != 0:
                index.append(col[id(v)])
                value.append(a)
        lb, ub = con.getLb(), con.getUb()
        row_lower.append(-inf if lb is None else float(lb))
        row_upper.append(inf if ub is None else float(ub))
    return HighsMatrix(
        variables,
        cost,
        lower,
        upper,
        integer,
        np.array(row_lower),
        np.array(row_upper),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value, dtype=float),
        float(problem.objective.constant or 0.0),
    )


def _highs_of(mat: HighsMatrix, opts: RunOptions, integer: bool = True) -> Any:
    """A fresh `highspy.Highs` holding `mat` (integrality set unless not `integer`), with the run's
    options. Fresh each time: re-running one object after changing integrality gave wrong MIP
    optima in HiGHS 1.16 (below its own LP bound), so the LP and the MIP never share an object."""
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
    if mat.offset:
        h.changeObjectiveOffset(mat.offset)
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


def _run_highs(problem: Any, opts: RunOptions) -> _Run:
    """HiGHS through highspy directly: the matrix is passed in bulk (`highs_matrix`).

    With `opts.start` and integer columns: the LP relaxation is solved first (a valid lower bound,
    kept if the MIP stops before proving a better one), and `start` turns its values into a plan;
    if that plan meets every row it is kept as the incumbent whenever the MIP stops without a
    better one, so a time limit still returns a plan with a proven gap. The time limit covers both.
    (It is not handed to HiGHS with `setSolution`: HiGHS 1.16 then misreported optima on small
    models, its presolve dropping the start's objective offset.)
    """
    base = SolverInfo("highs", "", _options(opts), 0.0, "not run")
    if not pulp.HiGHS(msg=False).available():
        return _Run(SolveStatus.ERROR, base, "highspy is not installed")
    import highspy  # noqa: F401  (HighsSolution, through _highs_of)
    import numpy as np
    _prepare_highs_scheduler(opts.threads)
    begin = time.perf_counter()
    error: str | None = None
    lp_bound: float | None = None
    initial: Any = None
    start = opts.start
    try:
        mat = highs_matrix(problem)
        with native_stdout_to_stderr():  # HiGHS prints its banner and log on fd 1
            if start is not None and len(mat.integer):
                relax = _highs_of(mat, opts, integer=False)
                relax.setOptionValue("time_limit", float(opts.time_limit_s))
                relax.run()
                if str(relax.getModelStatus().name) == "kOptimal":
                    values = list(relax.getSolution().col_value)
                    lp_bound = float(relax.getInfo().objective_function_value)
                    relaxed = {v: values[i] for i, v in enumerate(mat.variables)}
                    plan = start(relaxed)
                    initial = np.array([float(plan.get(v, relaxed[v])) for v in mat.variables])
                    if not _feasible(mat, initial):
                        initial = None
                del relax
            h = _highs_of(mat, opts)
            remaining = max(0.05, opts.time_limit_s - (time.perf_counter() - begin))
            h.setOptionValue("time_limit", float(remaining))
            h.run()
    except Exception as exc:  # a failed run is reported (and may fall back to CBC), never raised
        error = f"{type(exc).__name__}: {exc}"
        return _Run(
            SolveStatus.ERROR,
            SolverInfo("highs", "", _options(opts), time.perf_counter() - begin, "error"),
            error,
        )
    wall = time.perf_counter() - begin
    version = str(h.version())
    ms = h.getModelStatus()
    status_name = str(getattr(ms, "name", ms))
    raw = str(h.modelStatusToString(ms))
    hinfo = h.getInfo()
    has_incumbent = int(hinfo.primal_solution_status) == 2  # kSolutionStatusFeasible
    objective = float(hinfo.objective_function_value) if has_incumbent else None
    values = list(h.getSolution().col_value) if has_incumbent else []
    if initial is not None:
        start_objective = float(mat.cost @ initial) + mat.offset
        if objective is None or start_objective < objective - 1e-9 * max(1.0, abs(objective)):
            values, objective, has_incumbent = list(initial), start_objective, True
            raw += " (the rounded LP relaxation is the best plan found)"
            if status_name == "kOptimal":  # cannot happen unless HiGHS misreports; do not claim a proof
                status_name = "kSolutionLimit"
    is_mip = bool(len(mat.integer))
    bound: float | None = None
    if is_mip and math.isfinite(float(hinfo.mip_dual_bound)):
        bound = float(hinfo.mip_dual_bound)
    if lp_bound is not None and (bound is None or lp_bound > bound):
        bound = lp_bound
    gap = _relative_gap(objective, bound) if has_incumbent else None
    if status_name == "kOptimal":
        bound = objective if bound is None or not is_mip else bound
        gap = _relative_gap(objective, bound) if is_mip else 0.0
        if gap is not None and gap > opts.mip_gap and is_mip:  # HiGHS's own gap is the authority here
            gap = float(hinfo.mip_gap) if math.isfinite(float(hinfo.mip_gap)) else gap
    bounded_below = all(a >= 0 for a in problem.objective.values())
    status = map_highs_status(status_name, has_incumbent, gap, opts.mip_gap, bounded_below)
    info = SolverInfo("highs", version, _options(opts), wall, raw, bound, gap)
    if status is SolveStatus.ERROR:
        if status_name in HIGHS_STOPPED:
            return _Run(status, info, _no_incumbent(raw, wall), retry=False)
        return _Run(status, info, error or f"HiGHS status {raw}")
    if has_incumbent:
        for i, var in enumerate(mat.variables):
            var.varValue = values[i]
    return _Run(status, info)


def _feasible(mat: HighsMatrix, x: Any, tol: float = 1e-6) -> bool:
    """x meets every bound, row and integrality of `mat` (relative tolerance `tol`)."""
    import numpy as np

    scale = tol * np.maximum(1.0, np.abs(x))
    if np.any(x < mat.lower - scale) or np.any(x > mat.upper + scale):
        return False
    if len(mat.integer) and np.any(np.abs(x[mat.integer] - np.round(x[mat.integer])) > tol):
        return False
    if not len(mat.row_lower):
        return True
    products = mat.value * x[mat.index]
    activity = np.add.reduceat(products, mat.starts) if len(products) else np.zeros(len(mat.starts))
    empty = np.diff(np.append(mat.starts, len(mat.index))) == 0
    activity = np.where(empty, 0.0, activity)
    slack = tol * np.maximum(1.0, np.abs(activity))
    return bool(np.all(activity >= mat.row_lower - slack) and np.all(activity <= mat.row_upper + slack))


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
            with native_stdout_to_stderr():
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
        gap = _relative_gap(objective, bound) if gap is None else gap
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
    for var in model.problem.variables():
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
