"""`optimizer sweep`, `frontier`, `diff` and `solve --set` end to end: files, charts, exit codes, stdout."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from whatif_helpers import DATA, ROOT, STARTUP

from optimizer.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as img:
        width, height = img.size
        assert width >= 400 and height >= 300
        dark = sum(img.convert("L").histogram()[:128])
        colours = len(img.convert("RGB").getcolors(maxcolors=1_000_000) or [])
    assert dark > 0.005 * width * height, f"{path.name} is nearly blank"
    assert colours > 5, f"{path.name} has almost no colours"


def _check_svg(path: Path, *texts: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text[:2000]
    for t in texts:
        assert t in text, f"{path.name} lacks {t!r}"


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    proc = _run(
        "sweep", str(STARTUP), "--scale-demand", "0.5,2", "--out", str(out), "--plans",
        "--format", "json", "--jobs", "2",  # worker processes: their native output must stay off stdout too
    )  # fmt: skip
    return proc, out


def test_sweep_json_stdout_is_the_document_alone(sweep_run) -> None:
    proc, out = sweep_run
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing else on stdout: no banner, no progress
    assert doc["kind"] == "sweep_results" and doc["parameters"] == ["scale_demand"]
    assert [r["scale_demand"] for r in doc["rows"]] == [0.5, 2.0]
    assert "[2/2]" in proc.stderr  # progress goes to stderr
    assert json.loads((out / "results.json").read_text())["rows"] == doc["rows"]
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["scenario"] for r in rows] == ["scale_demand=0.5", "scale_demand=2"]
    assert float(rows[1]["monthly_cost_usd"]) > float(rows[0]["monthly_cost_usd"])
    assert sorted(p.name for p in (out / "plans").iterdir()) == [
        "scale_demand=0.5.yaml",
        "scale_demand=2.yaml",
    ]


def test_sweep_charts_have_content(sweep_run) -> None:
    _, out = sweep_run
    for stem in ("cost", "spend_by_gpu", "spend_by_option"):
        _check_png(out / f"{stem}.png")
    _check_svg(
        out / "cost.svg",
        "startup_budget: monthly cost",
        "monthly cost (USD per month)",
        "demand scale factor",
    )
    _check_svg(out / "spend_by_gpu.svg", "monthly spend by GPU type", "h100_sxm", "scenario")
    _check_svg(out / "spend_by_option.svg", "monthly spend by purchase option", "on_demand")


def test_frontier_cli_writes_budget_column_and_chart(tmp_path) -> None:
    code = main(
        ["frontier", str(STARTUP), "--budgets", "4000,12000", "--out", str(tmp_path), "--jobs", "1",
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    with (tmp_path / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["budget"]) for r in rows] == [4000.0, 12000.0]
    assert float(rows[0]["demand_met_share"]) < float(rows[1]["demand_met_share"])
    _check_png(tmp_path / "frontier.png")
    _check_svg(
        tmp_path / "frontier.svg", "demand served within each monthly budget", "demand met (% of tokens)"
    )


def test_latency_frontier(tmp_path, capsys) -> None:
    code = main(
        ["frontier", str(STARTUP), "--vary", "workloads.pro_tier.slo.ttft_ms=600,1500", "--set",
         "policy.shortfall.allowed=false", "--set", "policy.budget_usd_per_month=1000000", "--format", "csv",
         "--jobs", "1", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    tight, loose = (float(r["monthly_cost_usd"]) for r in rows)
    assert tight >= loose - 1e-6


def test_invalid_override_exit_2_with_suggestion(capsys) -> None:
    code = main(["sweep", str(STARTUP), "--vary", "workloads.pro_tier.slo.ttf_ms=300,600", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert (
        "workloads.pro_tier.slo.ttf_ms=300" in err and "did you mean 'workloads.pro_tier.slo.ttft_ms'" in err
    )
    code = main(["solve", str(STARTUP), "--set", "policy.headroom=lots"])
    assert code == 2
    assert "override 'policy.headroom=lots'" in capsys.readouterr().err
    assert main(["sweep", str(STARTUP), "--scale-price", "h1000=0.5,1"]) == 2
    assert "unknown GPU 'h1000'" in capsys.readouterr().err
    assert main(["sweep", str(STARTUP)]) == 2
    assert "nothing to sweep" in capsys.readouterr().err
    assert main(["sweep", str(STARTUP), "--scale-demand", "1,2", "--out", str(STARTUP)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_solve_with_overrides_and_diff(tmp_path, capsys) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert main(["solve", str(DATA / "small.yaml"), "--no-baselines", "-o", str(a), "--format", "json"]) == 0
    capsys.readouterr()
    code = main(
        ["solve", str(DATA / "small.yaml"), "--no-baselines", "-o", str(b), "--format", "json",
         "--scale-demand", "3", "--scale-price", "h100_sxm=0.5",
         "--set", "workloads.chat_small.slo.ttft_ms*=1.2"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    plan_b = json.loads(out.out)
    assert "override: chat_small: demand.requests_per_day" in out.err
    assert plan_b["workloads"][0]["ttft_target_ms"] > 0
    assert main(["diff", str(a), str(b), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not doc["identical"]
    changed_terms = {c["key"] for c in doc["sections"]["cost_terms"]}
    assert changed_terms and changed_terms <= {"on_demand", "spot", "committed", "egress", "serverless"}
    cost = {c["key"]: c for c in doc["sections"]["headline"]}["monthly_cost_usd"]
    # 3x demand at half the H100 price: cheaper overall (committed H100s dominate small.yaml's cost)
    assert "committed" in changed_terms
    assert cost["delta"] == pytest.approx(cost["b"] - cost["a"]) and cost["delta"] < 0
    assert main(["diff", str(a), str(b)]) == 0
    table = capsys.readouterr().out
    assert "cost terms" in table and next(iter(changed_terms)) in table
    assert main(["diff", str(a), str(a)]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["diff", str(a), str(DATA / "small.yaml")]) == 2


def test_sweep_catalog_files_outside_the_folder_need_catalog_dir(tmp_path, capsys) -> None:
    shared, proj = tmp_path / "shared", tmp_path / "proj"
    shared.mkdir()
    proj.mkdir()
    (shared / "gpus.yaml").write_text("gpus:\n  - id: l4\n    memory_gb: 24\n")
    problem = proj / "p.yaml"
    problem.write_text(STARTUP.read_text() + "\ncatalog:\n  files: ['../shared/gpus.yaml']\n")
    args = ["sweep", str(problem), "--scale-demand", "0.5,1", "--format", "json", "--no-progress"]
    assert main(args) == 2
    assert "--catalog-dir" in capsys.readouterr().err
    # the allowed folder reaches the worker processes too
    assert main([*args, "--catalog-dir", str(shared), "--jobs", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["rows"]] == ["optimal", "optimal"]


def _group(pgid: int) -> list[str]:
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False).stdout
    return out.split()


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child before exec: SIGINT back to its default disposition. A runner that starts the
    suite in the background (`cmd &` in a script, nohup) leaves SIGINT ignored in every process it
    starts, and Python then keeps it ignored, so Ctrl-C could not be tested at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform != "linux", reason="process groups and pgrep as on Linux")
@pytest.mark.parametrize("to_group", [True, False], ids=["ctrl_c_to_group", "sigint_to_sweep_only"])
def test_interrupt_ends_the_sweep_and_its_workers(tmp_path, to_group: bool) -> None:
    """Ctrl-C: the sweep exits 130 at once, and no worker process goes on solving for nobody."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "sweep", str(ROOT / "problems" / "chat_assistant.yaml"),
         "--scale-demand", "1,2,3,4", "--jobs", "2", "--no-progress", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True,
        preexec_fn=_ctrl_c_as_on_a_terminal,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_group(proc.pid)) < 4 and time.monotonic() < deadline:  # sweep, tracker, forkserver, worker
            time.sleep(0.2)
        time.sleep(1.0)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        deadline = time.monotonic() + 30
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group(proc.pid) == [], "worker processes outlived the sweep"
        assert not (out / "results.csv").exists()
    finally:
        if _group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
