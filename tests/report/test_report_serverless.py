"""The report's serverless figures agree with the plan: its cost line, its share, and coverage
counted as the MIP counts it (serverless traffic carries no headroom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.pipeline import SolveOptions, solve_file
from optimizer.report_doc import capacity_by_period, render_markdown
from optimizer.schema.plan import Plan

KA23 = (
    Path(__file__).resolve().parents[1] / "known_answers" / "problems" / "ka23_serverless_share_headroom.yaml"
)


@pytest.fixture(scope="module")
def plan() -> Plan:
    """ka23 by hand: 6 GPUs carry 48 rps of need (= 38.4 rps of demand at headroom 0.25), 21.6 rps go
    serverless at $0.00005 per request: 21.6 x 3600 x 730 x 0.00005 = $2,838.24; share 21.6 / 60."""
    return solve_file(KA23, SolveOptions(baselines=False)).plan


def test_serverless_cost_and_share_match_the_plan(plan: Plan) -> None:
    (sv,) = plan.serverless
    assert sv.rps == pytest.approx(21.6)
    assert plan.cost_breakdown["serverless"] == pytest.approx(21.6 * 3600 * 730 * 0.00005)
    md = render_markdown(plan)
    assert "| serverless | $2,838 | 24.5% |" in md
    assert "| chat | llama_3_1_8b | 5,184,000 | $11,598 | 0.098 | 64.0% | 36.0% | 0.0% |" in md


def test_coverage_ratio_counts_serverless_with_headroom(plan: Plan) -> None:
    """(48 + 1.25 x 21.6) / (60 x 1.25) = 75 / 75 = 1.00: exactly covered (the report used to add the
    21.6 rps of demand to 48 rps of capacity against 75 rps of need and show 0.93, a false shortfall)."""
    (row,) = capacity_by_period(plan)["chat"]
    assert row.demand_rps == pytest.approx(75.0)
    assert row.capacity_rps == pytest.approx(48.0)
    assert row.covered_rps == pytest.approx(75.0)
    assert "| chat | 1.00 | 75.00 | 48.00 |" in render_markdown(plan)


def test_route_peak_is_labelled_as_capacity_with_headroom(plan: Plan) -> None:
    """The route carries 48 req/s of GPU capacity for 38.4 req/s of demand (x 1.25): the column says
    so, since the workloads table counts the same traffic as 64% of 60 req/s."""
    md = render_markdown(plan)
    assert "| peak req/s (incl. headroom) |" in md
    assert "| chat | us | us_site | h100_sxm bf16 TP1 | 48.00 |" in md


def test_batch_coverage_is_over_the_day() -> None:
    """ka18's batch workload runs 2 committed replicas all day (20 rps) for 60 rps of demand in an
    8-hour day period and none at night: 20 x 24 h = 60 x 8 h, covered over the day exactly. The
    report used to show 0.33 (the day period alone) as if a third of the batch were served."""
    path = KA23.parent / "ka18_batch_daily.yaml"
    md = render_markdown(solve_file(path, SolveOptions(baselines=False)).plan)
    assert "| batch | 1.00 (daily) | 60.00 | 20.00 |" in md
    assert "| interactive | 1.00 | 20.00 | 20.00 |" in md
