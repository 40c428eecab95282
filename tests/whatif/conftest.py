"""Sweeps solved once per session (solving is the slow part)."""

from __future__ import annotations

import pytest
from whatif_helpers import STARTUP

from optimizer.whatif.api import SweepResult, frontier, sweep


@pytest.fixture(scope="session")
def demand_sweep() -> SweepResult:
    """startup_budget at 0.5x-4x demand, serially, plans kept."""
    return sweep(STARTUP, scale_demand=[0.5, 1, 2, 4], executor="serial", keep_plans=True)


@pytest.fixture(scope="session")
def budget_frontier() -> SweepResult:
    return frontier(STARTUP, budgets=[3_000, 6_000, 9_000, 12_000, 15_000], executor="serial")
