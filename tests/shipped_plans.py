"""Every shipped problem solved once per test session (baselines off), shared by export and report tests."""

from __future__ import annotations

from functools import cache

from helpers import PROBLEMS

from optimizer.pipeline import SolveOptions, solve_file
from optimizer.schema.plan import Plan

SHIPPED = sorted(PROBLEMS.glob("*.yaml"))
SHIPPED_IDS = [p.stem for p in SHIPPED]


@cache
def shipped_plan(name: str) -> Plan:
    """The plan of problems/<name>.yaml, solved without baselines (cached for the session)."""
    return solve_file(PROBLEMS / f"{name}.yaml", SolveOptions(baselines=False)).plan
