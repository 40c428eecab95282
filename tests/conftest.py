"""Shared fixtures: solved plans are cached per session (solving is the slow part)."""

from __future__ import annotations

import pytest
from helpers import DATA

from optimizer.pipeline import PlanResult, SolveOptions, solve_file


@pytest.fixture(scope="session")
def small_result() -> PlanResult:
    return solve_file(DATA / "small.yaml", SolveOptions())
