"""Run the doctests of the loading modules (paths, number formatting, the did-you-mean matcher)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["optimizer.loading.yaml_source", "optimizer.loading.messages"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
