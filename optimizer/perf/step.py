"""Roofline step time of one replica: GEMMs, attention, tensor-parallel all-reduce, fixed overhead.

One engine step processes `decode_seqs` sequences (each adding `query_per_seq` tokens, 1 for plain
decode, g+1 for a speculative verify) plus `prefill_tokens` prompt tokens riding along (chunked
prefill / in-flight batching):

    t_step = roof(weight_bytes_read / BW, gemm_flops / C)          (GEMMs: memory- or compute-bound)
           + roof(kv_bytes_read / BW_kv, attn_flops / (C x attn_eff))  (attention kernels)
           + 2 x layers x allreduce(tokens x hidden x act_bytes)   (tensor parallel, tp > 1, link x link_eff)
           + MoE all-to-all (expert parallel, ep > 1)
           + step_overhead

BW (weights) and BW_kv (KV cache) are the latency- and throughput-path bandwidths of the family
(`bw_eff`, `kv_bw_eff`); expert / attention-data / pipeline parallelism are in `Replica`.

with BW = peak bandwidth x bw_eff and C = peak dense FLOPS of the precision's compute dtype x
compute_eff, per device (routed-expert FLOPs count 1 / moe_eff times); bytes and FLOPs are per
device (split over tp ranks); roof(m, c) = (m^p + c^p)^(1/p) is the roofline with a rounded knee
(p = `roofline_sharpness`; p = inf is the textbook max).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from optimizer.catalog.specs import DeviceKind, GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf.memory import bytes_per_param, expert_params_b, kv_bytes_per_token_per_gpu
from optimizer.perf.params import CalibrationParams, FamilyParams


def peak_tflops(gpu: GpuSpec, precision: PrecisionSpec) -> float:
    """Dense matrix peak (TFLOPS) the precision's GEMMs run at on this device.

    fp8 -> fp8 peak, int8 -> int8 peak, fp4 -> fp4 peak, each falling back to the next wider
    supported dtype (weight-only schemes dequantize and run at the fp16 peak); fp32 -> fp16 / 2;
    fp16_acc16 (FP16 accumulation, llama.cpp) -> the FP16-accumulate peak where the part has one.

    >>> from optimizer.perf._examples import H100_SXM, A100_80GB, FP8, BF16
    >>> peak_tflops(H100_SXM, FP8), peak_tflops(A100_80GB, FP8), peak_tflops(H100_SXM, BF16)
    (1979.0, 312.0, 989.0)
    """
    dt = precision.compute_dtype
    fp16 = gpu.fp16_dense_tflops
    fp8 = gpu.fp8_dense_tflops
    if dt == "fp4":
        return float(gpu.fp4_dense_tflops or fp8 or fp16)
    if dt == "fp8":
        return fp8 or fp16
    if dt == "int8":
        return gpu.int8_dense_tops or fp16
    if dt == "fp32":
        return fp16 / 2.0
    if dt == "fp16_acc16":
        return gpu.fp16_acc16_dense_tflops or fp16
    return fp16


def ring_allreduce_s(payload_bytes: float, tp: int, link_bytes_s: float, hop_latency_s: float) -> float:
    """All-reduce of `payload_bytes` over tp ranks; 0 for tp = 1.

    t = 2(tp-1)/tp x bytes / link_bw  +  2 log2(tp) x hop latency

    The bandwidth term is the ring's (bandwidth-optimal: each rank sends and receives
    2(tp-1)/tp of the payload); the latency term is that of the tree / recursive-doubling
    schedules that NCCL and the engines' custom all-reduces use for the small messages of decode
    (a pure ring's 2(tp-1) hops would overstate tp = 8 decode latency about 2x).

    >>> ring_allreduce_s(1e6, 1, 450e9, 6e-6)
    0.0
    >>> round(ring_allreduce_s(450e6, 2, 450e9, 0.0), 6)  # 2 x 1/2 x 1 ms
    0.001
    >>> round(ring_allreduce_s(0.0, 8, 450e9, 5e-6) * 1e6, 1)  # 2 x 3 hops x 5 us
    30.0
    """
    if tp <= 1:
        return 0.0
    return 2.0 * (tp - 1) / tp * payload_bytes / link_bytes_s + 2.0 * math.log2(tp) * hop_latency_s


def roofline_s(memory_s: float, compute_s: float, sharpness: float) -> float:
    """Time of a kernel that must both stream `memory_s` worth of bytes and do `compute_s` of math.

    t = (m^p + c^p)^(1/p): p = inf is the textbook roofline max(m, c); a finite p rounds the knee
    near the ridge point, where real GEMMs with a few hundred rows reach neither peak.

    >>> roofline_s(3.0, 4.0, float("inf")), roofline_s(3.0, 4.0, 2.0)
    (4.0, 5.0)
    """
    if math.isinf(sharpness):
        return max(memory_s, compute_s)
    hi = max(memory_s, compute_s)
    if hi <= 0:
        return 0.0
    return float(hi * ((memory_s / hi) ** sharpness + (compute_s / hi) ** sharpness) ** (1.0 / sharpness))


def moe_experts_touched(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Expected distinct routed experts hit by `tokens` tokens in one MoE layer (uniform routing).

    touched = E x (1 - (1 - k/E)^tokens)

    >>> round(moe_experts_touched(8, 2, 1), 3), round(moe_experts_touched(8, 2, 64), 3)
    (2.0, 8.0)
    """
    if num_experts <= 0:
        return 0.0
    if tokens <= 0:
        return 0.0
    k = min(experts_per_token, num_experts)
    return float(num_experts * (1.0 - (1.0 - k / num_experts) ** tokens))


def encoder_params_b(model: ModelSpec) -> float:
    """Encoder parameters (encoder-decoder models): enc_layers x (4 h^2 + 2 h x intermediate), billions.

    >>> from optimizer.perf._examples import WHISPER_LARGE_V3
    >>> round(encoder_params_b(WHISPER_LARGE_V3), 2)
    0.63
    """
    if model.encoder_layers <= 0:
        return 0.0
    h = model.hidden_size
    return model.encoder_layers * (4.0 * h * h + 2.0 * h * model.intermediate_size) / 1e9


def attention_decode_flops_per_ctx_token(model: ModelSpec) -> float:
    """Attention FLOPs per query token per cached token, whole model.

    Standard: 4 x layers x heads x head_dim (QK^T and PV, 2 FLOPs per MAC).
    MLA (absorbed): 2 x layers x heads x (2 x kv_lora_rank + rope_dim).
    """
    if model.mla_kv_lora_rank is not None:
        r = model.mla_kv_lora_rank
        rope = model.mla_rope_head_dim or 0
        return 2.0 * model.num_layers * model.num_attention_heads * (2 * r + rope)
    return 4.0 * model.num_layers * model.num_attention_heads * model.head_dim


def attention_prefill_flops(model: ModelSpec, tokens: float) -> float:
    """Causal self-attention FLOPs of a prompt of n tokens, whole model: 2 x layers x heads x head_dim x n^2.

    (QK^T and PV are 2 n^2 d FLOPs each; the causal mask halves them.)

    >>> from optimizer.perf._examples import LLAMA_3_1_8B
    >>> attention_prefill_flops(LLAMA_3_1_8B, 1000) / 1e12
    0.262144
    """
    return 2.0 * model.num_layers * model.num_attention_heads * model.head_dim * tokens * tokens


@dataclass(frozen=True, slots=True)
class StepTime:
    """Breakdown of one engine step (seconds)."""

    gemm_s: float
    attn_s: float
    comm_s: float
    overhead_s: float
    gemm_memory_bound: bool

    @property
    def total_s(self) -> float:
        return self.gemm_s + self.attn_s + self.comm_s + self.overhead_s


def expert_imbalance(assignments: float, ep: int) -> float:
    """Load of the busiest of `ep` expert-parallel ranks over the mean, uniform routing.

    N = tokens x k expert assignments over ep ranks: mean N / ep, and the maximum of ep
    near-normal counts is about mean + sqrt(2 ln(ep) x mean), so

        imbalance = min(1 + sqrt(2 ln(ep) x ep / N), ep)      (1 when ep = 1)

    Uniform routing is a lower bound: real routers are skewed (engines rebalance with EPLB).

    >>> expert_imbalance(512, 1), round(expert_imbalance(512, 8), 3), round(expert_imbalance(65536, 8), 3)
    (1.0, 1.255, 1.023)
    """
    if ep <= 1 or assignments <= 0:
        return 1.0
    return float(min(1.0 + math.sqrt(2.0 * math.log(ep) * ep / assignments), float(ep)))


def alltoall_s(
    bytes_per_gpu: float,
    ep: int,
    devices: int,
    domain: int,
    link_bytes_s: float,
    scale_out_bytes_s: float,
    hop_latency_s: float,
) -> float:
    """One all-to-all (MoE dispatch or combine) in which each device sends `bytes_per_gpu`.

    A share (ep - 1) / ep leaves the device; within one scale-up domain of `domain` devices it
    rides the scale-up link, beyond it the share (ep - domain) / ep crosses the scale-out network
    (both in parallel, the slower wins):

        t = max(b (min(ep, domain) - 1) / ep / link, b max(ep - domain, 0) / ep / scale_out)
            + (1 + log2 ep) x hop latency

    >>> round(alltoall_s(8e6, 8, 8, 8, 400e9, 50e9, 0.0) * 1e6, 1)  # 7/8 of 8 MB at 400 GB/s
    17.5
    """
    if ep <= 1:
        return 0.0
    inside = min(ep, domain)
    t_in = bytes_per_gpu * (inside - 1) / ep / link_bytes_s
    t_out = bytes_per_gpu * max(ep - domain, 0) / ep / scale_out_bytes_s if devices > domain else 0.0
    return max(t_in, t_out) + (1.0 + math.log2(ep)) * hop_latency_s


@dataclass(frozen=True)
class Replica:
    """A model served on tp x dp devices of one type at one precision, with calibrated rates.

    tp: tensor parallelism of attention and dense layers (one attention group); dp: attention data
    parallelism (DEP; dp groups each serve their own sequences, weights replicated); ep: expert
    parallelism (MoE; routed experts spread over ep ranks, ep divides tp x dp). tp = dp = ep = 1 is
    one device; dp = ep = 1 is plain tensor parallelism (experts TP-split)."""

    model: ModelSpec
    gpu: GpuSpec
    precision: PrecisionSpec
    tp: int
    params: CalibrationParams
    kv_bytes: float | None = None
    """KV element bytes (None: the precision's default)."""
    dp: int = 1
    """Attention data-parallel groups (DEP); each of tp devices."""
    ep: int = 1
    """Expert-parallel degree (MoE only)."""
    pp: int = 1
    """Pipeline stages (layers split evenly; each stage has tp x dp devices)."""

    @functools.cached_property
    def devices(self) -> int:
        """Devices of one pipeline stage: tp x dp (the whole replica when pp = 1)."""
        return self.tp * self.dp

    @functools.cached_property
    def gpus(self) -> int:
        """Devices in the replica: tp x dp x pp."""
        return self.tp * self.dp * self.pp

    def p2p_s(self, tokens: float) -> float:
        """Activation hand-off between pipeline stages: tokens x hidden x act_bytes over the scale-up
        link when the replica fits one scale-up domain, else the scale-out network, + one hop."""
        if self.pp <= 1 or tokens <= 0:
            return 0.0
        inside = self.gpus <= self.gpu.max_tensor_parallel
        bw = self.link_bytes_s() if inside else self.params.scale_out_gb_s * 1e9 * self.params.link_eff
        return tokens * self.model.hidden_size * self.params.act_bytes / bw + self.fam.allreduce_hop_us * 1e-6

    @functools.cached_property
    def fam(self) -> FamilyParams:
        """The family's efficiencies as achieved by the engine of `params`."""
        return self.params.achieved(self.gpu.family)

    @functools.cached_property
    def bandwidth(self) -> float:
        """Achievable bytes/s per device: peak x bw_eff."""
        return self.gpu.mem_bandwidth_tb_s * 1e12 * self.fam.bw_eff

    @functools.cached_property
    def kv_bandwidth(self) -> float:
        """Achievable KV-cache read bytes/s per device (throughput path): peak x kv_bw_eff."""
        return self.gpu.mem_bandwidth_tb_s * 1e12 * self.fam.kv_bandwidth_eff

    @functools.cached_property
    def compute(self) -> float:
        """Achievable GEMM FLOP/s per device: peak(dtype) x compute_eff."""
        return peak_tflops(self.gpu, self.precision) * 1e12 * self.fam.compute_eff

    @functools.cached_property
    def attn_compute(self) -> float:
        """Achievable attention FLOP/s per device (attention runs in 16-bit unless KV is FP8)."""
        return self.compute * self.params.attn_eff

    @functools.cached_property
    def kv_elem_bytes(self) -> float:
        return self.precision.kv_bytes if self.kv_bytes is None else self.kv_bytes

    @functools.cached_property
    def kv_per_token_per_gpu(self) -> float:
        return kv_bytes_per_token_per_gpu(self.model, self.kv_elem_bytes, self.tp)

    @functools.cached_property
    def bpp(self) -> float:
        return bytes_per_param(self.precision)

    @functools.cached_property
    def encoder_b(self) -> float:
        return encoder_params_b(self.model)

    @functools.cached_property
    def decoder_active_b(self) -> float:
        """Parameters each generated token multiplies through (decoder only), billions."""
        return max(self.model.active_params_b - self.encoder_b, 1e-6)

    @functools.cached_property
    def active_expert_b(self) -> float:
        """Routed-expert parameters one token multiplies through (k of E experts), billions."""
        if not self.model.is_moe:
            return 0.0
        active = self.expert_b * self.model.experts_per_token / max(self.model.num_experts, 1)
        return min(active, self.decoder_active_b)

    @functools.cached_property
    def gemm_params_b(self) -> float:
        """Dense-equivalent GEMM parameters per token: shared weights + active experts / moe_eff.

        Routed experts run as grouped GEMMs over a few tokens each, below dense-GEMM efficiency;
        `moe_eff` (global, fitted) is that ratio. Dense models: the active parameters."""
        if not self.model.is_moe:
            return self.decoder_active_b
        return (self.decoder_active_b - self.active_expert_b) + self.active_expert_b / self.params.moe_eff

    @functools.cached_property
    def decoder_total_b(self) -> float:
        return max(self.model.total_params_b - self.encoder_b, 1e-6)

    @functools.cached_property
    def expert_b(self) -> float:
        return expert_params_b(self.model)

    @functools.cached_property
    def is_cpu(self) -> bool:
        return self.gpu.kind == DeviceKind.CPU

    def expert_frac(self, tokens: float) -> float:
        """Fraction of routed experts touched by `tokens` tokens: (1 - (1 - k/E)^tokens)."""
        return moe_experts_touched(self.model.num_experts, self.model.experts_per_token, tokens) / max(
            self.model.num_experts, 1
        )

    def imbalance(self, tokens: float) -> float:
        """Busiest expert-parallel rank over the mean (`expert_imbalance` of tokens x k over ep)."""
        return expert_imbalance(tokens * max(self.model.experts_per_token, 1), self.ep)

    def weight_bytes_read(self, tokens: float) -> float:
        """Weight bytes one step streams on one device for `tokens` tokens (whole replica).

        Dense: all decoder weights / tp. MoE: shared weights / tp + the touched fraction of routed
        experts, (1 - (1 - k/E)^tokens), spread over all tp x dp devices; with expert parallelism
        the busiest rank reads 1 + (imbalance - 1) x (1 - touched) times the mean (imbalance fades
        once every expert is touched on every rank).
        """
        shared = self.decoder_total_b - self.expert_b
        out = shared * 1e9 * self.bpp / self.tp
        if self.model.is_moe:
            frac = self.expert_frac(tokens)
            imb = 1.0 + (self.imbalance(tokens) - 1.0) * (1.0 - frac)
            out += self.expert_b * frac * imb * 1e9 * self.bpp / self.devices
        return out

    def gemm_flops(self, tokens: float) -> float:
        """GEMM FLOPs on one device: 2 x shared x tokens / (tp x dp) + 2 x active experts / moe_eff
        x tokens x imbalance / (tp x dp) (dense: 2 x active params x tokens / tp)."""
        if not self.model.is_moe:
            return 2.0 * self.gemm_params_b * 1e9 * tokens / self.tp
        shared = (self.decoder_active_b - self.active_expert_b) * 1e9
        experts = self.active_expert_b / self.params.moe_eff * 1e9 * self.imbalance(tokens)
        return 2.0 * (shared + experts) * tokens / self.devices

    def link_bytes_s(self) -> float:
        return self.gpu.interconnect_bw_gb_s * 1e9 * self.params.link_eff

    def moe_comm_s(self, tokens: float) -> float:
        """Expert-parallel all-to-all: dispatch and combine in every MoE layer, each device sending
        tokens / (tp x dp) x k x hidden x act_bytes (`alltoall_s`)."""
        if self.ep <= 1 or tokens <= 0:
            return 0.0
        moe_layers = self.model.num_layers - self.model.num_dense_layers
        per_gpu = (
            tokens
            / self.devices
            * self.model.experts_per_token
            * self.model.hidden_size
            * self.params.act_bytes
        )
        one = alltoall_s(
            per_gpu,
            self.ep,
            self.devices,
            self.gpu.max_tensor_parallel,
            self.link_bytes_s(),
            self.params.scale_out_gb_s * 1e9 * self.params.link_eff,
            self.fam.allreduce_hop_us * 1e-6,
        )
        return 2.0 * moe_layers * one

    def allreduce_s(self, tokens: float) -> float:
        """Tensor-parallel all-reduces of (tokens / dp) x hidden x act_bytes over the scale-up link
        (at link_eff): 2 per layer, or with expert parallelism 1 per MoE layer (after attention; the
        experts' output returns by all-to-all) and 2 per dense layer."""
        if self.tp <= 1 or tokens <= 0:
            return 0.0
        payload = tokens / self.dp * self.model.hidden_size * self.params.act_bytes
        one = ring_allreduce_s(payload, self.tp, self.link_bytes_s(), self.fam.allreduce_hop_us * 1e-6)
        if self.ep > 1:
            dense = self.model.num_dense_layers
            return (self.model.num_layers - dense + 2.0 * dense) * one
        return 2.0 * self.model.num_layers * one

    def step(
        self,
        *,
        decode_seqs: float,
        context: float,
        query_per_seq: float = 1.0,
        prefill_tokens: float = 0.0,
        prefill_attn_flops: float = 0.0,
        encoder_windows: float = 0.0,
        split_prefill: bool = True,
    ) -> StepTime:
        """One engine step (see module docstring). `prefill_attn_flops` is whole-model FLOPs.

        Pipeline parallelism (pp > 1): the running sequences form pp micro-batches, each passing
        every stage once per round, so a round costs the whole model's GEMM, attention and TP
        communication for one micro-batch (B / pp sequences; each stage reads its weights once per
        micro-batch) plus pp x (step overhead + stage hand-off):

            t_pp(B, P) = core(B / pp, P / pp) + pp x (overhead + p2p(tokens / pp))

        With `split_prefill=False` (a prompt's own latency, TTFT) the prompt chunk is not divided:
        it traverses the stages one after another, core(B / pp, P)."""
        if self.pp > 1:
            pp = float(self.pp)
            core = replace(self, pp=1).step(
                decode_seqs=decode_seqs / pp,
                context=context,
                query_per_seq=query_per_seq,
                prefill_tokens=prefill_tokens / pp if split_prefill else prefill_tokens,
                prefill_attn_flops=prefill_attn_flops / pp if split_prefill else prefill_attn_flops,
                encoder_windows=encoder_windows / pp if split_prefill else encoder_windows,
            )
            mb_tokens = decode_seqs * query_per_seq / pp + (
                prefill_tokens / pp if split_prefill else prefill_tokens
            )
            extra = pp * (core.overhead_s + self.p2p_s(mb_tokens)) - core.overhead_s
            return StepTime(
                core.gemm_s, core.attn_s, core.comm_s, core.overhead_s + extra, core.gemm_memory_bound
            )
        decode_tokens = decode_seqs * query_per_seq
        tokens = decode_tokens + prefill_tokens
        w_bytes = self.weight_bytes_read(tokens) if tokens > 0 else 0.0
        g_flops = self.gemm_flops(tokens)
        if encoder_windows > 0 and self.model.encoder_layers > 0:
            frames = (self.model.encoder_frames_per_30s or 1500) * encoder_windows
            w_bytes += self.encoder_b * 1e9 * self.bpp / self.tp * min(1.0, encoder_windows)
            g_flops += 2.0 * self.encoder_b * 1e9 * frames / self.tp
            # cross-attention K/V projections of the encoder output in every decoder layer
            g_flops += 4.0 * self.model.num_layers * self.model.hidden_size**2 * frames / self.tp
            prefill_attn_flops += (
                encoder_windows
                * 4.0
                * self.model.encoder_layers
                * self.model.hidden_size
                * (self.model.encoder_frames_per_30s or 1500) ** 2
            )
        mem_s = w_bytes / self.bandwidth
        cmp_s = g_flops / self.compute
        gemm_s = roofline_s(mem_s, cmp_s, self.params.roofline_sharpness)
        kv_read = decode_seqs / self.dp * context * self.kv_per_token_per_gpu
        a_flops = (
            decode_tokens * context * attention_decode_flops_per_ctx_token(self.model) + prefill_attn_flops
        ) / self.devices
        attn_s = roofline_s(
            kv_read / self.kv_bandwidth, a_flops / self.attn_compute, self.params.roofline_sharpness
        )
        comm_s = self.allreduce_s(tokens) + self.moe_comm_s(tokens)
        overhead = self.fam.step_overhead_ms * 1e-3 if tokens > 0 else 0.0
        return StepTime(gemm_s, attn_s, comm_s, overhead, mem_s >= cmp_s)

    def prefill_compute_s(
        self,
        *,
        tokens_per_request: float,
        attn_flops_per_request: float = 0.0,
        encoder_windows_per_request: float = 0.0,
    ) -> float:
        """Compute time of one prompt's prefill, the prefill server's service time in its arrival-rate
        load (`serving`): GEMM FLOPs / C + attention FLOPs / (devices x C x attn_eff), with the
        encoder's FLOPs for speech; no weight streaming, communication or step overhead (decode steps
        read the weights anyway, so a prompt's marginal cost is its compute). Whole model on one
        stage's devices: with pp > 1 the stages run one after another."""
        g = self.gemm_flops(tokens_per_request)
        a = attn_flops_per_request
        enc = encoder_windows_per_request
        if enc > 0 and self.model.encoder_layers > 0:
            per_window = self.model.encoder_frames_per_30s or 1500
            frames = per_window * enc
            g += 2.0 * self.encoder_b * 1e9 * frames / self.tp
            g += 4.0 * self.model.num_layers * self.model.hidden_size**2 * frames / self.tp
            a += enc * 4.0 * self.model.encoder_layers * self.model.hidden_size * per_window**2
        return g / self.compute + a / self.devices / self.attn_compute

    def prefill_s(
        self,
        *,
        tokens_per_request: float,
        requests: float = 1.0,
        attn_flops_per_request: float = 0.0,
        encoder_windows_per_request: float = 0.0,
        decode_seqs: float = 0.0,
        context: float = 0.0,
    ) -> float:
        """Time to prefill `requests` prompts, in chunks of at most max_num_tokens tokens per step,
        with `decode_seqs` running sequences riding along in every chunk."""
        total = tokens_per_request * requests
        chunks = max(1, math.ceil(total / self.params.max_num_tokens)) if total > 0 else 1
        st = self.step(
            decode_seqs=decode_seqs,
            context=context,
            prefill_tokens=total / chunks,
            prefill_attn_flops=attn_flops_per_request * requests / chunks,
            encoder_windows=encoder_windows_per_request * requests / chunks,
            split_prefill=requests > 1.0,
        )
        return chunks * st.total_s


def single_stream_decode_tokens_per_s(
    model: ModelSpec,
    device: GpuSpec,
    precision: PrecisionSpec,
    params: CalibrationParams,
    context: float = 0.0,
) -> float:
    """Batch-1 decode speed of one device (the CPU path, kind == cpu, and any single GPU).

    tokens/s = 1 / (roof(bytes / BW, flops / C) + kv(context) / BW + overhead), with
    bytes = active weights (MoE: the k routed experts of one token) and BW the family's achievable
    bandwidth: a CPU serving a small model from DRAM is bandwidth-bound exactly like a GPU at
    batch 1, only with ~10x less bandwidth.

    >>> from optimizer.perf._examples import LLAMA_3_1_8B, BF16, H100_SXM
    >>> from optimizer.perf.params import CalibrationParams
    >>> tok_s = single_stream_decode_tokens_per_s(LLAMA_3_1_8B, H100_SXM, BF16, CalibrationParams())
    >>> tok_s < 3.35e12 / (8.03e9 * 2)  # below the bandwidth ceiling
    True
    """
    rep = Replica(model, device, precision, 1, params)
    return 1.0 / rep.step(decode_seqs=1.0, context=context).total_s
