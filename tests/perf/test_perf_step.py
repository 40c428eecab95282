"""Step time: bandwidth ceiling, monotonicity in hardware, MoE routing, all-reduce, speculation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.perf import CalibrationParams, expected_tokens_per_step
from optimizer.perf._examples import A100_80GB, BF16, FP8, H100_SXM, LLAMA_3_1_8B, LLAMA_3_1_70B, MIXTRAL_8X7B
from optimizer.perf.params import default_params
from optimizer.perf.step import (
    Replica,
    moe_experts_touched,
    peak_tflops,
    ring_allreduce_s,
    roofline_s,
)


def test_batch1_decode_is_within_the_bandwidth_ceiling() -> None:
    """tokens/s at batch 1 <= peak bandwidth / weight bytes, and not absurdly below it."""
    rep = Replica(LLAMA_3_1_8B, H100_SXM, BF16, 1, default_params())
    tok_s = 1.0 / rep.step(decode_seqs=1, context=512).total_s
    ceiling = H100_SXM.mem_bandwidth_tb_s * 1e12 / (8.03e9 * 2)
    assert tok_s <= ceiling
    assert tok_s >= 0.4 * ceiling


def test_batch1_decode_is_memory_bound_and_large_prefill_compute_bound() -> None:
    rep = Replica(LLAMA_3_1_70B, H100_SXM, FP8, 2, default_params())
    assert rep.step(decode_seqs=1, context=1000).gemm_memory_bound
    assert not rep.step(decode_seqs=0, context=0, prefill_tokens=8192).gemm_memory_bound


def test_attention_reads_grow_with_context() -> None:
    rep = Replica(LLAMA_3_1_8B, H100_SXM, BF16, 1, default_params())
    short = rep.step(decode_seqs=64, context=500)
    long = rep.step(decode_seqs=64, context=8000)
    assert long.attn_s > short.attn_s
    assert long.gemm_s == pytest.approx(short.gemm_s)


def test_tensor_parallel_adds_allreduce_time() -> None:
    p = default_params()
    assert Replica(LLAMA_3_1_70B, H100_SXM, FP8, 1, p).step(decode_seqs=8, context=1000).comm_s == 0.0
    assert Replica(LLAMA_3_1_70B, H100_SXM, FP8, 4, p).step(decode_seqs=8, context=1000).comm_s > 0.0


def test_ring_allreduce_formula() -> None:
    # bandwidth term 2(tp-1)/tp x bytes / bw ; latency 2 log2(tp) hops
    assert ring_allreduce_s(1e9, 4, 100e9, 0.0) == pytest.approx(2 * 3 / 4 * 1e9 / 100e9)
    assert ring_allreduce_s(0.0, 4, 100e9, 1e-5) == pytest.approx(4e-5)


def test_moe_experts_touched_grows_with_tokens_to_all_experts() -> None:
    assert moe_experts_touched(8, 2, 1) == pytest.approx(2.0)
    assert moe_experts_touched(8, 2, 4) == pytest.approx(8 * (1 - 0.75**4))
    assert moe_experts_touched(8, 2, 1000) == pytest.approx(8.0)
    assert moe_experts_touched(256, 8, 1) == pytest.approx(8.0)


def test_moe_reads_more_weights_as_batch_grows_but_computes_active_only() -> None:
    rep = Replica(MIXTRAL_8X7B, H100_SXM, FP8, 2, default_params())
    assert rep.weight_bytes_read(1) < rep.weight_bytes_read(64)
    assert rep.weight_bytes_read(64) <= 46.7e9 / 2 + 1
    assert rep.gemm_params_b < MIXTRAL_8X7B.total_params_b


def test_peak_dtype_fallbacks() -> None:
    assert peak_tflops(H100_SXM, FP8) == 1979
    assert peak_tflops(A100_80GB, FP8) == 312  # no FP8 tensor cores: dequantize to FP16


def test_roofline_knee() -> None:
    assert roofline_s(1.0, 3.0, math.inf) == 3.0
    assert 3.0 < roofline_s(1.0, 3.0, 2.0) < 4.0


@settings(max_examples=40, deadline=None)
@given(
    factor=st.floats(min_value=1.0, max_value=10.0),
    batch=st.floats(min_value=1.0, max_value=512.0),
    ctx=st.floats(min_value=1.0, max_value=32000.0),
    tp=st.sampled_from([1, 2, 4]),
)
def test_more_bandwidth_never_slows_decode(factor: float, batch: float, ctx: float, tp: int) -> None:
    p = default_params()
    fast_gpu = H100_SXM.model_copy(update={"mem_bandwidth_tb_s": H100_SXM.mem_bandwidth_tb_s * factor})
    slow = Replica(LLAMA_3_1_70B, H100_SXM, FP8, tp, p).step(decode_seqs=batch, context=ctx).total_s
    fast = Replica(LLAMA_3_1_70B, fast_gpu, FP8, tp, p).step(decode_seqs=batch, context=ctx).total_s
    assert fast <= slow * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(a=st.floats(min_value=0.0, max_value=1.0), g=st.integers(min_value=1, max_value=10))
def test_speculative_tokens_per_step_bounds(a: float, g: int) -> None:
    tau = expected_tokens_per_step(a, g)
    assert 1.0 <= tau <= g + 1 + 1e-9
    assert expected_tokens_per_step(a, g + 1) >= tau - 1e-12


def test_calibration_params_default_fallback_for_unknown_family() -> None:
    p = CalibrationParams()
    assert 0 < p.family("some_new_family").bw_eff < 1
