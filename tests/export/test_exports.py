"""Every shipped problem's plan, exported in every format, checked against each format's real schema
or parser: vLLM's argument list (vendored from vLLM's arg_utils), SkyPilot's task/resources/service
JSON Schemas (vendored from SkyPilot's schemas.py), the `kubernetes` client's V1Deployment/V1Service
models, and Python's csv reader with costs recomputed from the plan."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from kubernetes.client import ApiClient
from shipped_plans import SHIPPED_IDS, shipped_plan

from optimizer.export import FORMATS, render
from optimizer.export.common import serving_groups
from optimizer.export.kubernetes import deployment_names, schedule_windows
from optimizer.report import write_plan
from optimizer.schema.plan import Plan

DATA = Path(__file__).parent / "data"
VLLM = json.loads((DATA / "vllm_engine_args.json").read_text())
SKY = json.loads((DATA / "skyserve_schema.json").read_text())
INSTANCE_TERMS = ("on_demand", "spot", "committed", "owned_capital", "power")


def vllm_parser() -> argparse.ArgumentParser:
    """An argparse parser with vLLM's types and choices for the flags in the vendored list."""
    types: dict[str, Any] = {
        "str": str,
        "int": int,
        "float": float,
        "json": json.loads,
    }
    p = argparse.ArgumentParser(prog="vllm serve", exit_on_error=False)
    p.add_argument("model_tag")
    for flag, kind in VLLM["flags"].items():
        if kind == "bool":
            p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction)
        elif kind in ("quantization", "kv_cache_dtype"):
            p.add_argument(f"--{flag}", choices=VLLM[kind])
        else:
            p.add_argument(f"--{flag}", type=types[kind])
    return p


def check_vllm_argv(argv: list[str], plan: Plan) -> argparse.Namespace:
    assert argv[:2] == ["vllm", "serve"]
    for removed in VLLM["removed_flags"]:
        assert f"--{removed}" not in argv
    ns = vllm_parser().parse_args(argv[2:])
    if ns.speculative_config is not None:
        cfg = ns.speculative_config
        assert set(cfg) <= set(VLLM["speculative_config"]["keys"])
        assert set(VLLM["speculative_config"]["required"]) <= set(cfg)
        assert cfg["method"] in VLLM["speculative_config"]["methods"]
    return ns


@pytest.fixture(scope="module", params=SHIPPED_IDS)
def exported(request: pytest.FixtureRequest) -> tuple[Plan, dict[str, dict[str, str]]]:
    plan = shipped_plan(request.param)
    return plan, {fmt: render(plan, fmt) for fmt in FORMATS}


def test_every_format_is_produced(exported: tuple[Plan, dict[str, dict[str, str]]]) -> None:
    plan, files = exported
    groups = serving_groups(plan)
    assert len(files["vllm"]) == 2 * len(groups)
    assert len(files["skypilot"]) == len(groups)
    assert len(files["kubernetes"]) == len({(d.workload, d.site) for d in plan.deployments})
    assert list(files["csv"]) == ["procurement.csv"]


def test_vllm_commands_parse_with_vllm_arguments(exported: tuple[Plan, dict[str, dict[str, str]]]) -> None:
    plan, files = exported
    by_name = {g.name: g for g in serving_groups(plan)}
    for name, text in files["vllm"].items():
        g = by_name[name.rsplit(".", 1)[0]]
        d = g.first
        if name.endswith(".sh"):
            line = next(x for x in text.splitlines() if x.startswith("exec "))
            ns = check_vllm_argv(shlex.split(line)[1:], plan)
            assert ns.model_tag == d.hf_repo
            assert ns.tensor_parallel_size == d.tensor_parallel
            assert ns.max_num_seqs == d.engine.max_num_seqs == max(1, d.predicted.batch)
            assert ns.max_model_len == d.engine.max_model_len
            assert ns.quantization == d.engine.quantization
            assert (ns.kv_cache_dtype or "auto") == d.engine.kv_cache_dtype
            assert ns.gpu_memory_utilization == d.engine.gpu_memory_utilization
            assert (ns.speculative_config is not None) == d.speculative
            assert ("ACTION NEEDED" in text) == (d.checkpoint_note is not None)
        else:
            config = yaml.safe_load(text)
            assert set(config) - {"model"} <= set(VLLM["flags"])
            argv = ["vllm", "serve", config.pop("model")]
            for key, value in config.items():
                argv += [f"--{key}", json.dumps(value) if isinstance(value, dict) else str(value)]
            check_vllm_argv(argv, plan)


def test_skypilot_services_match_skypilot_schemas(exported: tuple[Plan, dict[str, dict[str, str]]]) -> None:
    plan, files = exported
    task_v = Draft202012Validator(SKY["task"])
    res_v = Draft7Validator(SKY["resources"])
    svc_v = Draft202012Validator(SKY["service"])
    by_name = {g.name: g for g in serving_groups(plan)}
    for name, text in files["skypilot"].items():
        doc = yaml.safe_load(text)
        assert [e.message for e in task_v.iter_errors(doc)] == []
        assert [e.message for e in res_v.iter_errors(doc["resources"])] == []
        assert [e.message for e in svc_v.iter_errors(doc["service"])] == []
        g = by_name[name.rsplit(".", 1)[0]]
        d = g.first
        _acc, count = doc["resources"]["accelerators"].split(":")
        assert int(count) >= d.tensor_parallel and int(count) % d.tensor_parallel == 0
        policy = doc["service"]["replica_policy"]
        assert 0 <= policy["min_replicas"] <= policy["max_replicas"]
        # enough instances at the peak for the plan's replicas
        peak = max(g.replicas_by_period([p.id for p in plan.periods]).values())
        assert policy["max_replicas"] * int(count) >= peak * d.tensor_parallel
        assert doc["resources"]["use_spot"] == any(x.purchase_option == "spot" for x in g.deployments)
        if doc["resources"]["use_spot"]:
            assert policy["dynamic_ondemand_fallback"] is True
        check_vllm_argv(shlex.split(doc["run"]), plan)
        assert ("cloud" in doc["resources"]) == (d.cloud is not None)
        if d.cloud is None:
            assert "ACTION NEEDED" in text


def _roundtrip(api: ApiClient, doc: dict[str, Any], klass: str) -> Any:
    obj = api._ApiClient__deserialize(doc, klass)  # the client's own model deserialiser
    assert api.sanitize_for_serialization(obj) == doc, f"{klass}: fields lost or renamed"
    return obj


def test_kubernetes_manifests_are_valid_client_models(exported: tuple[Plan, dict[str, Any]]) -> None:
    plan, files = exported
    api = ApiClient()
    names = deployment_names(plan)
    expected = {names[i]: d for i, d in enumerate(plan.deployments)}
    seen: set[str] = set()
    for text in files["kubernetes"].values():
        docs = list(yaml.safe_load_all(text))
        assert docs[0]["kind"] == "Service"
        svc = _roundtrip(api, docs[0], "V1Service")
        for doc in docs[1:]:
            if doc["kind"] == "Deployment":
                dep = _roundtrip(api, doc, "V1Deployment")
                d = expected[dep.metadata.name]
                seen.add(dep.metadata.name)
                assert dep.spec.replicas == d.replicas
                pod = dep.spec.template
                assert dep.spec.selector.match_labels.items() <= pod.metadata.labels.items()
                assert svc.spec.selector.items() <= pod.metadata.labels.items()
                (container,) = pod.spec.containers
                limits = container.resources.limits or {}
                resource = {"NVIDIA": "nvidia.com/gpu", "AMD": "amd.com/gpu", "Intel": "habana.ai/gaudi"}
                if d.device_kind == "gpu" and d.gpu_vendor in resource:
                    assert limits == {resource[d.gpu_vendor]: str(d.tensor_parallel)}
                assert pod.spec.node_selector["fleet-optimizer.dev/gpu"] == d.gpu
                check_vllm_argv([*container.command, *container.args], plan)
                sched = json.loads(dep.metadata.annotations["fleet-optimizer.dev/replicas-by-period"])
                assert sched == d.replicas_by_period
            else:
                assert doc["apiVersion"] == "keda.sh/v1alpha1" and doc["kind"] == "ScaledObject"
                d = expected[doc["spec"]["scaleTargetRef"]["name"]]
                assert doc["spec"]["minReplicaCount"] == min(d.replicas_by_period.values())
                assert doc["spec"]["maxReplicaCount"] == max(d.replicas_by_period.values())
                # each trigger is a window of the schedule above the minimum, as 5-field UTC cron
                windows = [w for w in schedule_windows(plan, d.replicas_by_period) if w[2] > min(
                    d.replicas_by_period.values())]
                assert len(doc["spec"]["triggers"]) == len(windows)
                for trig, (start, _end, n) in zip(doc["spec"]["triggers"], windows, strict=True):
                    minute, hour, *rest = trig["metadata"]["start"].split()
                    assert rest == ["*", "*", "*"] and int(hour) * 60 + int(minute) == start
                    assert trig["metadata"]["desiredReplicas"] == str(n)
    assert seen == set(expected)


def test_procurement_csv_adds_up_to_the_plan(exported: tuple[Plan, dict[str, dict[str, str]]]) -> None:
    plan, files = exported
    text = files["csv"]["procurement.csv"]
    body = "".join(x for x in text.splitlines(True) if not x.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == len(plan.instances)
    periods = [p.id for p in plan.periods]
    for row, h in zip(rows, plan.instances, strict=True):
        assert (row["site"], row["gpu"], row["purchase_option"]) == (h.site, h.gpu, h.purchase_option)
        for t in periods:
            assert int(row[f"instances_{t}"]) == h.instances_by_period[t]
            assert int(row[f"gpus_{t}"]) == h.instances_by_period[t] * h.gpus_per_instance
    total = sum(float(r["monthly_cost_usd"]) for r in rows)
    expected = sum(plan.cost_breakdown.get(k, 0.0) for k in INSTANCE_TERMS)
    assert total == pytest.approx(expected, rel=1e-6, abs=0.01 * len(rows))


def test_export_cli_writes_every_format(tmp_path: Path) -> None:
    plan = shipped_plan("chat_assistant")
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "export", str(path), "--to", "all", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    written = [Path(x) for x in res.stdout.splitlines()]
    assert written and all(p.is_file() for p in written)
    assert {p.parent.name for p in written} == set(FORMATS)
    assert sorted(p.name for p in (out / "kubernetes").iterdir()) == ["assistant-neocloud-us-central.yaml"]
    sh = next(p for p in written if p.suffix == ".sh")
    assert sh.stat().st_mode & 0o111


def test_export_cli_rejects_bad_input(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "optimizer", "export", *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    res = run("problems/chat_assistant.yaml", "--to", "vllm", "--out", str(tmp_path))
    assert res.returncode == 2 and "not a plan file" in res.stderr and res.stdout == ""
    plan = tmp_path / "plan.yaml"
    write_plan(shipped_plan("startup_budget"), plan)
    res = run(str(plan), "--to", "helm", "--out", str(tmp_path))
    assert res.returncode == 2 and "invalid choice" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run(str(plan), "--to", "csv", "--out", str(blocker))
    assert res.returncode == 2 and "not a folder" in res.stderr
    assert "Traceback" not in res.stderr
