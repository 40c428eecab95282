"""replica_capacity: the contract the candidate builder relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.catalog import default_catalog
from optimizer.catalog.specs import GpuSpec, ModelSpec
from optimizer.perf import (
    Capacity,
    Draft,
    Shape,
    predict,
    replica_capacity,
    single_stream_decode_tokens_per_s,
)
from optimizer.perf._examples import (
    BF16,
    FP8,
    H100_SXM,
    L4,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    MIXTRAL_8X7B,
    WHISPER_LARGE_V3,
)
from optimizer.perf.params import default_params

CAT = default_catalog()


def _no_capacity(c: Capacity) -> bool:
    return c.requests_per_s == 0 and c.output_tokens_per_s == 0 and c.batch == 0


def test_model_that_does_not_fit_reports_reason_and_no_capacity() -> None:
    c = replica_capacity(LLAMA_3_1_70B, L4, BF16, 1, Shape(1000, 200), 1000, 50)
    assert not c.fits
    assert c.reason and "exceed" in c.reason
    assert _no_capacity(c)
    assert c.weights_gb_per_gpu > L4.memory_gb


@settings(max_examples=40, deadline=None)
@given(
    gpu=st.sampled_from(CAT.gpus()),
    model=st.sampled_from(CAT.models()),
    prec=st.sampled_from(CAT.precisions()),
    tp=st.sampled_from([1, 2, 4, 8]),
    i=st.floats(min_value=0, max_value=50_000),
    o=st.floats(min_value=1, max_value=8_000),
)
def test_never_a_capacity_without_fitting(
    gpu: GpuSpec, model: ModelSpec, prec: object, tp: int, i: float, o: float
) -> None:
    from optimizer.catalog.specs import PrecisionSpec

    assert isinstance(prec, PrecisionSpec)
    shape = Shape(i, o, 30.0 if model.encoder_layers else None)
    c = replica_capacity(model, gpu, prec, tp, shape, None, None)
    weights_per_gpu = model.total_params_b * prec.bytes_per_weight * (1 + prec.scale_overhead_frac) / tp
    if weights_per_gpu > gpu.memory_gb:
        assert not c.fits
    if not c.fits:
        assert c.reason
        assert _no_capacity(c)
    else:
        assert c.requests_per_s > 0
        assert c.memory_gb_per_gpu <= gpu.memory_gb * 1.0001
        assert 1 <= c.batch <= c.max_batch


def test_tighter_targets_never_raise_capacity() -> None:
    loose = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 2000, 100)
    tight = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 300, 25)
    assert loose.requests_per_s >= tight.requests_per_s > 0
    assert tight.ttft_ms <= 300 + 1e-6 and tight.tpot_ms <= 25 + 1e-6


def test_unreachable_targets_fit_but_give_no_capacity() -> None:
    c = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 1.0, 50)
    assert c.fits and _no_capacity(c)
    assert c.reason and c.reason.startswith("cannot meet")


def test_no_targets_is_the_max_throughput_point() -> None:
    c = replica_capacity(LLAMA_3_1_8B, H100_SXM, FP8, 1, Shape(128, 2048), None, None)
    assert c.batch == c.max_batch
    assert c.output_tokens_per_s == pytest.approx(c.requests_per_s * 2048)


def test_tensor_parallel_beyond_the_scale_up_domain_does_not_fit() -> None:
    c = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 16, Shape(100, 100), None, None)
    assert not c.fits and c.reason and "scale-up" in c.reason


def test_moe_capacity_runs() -> None:
    c = replica_capacity(MIXTRAL_8X7B, H100_SXM, FP8, 2, Shape(500, 200), 1000, 50)
    assert c.fits and c.requests_per_s > 0


def test_speculative_decoding_helps_a_tpot_bound_replica_with_good_acceptance() -> None:
    draft = Draft(CAT.model("Llama-3.2-1B"), acceptance_rate=0.8, draft_tokens=4)
    base = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 2000, 25)
    spec = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 2000, 25, draft=draft)
    assert spec.requests_per_s > base.requests_per_s
    bad = Draft(CAT.model("Llama-3.2-1B"), acceptance_rate=0.0, draft_tokens=4)
    worse = replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, Shape(1000, 300), 2000, 25, draft=bad)
    assert worse.requests_per_s < base.requests_per_s


def test_speech_model_capacity_scales_with_audio_length() -> None:
    short = replica_capacity(WHISPER_LARGE_V3, L4, BF16, 1, Shape(0, 100, 30.0), None, None)
    long = replica_capacity(WHISPER_LARGE_V3, L4, BF16, 1, Shape(0, 400, 120.0), None, None)
    assert short.fits and long.fits
    assert short.requests_per_s > long.requests_per_s


def test_cpu_decode_is_bandwidth_bound() -> None:
    cpu = CAT.gpu("Graviton4")
    model = CAT.model("Llama-3.2-1B")
    p = predict(model, cpu, BF16, 1, Shape(100, 100), batch=1, static=True)
    tok_s = 1000.0 / p.capacity.tpot_ms
    ceiling = cpu.mem_bandwidth_tb_s * 1e12 / (model.total_params_b * 1e9 * 2)
    assert 0.3 * ceiling <= tok_s <= ceiling
    direct = single_stream_decode_tokens_per_s(model, cpu, BF16, default_params(), context=150)
    assert direct == pytest.approx(tok_s, rel=0.05)


def test_predict_modes() -> None:
    s = Shape(1000, 300)
    assert predict(LLAMA_3_1_70B, H100_SXM, FP8, 2, s).mode == "max_throughput"
    assert predict(LLAMA_3_1_70B, H100_SXM, FP8, 2, s, concurrency=8).capacity.batch <= 8
    q = predict(LLAMA_3_1_70B, H100_SXM, FP8, 2, s, qps=1.0)
    assert q.capacity.requests_per_s == pytest.approx(1.0, rel=1e-6)
    assert predict(LLAMA_3_1_70B, H100_SXM, FP8, 2, s, qps=1e6).overloaded
    assert predict(LLAMA_3_1_70B, H100_SXM, FP8, 2, s, ttft_ms=500, tpot_ms=40).mode == "targets"
