"""`optimizer diff` routing shares are shares of demand: GPU traffic carries the headroom, so it is
counted / (1 + h), and a region's shares add up to 100% (ka01 used to show 120% at its one site)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.pipeline import SolveOptions, solve_file
from optimizer.whatif.diff import routing_shares

PROBLEMS = Path(__file__).resolve().parents[1] / "known_answers" / "problems"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # headroom 0.2, all served on GPUs: 62.4 rps routed for 52 rps of demand
        ("ka01_single_on_demand", {"chat/us -> us_site": 1.0}),
        # headroom 0.25: 48 rps routed = 38.4 rps of demand (64%), 21.6 of 60 serverless (36%)
        ("ka23_serverless_share_headroom", {"chat/us -> us_site": 0.64, "chat/us -> serverless": 0.36}),
        # headroom 0: 16 of 20 rps served, 4 unmet
        ("ka29_shortfall_partial", {"chat/us -> us_site": 0.8, "chat/us -> unmet": 0.2}),
    ],
)
def test_routing_shares_are_shares_of_demand(name: str, expected: dict[str, float]) -> None:
    plan = solve_file(PROBLEMS / f"{name}.yaml", SolveOptions(baselines=False)).plan
    shares = routing_shares(plan)
    assert shares == pytest.approx(expected, rel=1e-6)
    (w,) = plan.workloads
    assert shares.get("chat/us -> us_site", 0.0) == pytest.approx(w.served_share, rel=1e-6)
