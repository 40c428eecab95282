"""Catalog files named by a problem get the same hardening as problem files (issue 10, item 11):
size cap, nesting cap, an encoding check naming the line of the bad byte, a cap on the errors
listed, and a line on every error. And one loader for both kinds of file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from schema_test_data import BASE_TEXT, REPO

from optimizer.cli import main
from optimizer.loading.messages import MAX_ISSUES
from optimizer.loading.yaml_source import MAX_DEPTH, MAX_FILE_BYTES


def _problem(tmp_path: Path, catalog: bytes | str, name: str = "cat.yaml") -> Path:
    (tmp_path / name).write_bytes(catalog.encode() if isinstance(catalog, str) else catalog)
    problem = tmp_path / "p.yaml"
    problem.write_text(BASE_TEXT + f"catalog:\n  files: [{name}]\n")
    return problem


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out + err


def _json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, object]:
    code = main(["validate", "--json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 2
    (entry,) = report["files"]
    assert isinstance(entry, dict)
    return entry


def test_latin1_catalog_file_names_the_line_of_the_bad_byte(tmp_path, capsys):
    problem = _problem(tmp_path, "gpus:\n  - id: h100_sxm\n    notes: caf\xe9\n".encode("latin-1"))
    code, output = _validate(capsys, str(problem))
    assert code == 2, output
    assert f"{tmp_path / 'cat.yaml'}:3: the file is not UTF-8 text (byte 0xe9" in output
    assert "internal error" not in output and "Traceback" not in output


def test_deeply_nested_catalog_file_is_rejected_with_its_line(tmp_path, capsys):
    problem = _problem(tmp_path, "gpus:\n  - " + "[" * 5000 + "]" * 5000 + "\n")
    code, output = _validate(capsys, str(problem))
    assert code == 2, output
    assert f"{tmp_path / 'cat.yaml'}:2: nesting deeper than {MAX_DEPTH} levels" in output
    assert "internal error" not in output


def test_oversized_catalog_file_is_refused_before_reading(tmp_path, capsys):
    row = "  - {provider: x, region: r, instance_type: t, gpu: nope, gpus_per_instance: 1}\n"
    problem = _problem(tmp_path, "prices:\n" + row * (6 * 1024 * 1024 // len(row)))
    assert (tmp_path / "cat.yaml").stat().st_size > MAX_FILE_BYTES
    code, output = _validate(capsys, str(problem))
    assert code == 2
    assert output.count("\n") == 2, output  # one error line and the summary
    assert f"{problem}:35: catalog.files[0]: catalog file 'cat.yaml': the file is 6.3 MB" in output
    assert "MB limit for a catalog file" in output


def test_catalog_file_errors_are_capped_and_counted(tmp_path, capsys):
    rows = "".join(f"  - {{provider: x{i}, region: r, gpu: nope{i}}}\n" for i in range(2000))
    problem = _problem(tmp_path, "prices:\n" + rows)
    code, output = _validate(capsys, str(problem))
    assert code == 2
    lines = output.splitlines()
    assert len(lines) == MAX_ISSUES + 2, lines[-3:]
    assert lines[0].startswith(f"{tmp_path / 'cat.yaml'}:2: prices[0].gpu: unknown gpu 'nope0'")
    assert lines[-2] == f"... and {2000 - MAX_ISSUES} more errors (not shown; fix the ones above first)"
    assert lines[-1] == f"invalid: {problem} (2000 errors, {MAX_ISSUES} shown)"
    entry = _json(capsys, problem)
    assert entry["omitted_errors"] == 2000 - MAX_ISSUES
    assert isinstance(entry["errors"], list) and len(entry["errors"]) == MAX_ISSUES


def test_problem_file_errors_are_capped_too(tmp_path, capsys):
    regions = "".join(f"  - id: r{i}\n    jurisdiction: us\n" for i in range(200))
    path = tmp_path / "many.yaml"
    path.write_text(BASE_TEXT.replace("user_regions:\n", "user_regions:\n" + regions))
    code, output = _validate(capsys, str(path))
    assert code == 2
    assert "... and 150 more errors" in output and "(200 errors, 50 shown)" in output


def test_every_catalog_file_error_has_a_line(tmp_path, capsys):
    layout = "gpus:\n  - just a string\nmodels: {not: a list}\ngpuz: []\n"
    entry = _json(capsys, _problem(tmp_path, layout, "layout.yaml"))
    found = {(e["line"], e["path"]): e["message"] for e in entry["errors"]}  # type: ignore[attr-defined]
    assert found == {
        (2, "gpus[0]"): "must be a mapping of field names to values",
        (3, "models"): "must be a list of mappings",
        (4, "gpuz"): "unknown catalog section; did you mean 'gpus'? (a catalog file has gpus, models, "
        "precisions, prices)",
    }
    entries = """\
gpus:
  - id: h100_sxm
    memory_gb: lots
  - id: new_gpu
    name: New
  - {id: l4, bogus: 1}
precisions:
  - id: fp8
    kv_bytes: -1
prices:
  - {provider: aws, region: us-east-1, instance_type: x, gpu: h100_sxn, gpus_per_instance: 1}
"""
    entry = _json(capsys, _problem(tmp_path, entries, "entries.yaml"))
    errors = entry["errors"]
    assert isinstance(errors, list) and len(errors) >= 6
    for error in errors:
        assert error["line"] is not None, error
        assert error["file"] == str(tmp_path / "entries.yaml"), error
    found = {(e["line"], e["path"]): e["message"] for e in errors}
    assert found[(3, "gpus[0].memory_gb")] == "must be a number (got 'lots')"
    assert found[(6, "gpus[2].bogus")].startswith("unknown key 'bogus'")
    assert found[(9, "precisions[0].kv_bytes")] == "must be greater than or equal to 0.01 (got -1)"
    assert "did you mean 'h100_sxm'" in found[(11, "prices[0].gpu")]
    assert any(line == 4 and path.startswith("gpus[1].") for line, path in found)  # a new entry, incomplete


def test_alias_bomb_in_a_catalog_file(tmp_path, capsys):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    problem = _problem(tmp_path, "gpus: []\n" + bomb)
    code, output = _validate(capsys, str(problem))
    assert code == 2 and "alias bomb" in output
    assert re.search(rf"{re.escape(str(tmp_path / 'cat.yaml'))}:\d+: ", output), output


def test_catalog_command_reads_files_through_the_same_loader(tmp_path, capsys):
    bad = tmp_path / "latin.yaml"
    bad.write_bytes("gpus:\n  - id: l4\n    notes: caf\xe9\n".encode("latin-1"))
    assert main(["catalog", "gpus", "--catalog", str(bad)]) == 2
    assert f"{bad}:3: the file is not UTF-8 text" in capsys.readouterr().err


def test_schema_holds_only_models_and_there_is_one_did_you_mean() -> None:
    schema = sorted(p.name for p in (REPO / "optimizer" / "schema").glob("*.py"))
    assert schema == ["__init__.py", "plan.py", "problem.py", "types.py"]
    for path in (REPO / "optimizer" / "schema").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import yaml" not in text and "from optimizer.loading" not in text, path.name
    users = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "optimizer").rglob("*.py") if "difflib" in p.read_text()
    )
    assert users == ["optimizer/loading/messages.py"]
    yaml_readers = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "optimizer").rglob("*.py")
        if re.search(r"yaml\.(safe_load|load)\(", p.read_text())
    )
    assert "optimizer/catalog/catalog.py" not in yaml_readers
