"""SGLang and TensorRT-LLM as selectable engines, end to end: a problem naming the engine solves, the
plan records it, every export launches it with exactly the candidate's batch (never above the
engine's limit), its flags parse with the engine's own (vendored) argument lists, and engines that
cannot serve a listed precision, model or device are input errors."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DATA

from optimizer.cli import main
from optimizer.export.sglang import CHUNKED_PREFILL_TOKENS
from optimizer.export.tensorrt_llm import KV_FREE_FRACTION, MAX_NUM_TOKENS
from optimizer.perf.engines import ENGINES, planning_spec
from optimizer.schema.plan import Deployment, Plan

EXPORT_DATA = Path(__file__).parent / "data"
SGLANG = json.loads((EXPORT_DATA / "sglang_server_args.json").read_text())
TRTLLM = json.loads((EXPORT_DATA / "trtllm_serve_options.json").read_text())
PROGRAM = {"sglang": ["python3", "-m", "sglang.launch_server"], "tensorrt_llm": ["trtllm-serve"]}
IMAGE = {"sglang": "lmsysorg/sglang", "tensorrt_llm": "nvcr.io/nvidia/tensorrt-llm/release"}


def sglang_parser() -> argparse.ArgumentParser:
    types: dict[str, Any] = {"str": str, "int": int, "float": float}
    p = argparse.ArgumentParser(prog="sglang.launch_server", exit_on_error=False)
    for flag, kind in SGLANG["flags"].items():
        if kind in ("quantization", "kv_cache_dtype"):
            p.add_argument(f"--{flag}", choices=SGLANG[kind])
        else:
            p.add_argument(f"--{flag}", type=types[kind])
    return p


def trtllm_parser() -> argparse.ArgumentParser:
    types: dict[str, Any] = {"str": str, "int": int, "float": float}
    p = argparse.ArgumentParser(prog="trtllm-serve", exit_on_error=False)
    p.add_argument("model")
    for flag, kind in TRTLLM["options"].items():
        if kind == "backend":
            p.add_argument(f"--{flag}", choices=TRTLLM["backend"])
        else:
            p.add_argument(f"--{flag}", type=types[kind])
    return p


def check_argv(engine: str, argv: list[str], d: Deployment) -> None:
    """The command parses with the engine's arguments and carries the plan's settings."""
    prog = PROGRAM[engine]
    assert argv[: len(prog)] == prog
    rest = argv[len(prog) :]
    e = d.engine
    if engine == "sglang":
        ns = sglang_parser().parse_args(rest)
        assert ns.model_path == d.hf_repo and ns.tp_size == d.tensor_parallel
        assert ns.max_running_requests == e.max_num_seqs
        assert ns.context_length == e.max_model_len
        assert ns.quantization == e.quantization
        assert (ns.kv_cache_dtype or "auto") == {"auto": "auto", "fp8": "fp8_e4m3"}[e.kv_cache_dtype]
        assert ns.mem_fraction_static == e.gpu_memory_utilization >= ENGINES["sglang"].kv_mem_fraction
        assert ns.chunked_prefill_size == ENGINES["sglang"].max_num_tokens
    else:
        ns = trtllm_parser().parse_args(rest)
        assert ns.model == d.hf_repo and ns.tp_size == d.tensor_parallel
        assert ns.max_batch_size == e.max_num_seqs
        assert ns.max_seq_len == e.max_model_len
        assert ns.max_num_tokens == ENGINES["trtllm"].max_num_tokens
        assert ns.kv_cache_free_gpu_memory_fraction == ENGINES["trtllm"].kv_mem_fraction
    assert 1 <= e.max_num_seqs == max(1, d.predicted.batch) <= planning_spec(e.name).max_num_seqs


def test_exported_token_budgets_and_kv_fractions_are_the_costed_ones() -> None:
    assert ENGINES["sglang"].max_num_tokens == CHUNKED_PREFILL_TOKENS
    assert ENGINES["trtllm"].max_num_tokens == MAX_NUM_TOKENS
    assert ENGINES["trtllm"].kv_mem_fraction == KV_FREE_FRACTION and ENGINES["trtllm"].kv_rule == "of_free"


def _problem(tmp_path: Path, offers: list[dict[str, Any]], **workload: Any) -> Path:
    doc = yaml.safe_load((DATA / "small.yaml").read_text(encoding="utf-8"))
    doc["sites"] = [
        {
            "id": "dc",
            "kind": "central",
            "jurisdiction": "us",
            "latency_ms": {"us": 10, "eu": 80},
            "sustainable_utilization": 0.8,
            "offers": offers,
        }
    ]
    doc["purchase_options"] = {"on_demand": True}
    w = doc["workloads"][0]
    w.update({"demand": {"requests_per_day": 2_000_000, "region_split": {"us": 1.0}}, "slo": {"tpot_ms": 60}})
    w.pop("min_quality")
    w.update(workload)
    doc["workloads"] = [w]
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


OFFERS = [
    {"gpu": "h100_sxm", "gpus_per_instance": 8, "prices": {"on_demand": 3.0}},
    {"gpu": "l40s", "gpus_per_instance": 1, "prices": {"on_demand": 1.6}},
    {"gpu": "mi300x", "gpus_per_instance": 8, "prices": {"on_demand": 2.5}},
]


@cache
def _solved(engine: str, root: str) -> tuple[Plan, Path]:
    tmp = Path(root)
    out = tmp / "plan.yaml"
    problem = _problem(tmp, OFFERS, engine=engine, precisions=["bf16", "fp8"])
    assert main(["solve", str(problem), "--output", str(out), "--no-baselines", "--quiet"]) == 0
    return Plan.model_validate(yaml.safe_load(out.read_text(encoding="utf-8"))), out


@pytest.mark.parametrize("engine", ["sglang", "tensorrt_llm"])
def test_a_named_engine_solves_records_and_exports_its_command(
    engine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plan, plan_path = _solved(engine, str(tmp_path_factory.mktemp(engine)))
    assert plan.deployments
    spec = planning_spec(engine)  # type: ignore[arg-type]
    for d in plan.deployments:
        assert d.engine.name == engine
        assert not d.speculative and d.engine.speculative_config is None
        if engine == "tensorrt_llm":
            assert d.gpu_vendor.lower() == "nvidia"
    out = plan_path.parent / "exports"
    assert main(["export", str(plan_path), "--to", "all", "--out", str(out)]) == 0
    scripts = sorted((out / "vllm").glob("*.sh")) if (out / "vllm").is_dir() else sorted(out.glob("*.sh"))
    assert scripts
    by_name = {d.hf_repo: d for d in plan.deployments}
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        assert "vllm serve" not in text and spec.name in text
        argv = shlex.split(next(x for x in text.splitlines() if x.startswith("exec "))[len("exec ") :])
        d = next(d for d in plan.deployments if path.stem.startswith(re.sub(r"_", "-", d.workload)))
        check_argv(engine, argv, by_name.get(d.hf_repo, d))
    kube = [p for p in out.rglob("*.yaml") if "kind: Deployment" in p.read_text(encoding="utf-8")]
    assert kube
    for p in kube:
        for doc in yaml.safe_load_all(p.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "Deployment":
                c = doc["spec"]["template"]["spec"]["containers"][0]
                assert c["image"].startswith(IMAGE[engine])
                check_argv(engine, [*c["command"], *c["args"]], _deployment_of(plan, doc))
    sky = [p for p in out.rglob("*.yaml") if "replica_policy" in p.read_text(encoding="utf-8")]
    assert sky
    for p in sky:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        assert doc["resources"]["image_id"].startswith(f"docker:{IMAGE[engine]}")
        assert "setup" not in doc
        assert shlex.split(doc["run"])[: len(PROGRAM[engine])] == PROGRAM[engine]


def _deployment_of(plan: Plan, manifest: dict[str, Any]) -> Deployment:
    labels = manifest["metadata"].get("annotations", {})
    repl = json.loads(labels.get("fleet-optimizer.dev/replicas-by-period", "{}"))
    for d in plan.deployments:
        if {t: d.replicas_by_period.get(t, 0) for t in repl} == repl:
            return d
    return plan.deployments[0]


@pytest.mark.parametrize(
    ("offers", "workload", "match"),
    [
        (
            OFFERS,
            {"engine": "sglang", "precisions": ["gguf_q4_0"]},
            r"engine.yaml:\d+: workloads\[0\].precisions\[0\]: engine sglang \(SGLang\) does not serve "
            r"precision gguf_q4_0",
        ),
        (
            OFFERS,
            {"engine": "tensorrt_llm", "precisions": ["fp8", "int8_w8a8"]},
            r"workloads\[0\].precisions\[1\]: engine tensorrt_llm \(TensorRT-LLM\) does not serve "
            r"precision int8_w8a8",
        ),
        (
            OFFERS[2:],
            {"engine": "tensorrt_llm"},
            r"workloads\[0\].engine: engine tensorrt_llm \(TensorRT-LLM\) runs on none of the offered "
            r"devices \(mi300x \(AMD\)\)",
        ),
        (
            OFFERS,
            {"engine": "sglang", "model": "whisper_large_v3"},
            r"engine sglang \(SGLang\) does not serve the encoder-decoder model whisper_large_v3",
        ),
        (
            OFFERS,
            {"engine": "sglan"},
            r"engine.yaml:\d+: workloads\[0\].engine: must be 'vllm', 'sglang', 'tensorrt_llm' or "
            r"'llama_cpp' \(got 'sglan'\); did you mean 'sglang'\?",
        ),
        (OFFERS, {"engine": "trt_llm"}, r"did you mean 'tensorrt_llm'\?"),
    ],
)
def test_engine_that_cannot_serve_the_workload_is_an_input_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offers: list[dict[str, Any]],
    workload: dict[str, Any],
    match: str,
) -> None:
    code = main(["solve", str(_problem(tmp_path, offers, **workload)), "--output", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert re.search(match, err), err


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt_llm"])
def test_candidates_are_costed_with_the_named_engines_limit(engine: str, tmp_path: Path) -> None:
    """An 8B FP8 model on one H100 with a loose TPOT target fits far more than 256 sequences: vLLM's
    default cap binds, SGLang's and TensorRT-LLM's (4096) do not."""
    from optimizer.candidates import build_candidates
    from optimizer.loading.problem_file import load_problem

    path = _problem(tmp_path, OFFERS[:1], engine=engine, precisions=["fp8"], slo={"tpot_ms": 200})
    loaded = load_problem(path)
    cset = build_candidates(loaded.problem, loaded.catalog, prune=False)
    limit = planning_spec(engine).max_num_seqs  # type: ignore[arg-type]
    assert cset.info
    assert all(c.engine == engine and c.engine_max_num_seqs == limit for c in cset.info.values())
    top = max(c.batch for c in cset.info.values())
    assert top <= limit
    assert (top == 256) if engine == "vllm" else (top > 256)


@pytest.mark.parametrize(
    ("engine", "speculative"), [("vllm", True), ("sglang", False), ("tensorrt_llm", False)]
)
def test_draft_model_speculation_is_planned_only_where_it_is_exported(
    engine: str, speculative: bool, tmp_path: Path
) -> None:
    from optimizer.candidates import build_candidates
    from optimizer.loading.problem_file import load_problem

    spec = {"draft_model": "llama_3_2_1b", "acceptance_rate": 0.7, "draft_tokens": 4}
    path = _problem(tmp_path, OFFERS[:1], engine=engine, precisions=["bf16"], speculative=spec)
    loaded = load_problem(path)
    cset = build_candidates(loaded.problem, loaded.catalog, prune=False)
    assert cset.info
    assert any(c.speculative for c in cset.info.values()) == speculative
