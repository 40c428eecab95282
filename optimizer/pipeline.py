"""The public pipeline: problem -> candidates -> MIP -> solve -> plan -> independent check.

>>> from optimizer.pipeline import solve_file          # doctest: +SKIP
>>> result = solve_file("problems/chat_assistant.yaml")  # doctest: +SKIP
>>> result.plan.monthly_cost_usd                         # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from optimizer.candidates import CandidateSet, build_candidates
from optimizer.catalog import Catalog
from optimizer.check import ensure_plan_ok
from optimizer.errors import InfeasibleError, OptimizerError
from optimizer.loading.problem_file import load_problem
from optimizer.model import build_model
from optimizer.plan import Timings, build_plan, explain
from optimizer.schema.plan import Baseline, Plan
from optimizer.schema.problem import Policy, Problem, PurchaseOptions, Serverless, Shortfall, Workload
from optimizer.solve import Solution, solve

SECONDS_PER_HOUR = 3600.0


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
class PlanResult:
    problem: Problem
    catalog: Catalog
    candidates: CandidateSet
    solution: Solution
    plan: Plan


def _solve_fleet(
    problem: Problem, catalog: Catalog, opts: SolveOptions
) -> tuple[CandidateSet, Solution, Timings]:
    t0 = time.perf_counter()
    cset = build_candidates(problem, catalog)
    t1 = time.perf_counter()
    model = build_model(cset.fleet)
    t2 = time.perf_counter()
    s = problem.solver
    sol = solve(
        model,
        solver="cbc" if (opts.solver or s.name) == "cbc" else "highs",
        time_limit_s=opts.time_limit_s or s.time_limit_s,
        mip_gap=opts.mip_gap if opts.mip_gap is not None else s.mip_gap,
        threads=opts.threads or s.threads,
        msg=opts.msg,
    )
    return cset, sol, Timings(candidates_s=t1 - t0, build_s=t2 - t1)


def solve_problem(problem: Problem, catalog: Catalog, opts: SolveOptions | None = None) -> PlanResult:
    """Solve a problem and return a plan that has passed the independent re-check.

    Raises InputError (bad input), InfeasibleError (with a diagnosis), SolverError, PlanCheckError.
    """
    opts = opts or SolveOptions()
    cset, sol, timings = _solve_fleet(problem, catalog, opts)
    plan = build_plan(problem, cset, sol, timings)
    plan = plan.model_copy(update={"explanations": explain(plan, cset)})
    if opts.baselines:
        plan = plan.model_copy(update={"baselines": compute_baselines(problem, catalog, plan, opts)})
    ensure_plan_ok(plan)
    return PlanResult(problem, catalog, cset, sol, plan)


def solve_file(path: str | Path, opts: SolveOptions | None = None) -> PlanResult:
    loaded = load_problem(path)
    return solve_problem(loaded.problem, loaded.catalog, opts)


# ----------------------------------------------------------------------------------------------
# Baselines
# ----------------------------------------------------------------------------------------------


def baseline_problem(problem: Problem, catalog: Catalog, gpu_id: str) -> Problem | None:
    """The simple fleet: one GPU type, BF16, on-demand only, central sites only, no serverless,
    no model routing, no speculative decoding, every request served, no budget. None if no central
    site offers the GPU on demand."""
    sites = []
    for s in problem.sites:
        if s.kind != "central":
            continue
        offers = tuple(o for o in s.offers if catalog.gpu(o.gpu).id == gpu_id)
        if offers:
            sites.append(s.model_copy(update={"offers": offers}))
    if not sites:
        return None
    bf16 = catalog.precision("bf16").id
    workloads: list[Workload] = []
    for w in problem.workloads:
        workloads.append(
            w.model_copy(
                update={
                    "precisions": (bf16,),
                    "min_quality": 0.0,
                    "serverless": Serverless(),
                    "alternatives": (),
                    "speculative": None,
                    "measured": (),
                    "placement": "centralized",
                }
            )
        )
    policy = problem.policy
    new_policy = Policy(
        placement="centralized",
        headroom=policy.headroom,
        max_gpu_types=None,
        min_replicas_per_active_site=policy.min_replicas_per_active_site,
        budget_usd_per_month=None,
        shortfall=Shortfall(),
    )
    return problem.model_copy(
        update={
            "sites": tuple(sites),
            "workloads": tuple(workloads),
            "policy": new_policy,
            "purchase_options": PurchaseOptions(on_demand=True),
        }
    )


def serverless_only_cost(problem: Problem, plan: Plan) -> tuple[float | None, str]:
    """Every request to the serverless API at its per-token price: sum of demand x 3600 x hours x USD
    per request. Not applicable when any workload disallows serverless or caps its share below 1."""
    blocked = [w.id for w in problem.workloads if not w.serverless.allowed or w.serverless.max_share < 1.0]
    if blocked:
        return None, f"not applicable: serverless not allowed (or capped) for {', '.join(blocked)}"
    hours = {p.id: p.hours_per_month for p in plan.periods}
    price = {w.id: w.serverless_usd_per_request or 0.0 for w in plan.workloads}
    cost = sum(d.rps * SECONDS_PER_HOUR * hours[d.period] * price[d.workload] for d in plan.demand)
    return cost, ""


def _savings(base: float | None, plan_cost: float) -> float | None:
    return None if base is None or base <= 0 else (base - plan_cost) / base * 100.0


def compute_baselines(problem: Problem, catalog: Catalog, plan: Plan, opts: SolveOptions) -> list[Baseline]:
    """All on-demand with the single cheapest feasible GPU type at BF16 (central only), and
    serverless only where allowed."""
    gpu_ids = sorted({catalog.gpu(o.gpu).id for s in problem.sites for o in s.offers})
    best: tuple[float, str] | None = None
    failures: list[str] = []
    sub_opts = SolveOptions(
        solver=opts.solver,
        time_limit_s=opts.time_limit_s,
        mip_gap=opts.mip_gap,
        threads=opts.threads,
        baselines=False,
    )
    for g in gpu_ids:
        bp = baseline_problem(problem, catalog, g)
        if bp is None:
            continue
        try:
            _, sol, _ = _solve_fleet(bp, catalog, sub_opts)
        except (InfeasibleError, OptimizerError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            failures.append(f"{g}: {reason[:160]}")
            continue
        total = sum(sol.cost_terms.values())
        if best is None or total < best[0]:
            best = (total, g)
    out = []
    if best is not None:
        out.append(
            Baseline(
                name="on_demand_single_gpu_bf16",
                description="all on-demand, central sites only, BF16, one GPU type "
                f"(cheapest feasible: {best[1]})",
                monthly_cost_usd=best[0],
                savings_pct=_savings(best[0], plan.monthly_cost_usd),
                note="serves all demand; no serverless, routing or speculative decoding",
            )
        )
    else:
        out.append(
            Baseline(
                name="on_demand_single_gpu_bf16",
                description="all on-demand, central sites only, BF16, one GPU type",
                monthly_cost_usd=None,
                savings_pct=None,
                note="infeasible for every GPU type" + (f" ({'; '.join(failures)})" if failures else ""),
            )
        )
    cost, note = serverless_only_cost(problem, plan)
    out.append(
        Baseline(
            name="serverless_only",
            description="every request to the serverless API",
            monthly_cost_usd=cost,
            savings_pct=_savings(cost, plan.monthly_cost_usd),
            note=note,
        )
    )
    return out
