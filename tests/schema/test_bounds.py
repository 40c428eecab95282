"""Absurd numbers are rejected at validation with a located message (issue 10, item 13), and every
numeric field of the problem file and of catalog entries has documented, finite bounds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from schema_test_data import BASE_TEXT, REPO

from optimizer.catalog import GpuSpec, ModelSpec, PrecisionSpec, PriceEntry
from optimizer.cli import main
from optimizer.errors import InputError
from optimizer.loading.problem_file import parse_problem_text
from optimizer.schema.problem import Problem

CASES = [
    # (old text, new text, path, line, message fragment)
    ("input_tokens: 800", "input_tokens: +inf", "workloads[0].request.input_tokens", 29, "finite number"),
    (
        "input_tokens: 800",
        "input_tokens: .inf",
        "workloads[0].request.input_tokens",
        29,
        "not a finite number",
    ),
    (
        "input_tokens: 800",
        "input_tokens: 20000000",
        "workloads[0].request.input_tokens",
        29,
        "at most 10,000,000",
    ),
    (
        "input_tokens: 800",
        "input_tokens: 0.001",
        "workloads[0].request.input_tokens",
        29,
        "greater than or equal to 1",
    ),
    ("on_demand: 2.99", "on_demand: 'inf'", "sites[0].offers[0].prices.on_demand", 14, "finite number"),
    ("on_demand: 2.99", "on_demand: 1e309", "sites[0].offers[0].prices.on_demand", 14, "not a finite number"),
    ("on_demand: 2.99", "on_demand: 5e6", "sites[0].offers[0].prices.on_demand", 14, "at most 1,000,000"),
    (
        "on_demand: 2.99",
        "on_demand: -1",
        "sites[0].offers[0].prices.on_demand",
        14,
        "greater than or equal to 0",
    ),
    ("on_demand: 2.99", "on_demand: nan", "sites[0].offers[0].prices.on_demand", 14, "finite number"),
    (
        "requests_per_day: 1000000",
        "requests_per_day: 1e300",
        "workloads[0].demand.requests_per_day",
        26,
        "at most 1e12",
    ),
    (
        "requests_per_day: 1000000",
        "requests_per_day: -5",
        "workloads[0].demand.requests_per_day",
        26,
        "greater than 0",
    ),
    ("ttft_ms: 500", "ttft_ms: .nan", "workloads[0].slo.ttft_ms", 32, "not a finite number"),
    ("ttft_ms: 500", "ttft_ms: 1e10", "workloads[0].slo.ttft_ms", 32, "at most 3,600,000"),
    ("us_east: 10,", "us_east: 1e9,", "sites[0].latency_ms.us_east", 10, "at most 60,000"),
    ("name: small_chat", "name: small_chat\nsolver: {threads: 1000000}", "solver.threads", 2, "at most 256"),
    (
        "name: small_chat",
        "name: small_chat\nsolver: {time_limit_s: 1e9}",
        "solver.time_limit_s",
        2,
        "at most 604,800",
    ),
    (
        "name: small_chat",
        "name: small_chat\nsolver: {time_limit_s: '-inf'}",
        "solver.time_limit_s",
        2,
        "finite",
    ),
    (
        "name: small_chat",
        "name: small_chat\npolicy: {budget_usd_per_month: 1e20}",
        "policy.budget_usd_per_month",
        2,
        "at most 1e12",
    ),
    # the converted volume: 1e12 requests of 2M tokens each
    (
        "input_tokens: 800",
        "input_tokens: 2000000",
        "workloads[0].demand.requests_per_day",
        26,
        "more than the limit of 1e15",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "line", "fragment"), CASES, ids=[c[1] for c in CASES])
def test_absurd_numbers_are_rejected_with_path_and_line(
    old: str, new: str, path: str, line: int, fragment: str
) -> None:
    text = BASE_TEXT.replace(old, new, 1)
    if "2000000" in new:
        text = text.replace("requests_per_day: 1000000", "requests_per_day: 1000000000000")
    assert text != BASE_TEXT
    with pytest.raises(InputError) as info:
        parse_problem_text(text, "b.yaml")
    found = [(i.path, i.line, i.message) for i in info.value.issues]
    assert any(p == path and ln == line and fragment in m for p, ln, m in found), found


def test_inline_catalog_numbers_are_finite_and_bounded() -> None:
    for value, fragment in ((".inf", "not a finite number"), ("'inf'", "finite number"), ("1e9", "at most")):
        text = BASE_TEXT + f"catalog:\n  gpus:\n    - {{id: h100_sxm, memory_gb: {value}}}\n"
        with pytest.raises(InputError) as info:
            parse_problem_text(text, "b.yaml")
        (issue,) = info.value.issues
        assert (issue.path, issue.line) == ("catalog.gpus[0].memory_gb", 36) and fragment in issue.message


def test_cli_exits_2_with_the_place(tmp_path, capsys) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE_TEXT.replace("input_tokens: 800", "input_tokens: +inf"))
    assert main(["validate", str(path)]) == 2
    assert f"{path}:29: workloads[0].request.input_tokens: must be a finite number" in capsys.readouterr().err


def _number_fields(model: type[BaseModel]) -> list[tuple[str, dict[str, Any]]]:
    """(path, schema) of every number/integer in a model's JSON Schema, through every nesting."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, where: str, seen: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(defs[name], where, seen | {name})
            return
        if node.get("type") in ("number", "integer") and "const" not in node and "enum" not in node:
            out.append((where, node))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for alt in node.get(key, []):
                walk(alt, where, seen)
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{where}[]", seen)
        for value in node.get("patternProperties", {}).values():
            walk(value, f"{where}[]", seen)
        for name, prop in node.get("properties", {}).items():
            walk(prop, f"{where}.{name}", seen)

    walk(schema, model.__name__, frozenset())
    return out


@pytest.mark.parametrize("model", [Problem, GpuSpec, ModelSpec, PrecisionSpec, PriceEntry])
def test_every_numeric_field_has_both_bounds(model: type[BaseModel]) -> None:
    fields = _number_fields(model)
    assert fields
    unbounded = [
        where
        for where, s in fields
        if ("minimum" not in s and "exclusiveMinimum" not in s)
        or ("maximum" not in s and "exclusiveMaximum" not in s)
    ]
    assert not unbounded, unbounded


def test_bounds_are_documented_in_the_field_reference() -> None:
    text = (REPO / "problems" / "README.md").read_text(encoding="utf-8")
    assert "| `input_tokens` | number in [1, 10,000,000] |" in text
    assert "| `threads` | integer in [1, 256] |" in text
    assert "| `time_limit_s` | number in (0, 604,800] |" in text
    assert "| `requests_per_day` | number in (0, 1e12] |" in text
    assert "| `on_demand` | number in [0, 1,000,000] |" in text
    assert "finite" in text.split("## Field reference")[1].split("<!-- BEGIN FIELD REFERENCE -->")[0]
