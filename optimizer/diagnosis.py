"""Why a fleet problem has no plan: the infeasibility diagnosis, one layer above `optimizer.solve`.

`solve_diagnosed` is `solve` plus an explanation: a structural pre-check before any solver runs
(`model.diagnose.precheck`), and, when the solver proves infeasibility, an elastic re-solve that
names workload, region, period and only the rules that bind, with their quantities. Rule texts come
from the one registry `model.rules.RULE_FAMILIES` that `model.build` builds its families from.

Layering: model -> solve -> diagnosis -> pipeline; `solve` knows nothing of this module.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import pulp

from optimizer.errors import InfeasibleError
from optimizer.model.build import build_model
from optimizer.model.data import FleetData
from optimizer.model.diagnose import Finding, findings_for_unmet, precheck, render_findings, unmet_required
from optimizer.model.fleet_model import FleetModel
from optimizer.model.rules import LIMIT_FAMILIES, RULE_FAMILIES
from optimizer.solve import RunOptions, Solution, SolverName, SolveStatus, run_solver, solve

_log = logging.getLogger(__name__)


def solve_diagnosed(
    model: FleetModel,
    *,
    solver: SolverName = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-6,
    threads: int | None = None,
    msg: bool = False,
) -> Solution:
    """`solve(model, ...)`, raising an InfeasibleError whose message is a diagnosis.

    The pre-check runs first (it needs no solver); the elastic diagnosis only after the solver has
    proven the problem infeasible, with the same solver options.
    """
    if not model.elastic:
        findings = precheck(model.data)
        if findings:
            raise InfeasibleError(render_findings(findings))
    try:
        return solve(
            model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, msg=msg
        )
    except InfeasibleError:
        opts = RunOptions(solver, time_limit_s, mip_gap, threads, msg)
        raise diagnose_infeasible(model.data, opts) from None


@dataclass
class _Clock:
    """The diagnosis's own time limit, shared by all its re-solves: at most the run's time limit
    in total (it re-solves the model up to three times, then once per limit family, and each used
    to get the whole limit: 77 s of diagnosis after a 10 s solve on a small generated problem)."""

    limit_s: float
    start: float = field(default_factory=time.perf_counter)
    skipped: list[str] = field(default_factory=list)
    """Limit families not tested because the time ran out."""

    def options(self, opts: RunOptions, share: float = 1.0) -> RunOptions | None:
        """`opts` with the time left until `share` of the limit is spent (None once it is)."""
        left = share * self.limit_s - self.elapsed()
        return replace(opts, time_limit_s=left) if left > MIN_RESOLVE_S else None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def note(self) -> str:
        if not self.skipped:
            return ""
        return (
            f"\n  (the diagnosis stopped at its {self.limit_s:g} s time limit before testing: "
            f"{', '.join(self.skipped)}; raise the time limit for a complete diagnosis)"
        )


MIN_RESOLVE_S = 0.05
"""A diagnosis re-solve is not started with less time than this left."""

BASE_SHARE = 0.5
"""The first elastic re-solve (all its stages) ends by this share of the diagnosis's time, so that
the rules can still be tested one by one when it is slow."""


def diagnose_infeasible(data: FleetData, opts: RunOptions) -> InfeasibleError:
    """An InfeasibleError whose message names workload, region, period and the binding rule.

    1. Pre-check (no solver): demand no route, serverless or shortfall can take.
    2. Elastic model (unmet demand allowed everywhere, budget relaxed by a slack), solved
       lexicographically: least budget overrun, then least unmet demand, then least cost.
    3. Each limit family present is left out in turn; a family whose removal lets more demand be
       served binds, and is named for the (workload, region, period) whose unmet demand it frees.
    If the elastic model itself is infeasible, the families it still enforces are dropped one at a
    time to find the culprit. All re-solves together get at most `opts.time_limit_s`; families not
    tested in that time are named in the message.
    """
    findings = precheck(data)
    if findings:
        return InfeasibleError(render_findings(findings))
    clock = _Clock(opts.time_limit_s)
    base = build_model(data, elastic=True)
    bests: dict[str, float] = {}
    status = _lexicographic(base, opts, clock, with_cost=True, bests=bests, share=BASE_SHARE)
    if status is SolveStatus.INFEASIBLE:
        return InfeasibleError(render_findings(_culprit_families(base, data, opts, clock)) + clock.note())
    if status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return InfeasibleError(
            "problem is infeasible; the diagnosis re-solve did not finish "
            f"({status.value}) within the time limit"
        )
    tol = 1e-6
    over = float(base.budget_slack.varValue or 0.0) if base.budget_slack is not None else 0.0
    if over > tol * max(1.0, data.budget_usd_per_month or 0.0):
        detail = (
            f"what the rules force (minimum replicas, hybrid placement) costs ${over:,.2f}/month "
            "more than the budget, even with demand unserved"
        )
        findings.append(Finding("budget", detail))
    unmet = unmet_required(base, tol)
    if unmet:
        # The unmet stage's own optimum: the cost stage may drift up to the hold tolerance, and a
        # relaxed model that merely matches the optimum must not count as freeing demand.
        base_violation = bests.get("unmet", 0.0)
        binding: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for family in LIMIT_FAMILIES:
            if not base.family_rows.get(family):
                continue
            if clock.options(opts) is None:
                clock.skipped.append(family)
                continue
            relaxed = build_model(data, elastic=True, omit=frozenset({family}))
            solved = _lexicographic(relaxed, opts, clock, with_cost=False)
            if solved not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
                continue
            violation = float(relaxed.violation.value() or 0.0) if relaxed.violation is not None else 0.0
            if violation < base_violation - max(1e-6, 1e-4 * base_violation):
                freed = unmet_required(relaxed, tol)
                eased = [k for k, v in unmet.items() if freed.get(k, 0.0) < v - tol * max(1.0, v)]
                for key in eased or list(unmet):
                    binding[key].append(family)
        findings += findings_for_unmet(base, unmet, binding)
    if not findings:
        return InfeasibleError(
            "problem is reported infeasible, yet a relaxed re-solve serves all demand "
            "within every limit: numerical trouble (try solver='cbc')"
        )
    return InfeasibleError(render_findings(findings) + clock.note())


def _lexicographic(
    m: FleetModel,
    opts: RunOptions,
    clock: _Clock,
    *,
    with_cost: bool,
    bests: dict[str, float] | None = None,
    share: float = 1.0,
) -> SolveStatus:
    """Minimise budget overrun, then unmet demand (then cost); each optimum is held by a constraint
    and recorded in `bests` (stage name -> optimal value). Each stage gets the time `clock` has
    left until `share` of its limit is spent; none left is reported as a time limit (`SolveStatus.ERROR`)."""
    stages: list[tuple[str, Any]] = []
    if m.budget_slack is not None and "budget" not in m.omitted:
        stages.append(("budget", pulp.LpAffineExpression([(m.budget_slack, 1.0)])))
    if m.violation is not None:
        stages.append(("unmet", m.violation))
    if with_cost:
        stages.append(("cost", m.total_cost))
    status = SolveStatus.ERROR
    kept: dict[Any, float | None] = {}
    for i, (name, objective) in enumerate(stages):
        m.problem.setObjective(objective)
        timed = clock.options(opts, share)
        run_status = run_solver(m.problem, timed).status if timed is not None else SolveStatus.ERROR
        _log.debug(
            "diagnosis: %s stage (%s left out): %s after %.1f s of the diagnosis",
            name,
            ", ".join(sorted(m.omitted)) or "nothing",
            run_status.value,
            clock.elapsed(),
        )
        if run_status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            if i == len(stages) - 1 and name == "cost" and status is not SolveStatus.ERROR:
                m.problem.setObjective(stages[i - 1][1])
                for var, value in kept.items():  # the previous stage's solution (a failed run
                    var.varValue = value  # may have overwritten it)
                return status
            return run_status
        kept = {var: var.varValue for var in m.columns}
        status = run_status
        best = float(objective.value() or 0.0)
        if bests is not None:
            bests[name] = best
        if i < len(stages) - 1:
            m.add("elastic_hold", (name,), objective <= best + 1e-7 + 1e-6 * abs(best))
    return status


def _culprit_families(base: FleetModel, data: FleetData, opts: RunOptions, clock: _Clock) -> list[Finding]:
    """Families whose removal alone makes the elastic model feasible (those the clock leaves time
    to test; the others are recorded in `clock.skipped`)."""
    culprits: list[Finding] = []
    hybrid = [w.id for w in data.workloads if w.placement == "hybrid"]
    for family in LIMIT_FAMILIES:
        rule = RULE_FAMILIES[family]
        if family in ("budget", "model_routing", "serverless_share") or not base.family_rows.get(family):
            continue
        timed = clock.options(opts)
        if timed is None:
            clock.skipped.append(family)
            continue
        relaxed = build_model(data, elastic=True, omit=frozenset({family}))
        if run_solver(relaxed.problem, timed).status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            workload = hybrid[0] if family == "hybrid_placement" and len(hybrid) == 1 else None
            culprits.append(
                Finding(
                    rule,
                    "no plan satisfies it together with the other limits, even with all demand unserved",
                    workload,
                )
            )
    if culprits:
        return culprits
    if clock.skipped:
        return [Finding("limits not yet tested", "see the note below")]
    return [Finding("combined limits", "no single rule explains it; the limits conflict jointly")]
