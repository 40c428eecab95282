"""Output a script can trust (issue 10 items 6, 7, 9, 10, 14), end to end through real processes.

- stdout of `--format json|yaml` is the document alone, even with `--explain` and `--solver-log`;
- a HiGHS failure falls back to CBC with a warning on stderr, recorded in the plan;
- the same input and options give the same plan bytes (no timings in the plan);
- outputs are written atomically and bad output paths are refused before solving;
- Ctrl-C stops a solve quickly with exit 130 and leaves existing files as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DATA

import optimizer.solve as solve_mod
from optimizer.cli import main
from optimizer.model.build import build_model
from optimizer.model.synthetic import synthetic_fleet
from optimizer.schema.plan import PLAN_SCHEMA_VERSION
from optimizer.solve import RunOptions, SolverInfo, SolveStatus, _Run, solve

REPO = DATA.parent.parent
STARTUP = REPO / "problems" / "startup_budget.yaml"
SMALL = DATA / "small.yaml"


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, timeout=timeout, cwd=REPO
    )


def test_json_stdout_is_the_document_alone_through_a_pipe() -> None:
    """The HiGHS banner is printed by the C++ library on fd 1; explanations and solver logs too
    were printed on stdout. A real pipe into json.load sees the plan and nothing else."""
    producer = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "solve", str(STARTUP), "--format", "json", "--explain",
         "--solver-log", "--no-baselines"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    consumer = subprocess.run(
        [sys.executable, "-c", "import json, sys; d = json.load(sys.stdin); print(d['status'])"],
        stdin=producer.stdout, capture_output=True, timeout=300,
    )
    assert producer.stdout is not None
    producer.stdout.close()
    err = producer.stderr.read().decode() if producer.stderr else ""
    assert producer.wait(timeout=300) == 0, err
    assert consumer.returncode == 0, consumer.stderr.decode()
    assert consumer.stdout.decode().strip() == "optimal"
    assert "HiGHS" in err  # the banner and log went to stderr


def test_yaml_stdout_is_the_document_alone() -> None:
    out = _cli("solve", str(STARTUP), "--format", "yaml", "--no-baselines", "--explain")
    assert out.returncode == 0, out.stderr.decode()
    doc = yaml.safe_load(out.stdout)
    assert isinstance(doc, dict) and doc["schema_version"] == PLAN_SCHEMA_VERSION
    assert not out.stdout.decode().startswith("Running")


def test_resolves_are_byte_identical_and_carry_no_timings(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for target in (a, b):
        assert main(["solve", str(SMALL), "--output", str(target), "--no-baselines"]) == 0
    assert a.read_bytes() == b.read_bytes()
    solve_facts = yaml.safe_load(a.read_text())["solve"]
    assert not [k for k in solve_facts if k.endswith("time_s") and k != "time_limit_s"]


def test_timings_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(STARTUP), "--format", "json", "--no-baselines", "--timings"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)
    assert "timings: candidates" in captured.err


def test_highs_failure_warns_on_stderr_and_is_recorded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(problem: Any, opts: RunOptions, columns: Any = None) -> _Run:
        return _Run(SolveStatus.ERROR, SolverInfo("highs", "", {}, 0.0, "Solve error"), "simulated failure")

    monkeypatch.setattr(solve_mod, "_run_highs", broken)
    out = tmp_path / "plan.yaml"
    assert main(["solve", str(STARTUP), "--no-baselines", "--output", str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err.lower() and "simulated failure" in captured.err
    facts = yaml.safe_load(out.read_text())["solve"]
    assert facts["solver"] == "cbc" and "simulated failure" in facts["fallback_reason"]


def test_no_silent_switch_when_thread_counts_change_between_solves() -> None:
    """Root cause of the old silent CBC fallback: HiGHS's global scheduler kept the first solve's
    thread count and refused later runs asking for another ("Not Set")."""
    data = synthetic_fleet(candidates=6, periods=2, sites=2, regions=2, workloads=2, seed=3)
    for threads in (None, 1, 2, 1, None):
        sol = solve(build_model(data), threads=threads)
        assert sol.solver.name == "highs" and sol.solver.fallback_reason is None, threads


@pytest.mark.parametrize("case", ["input", "directory", "missing_folder", "unknown_suffix"])
def test_bad_output_paths_are_refused_before_solving(tmp_path: Path, case: str) -> None:
    problem = tmp_path / "p.yaml"
    problem.write_bytes(SMALL.read_bytes())
    targets = {
        "input": problem,
        "directory": tmp_path,
        "missing_folder": tmp_path / "nope" / "plan.yaml",
        "unknown_suffix": tmp_path / "plan.txt",
    }
    target = targets[case]
    t0 = time.perf_counter()
    out = _cli("solve", str(problem), "--output", str(target))
    assert out.returncode == 2, out.stderr.decode()
    assert "--output" in out.stderr.decode()
    assert problem.read_bytes() == SMALL.read_bytes()  # the input is untouched
    assert "Running HiGHS" not in out.stderr.decode()  # refused before any solve
    assert time.perf_counter() - t0 < 60


def test_failed_run_leaves_an_existing_plan_untouched(tmp_path: Path) -> None:
    doc = yaml.safe_load(SMALL.read_text())
    doc["workloads"][0]["slo"]["ttft_ms"] = 1  # nothing can meet 1 ms
    problem = tmp_path / "p.yaml"
    problem.write_text(yaml.safe_dump(doc))
    plan = tmp_path / "plan.yaml"
    plan.write_text("previous plan\n")
    code = main(["solve", str(problem), "--output", str(plan)])
    assert code in (2, 3)
    assert plan.read_text() == "previous plan\n"
    assert {p.name for p in tmp_path.iterdir()} == {"p.yaml", "plan.yaml"}


def _slow_problem(tmp_path: Path) -> Path:
    """A problem whose solve takes far longer than the interrupt delay on any machine: the
    benchmark generator's `medium` size (6 workloads, 10 sites, 24 periods; minutes to prove)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from generator import SIZES, generate_yaml
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    path = tmp_path / "medium.yaml"
    path.write_text(generate_yaml(SIZES["medium"], 0, time_limit_s=600.0, mip_gap=0.0), encoding="utf-8")
    return path


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child before exec: SIGINT back to its default disposition. A runner that starts the
    suite in the background (`cmd &` in a script, nohup) leaves SIGINT ignored in every process it
    starts, and Python then keeps it ignored, so Ctrl-C could not be tested at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery as on a terminal")
def test_ctrl_c_stops_within_two_seconds_with_exit_130(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("previous plan\n")
    problem = _slow_problem(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "solve", str(problem), "--output", str(plan),
         "--time-limit", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, preexec_fn=_ctrl_c_as_on_a_terminal,
    )
    time.sleep(2.5)
    assert proc.poll() is None, "the solve finished before it could be interrupted"
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=30)
    stopped_after = time.perf_counter() - sent
    assert code == 130, proc.stderr.read().decode() if proc.stderr else ""
    assert stopped_after < 2.0, stopped_after
    assert plan.read_text() == "previous plan\n"
    assert {p.name for p in tmp_path.iterdir()} == {"plan.yaml", "medium.yaml"}


def test_no_solver_banner_on_stderr_without_a_solver_log() -> None:
    """HiGHS prints "Running HiGHS ..." natively; without --solver-log it is discarded (stderr
    carries only the tool's own messages), with --solver-log it goes to stderr."""
    quiet = _cli("solve", str(STARTUP), "--format", "json", "--no-baselines", "-q")
    assert quiet.returncode == 0, quiet.stderr.decode()
    assert "HiGHS" not in quiet.stderr.decode()
    json.loads(quiet.stdout)
    logged = _cli("solve", str(STARTUP), "--format", "json", "--no-baselines", "--solver-log")
    assert logged.returncode == 0 and "Running HiGHS" in logged.stderr.decode()
    json.loads(logged.stdout)
