"""Coverage: every published row kind scores, or is reported skipped with its reason.

Accelerator spellings with memory sizes, unstated precision (engine default), parallelism layouts
(TP / EP / DEP), the engine taken from the framework column, and expert-parallel physics.
"""

from __future__ import annotations

import math

import pytest

from optimizer.catalog import default_catalog
from optimizer.perf.benchmarks import (
    HEADER,
    Parallelism,
    default_resolver,
    parse_benchmarks,
    parse_parallelism,
    predict_row,
)
from optimizer.perf.capacity import Shape, predict, replica_capacity
from optimizer.perf.params import default_params
from optimizer.perf.validation import validate_rows

HEAD = ",".join(HEADER)


def _row(**kw: str) -> str:
    base = {h: "" for h in HEADER}
    base.update(
        model="Llama-3.1-8B",
        gpu="H100-SXM-80GB",
        num_gpus="1",
        tensor_parallel="1",
        precision="FP8",
        framework="TensorRT-LLM",
        scenario="offline_max_throughput",
        input_len="128",
        output_len="2048",
        metric="output_tokens_per_s_total",
        value="20000",
        unit="tokens/s",
    )
    base.update(kw)
    return ",".join(base[h] for h in HEADER)


def _one(**kw: str):  # type: ignore[no-untyped-def]
    rows = parse_benchmarks(HEAD + "\n" + _row(**kw) + "\n")
    return predict_row(rows[0], default_resolver(), default_params())


def test_parallelism_column_layouts() -> None:
    assert parse_parallelism("4") == Parallelism(4)
    assert parse_parallelism("TP4 PP2") == Parallelism(4, 1, 1, 2)
    assert parse_parallelism("DP8xEP8") == Parallelism(1, 8, 8, 1)
    assert parse_parallelism("attn-dp 4 + ep 8") == Parallelism(2, 4, 8, 1)
    assert isinstance(parse_parallelism("lots"), str)
    assert isinstance(parse_parallelism("0"), str)


def test_unreadable_parallelism_skips_the_row_not_the_file() -> None:
    rows = parse_benchmarks(HEAD + "\n" + _row(tensor_parallel="whatever") + "\n" + _row() + "\n")
    rep = validate_rows(rows)
    assert rep.results[0].skipped and "cannot read parallelism" in rep.results[0].skipped
    assert rep.results[1].predicted is not None


def test_accelerator_spelled_with_memory_size_resolves() -> None:
    r = _one(gpu="Gaudi2-96GB", precision="BF16", framework="Optimum Habana")
    assert r.skipped is None and r.gpu_family == "intel_gaudi"
    r = _one(gpu="NVIDIA H200 SXM 141GB")
    assert r.skipped is None and r.predicted is not None


def test_memory_size_that_contradicts_the_catalog_is_a_reported_skip() -> None:
    r = _one(gpu="H100-94GB")
    assert r.skipped is not None and "94 GB" in r.skipped


def test_unstated_precision_is_the_engine_default() -> None:
    trt = _one(precision="")
    bf16 = _one(precision="BF16")
    assert trt.skipped is None and trt.predicted == bf16.predicted
    gguf = _one(precision="", framework="llama.cpp", scenario="single_stream_decode", value="100")
    f16 = _one(
        precision="FP16 (GGUF f16)", framework="llama.cpp", scenario="single_stream_decode", value="100"
    )
    assert gguf.predicted == f16.predicted and gguf.engine == "llama_cpp"


def test_model_suffixes_and_same_architecture_aliases() -> None:
    assert _one(model="meta-llama/Llama-3.1-8B-Instruct-FP8").skipped is None
    r = _one(
        model="DeepSeek-R1",
        gpu="H200-SXM-141GB",
        num_gpus="8",
        tensor_parallel="8",
        input_len="1000",
        output_len="1000",
    )
    assert r.skipped is None, r.skipped


def test_engine_default_limits_apply_vllm_caps_running_sequences_at_256() -> None:
    trt = _one(precision="FP8", framework="TensorRT-LLM")
    vllm = _one(precision="FP8", framework="vLLM 0.6")
    assert vllm.engine == "vllm" and trt.engine == "trtllm"
    assert vllm.predicted is not None and trt.predicted is not None
    assert vllm.predicted < trt.predicted  # 256 running sequences instead of ~1000


def test_dep_and_ep_rows_score() -> None:
    for layout in ("DEP8", "TP8 EP8", "EP8"):
        r = _one(
            model="Mixtral-8x7B", gpu="H100-SXM-80GB", num_gpus="8", tensor_parallel=layout, precision="FP8"
        )
        assert r.skipped is None and r.predicted is not None and r.predicted > 0, (layout, r.skipped)
        assert r.ep == 8


def test_dense_model_with_expert_parallelism_is_a_reported_skip() -> None:
    r = _one(num_gpus="8", tensor_parallel="DEP8")
    assert r.skipped is not None and "dense" in r.skipped


def test_pipeline_parallel_rows_score() -> None:
    """405B at BF16 (810 GB) fits no 8 x H100 node: TP8 x PP2 over two nodes, stated or chosen."""
    stated = _one(model="Llama-3.1-405B", num_gpus="16", tensor_parallel="TP8 PP2", precision="BF16")
    assert stated.skipped is None and stated.pp == 2 and stated.predicted
    chosen = _one(model="Llama-3.1-405B", num_gpus="16", tensor_parallel="", precision="BF16")
    assert chosen.skipped is None and (chosen.tensor_parallel, chosen.pp) == (8, 2)
    assert chosen.predicted == pytest.approx(stated.predicted)


def test_pipeline_stages_add_memory_not_speed() -> None:
    """PP doubles the memory per replica but not the batch-1 speed (stages run one after another)."""
    cat = default_catalog()
    model, gpu, fp8 = cat.model("Llama-3.1-70B"), cat.gpu("H100-SXM-80GB"), cat.precision("FP8")
    one = predict(model, gpu, fp8, 4, Shape(1000, 500), batch=1)
    two = predict(model, gpu, fp8, 4, Shape(1000, 500), batch=1, pp=2)
    assert two.capacity.max_batch > 2 * one.capacity.max_batch
    assert two.capacity.tpot_ms >= one.capacity.tpot_ms
    assert two.capacity.ttft_ms >= one.capacity.ttft_ms


def test_moe_that_fits_no_node_falls_back_to_expert_parallelism_across_nodes() -> None:
    r = _one(
        model="DeepSeek-V3",
        gpu="H100-SXM-80GB",
        num_gpus="16",
        tensor_parallel="",
        input_len="1000",
        output_len="1000",
    )
    assert r.skipped is None and r.ep == 16


def test_ep_never_loses_to_tp_when_the_experts_do_not_fit_tp_memory() -> None:
    """DeepSeek-V3 at FP8 (671 GB) does not fit one 8 x H100 node with TP; EP over two nodes does."""
    cat = default_catalog()
    model, gpu, fp8 = cat.model("DeepSeek-V3"), cat.gpu("H100-SXM-80GB"), cat.precision("FP8")
    shape = Shape(1000, 500)
    tp = replica_capacity(model, gpu, fp8, 8, shape, 2000, 100)
    ep = replica_capacity(model, gpu, fp8, 1, shape, 2000, 100, dp=16, ep=16)
    assert not tp.fits and ep.fits
    assert ep.output_tokens_per_s >= tp.output_tokens_per_s


def test_expert_parallel_capacity_is_finite_and_positive() -> None:
    cat = default_catalog()
    model, gpu, fp8 = cat.model("Mixtral-8x7B"), cat.gpu("H100-SXM-80GB"), cat.precision("FP8")
    for dp, ep in ((1, 8), (8, 8)):
        tp = 8 if dp == 1 else 1
        p = predict(model, gpu, fp8, tp, Shape(1000, 500), dp=dp, ep=ep)
        assert p.capacity.fits and p.capacity.output_tokens_per_s > 0
        assert math.isfinite(p.capacity.tpot_ms)


def test_ep_never_loses_to_tp_property() -> None:
    """Over every MoE model, accelerator and supported precision of the catalog: where the largest
    single-domain TP cannot hold the model, expert parallelism over two domains serves at least as
    much (TP serves nothing)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cat = default_catalog()
    moe = [m for m in cat.models() if m.is_moe]
    gpus = [g for g in cat.gpus() if g.max_tensor_parallel >= 2]
    precs = list(cat.precisions())

    @settings(max_examples=40, deadline=None)
    @given(m=st.sampled_from(moe), g=st.sampled_from(gpus), p=st.sampled_from(precs))
    def check(m, g, p) -> None:  # type: ignore[no-untyped-def]
        if not cat.supports(g, p):
            return
        shape = Shape(1000, 300)
        d = g.max_tensor_parallel
        tp = replica_capacity(m, g, p, d, shape, 5000, 200)
        if tp.fits:
            return
        ep = replica_capacity(m, g, p, d, shape, 5000, 200, dp=2, ep=2 * d)
        assert ep.output_tokens_per_s >= tp.output_tokens_per_s

    check()
