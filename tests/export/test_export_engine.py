"""The exported engine is the engine each candidate was costed with, with exactly its batch, and never
beyond the engine's own limits (vLLM's default `max_num_seqs` of 256, llama.cpp's one stream)."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DATA, PROBLEMS
from shipped_plans import SHIPPED_IDS, shipped_plan

from optimizer.candidates import CandidateSet, build_candidates
from optimizer.cli import main
from optimizer.export import render
from optimizer.export.llama_cpp import UBATCH_TOKENS, llama_server_args
from optimizer.export.serve import serve_argv
from optimizer.export.vllm import vllm_args
from optimizer.loading.problem_file import load_problem
from optimizer.perf.engines import ENGINES
from optimizer.schema.plan import Plan


@cache
def shipped_candidates(name: str) -> CandidateSet:
    loaded = load_problem(PROBLEMS / f"{name}.yaml")
    return build_candidates(loaded.problem, loaded.catalog)


PROGRAM = {"vllm": ["vllm", "serve"], "llama_cpp": ["llama-server"]}


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_exported_vllm_args_never_exceed_the_engine_limit(name: str) -> None:
    plan = shipped_plan(name)
    for d in plan.deployments:
        assert d.engine.name == "vllm"  # shipped problems run datacenter GPUs / CPUs: vLLM by default
        assert 1 <= vllm_args(d)["max-num-seqs"] <= ENGINES["vllm"].max_num_seqs


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_plan_engine_is_the_costed_engine_and_the_exported_engine(name: str) -> None:
    plan, cset = shipped_plan(name), shipped_candidates(name)
    for d in plan.deployments:
        ci = cset.info[d.candidate]
        assert d.engine.name == ci.engine
        assert d.engine.max_num_seqs == max(1, ci.batch) <= ci.engine_max_num_seqs
        argv = serve_argv(d)
        assert argv[: len(PROGRAM[ci.engine])] == PROGRAM[ci.engine]
    for text in render(plan, "vllm").values():
        if text.startswith("#!/bin/sh"):
            line = next(x for x in text.splitlines() if x.startswith("exec "))
            assert shlex.split(line)[1] in {"vllm", "llama-server"}


def test_llama_cpp_ubatch_is_the_costed_token_budget() -> None:
    assert ENGINES["llama_cpp"].max_num_tokens == UBATCH_TOKENS


def _apple_problem(tmp_path: Path, **workload: Any) -> Path:
    doc = yaml.safe_load((DATA / "small.yaml").read_text(encoding="utf-8"))
    doc["sites"] = [
        {
            "id": "studio",
            "kind": "edge",
            "jurisdiction": "us",
            "latency_ms": {"us": 5, "eu": 80},
            "sustainable_utilization": 0.5,
            "offers": [
                {"gpu": "apple_m2_ultra", "gpus_per_instance": 1, "prices": {"on_demand": 0.5}},
                {"gpu": "l4", "gpus_per_instance": 1, "prices": {"on_demand": 1.0}},
            ],
        }
    ]
    doc["purchase_options"] = {"on_demand": True}
    w = doc["workloads"][0]
    w.update({"demand": {"requests_per_day": 20000, "region_split": {"us": 1.0}}, "slo": {"tpot_ms": 200}})
    w.pop("min_quality")
    w.update(workload)
    doc["workloads"] = [w]
    path = tmp_path / "apple.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_apple_silicon_is_costed_and_exported_with_llama_cpp(tmp_path: Path) -> None:
    loaded = load_problem(_apple_problem(tmp_path, precisions=["gguf_q4_0", "fp8"]))
    cset = build_candidates(loaded.problem, loaded.catalog, prune=False)
    apple = [c for c in cset.info.values() if c.gpu == "apple_m2_ultra"]
    assert apple and all(c.engine == "llama_cpp" and c.precision == "gguf_q4_0" for c in apple)
    assert all(c.batch <= ENGINES["llama_cpp"].max_num_seqs and c.tensor_parallel == 1 for c in apple)
    l4 = [c for c in cset.info.values() if c.gpu == "l4"]
    assert l4 and all(c.engine == "vllm" for c in l4)


def test_a_named_llama_cpp_engine_exports_llama_server(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    problem = _apple_problem(tmp_path, engine="llama_cpp", precisions=["gguf_q4_0"])
    assert main(["solve", str(problem), "--output", str(out), "--no-baselines", "--quiet"]) == 0
    plan = Plan.model_validate(yaml.safe_load(out.read_text(encoding="utf-8")))
    assert plan.deployments
    for d in plan.deployments:
        assert d.engine.name == "llama_cpp" and d.engine.max_num_seqs == 1 and d.tensor_parallel == 1
        args = llama_server_args(d)
        assert args["parallel"] == 1 and args["ctx-size"] == d.engine.max_model_len
        assert serve_argv(d)[0] == "llama-server"
    for fmt in ("vllm", "kubernetes", "skypilot"):
        files = render(plan, fmt)
        assert files and all("vllm serve" not in text for text in files.values()), fmt
        assert any("llama-server" in text or "llama.cpp" in text for text in files.values()), fmt


@pytest.mark.parametrize(
    ("workload", "match"),
    [
        (
            {"engine": "llama_cpp", "precisions": ["fp8"]},
            r"apple.yaml:\d+: workloads\[0\].precisions\[0\]: engine llama_cpp .*not serve precision fp8",
        ),
        (
            {"engine": "tensorrt"},
            r"workloads\[0\].engine: must be 'vllm', 'sglang', 'tensorrt_llm' or 'llama_cpp' "
            r"\(got 'tensorrt'\); did you mean 'tensorrt_llm'\?",
        ),
    ],
)
def test_bad_engine_choices_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: dict[str, Any], match: str
) -> None:
    code = main(["solve", str(_apple_problem(tmp_path, **workload)), "--output", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert re.search(match, err), err


def test_engine_that_runs_on_no_offered_device_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(_apple_problem(tmp_path, engine="vllm").read_text(encoding="utf-8"))
    doc["sites"][0]["offers"] = doc["sites"][0]["offers"][:1]  # Apple only: vLLM has no Metal backend
    path = tmp_path / "apple_only.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["solve", str(path), "--output", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err
    assert "engine vllm (vLLM) runs on none of the offered devices (apple_m2_ultra (Apple))" in err
