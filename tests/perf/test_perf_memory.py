"""Memory: textbook numbers, TP split, paging, and the FP8-never-bigger property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.perf import CalibrationParams, kv_bytes_per_token, max_batch, memory_plan, weight_bytes
from optimizer.perf._examples import (
    BF16,
    DEEPSEEK_V3,
    FP8,
    H100_SXM,
    INT4_AWQ,
    L4,
    LLAMA_2_70B,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    MIXTRAL_8X7B,
)
from optimizer.perf.memory import kv_bytes_per_token_per_gpu, paged_tokens

P = CalibrationParams()


def test_llama2_70b_fp16_weights_are_about_140_gb() -> None:
    gb = weight_bytes(LLAMA_2_70B, BF16) / 1e9
    assert 135 < gb < 142  # 69 B params x 2 bytes


def test_kv_bytes_per_token_llama31_70b_bf16_is_textbook() -> None:
    assert kv_bytes_per_token(LLAMA_3_1_70B, 2.0) == 2 * 80 * 8 * 128 * 2 == 327680


def test_mla_caches_a_latent() -> None:
    assert kv_bytes_per_token(DEEPSEEK_V3, 1.0) == 61 * (512 + 64)
    # the latent is replicated on every tensor-parallel rank
    assert kv_bytes_per_token_per_gpu(DEEPSEEK_V3, 1.0, 8) == kv_bytes_per_token(DEEPSEEK_V3, 1.0)


def test_kv_split_across_tp_ranks_and_replicated_beyond_kv_heads() -> None:
    full = kv_bytes_per_token(LLAMA_3_1_70B, 2.0)
    assert kv_bytes_per_token_per_gpu(LLAMA_3_1_70B, 2.0, 2) == full / 2
    assert kv_bytes_per_token_per_gpu(LLAMA_3_1_70B, 2.0, 8) == full / 8
    assert kv_bytes_per_token_per_gpu(LLAMA_3_1_70B, 2.0, 16) == full / 8  # one head per rank


def test_weights_split_across_tp_ranks() -> None:
    one = memory_plan(LLAMA_3_1_70B, H100_SXM, FP8, 1, P).weights_bytes_per_gpu
    four = memory_plan(LLAMA_3_1_70B, H100_SXM, FP8, 4, P).weights_bytes_per_gpu
    assert four == pytest.approx(one / 4)


def test_quantization_scales_add_bytes() -> None:
    assert weight_bytes(LLAMA_3_1_8B, INT4_AWQ) == pytest.approx(8.03e9 * 0.5 * 1.0625)


def test_moe_holds_all_experts_in_memory() -> None:
    assert weight_bytes(MIXTRAL_8X7B, BF16) == pytest.approx(46.7e9 * 2)


def test_paged_allocation_rounds_up_to_blocks() -> None:
    assert paged_tokens(1) == 16
    assert paged_tokens(16) == 16
    assert paged_tokens(17) == 32


def test_max_batch_shrinks_with_context_and_is_zero_when_weights_do_not_fit() -> None:
    short = max_batch(LLAMA_3_1_8B, H100_SXM, FP8, 1, 1000, P)
    long = max_batch(LLAMA_3_1_8B, H100_SXM, FP8, 1, 8000, P)
    assert short > long > 0
    assert max_batch(LLAMA_3_1_70B, L4, BF16, 1, 1000, P) == 0


@settings(max_examples=40, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    ctx=st.floats(min_value=1, max_value=100_000),
    model=st.sampled_from([LLAMA_3_1_8B, LLAMA_3_1_70B, MIXTRAL_8X7B, DEEPSEEK_V3]),
)
def test_fp8_never_needs_more_memory_than_bf16(tp: int, ctx: float, model: object) -> None:
    from optimizer.catalog.specs import ModelSpec

    assert isinstance(model, ModelSpec)
    f8 = memory_plan(model, H100_SXM, FP8, tp, P)
    b16 = memory_plan(model, H100_SXM, BF16, tp, P)
    assert f8.weights_bytes_per_gpu <= b16.weights_bytes_per_gpu
    assert f8.kv_bytes_per_token_per_gpu <= b16.kv_bytes_per_token_per_gpu
    assert max_batch(model, H100_SXM, FP8, tp, ctx, P) >= max_batch(model, H100_SXM, BF16, tp, ctx, P)
