"""`optimizer validate` on malformed problem files: exit 2, the path, the line, and never a traceback.

Each file in `malformed/` states what it expects in its header comments:

    # expect-path: workloads[0].slo.ttft_ms      (or "(whole file)")
    # expect-line: 36                             (or "(none)")
    # expect-text: greater than 0
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from schema_test_data import BASE_TEXT, MALFORMED

from optimizer.cli import main
from optimizer.loading.yaml_source import MAX_FILE_BYTES

FILES = sorted(MALFORMED.glob("*.yaml"))


def _expectations(path: Path) -> dict[str, str]:
    header = path.read_bytes().decode("ascii", errors="replace")
    found = dict(re.findall(r"^# expect-(path|line|text): (.*)$", header, flags=re.M))
    assert set(found) == {"path", "line", "text"}, f"{path.name}: header must give path, line and text"
    return found


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_there_are_many_kinds_of_malformed_files() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_malformed_file_is_rejected_with_path_and_line(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect = _expectations(path)
    code, output = _run(capsys, str(path))
    assert code == 2, output
    assert "Traceback" not in output
    assert f"invalid: {path}" in output
    where = f"{path}:{expect['line']}:" if expect["line"] != "(none)" else f"{path}:"
    if expect["path"] != "(whole file)":
        where += f" {expect['path']}:"
    assert where in output, f"expected {where!r} in:\n{output}"
    assert expect["text"] in output, output
    assert "ok:" not in output


def test_every_malformed_file_differs_from_the_base_in_one_place_only() -> None:
    # Each file shows one kind of error, so exactly one issue is reported (keeps the examples honest).
    for path in FILES:
        code_lines = [
            line
            for line in path.read_bytes().decode("utf-8", errors="replace").splitlines()
            if not line.startswith("#")
        ]
        assert len(code_lines) <= len(BASE_TEXT.splitlines()) + 12, path.name


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_malformed_file_reports_exactly_one_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 2
    assert report["valid"] is False
    (entry,) = report["files"]
    assert len(entry["errors"]) == 1, entry["errors"]


def test_oversized_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# " + "x" * 1000 + "\n"
    path.write_text(BASE_TEXT + filler * (MAX_FILE_BYTES // len(filler) + 1))
    code, output = _run(capsys, str(path))
    assert code == 2
    assert f"{path}:" in output and "MB limit" in output
    assert "Traceback" not in output


def test_zero_byte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zero.yaml"
    path.write_bytes(b"")
    code, output = _run(capsys, str(path))
    assert code == 2 and "the file is empty" in output


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = _run(capsys, str(tmp_path / "nope.yaml"), str(tmp_path))
    assert code == 2
    assert f"{tmp_path / 'nope.yaml'}: file not found" in output
    assert f"{tmp_path}: not a regular file" in output
    assert "Traceback" not in output


def test_all_errors_of_a_file_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        BASE_TEXT.replace("ttft_ms: 500", "ttft_ms: -1")
        .replace("output_tokens: 200", "output_tokens: many")
        .replace("name: small_chat", "name: small_chat\nsolver: {nme: cbc}")
    )
    path = tmp_path / "three.yaml"
    path.write_text(text)
    code, output = _run(capsys, str(path))
    assert code == 2
    assert f"{path}:2: solver.nme: unknown key 'nme'; did you mean 'name'?" in output
    assert f"{path}:31: workloads[0].request.output_tokens: must be a number (got 'many')" in output
    assert f"{path}:33: workloads[0].slo.ttft_ms: must be greater than 0 (got -1)" in output
    assert "(3 errors)" in output


def test_semantic_errors_are_all_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE_TEXT.replace("gpu: h100_sxm", "gpu: h100_sxn").replace("eu_west: 0.4}", "eu_west: 0.3}")
    path = tmp_path / "two.yaml"
    path.write_text(text)
    code, output = _run(capsys, str(path))
    assert code == 2
    assert "sites[0].offers[0].gpu: unknown GPU 'h100_sxn'" in output
    assert "workloads[0].demand.region_split: region_split shares sum to 0.9" in output


def test_valid_and_invalid_files_together(capsys: pytest.CaptureFixture[str]) -> None:
    good = Path(__file__).resolve().parents[2] / "problems" / "chat_assistant.yaml"
    bad = MALFORMED / "unknown_key.yaml"
    code, output = _run(capsys, str(good), str(bad))
    assert code == 2
    assert f"ok: {good}" in output
    assert f"invalid: {bad}" in output


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    bad = MALFORMED / "out_of_range.yaml"
    code = main(["validate", "--json", str(bad)])
    report = json.loads(capsys.readouterr().out)
    assert code == 2
    error = report["files"][0]["errors"][0]
    assert error == {
        "file": str(bad),
        "line": int(_expectations(bad)["line"]),
        "path": "workloads[0].slo.ttft_ms",
        "message": "must be greater than 0 (got -500)",
    }


def test_warnings_do_not_fail_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(
        BASE_TEXT.replace(
            "        prices: {on_demand: 2.99}",
            "        prices: {on_demand: 2.99}\n        capital_usd_per_gpu: 30000",
        )
    )
    code, output = _run(capsys, str(path))
    assert code == 0
    assert f"ok: {path}" in output
    assert (
        f"{path}:15: sites[0].offers[0].capital_usd_per_gpu: warning: capital_usd_per_gpu is ignored"
        in output
    )
    assert main(["validate", "--quiet", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == err == ""
