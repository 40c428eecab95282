"""A baseline that beats a time-limited plan is named on stderr (logging), with what to do."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from optimizer.pipeline import cheaper_baselines, solve_file, warn_cheaper_baselines

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> object:
    """The CLI may have turned off propagation of the `optimizer` logger: listen on it directly."""
    log = logging.getLogger("optimizer")
    log.addHandler(caplog.handler)
    yield
    log.removeHandler(caplog.handler)


def test_no_warning_for_an_optimal_plan(caplog: pytest.LogCaptureFixture) -> None:
    plan = solve_file(ROOT / "problems" / "batch_transcription.yaml").plan
    assert plan.status == "optimal"
    assert cheaper_baselines(plan) == []
    with caplog.at_level(logging.WARNING, logger="optimizer"):
        warn_cheaper_baselines(plan)
    assert not caplog.records


def test_a_cheaper_baseline_is_named_with_the_fix(caplog: pytest.LogCaptureFixture) -> None:
    plan = solve_file(ROOT / "problems" / "batch_transcription.yaml").plan
    base = plan.baselines[0].model_copy(update={"monthly_cost_usd": plan.monthly_cost_usd / 2})
    stopped = plan.model_copy(update={"status": "feasible", "gap": 0.6, "baselines": [base]})
    assert cheaper_baselines(stopped) == [base]
    with caplog.at_level(logging.WARNING, logger="optimizer"):
        warn_cheaper_baselines(stopped)
    (message,) = {r.getMessage() for r in caplog.records}  # one warning (seen once or twice)
    assert base.name in message
    assert "time_limit_s" in message and "60.0%" in message


def test_a_stopped_plan_dearer_than_its_baseline_is_replaced_by_the_checked_baseline_plan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The baseline is a restriction of the same problem: its plan is lifted into the full problem,
    rebuilt and re-checked; the main run's bound stays, so the gap is re-computed against it."""
    from dataclasses import replace

    from optimizer.pipeline import SolveOptions, adopt_baseline_plan, baselines_with_runs
    from optimizer.solve import SolveStatus

    result = solve_file(ROOT / "problems" / "batch_transcription.yaml")
    sol, plan = result.solution, result.plan
    _baselines, run = baselines_with_runs(result.candidates.fleet, plan, SolveOptions())
    assert run is not None and run.solution is not None
    assert adopt_baseline_plan(result.problem, result.candidates, sol, plan, run) is None  # optimal plan
    stopped = replace(sol, status=SolveStatus.FEASIBLE, objective=run.cost * 3)
    with caplog.at_level(logging.WARNING, logger="optimizer"):
        adopted = adopt_baseline_plan(result.problem, result.candidates, stopped, plan, run)
    assert adopted is not None
    new_sol, new_plan = adopted
    assert new_plan.monthly_cost_usd == pytest.approx(run.cost)
    assert new_plan.status in ("feasible", "optimal")
    bound = sol.solver.best_bound
    assert bound is not None and new_plan.gap == pytest.approx((run.cost - bound) / run.cost, abs=1e-9)
    assert "baseline" in new_sol.solver.raw_status
    assert any("is the result" in r.getMessage() for r in caplog.records)
