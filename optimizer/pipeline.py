"""The public pipeline: problem -> candidates -> MIP -> solve -> plan -> independent check.

>>> from optimizer.pipeline import solve_file          # doctest: +SKIP
>>> result = solve_file("problems/chat_assistant.yaml")  # doctest: +SKIP
>>> result.plan.monthly_cost_usd                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from optimizer.candidates import CandidateSet, EvaluationCache, build_candidates
from optimizer.catalog import Catalog
from optimizer.check import ensure_plan_ok
from optimizer.diagnosis import solve_diagnosed
from optimizer.errors import InfeasibleError, InputError, OptimizerError
from optimizer.loading.problem_file import LoadedProblem, load_problem
from optimizer.model import FleetData, FleetModel, build_model
from optimizer.model.diagnose import precheck
from optimizer.model.restrict import restrict_fleet, serverless_only_usd
from optimizer.plan import build_plan, explain
from optimizer.schema.plan import Baseline, Plan
from optimizer.schema.problem import Problem
from optimizer.solve import RunOptions, Solution, SolveStatus, quick_bound, relative_gap, solve

_log = logging.getLogger("optimizer")


@dataclass(frozen=True)
class SolveOptions:
    """Overrides of the problem's solver settings (None: keep the problem's)."""

    solver: str | None = None
    time_limit_s: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    baselines: bool = True
    msg: bool = False


@dataclass(frozen=True)
class Timings:
    """Wall time of each phase, seconds (kept out of the plan so re-solves are byte-identical)."""

    candidates_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0
    baselines_s: float = 0.0
    check_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.candidates_s + self.build_s + self.solve_s + self.baselines_s + self.check_s


@dataclass(frozen=True)
class PlanResult:
    problem: Problem
    catalog: Catalog
    candidates: CandidateSet
    solution: Solution
    plan: Plan
    timings: Timings = Timings()


def _solve_fleet(
    problem: Problem, catalog: Catalog, opts: SolveOptions, cache: EvaluationCache | None = None
) -> tuple[CandidateSet, Solution, Timings]:
    t0 = time.perf_counter()
    cset = build_candidates(problem, catalog, cache=cache)
    t1 = time.perf_counter()
    model = build_model(cset.fleet)
    t2 = time.perf_counter()
    s = problem.solver
    run: Callable[[FleetModel], Solution] = partial(
        solve_diagnosed,
        solver="cbc" if (opts.solver or s.name) == "cbc" else "highs",
        time_limit_s=opts.time_limit_s or s.time_limit_s,
        mip_gap=opts.mip_gap if opts.mip_gap is not None else s.mip_gap,
        threads=opts.threads or s.threads,
        msg=opts.msg,
    )
    sol = _within_budget(cset.fleet, run(model), run)
    t3 = time.perf_counter()
    return cset, sol, Timings(candidates_s=t1 - t0, build_s=t2 - t1, solve_s=t3 - t2)


BUDGET_TOLERANCE_USD = 0.005
"""A plan may exceed the budget by at most half a cent. Solvers accept rows within a relative
feasibility tolerance (about 1e-6), i.e. cents on a five-figure budget."""


def _within_budget(fleet: FleetData, sol: Solution, run: Callable[[FleetModel], Solution]) -> Solution:
    """`sol`, or when its spend exceeds the budget by more than `BUDGET_TOLERANCE_USD` (inside the
    solver's tolerance), the solution of the same fleet with the budget row lowered by that excess.
    An infeasible re-solve is reported against the budget the user wrote."""
    budget = fleet.budget_usd_per_month
    if budget is None:
        return sol
    over = sol.objective - sol.cost_terms.get("shortfall_penalty", 0.0) - budget
    if over <= BUDGET_TOLERANCE_USD:
        return sol
    lowered = budget - over - BUDGET_TOLERANCE_USD
    _log.debug("plan over budget by $%.4f within solver tolerance: re-solving at $%.4f", over, lowered)
    try:
        return run(build_model(replace(fleet, budget_usd_per_month=lowered)))
    except InfeasibleError as exc:
        raise InfeasibleError(str(exc).replace(f"${lowered:,.2f}", f"${budget:,.2f}")) from None


def solve_problem(
    problem: Problem,
    catalog: Catalog,
    opts: SolveOptions | None = None,
    *,
    cache: EvaluationCache | None = None,
) -> PlanResult:
    """Solve a problem and return a plan that has passed the independent re-check.

    `cache` re-uses performance-model results across related solves (what-if sweeps).
    Raises InputError (bad input), InfeasibleError (with a diagnosis), SolverError, PlanCheckError.
    """
    opts = opts or SolveOptions()
    cset, sol, timings = _solve_fleet(problem, catalog, opts, cache)
    plan = build_plan(problem, cset, sol)
    plan = plan.model_copy(update={"explanations": explain(plan, cset)})
    t0 = time.perf_counter()
    if opts.baselines:
        baselines, run = baselines_with_runs(cset.fleet, plan, opts)
        plan = plan.model_copy(update={"baselines": baselines})
        adopted = adopt_baseline_plan(problem, cset, sol, plan, run)
        if adopted is not None:
            sol, plan = adopted
        warn_cheaper_baselines(plan)
    t1 = time.perf_counter()
    ensure_plan_ok(plan)
    t2 = time.perf_counter()
    timings = replace(timings, baselines_s=t1 - t0, check_s=t2 - t1)
    return PlanResult(problem, catalog, cset, sol, plan, timings)


def solve_loaded(
    loaded: LoadedProblem, opts: SolveOptions | None = None, *, cache: EvaluationCache | None = None
) -> PlanResult:
    """`solve_problem` for a loaded problem file: an input issue found after loading (say, while
    generating candidates) names the file and the line of its field path, like the loader's own."""
    try:
        return solve_problem(loaded.problem, loaded.catalog, opts, cache=cache)
    except InputError as exc:
        raise loaded.locate(exc) from None


def solve_file(path: str | Path, opts: SolveOptions | None = None) -> PlanResult:
    return solve_loaded(load_problem(path), opts)


# ----------------------------------------------------------------------------------------------
# Baselines
# ----------------------------------------------------------------------------------------------

BASELINE_TIME_LIMIT_S = 10.0
"""Longest the single-GPU baseline's MIPs may run together (capped by the plan's own limit); a
stopped one is labelled."""
MIN_BASELINE_SOLVE_S = 1.0
"""A further GPU type's baseline MIP is started only with this much of that limit left (the
first always runs, with at least this)."""


@dataclass(frozen=True)
class _BaselineRun:
    gpu: str
    cost: float
    gap: float | None
    proven: bool
    solution: Solution | None = None
    """The baseline's plan in model terms: a plan of the full problem too (a restriction)."""
    unsolved: tuple[str, ...] = ()
    """GPU types that might be cheaper (LP bound below this cost) but were left unsolved when the
    baselines' time ran out."""


def _gap_note(run: _BaselineRun) -> str:
    unsolved = (
        f"; not proven the cheapest GPU type: {', '.join(run.unsolved)} left unsolved at the baselines' "
        "time limit"
        if run.unsolved
        else ""
    )
    if run.proven:
        return "proven optimal" + unsolved
    gap = "unknown" if run.gap is None else f"{run.gap:.2%}"
    return f"not proven optimal: best found, gap {gap} to its bound" + unsolved


def cheapest_single_gpu(
    fleet: FleetData, opts: SolveOptions, limit_s: float
) -> tuple[_BaselineRun | None, list[str]]:
    """The cheapest 'all on-demand, one GPU type, no serverless' restriction of `fleet`.

    Cheap by construction: GPU types the pre-check rules out are skipped without a solver; the rest
    get a quick LP lower bound (`solve.quick_bound`: the relaxation without the site-activity rows;
    the whole relaxation took 37 s for the twelve types of synthetic large), and are solved in
    increasing bound order until the next bound is no lower than the best cost found (that GPU
    type, and all after it, cannot be cheaper). A type whose LP did not solve in time has no
    bound (0) and is still solved. The solves share one time limit, `limit_s` (they took 10 s
    each, 31 s in all, on synthetic large); types left when it runs out are named in the note.
    No diagnosis runs for an infeasible type.
    """
    run_opts = RunOptions(
        solver="cbc" if opts.solver == "cbc" else "highs",
        time_limit_s=limit_s,
        mip_gap=opts.mip_gap if opts.mip_gap is not None else 1e-6,
        threads=opts.threads,
    )
    skipped: list[str] = []
    bounded: list[tuple[float, str, FleetData]] = []
    for g in sorted({o.gpu for o in fleet.offers if o.option == "on_demand"}):
        data = restrict_fleet(fleet, options=frozenset({"on_demand"}), gpu=g, serverless=False)
        if precheck(data):
            skipped.append(f"{g}: cannot serve all demand (no usable route)")
            continue
        try:
            bound = quick_bound(build_model(data), run_opts)
        except OptimizerError as exc:
            skipped.append(f"{g}: {str(exc).strip()[:120]}")
            continue
        if bound is not None and math.isinf(bound):
            skipped.append(f"{g}: infeasible (LP relaxation)")
            continue
        bounded.append((0.0 if bound is None else bound, g, data))
    best: _BaselineRun | None = None
    deadline = time.perf_counter() + limit_s
    ordered = sorted(bounded, key=lambda b: (b[0], b[1]))
    for i, (bound, g, data) in enumerate(ordered):
        if best is not None and bound >= best.cost * (1.0 - 1e-9):
            break
        left = deadline - time.perf_counter()
        if best is not None and left < MIN_BASELINE_SOLVE_S:
            rest = tuple(h for b, h, _d in ordered[i:] if b < best.cost * (1.0 - 1e-9))
            best = replace(best, unsolved=rest)
            break
        try:
            sol = solve(
                build_model(data),
                solver=run_opts.solver,
                time_limit_s=max(left, MIN_BASELINE_SOLVE_S),
                mip_gap=run_opts.mip_gap,
                threads=run_opts.threads,
            )
        except OptimizerError as exc:
            skipped.append(f"{g}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else 'failed'}")
            continue
        if best is None or sol.objective < best.cost:
            best = _BaselineRun(g, sol.objective, sol.solver.gap, sol.status is SolveStatus.OPTIMAL, sol)
    return best, skipped


def _savings(base: float | None, plan_cost: float) -> float | None:
    return None if base is None or base <= 0 else (base - plan_cost) / base * 100.0


def adopt_baseline_plan(
    problem: Problem, cset: CandidateSet, sol: Solution, plan: Plan, run: _BaselineRun | None
) -> tuple[Solution, Plan] | None:
    """The single-GPU baseline's plan as the result, when the solver stopped at its limit with a
    dearer plan: the baseline is the same problem with choices taken away, so its plan meets every
    rule of this one. The proven bound stays the main run's; the gap is re-computed against it.
    None (keep the solver's plan) otherwise, or if the adopted plan fails its re-check."""
    if (
        run is None
        or run.solution is None
        or sol.status is SolveStatus.OPTIMAL
        or not run.cost < sol.objective * (1 - 1e-9) - 1e-9
    ):
        return None
    bound = sol.solver.best_bound
    gap = relative_gap(run.cost, bound)
    limit = sol.solver.options.get("mip_gap", 1e-6)
    status = SolveStatus.OPTIMAL if gap is not None and gap <= float(limit) else SolveStatus.FEASIBLE
    info = replace(
        sol.solver,
        raw_status=f"{sol.solver.raw_status} (the on_demand_single_gpu baseline's plan on {run.gpu} "
        f"is cheaper than the solver's {sol.objective:,.2f} and is the result)",
        gap=gap,
    )
    adopted = replace(run.solution, status=status, solver=info, model_stats=sol.model_stats)
    try:
        new_plan = build_plan(problem, cset, adopted)
        new_plan = new_plan.model_copy(update={"explanations": explain(new_plan, cset)})
        cost = new_plan.monthly_cost_usd
        rebased = [
            b.model_copy(update={"savings_pct": _savings(b.monthly_cost_usd, cost)}) for b in plan.baselines
        ]
        new_plan = new_plan.model_copy(update={"baselines": rebased})
        ensure_plan_ok(new_plan)
    except OptimizerError as exc:
        _log.debug("baseline plan not adopted: %s", exc)
        return None
    _log.warning(
        "the solver stopped at its time limit with a plan costing $%s/month; the single-GPU baseline's "
        "plan (%s, $%s/month) meets every rule and is the result (proven gap %s); raise the time limit "
        "for a better plan",
        f"{sol.objective:,.2f}",
        run.gpu,
        f"{run.cost:,.2f}",
        "unknown" if gap is None else f"{gap:.1%}",
    )
    return adopted, new_plan


def cheaper_baselines(plan: Plan) -> list[Baseline]:
    """Baselines that cost less than `plan`: possible only for a plan not proven optimal (a
    baseline is the same problem with choices taken away, so it is a plan of this problem too)."""
    return [
        b
        for b in plan.baselines
        if b.monthly_cost_usd is not None and b.monthly_cost_usd < plan.monthly_cost_usd * (1 - 1e-9) - 1e-9
    ]


def warn_cheaper_baselines(plan: Plan) -> None:
    """Say on stderr (logging) when a baseline beats a time-limited plan, with what to do."""
    for b in cheaper_baselines(plan):
        gap = "" if plan.gap is None else f", proven gap {plan.gap:.1%}"
        _log.warning(
            "baseline %s costs $%s/month, less than this plan's $%s (status %s%s): the solver "
            "stopped at its time limit before finding a better plan; raise solver.time_limit_s "
            "(or --time-limit), or adopt the baseline's configuration",
            b.name,
            f"{b.monthly_cost_usd:,.2f}",
            f"{plan.monthly_cost_usd:,.2f}",
            plan.status,
            gap,
        )


def compute_baselines(fleet: FleetData, plan: Plan, opts: SolveOptions) -> list[Baseline]:
    """The plan's baselines (see `baselines_with_runs`)."""
    return baselines_with_runs(fleet, plan, opts)[0]


def baselines_with_runs(
    fleet: FleetData, plan: Plan, opts: SolveOptions
) -> tuple[list[Baseline], _BaselineRun | None]:
    """Baselines are the plan's own problem with choices taken away (`model.restrict`), so every
    rule of the plan - precisions and quality floor, measurements, latency, residency, placement,
    supply, power, budget, shortfall - applies to them too and none can be cheaper than the plan:

    - on_demand_single_gpu: only on-demand offers of one GPU type (the cheapest that works), no
      serverless API;
    - serverless_only: every request to the serverless API at its price (closed form).
    """
    limit = min(BASELINE_TIME_LIMIT_S, opts.time_limit_s or BASELINE_TIME_LIMIT_S)
    best, skipped = cheapest_single_gpu(fleet, opts, limit)
    desc = (
        "the same problem with on-demand offers of one GPU type only and no serverless API; "
        "every other rule unchanged"
    )
    out = []
    if best is not None:
        out.append(
            Baseline(
                name="on_demand_single_gpu",
                description=f"{desc} (cheapest GPU type: {best.gpu})",
                monthly_cost_usd=best.cost,
                savings_pct=_savings(best.cost, plan.monthly_cost_usd),
                note=_gap_note(best),
            )
        )
    else:
        out.append(
            Baseline(
                name="on_demand_single_gpu",
                description=desc,
                monthly_cost_usd=None,
                savings_pct=None,
                note="infeasible for every GPU type" + (f" ({'; '.join(skipped)})" if skipped else ""),
            )
        )
    cost = serverless_only_usd(fleet)
    note = (
        ""
        if cost is not None
        else ("not applicable: some demand may not go to the serverless API, or it breaks the budget")
    )
    out.append(
        Baseline(
            name="serverless_only",
            description="no GPUs: every request to the serverless API at its price (headroom protects "
            "GPU capacity, so serverless traffic carries none); where shortfall is allowed and the "
            "budget binds, the rest unserved at its penalty",
            monthly_cost_usd=cost,
            savings_pct=_savings(cost, plan.monthly_cost_usd),
            note=note,
        )
    )
    return out, best
