"""Fuzzing the loader: whatever comes in, the only exception out is `InputError`, and every issue is
located (a path that parses, and a line whenever the issue is about a place in the document)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_test_data import BASE_TEXT, YAML_TOKENS

from optimizer.errors import InputError
from optimizer.loading.problem_file import parse_problem_text
from optimizer.loading.yaml_source import parse_path

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE: dict[str, Any] = yaml.safe_load(BASE_TEXT)


def _only_input_errors(text: str | bytes) -> None:
    try:
        parse_problem_text(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.message
            assert issue.file == "fuzz.yaml"
            parse_path(issue.path)  # every path is well formed
            if issue.path:
                assert issue.line is not None, issue


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _only_input_errors(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    _only_input_errors(raw)




@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_yaml_like_token_soup(tokens: list[str]) -> None:
    _only_input_errors("".join(tokens))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(BASE)


@FUZZ
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_one_value_replaced_anywhere(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(BASE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    _only_input_errors(yaml.safe_dump(data, sort_keys=False))


@FUZZ
@given(st.sampled_from(PATHS), st.text(min_size=1, max_size=12), JSON_VALUES)
def test_one_key_added_anywhere(path: tuple[Any, ...], key: str, value: Any) -> None:
    data = copy.deepcopy(BASE)
    node = data
    for part in path:
        node = node[part]
    if isinstance(node, dict):
        node[key] = value
    elif isinstance(node, list):
        node.append(value)
    _only_input_errors(yaml.safe_dump(data, sort_keys=False))
