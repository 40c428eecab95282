"""A new user's obvious mistakes on a small known-answer problem: each gives a located message, a
fix, the documented exit code, and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.cli import main

BASE = Path(__file__).resolve().parent / "problems" / "ka01_single_on_demand.yaml"

MISTAKES = [
    # (name, original text, replacement, expected fragments of stderr)
    ("key_typo", "headroom: 0.2", "headrom: 0.2", [":33: policy.headrom", "did you mean 'headroom'"]),
    ("unit_in_key", "latency_ms: {us: 10}", "latency_s: {us: 10}", ["sites[0].latency_s", "'latency_ms'"]),
    ("percent", "headroom: 0.2", "headroom: 20%", ["policy.headroom: must be a number (got '20%')"]),
    ("unit_in_value", "ttft_ms: 1000", "ttft_ms: 1s", ["slo.ttft_ms: must be a number (got '1s')"]),
    ("unknown_gpu", "- gpu: h100_sxm", "- gpu: h100_sxn", [":16: sites[0].offers[0].gpu", "'h100_sxm'"]),
    ("split", "region_split: {us: 1.0}", "region_split: {us: 0.9}", ["region_split shares sum to 0.9"]),
    # a measured configuration used to be admitted for requests longer than the model's context
    (
        "context",
        "output_tokens: 250}",
        "output_tokens: 1_000_000}",
        ["workloads[0].request: a request of 1,000,500 tokens", "context of 131,072 tokens"],
    ),
    # libyaml's own message does not say the character was a tab
    ("tab_indent", "  - {id: us,", "\t- {id: us,", [":10: invalid YAML", "YAML does not allow tabs"]),
]


@pytest.mark.parametrize("command", ["validate", "solve"])
@pytest.mark.parametrize(("name", "old", "new", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_located_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    old: str,
    new: str,
    expected: list[str],
) -> None:
    text = BASE.read_text()
    assert old in text
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new, 1))
    capsys.readouterr()
    assert main([command, str(path)]) == 2
    captured = capsys.readouterr()
    message = captured.out + captured.err
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in message and "internal error" not in message


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for command in ("validate", "solve"):
        assert main([command, str(tmp_path / "nope.yaml")]) == 2
        assert "file not found" in capsys.readouterr().err


def test_closed_stdout_is_not_an_internal_error() -> None:
    """`optimizer catalog prices --json | head -c 100`: the reader stops early; exit 0, stderr silent
    (it used to say `internal error: BrokenPipeError` and exit 4)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "catalog", "prices", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["explain", "plan validate", "report", "export"])
def test_problem_file_given_as_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    """A problem file passed where a plan is expected: every plan reader names the mistake and the fix
    (`explain` used to say `not a plan of this version (51 errors; first at problem: Field required)`)."""
    argv = [*command.split(), str(BASE)]
    if command == "export":
        argv += ["--to", "csv", "--out", str(tmp_path / "out")]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "not a plan file (no `kind: fleet_plan`)" in captured.out + captured.err
    assert "optimizer solve PROBLEM -o plan.yaml" in captured.out + captured.err


def test_infeasible_diagnosis_counts_demand_not_need(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ka01 with a supply limit of 5 GPUs: 5 x 8 rps x 0.75 = 30 rps of need = 30 / 1.2 = 25 rps of
    demand served, so 52 - 25 = 27 of the 52 rps of demand cannot be served (exit 3). The message
    used to say "27 of 62.4 rps", comparing unmet demand with the need (demand x 1.2 headroom)."""
    price = "prices: {on_demand: 2.5}"
    text = BASE.read_text().replace(price, price + "\n        max_gpus: 5")
    path = tmp_path / "supply.yaml"
    path.write_text(text)
    capsys.readouterr()
    assert main(["solve", str(path)]) == 3
    err = capsys.readouterr().err
    assert "supply limit at site 'us_site' for GPU 'h100_sxm' (5 GPUs)" in err
    assert "27 of 52 rps cannot be served" in err, err
