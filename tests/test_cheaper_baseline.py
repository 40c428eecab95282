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
