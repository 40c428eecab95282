"""Per-workload cost attribution: every workload is charged its own prices and the parts add up.

Regression for issue 10 item 1: serverless and shortfall costs were charged with a stale loop
variable (another workload's price), and a plan with no GPU traffic raised UnboundLocalError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import DATA

from optimizer.check import check_plan, recompute_workload_costs
from optimizer.pipeline import SolveOptions, solve_file
from optimizer.schema.plan import Plan

REPO = DATA.parent.parent

FAST = SolveOptions(baselines=False)


def _solve(tmp_path: Path, doc: dict[str, object]) -> Plan:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return solve_file(path, FAST).plan


def _startup() -> dict[str, object]:
    doc = yaml.safe_load((REPO / "problems" / "startup_budget.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_workload_costs_add_up_to_the_total_on_startup_budget() -> None:
    plan = solve_file(REPO / "problems" / "startup_budget.yaml", FAST).plan
    assert sum(w.monthly_cost_usd for w in plan.workloads) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)
    assert check_plan(plan) == []


def test_serverless_is_charged_at_each_workloads_own_price(tmp_path: Path) -> None:
    """No GPU at all (serverless far cheaper): every workload pays its own serverless price."""
    doc = _startup()
    for w, price in zip(doc["workloads"], (0.001, 0.002), strict=True):  # type: ignore[call-overload]
        w["serverless"]["usd_per_million_input_tokens"] = price
        w["serverless"]["usd_per_million_output_tokens"] = price
    plan = _solve(tmp_path, doc)
    assert plan.deployments == [] and plan.routing == []
    hours = {p.id: p.hours_per_month for p in plan.periods}
    for w in plan.workloads:
        tokens = w.input_tokens + w.output_tokens
        expected = sum(
            d.rps * 3600 * hours[d.period] * tokens * (w.serverless_usd_per_request or 0) / tokens
            for d in plan.serverless
            if d.workload == w.id
        )
        assert expected > 0
        assert w.monthly_cost_usd == pytest.approx(expected, rel=1e-9)
    assert sum(w.monthly_cost_usd for w in plan.workloads) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)
    assert check_plan(plan) == []


def test_checker_catches_a_misattributed_workload_cost() -> None:
    plan = solve_file(REPO / "problems" / "startup_budget.yaml", FAST).plan
    first, *rest = plan.workloads
    moved = 100.0
    bad = plan.model_copy(
        update={
            "workloads": [
                first.model_copy(update={"monthly_cost_usd": first.monthly_cost_usd + moved}),
                *[w.model_copy(update={"monthly_cost_usd": w.monthly_cost_usd - moved / len(rest)})
                  for w in rest],
            ]
        }
    )
    msgs = check_plan(bad)
    assert any(m.startswith(f"cost: workload {first.id}") for m in msgs)


def test_checker_catches_costs_that_do_not_add_up() -> None:
    plan = solve_file(REPO / "problems" / "startup_budget.yaml", FAST).plan
    halved = [w.model_copy(update={"monthly_cost_usd": w.monthly_cost_usd / 2}) for w in plan.workloads]
    msgs = check_plan(plan.model_copy(update={"workloads": halved}))
    assert any("sum to" in m for m in msgs)
    assert set(recompute_workload_costs(plan)) == {w.id for w in plan.workloads}
