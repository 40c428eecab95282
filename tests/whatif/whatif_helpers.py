"""Paths and small helpers shared by the what-if tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "problems"
DATA = ROOT / "tests" / "data"
STARTUP = PROBLEMS / "startup_budget.yaml"
"""Small (about 0.3 s a solve), catalog-priced H100 and L4, a binding budget with shortfall allowed."""
