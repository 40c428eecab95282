"""Shipped problems validate, match the JSON Schema, and the docs generated from the schema are current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from schema_test_data import REPO

from optimizer.cli import main
from optimizer.cli.validate_cmd import field_reference_markdown, problem_json_schema
from optimizer.loading.problem_file import parse_problem_text
from optimizer.loading.yaml_source import parse_yaml

PROBLEMS = sorted((REPO / "problems").glob("*.yaml"))
README = REPO / "problems" / "README.md"


def test_there_are_shipped_problems() -> None:
    assert PROBLEMS, "problems/*.yaml is empty"


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_shipped_problem_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"ok: {path}"
    assert err == "", "shipped problems must not produce warnings"


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_shipped_problem_matches_the_json_schema(path: Path) -> None:
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path)).data
    errors = sorted(Draft202012Validator(problem_json_schema()).iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_shipped_problem_is_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "a shipped problem starts with a header comment explaining it"
    assert f"`{path.name}`" in README.read_text(encoding="utf-8"), "list it in problems/README.md"


def test_schema_command_prints_a_valid_draft_2020_12_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("problem-v1.json")
    assert "title" in schema and schema["required"] == ["name", "user_regions", "sites", "workloads"]
    assert schema == problem_json_schema()


def test_json_schema_rejects_what_the_loader_rejects_structurally() -> None:
    validator = Draft202012Validator(problem_json_schema())
    data = parse_yaml(PROBLEMS[0].read_text(encoding="utf-8")).data
    data["policy"]["headroom"] = -1
    data["sites"][0]["unknown"] = 1
    assert len(list(validator.iter_errors(data))) == 2


def test_readme_field_reference_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- BEGIN FIELD REFERENCE -->\n(.*)<!-- END FIELD REFERENCE -->", text, flags=re.S)
    assert match, "problems/README.md lost its field-reference markers"
    assert match.group(1) == field_reference_markdown(), "regenerate with `optimizer schema --markdown`"
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == field_reference_markdown()


def test_readme_example_is_valid() -> None:
    text = README.read_text(encoding="utf-8")
    example = re.search(r"## A minimal problem\n\n```yaml\n(.*?)```", text, flags=re.S)
    assert example
    loaded = parse_problem_text(example.group(1), "README.md")
    assert loaded.problem.name == "small_chat" and not loaded.warnings
