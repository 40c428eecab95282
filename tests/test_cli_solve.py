"""`optimizer solve` and `optimizer explain` end to end: outputs, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import DATA

from optimizer.check import check_plan
from optimizer.cli import main
from optimizer.schema.plan import Plan

TOP_KEYS = {
    "schema_version",
    "status",
    "monthly_cost_usd",
    "cost_breakdown",
    "deployments",
    "routing",
    "baselines",
    "solve",
}
DEPLOYMENT_KEYS = {
    "workload",
    "site",
    "gpu",
    "precision",
    "tensor_parallel",
    "purchase_option",
    "gpus",
    "replicas",
}


def _small_with(tmp_path: Path, **policy: object) -> Path:
    data = yaml.safe_load((DATA / "small.yaml").read_text())
    data.setdefault("policy", {}).update(policy)
    out = tmp_path / "variant.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


def test_solve_writes_yaml_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.yaml"
    code = main(["solve", str(DATA / "small.yaml"), "--output", str(out), "--no-baselines"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "monthly cost" in stdout and "Deployments" in stdout
    data = yaml.safe_load(out.read_text())
    assert set(data) >= TOP_KEYS
    assert data["status"] == "optimal"
    assert all(set(d) >= DEPLOYMENT_KEYS for d in data["deployments"])
    assert check_plan(Plan.model_validate(data)) == []


def test_solve_json_format_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    assert (
        main(["solve", str(DATA / "small.yaml"), "--format", "json", "--output", str(out), "--no-baselines"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["monthly_cost_usd"] == json.loads(out.read_text())["monthly_cost_usd"]
    assert main(["explain", str(out)]) == 0
    text = capsys.readouterr().out
    assert "chosen" in text and "rank" in text


def test_solve_with_cbc_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(DATA / "small.yaml"), "--format", "json", "--no-baselines"]) == 0
    highs = json.loads(capsys.readouterr().out)["monthly_cost_usd"]
    assert (
        main(["solve", str(DATA / "small.yaml"), "--format", "json", "--no-baselines", "--solver", "cbc"])
        == 0
    )
    cbc = json.loads(capsys.readouterr().out)
    assert cbc["solve"]["solver"] == "cbc"
    assert cbc["monthly_cost_usd"] == pytest.approx(highs, rel=1e-6)


def test_infeasible_budget_exits_3_with_diagnosis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _small_with(tmp_path, budget_usd_per_month=100.0)
    assert main(["solve", str(path), "--no-baselines"]) == 3
    err = capsys.readouterr().err
    assert "budget" in err.lower()
    assert "Traceback" not in err


def test_budget_with_shortfall_reports_unmet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _small_with(
        tmp_path,
        budget_usd_per_month=5000.0,
        shortfall={"allowed": True, "penalty_usd_per_million_tokens": 50.0},
    )
    assert main(["solve", str(path), "--no-baselines", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["monthly_spend_usd"] <= 5000.0 + 1e-6
    assert plan["unmet"], "a binding budget with shortfall allowed must leave demand unmet"
    assert plan["cost_breakdown"]["shortfall_penalty"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "does/not/exist.yaml"],
        ["solve", "--time-limit", "-1", "tests/data/small.yaml"],
        ["solve", "tests/data/small.yaml", "--solver", "gurobi"],
    ],
)
def test_bad_input_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_explain_rejects_non_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("hello: world\n")
    assert main(["explain", str(bad)]) == 2
    assert "not a plan" in capsys.readouterr().err
