"""Memory: weights, KV cache, activation reserve, and the largest batch that fits.

All sizes in bytes unless the name says GB (1e9 bytes). Tensor parallelism splits weights evenly
across ranks; KV heads are split across ranks too (replicated when tp > kv_heads), while an MLA
latent is replicated on every rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf.params import CalibrationParams


def weight_bytes(model: ModelSpec, precision: PrecisionSpec) -> float:
    """Bytes of all weights (every expert of an MoE model) at a precision.

    weights = total_params x bytes_per_weight x (1 + scale_overhead_frac).

    >>> from optimizer.perf._examples import LLAMA_2_70B, BF16
    >>> round(weight_bytes(LLAMA_2_70B, BF16) / 1e9, 1)  # 69 B params x 2 bytes
    138.0
    """
    return model.total_params_b * 1e9 * precision.bytes_per_weight * (1.0 + precision.scale_overhead_frac)


def expert_params_b(model: ModelSpec) -> float:
    """Routed-expert parameters (MoE), billions: catalog value, or 3 x h x width x E x MoE layers."""
    if not model.is_moe:
        return 0.0
    if model.expert_params_b is not None:
        return model.expert_params_b
    width = model.moe_intermediate_size or model.intermediate_size
    moe_layers = model.num_layers - model.num_dense_layers
    return 3.0 * model.hidden_size * width * model.num_experts * moe_layers / 1e9


def weight_bytes_per_gpu(model: ModelSpec, precision: PrecisionSpec, tp: int, dp: int = 1) -> float:
    """Weight bytes on one device of a replica of tp x dp devices.

    w = shared / tp + experts / (tp x dp): attention and dense weights are split over the tp ranks
    of an attention group and replicated over the dp groups (attention data parallelism); routed
    experts are spread over all tp x dp devices (expert parallelism). dp = 1: all weights / tp.

    >>> from optimizer.perf._examples import LLAMA_2_70B, BF16
    >>> round(weight_bytes_per_gpu(LLAMA_2_70B, BF16, tp=2) / 1e9, 1)
    69.0
    """
    total = weight_bytes(model, precision)
    experts = expert_params_b(model) * 1e9 * bytes_per_param(precision)
    return (total - experts) / tp + experts / (tp * max(dp, 1))


def bytes_per_param(precision: PrecisionSpec) -> float:
    """Effective stored bytes per parameter including scales: bytes_per_weight x (1 + overhead)."""
    return precision.bytes_per_weight * (1.0 + precision.scale_overhead_frac)


def kv_bytes_per_token(model: ModelSpec, kv_bytes: float) -> float:
    """KV-cache bytes one token occupies across all layers (whole model, before any TP split).

    Standard / GQA / MQA: 2 (K and V) x layers x kv_heads x head_dim x kv_bytes.
    MLA (DeepSeek): layers x (kv_lora_rank + rope_head_dim) x kv_bytes (one compressed latent).

    >>> from optimizer.perf._examples import LLAMA_3_1_70B
    >>> kv_bytes_per_token(LLAMA_3_1_70B, kv_bytes=2.0)  # 2 x 80 x 8 x 128 x 2
    327680.0
    """
    if model.mla_kv_lora_rank is not None:
        return mla_kv_bytes_per_token(model, kv_bytes)
    return 2.0 * model.num_layers * model.num_kv_heads * model.head_dim * kv_bytes


def mla_kv_bytes_per_token(model: ModelSpec, kv_bytes: float) -> float:
    """MLA latent cache per token: layers x (kv_lora_rank + rope_head_dim) x kv_bytes.

    >>> from optimizer.perf._examples import DEEPSEEK_V3
    >>> mla_kv_bytes_per_token(DEEPSEEK_V3, 2.0)  # 61 x (512 + 64) x 2
    70272.0
    """
    rank = model.mla_kv_lora_rank or 0
    rope = model.mla_rope_head_dim or 0
    return float(model.num_layers * (rank + rope) * kv_bytes)


def kv_bytes_per_token_per_gpu(model: ModelSpec, kv_bytes: float, tp: int) -> float:
    """KV bytes per token held by one tensor-parallel rank.

    GQA: each rank holds ceil(kv_heads / tp) heads (heads are replicated once tp > kv_heads).
    MLA: the latent is shared by all heads, so every rank holds all of it.

    >>> from optimizer.perf._examples import LLAMA_3_1_70B
    >>> kv_bytes_per_token_per_gpu(LLAMA_3_1_70B, 2.0, tp=4)
    81920.0
    >>> kv_bytes_per_token_per_gpu(LLAMA_3_1_70B, 2.0, tp=16)  # 8 KV heads: 1 per rank
    40960.0
    """
    if model.mla_kv_lora_rank is not None:
        return mla_kv_bytes_per_token(model, kv_bytes)
    heads_per_rank = math.ceil(model.num_kv_heads / tp)
    return 2.0 * model.num_layers * heads_per_rank * model.head_dim * kv_bytes


def paged_tokens(tokens: float, block_tokens: int = 16) -> float:
    """Tokens actually allocated by a paged KV cache: ceil(tokens / block) x block.

    >>> paged_tokens(100)
    112.0
    """
    return float(math.ceil(max(tokens, 0.0) / block_tokens) * block_tokens)


def activation_reserve_bytes(model: ModelSpec, tp: int, max_num_tokens: int, act_bytes: float = 2.0) -> float:
    """Peak activation buffers of one step on one rank.

    act = max_num_tokens x act_bytes x (4 x hidden + 2 x mlp_width / tp), where mlp_width is the
    dense intermediate size (MoE: experts_per_token x expert width). A coarse but monotone bound
    on the residual stream, QKV/attention outputs and the gated MLP intermediate.
    """
    if model.is_moe:
        width = (model.moe_intermediate_size or model.intermediate_size) * max(model.experts_per_token, 1)
    else:
        width = model.intermediate_size
    return max_num_tokens * act_bytes * (4.0 * model.hidden_size + 2.0 * width / tp)


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """Per-device memory budget of one replica."""

    weights_bytes_per_gpu: float
    reserve_bytes_per_gpu: float
    """Runtime reserve + activation buffers."""
    usable_bytes_per_gpu: float
    """Device memory (GB x 1e9)."""
    kv_budget_bytes_per_gpu: float
    """What is left for the KV cache (may be negative: does not fit)."""
    kv_bytes_per_token_per_gpu: float
    kv_groups: int = 1
    """Attention data-parallel groups: each holds the KV of its own sequences (1 without DP)."""

    @property
    def kv_capacity_tokens(self) -> float:
        """KV tokens the replica can hold (each rank of a group holds its share of every token of
        that group; dp groups hold disjoint sequences)."""
        if self.kv_bytes_per_token_per_gpu <= 0:
            return math.inf
        return self.kv_groups * max(self.kv_budget_bytes_per_gpu, 0.0) / self.kv_bytes_per_token_per_gpu

    def max_sequences(self, tokens_per_sequence: float, block_tokens: int = 16) -> int:
        """Largest number of sequences whose (paged) KV fits: floor(capacity / paged(tokens))."""
        per_seq = paged_tokens(tokens_per_sequence, block_tokens)
        if per_seq <= 0:
            return 0
        cap = self.kv_capacity_tokens
        return int(min(cap / per_seq, 1e9))


def memory_plan(
    model: ModelSpec,
    gpu: GpuSpec,
    precision: PrecisionSpec,
    tp: int,
    params: CalibrationParams,
    *,
    kv_bytes: float | None = None,
    extra_weight_bytes: float = 0.0,
    extra_kv_bytes_per_token: float = 0.0,
    dp: int = 1,
    pp: int = 1,
) -> MemoryPlan:
    """Weights, reserve and KV budget per device.

    kv_budget = kv_mem_fraction x (memory - weights - reserve)   (kv_rule `of_free`, TensorRT-LLM's
    `free_gpu_memory_fraction`, 0.9), or kv_mem_fraction x memory - weights - reserve (`of_total`,
    vLLM's `gpu_memory_utilization` / SGLang's `mem_fraction_static`); weights per device from
    `weight_bytes_per_gpu` (tp x dp devices) / pp, KV per token per device / pp (pipeline stages
    hold 1 / pp of the layers), reserve = runtime reserve + activations.
    `extra_*` add a co-resident model (speculative draft) sharing the same ranks.
    """
    kvb = precision.kv_bytes if kv_bytes is None else kv_bytes
    w = (weight_bytes_per_gpu(model, precision, tp, dp) + extra_weight_bytes / tp) / pp
    reserve = params.runtime_reserve_gb * 1e9 + activation_reserve_bytes(
        model, tp, params.max_num_tokens, params.act_bytes
    )
    usable = gpu.memory_gb * 1e9
    per_tok = (kv_bytes_per_token_per_gpu(model, kvb, tp) + extra_kv_bytes_per_token / tp) / pp
    free = usable - w - reserve
    if params.kv_rule == "of_total":
        budget = params.kv_mem_fraction * usable - w - reserve if free > 0 else free
    else:
        budget = free * (params.kv_mem_fraction if free > 0 else 1.0)
    return MemoryPlan(
        weights_bytes_per_gpu=w,
        reserve_bytes_per_gpu=reserve,
        usable_bytes_per_gpu=usable,
        kv_budget_bytes_per_gpu=budget,
        kv_bytes_per_token_per_gpu=per_tok,
        kv_groups=max(dp, 1),
    )


def max_batch(
    model: ModelSpec,
    gpu: GpuSpec,
    precision: PrecisionSpec,
    tp: int,
    context_tokens: float,
    params: CalibrationParams,
    *,
    kv_bytes: float | None = None,
) -> int:
    """Largest batch of sequences of `context_tokens` each whose paged KV fits beside the weights.

    batch = floor(kv_budget / (kv_per_token_per_gpu x paged(context))), capped by max_num_seqs;
    0 when even the weights do not fit.
    """
    plan = memory_plan(model, gpu, precision, tp, params, kv_bytes=kv_bytes)
    if plan.kv_budget_bytes_per_gpu <= 0:
        return 0
    return min(plan.max_sequences(context_tokens, params.kv_block_tokens), params.max_num_seqs)
