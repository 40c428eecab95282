"""The plan carries what deployment needs; its JSON Schema is published and `plan validate` checks files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from shipped_plans import SHIPPED_IDS, shipped_plan

from optimizer.cli import main
from optimizer.cli.plan_cmd import plan_json_schema
from optimizer.report import dump_plan, write_plan
from optimizer.schema.plan import PLAN_SCHEMA_VERSION


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_every_deployment_names_its_checkpoint_engine_and_hardware(name: str) -> None:
    plan = shipped_plan(name)
    assert plan.schema_version == PLAN_SCHEMA_VERSION == 3
    assert plan.deployments
    for d in plan.deployments:
        owner, _, repo = d.hf_repo.partition("/")
        assert owner and repo, d.hf_repo
        assert d.engine.name == "vllm"
        assert d.engine.tensor_parallel_size == d.tensor_parallel == d.gpus_per_replica
        assert 0.9 <= d.engine.gpu_memory_utilization <= 0.95
        assert d.engine.gpu_memory_utilization * d.gpu_memory_gb >= min(
            d.predicted.memory_gb_per_gpu, 0.95 * d.gpu_memory_gb
        )
        assert set(d.replicas_by_period) == {p.id for p in plan.periods}
        assert d.instance_type
        assert (d.speculative and d.engine.speculative_config is not None) or (
            not d.speculative and d.engine.speculative_config is None
        )


def test_speculative_plan_uses_speculative_config_not_the_removed_argument() -> None:
    plan = shipped_plan("speculative_quantization")
    spec = [d for d in plan.deployments if d.speculative]
    assert spec
    for d in spec:
        cfg = d.engine.speculative_config
        assert cfg is not None
        assert cfg.method == "draft_model"
        assert cfg.model == "meta-llama/Llama-3.2-1B"
        assert cfg.num_speculative_tokens == 4
    dumped = dump_plan(plan, "json")
    assert "speculative_model" not in dumped


def test_chat_plan_checkpoints_follow_the_workload_override() -> None:
    plan = shipped_plan("chat_assistant")
    by_precision = {d.precision: d for d in plan.deployments}
    awq = by_precision.get("int4_awq")
    if awq is not None:
        assert awq.hf_repo == "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4"
        assert awq.hf_repo_source == "workload_hf_repo" and awq.checkpoint_note is None
    for d in plan.deployments:
        if d.precision in {"fp8", "bf16"}:
            assert d.hf_repo == "meta-llama/Llama-3.1-70B-Instruct" and d.checkpoint_note is None
        if d.precision == "fp4":
            assert d.checkpoint_note and "fp4" in d.checkpoint_note
    # cloud and region come from the offer's catalog price list where it has one
    for d in plan.deployments:
        if d.site == "neocloud_us_central" and d.gpu == "h100_sxm":
            assert (d.cloud, d.cloud_region) == ("lambda", "us-east-1")


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_published_json_schema_accepts_every_shipped_plan(name: str) -> None:
    validator = Draft202012Validator(plan_json_schema())
    Draft202012Validator.check_schema(plan_json_schema())
    data = json.loads(dump_plan(shipped_plan(name), "json"))
    assert list(validator.iter_errors(data)) == []
    data["deployments"][0]["engine"]["speculative_model"] = "x/y"
    data["schema_version"] = 2
    assert len(list(validator.iter_errors(data))) == 2


def test_schema_command_prints_the_plan_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "schema", "--plan"], capture_output=True, text=True, check=True
    )
    schema = json.loads(out.stdout)
    assert schema["$id"].endswith(f"plan-v{PLAN_SCHEMA_VERSION}.json")
    assert "Deployment" in schema["$defs"] and "SpeculativeConfig" in schema["$defs"]
    assert main(["schema", "--plan", "--markdown"]) == 2


def test_plan_validate_accepts_a_plan_and_reports_bad_ones(tmp_path: Path) -> None:
    plan = shipped_plan("startup_budget")
    good = tmp_path / "plan.yaml"
    write_plan(plan, good)
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "validate", str(good)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"ok: {good}")

    data = yaml.safe_load(good.read_text())
    data["deployments"][0]["engine"]["tensor_parallel_size"] = "two"
    del data["deployments"][0]["hf_repo"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({**yaml.safe_load(good.read_text()), "schema_version": 1}))
    cheat = yaml.safe_load(good.read_text())
    first = cheat["deployments"][0]
    first["replicas_by_period"] = dict.fromkeys(first["replicas_by_period"], 0)
    cheated = tmp_path / "cheated.json"
    cheated.write_text(json.dumps(cheat))
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "validate", "--json", *map(str, (broken, old, cheated))],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    report = json.loads(out.stdout)
    assert [f["valid"] for f in report["files"]] == [False, False, False]
    broken_errors = "\n".join(report["files"][0]["errors"])
    assert "deployments[0].engine.tensor_parallel_size" in broken_errors
    assert "deployments[0].hf_repo" in broken_errors
    assert "schema_version 1" in report["files"][1]["errors"][0]
    assert any("re-check" in e for e in report["files"][2]["errors"])
    assert "Traceback" not in out.stderr


def test_plan_validate_rejects_a_problem_file_and_a_missing_file(tmp_path: Path) -> None:
    assert main(["plan", "validate", "problems/chat_assistant.yaml"]) == 2
    assert main(["plan", "validate", str(tmp_path / "nope.yaml")]) == 2


def test_hf_repo_override_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(Path("tests/data/small.yaml").read_text())
    data["workloads"][0]["hf_repo"] = {"int4_awk": "org/model-AWQ", "default": "not a repo id"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "hf_repo" in err and "not a repo id" not in err.split("hf_repo", 1)[0]
    data["workloads"][0]["hf_repo"] = {"int4_awk": "org/model-AWQ"}
    bad.write_text(yaml.safe_dump(data))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "workloads[0].hf_repo.int4_awk" in err and "did you mean 'int4_awq'" in err


def test_solve_prints_next_steps_and_quiet_prints_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    cmd = [sys.executable, "-m", "optimizer", "solve", "tests/data/small.yaml", "--no-baselines"]
    cmd += ["-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"next steps: optimizer export {out} --to kubernetes" in res.stdout
    assert f"optimizer report {out} --out report.html" in res.stdout
    res = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == "" and out.is_file()
