"""Shared fixtures for the problem-file tests: a small valid problem, as text and as data; and the
choice and summary of the fuzz profile (`python -m pytest -m fuzz` runs the long one)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import fuzz_profile
import pytest
import yaml
from schema_test_data import BASE_TEXT


def pytest_configure(config: pytest.Config) -> None:
    """`-m fuzz` (the marker expression alone) selects the long fuzz profile."""
    fuzz_profile.LONG = str(config.getoption("markexpr", "") or "").strip() == "fuzz"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many fuzz cases ran and how each ended."""
    if not fuzz_profile.CASES:
        return
    total = sum(fuzz_profile.CASES.values())
    ends = ", ".join(f"{cmd} exit {code}: {n}" for (cmd, code), n in sorted(fuzz_profile.CASES.items()))
    profile = "long" if fuzz_profile.LONG else "fast"
    terminalreporter.write_line(f"fuzz ({profile} profile): {total} cases ({ends})")


@pytest.fixture
def base_text() -> str:
    return BASE_TEXT


@pytest.fixture
def base_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BASE_TEXT)
    return copy.deepcopy(data)


@pytest.fixture
def dump() -> Callable[[dict[str, Any]], str]:
    def _dump(data: dict[str, Any]) -> str:
        return yaml.safe_dump(data, sort_keys=False)

    return _dump
