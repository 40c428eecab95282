"""Run the formula doctests of every optimizer.perf module."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "optimizer.perf.memory",
    "optimizer.perf.step",
    "optimizer.perf.workload",
    "optimizer.perf.speculative",
    "optimizer.perf.serving",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
