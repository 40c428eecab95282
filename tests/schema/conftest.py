"""Shared fixtures for the problem-file tests: a small valid problem, as text and as data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from schema_test_data import BASE_TEXT


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
