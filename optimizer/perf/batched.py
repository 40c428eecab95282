"""Array versions of the replica model: many configurations evaluated at once with numpy.

`replica_capacities(queries)` returns exactly what `replica_capacity` returns for each query (the
same formulas, the same 60-step bisection on the batch size), but runs every configuration of a
candidate grid in lockstep over numpy arrays instead of one scalar search each.

Only the batch-dependent part is re-stated here: one engine step (`Replica.step`, module
`step`), a decode round with prefill interference (`Server.round_s`), prompt processing
(`Server.prefill_s`), the steady state (`Server.steady`) and the search (`Server.best_meeting`).
Everything constant per configuration (achievable bandwidth and compute, bytes per parameter, KV
bytes per token, memory plan, max batch, token budget, speculative tau) is read from the scalar
objects, so it cannot drift. `tests/perf/test_perf_batched.py` checks the array functions against
the scalar ones to 1e-9 over a grid of GPUs, models, precisions, parallelism, speculation and
shapes: a change of a formula in `step.py` or `serving.py` must be mirrored here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf.capacity import Capacity, Draft, Shape, _capacity, _replica, why_not_fit
from optimizer.perf.engines import ENGINES, with_engine
from optimizer.perf.params import CalibrationParams, default_params
from optimizer.perf.serving import TAIL, Z_SCORE, OperatingPoint, Percentile, Server
from optimizer.perf.step import Replica, attention_decode_flops_per_ctx_token

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BISECTION_STEPS = 60
"""Halvings of [0, max_batch] in the search, as in `Server.best_meeting`."""
IDLE_BATCH = 1e-3
"""The near-idle load `Server.best_meeting` tests first (a replica that fails here never meets)."""


@dataclass(frozen=True, slots=True)
class CapacityQuery:
    """One `replica_capacity` call: a configuration, a request shape and its latency targets."""

    model: ModelSpec
    gpu: GpuSpec
    precision: PrecisionSpec
    tp: int
    shape: Shape
    ttft_ms: float | None
    """Server-side TTFT target, ms (None: unconstrained)."""
    tpot_ms: float | None
    """TPOT target, ms (None: unconstrained)."""
    draft: Draft | None = None
    dp: int = 1
    """Attention data-parallel groups (MoE)."""
    ep: int = 1
    """Expert-parallel degree (MoE)."""
    percentile: Percentile = "mean"
    """Statistic the targets are stated for (`slo.percentile`)."""
    pp: int = 1
    """Pipeline stages."""
    engine: str | None = None
    """Serving engine (`engines.ENGINES` id) whose limits and efficiency apply (`with_engine`);
    None: the parameter set's own engine."""


# ----------------------------------------------------------------------------------------------
# Per-configuration constants as arrays
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplicaArrays:
    """The constants of `Replica.step` for n replicas, each an array of shape (n,)."""

    bandwidth: Array
    """Achievable bytes/s per device (weight streaming, latency path)."""
    kv_bandwidth: Array
    """Achievable KV-cache read bytes/s per device (throughput path)."""
    pp: Array
    """Pipeline stages."""
    p2p_bytes_s: Array
    """Stage hand-off bandwidth: scale-up link x link_eff inside one domain, else scale-out."""
    compute: Array
    """Achievable GEMM FLOP/s per device."""
    attn_compute: Array
    kv_per_token_per_gpu: Array
    bpp: Array
    """Stored bytes per parameter."""
    tp: Array
    dp: Array
    """Attention data-parallel groups."""
    ep: Array
    """Expert-parallel degree."""
    devices: Array
    """tp x dp."""
    gemm_params_b: Array
    shared_b: Array
    """Decoder weights outside the routed experts, billions."""
    shared_active_b: Array
    """Active decoder parameters outside the routed experts, billions."""
    active_expert_b: Array
    expert_b: Array
    is_moe: BoolArray
    num_experts: Array
    experts_per_token: Array
    """min(k, E), as `moe_experts_touched` uses it."""
    assignments_per_token: Array
    """max(k, 1), as `Replica.imbalance` uses it."""
    routed_k: Array
    """k, as `Replica.moe_comm_s` uses it."""
    moe_eff: Array
    hidden: Array
    layers: Array
    dense_layers: Array
    moe_layers: Array
    encoder_layers: Array
    encoder_b: Array
    frames_per_30s: Array
    attn_flops_per_ctx: Array
    link_bytes_s: Array
    """Scale-up link bandwidth x link_eff, bytes/s."""
    scale_out_bytes_s: Array
    """Scale-out bandwidth x link_eff, bytes/s."""
    domain: Array
    """Devices in one scale-up domain."""
    hop_s: Array
    overhead_s: Array
    act_bytes: Array

    @staticmethod
    def of(reps: Sequence[Replica]) -> ReplicaArrays:
        """Read every constant from the scalar replicas (their cached properties)."""

        def arr(values: Sequence[float]) -> Array:
            return np.asarray(values, dtype=np.float64)

        return ReplicaArrays(
            bandwidth=arr([r.bandwidth for r in reps]),
            kv_bandwidth=arr([r.kv_bandwidth for r in reps]),
            pp=arr([float(r.pp) for r in reps]),
            p2p_bytes_s=arr(
                [
                    r.link_bytes_s()
                    if r.gpus <= r.gpu.max_tensor_parallel
                    else r.params.scale_out_gb_s * 1e9 * r.params.link_eff
                    for r in reps
                ]
            ),
            compute=arr([r.compute for r in reps]),
            attn_compute=arr([r.attn_compute for r in reps]),
            kv_per_token_per_gpu=arr([r.kv_per_token_per_gpu for r in reps]),
            bpp=arr([r.bpp for r in reps]),
            tp=arr([float(r.tp) for r in reps]),
            dp=arr([float(r.dp) for r in reps]),
            ep=arr([float(r.ep) for r in reps]),
            devices=arr([float(r.devices) for r in reps]),
            gemm_params_b=arr([r.gemm_params_b for r in reps]),
            shared_b=arr([r.decoder_total_b - r.expert_b for r in reps]),
            shared_active_b=arr([r.decoder_active_b - r.active_expert_b for r in reps]),
            active_expert_b=arr([r.active_expert_b for r in reps]),
            expert_b=arr([r.expert_b for r in reps]),
            is_moe=np.asarray([r.model.is_moe for r in reps], dtype=np.bool_),
            num_experts=arr([float(r.model.num_experts) for r in reps]),
            experts_per_token=arr([float(min(r.model.experts_per_token, r.model.num_experts)) for r in reps]),
            assignments_per_token=arr([float(max(r.model.experts_per_token, 1)) for r in reps]),
            routed_k=arr([float(r.model.experts_per_token) for r in reps]),
            moe_eff=arr([r.params.moe_eff for r in reps]),
            hidden=arr([float(r.model.hidden_size) for r in reps]),
            layers=arr([float(r.model.num_layers) for r in reps]),
            dense_layers=arr([float(r.model.num_dense_layers) for r in reps]),
            moe_layers=arr([float(r.model.num_layers - r.model.num_dense_layers) for r in reps]),
            encoder_layers=arr([float(r.model.encoder_layers) for r in reps]),
            encoder_b=arr([r.encoder_b for r in reps]),
            frames_per_30s=arr([float(r.model.encoder_frames_per_30s or 1500) for r in reps]),
            attn_flops_per_ctx=arr([attention_decode_flops_per_ctx_token(r.model) for r in reps]),
            link_bytes_s=arr([r.link_bytes_s() for r in reps]),
            scale_out_bytes_s=arr([r.params.scale_out_gb_s * 1e9 * r.params.link_eff for r in reps]),
            domain=arr([float(r.gpu.max_tensor_parallel) for r in reps]),
            hop_s=arr([r.fam.allreduce_hop_us * 1e-6 for r in reps]),
            overhead_s=arr([r.fam.step_overhead_ms * 1e-3 for r in reps]),
            act_bytes=arr([r.params.act_bytes for r in reps]),
        )

    def take(self, idx: npt.NDArray[np.intp]) -> ReplicaArrays:
        return ReplicaArrays(*(getattr(self, f.name)[idx] for f in fields(self)))


@dataclass(frozen=True, slots=True)
class ServerArrays:
    """The constants of `Server` (one replica serving one shape) for n servers."""

    rep: ReplicaArrays
    draft: ReplicaArrays
    """The draft replicas (rows without speculation repeat the target; their g is 0)."""
    g: Array
    """Draft tokens per round (0: no speculation)."""
    has_spec: BoolArray
    tau: Array
    token_budget_batch: Array
    max_batch: Array
    prefill_tokens: Array
    prefill_attn_flops: Array
    encoder_windows: Array
    decode_context: Array
    output_tokens: Array
    input_tokens: Array
    prefill_chunks: Array
    """Chunks one prompt is processed in: max(1, ceil(I / max_num_tokens)) (1 for I = 0)."""
    prefill_compute_s: Array
    """`Server.prefill_compute_s`: a prompt's prefill compute time (the prefill queue's load)."""
    step_token_budget: Array
    """Tokens one step may carry (`Server.step_token_budget`)."""
    sharpness: float

    @staticmethod
    def of(servers: Sequence[Server], params: CalibrationParams) -> ServerArrays:
        def arr(values: Sequence[float]) -> Array:
            return np.asarray(values, dtype=np.float64)

        budget = float(params.max_num_tokens)
        chunks = [
            max(1, math.ceil(s.work.prefill_tokens / budget)) if s.work.prefill_tokens > 0 else 1
            for s in servers
        ]
        return ServerArrays(
            rep=ReplicaArrays.of([s.rep for s in servers]),
            draft=ReplicaArrays.of([s.spec.draft if s.spec is not None else s.rep for s in servers]),
            g=arr([float(max(int(s.spec.draft_tokens), 0)) if s.spec is not None else 0.0 for s in servers]),
            has_spec=np.asarray([s.spec is not None for s in servers], dtype=np.bool_),
            tau=arr([s.tau for s in servers]),
            token_budget_batch=arr([s.token_budget_batch for s in servers]),
            max_batch=arr([float(s.max_batch) for s in servers]),
            prefill_tokens=arr([s.work.prefill_tokens for s in servers]),
            prefill_attn_flops=arr([s.work.prefill_attn_flops for s in servers]),
            encoder_windows=arr([s.work.encoder_windows for s in servers]),
            decode_context=arr([s.work.decode_context for s in servers]),
            output_tokens=arr([s.work.output_tokens for s in servers]),
            input_tokens=arr([s.work.input_tokens for s in servers]),
            prefill_chunks=arr([float(c) for c in chunks]),
            prefill_compute_s=arr([s.prefill_compute_s for s in servers]),
            step_token_budget=arr([s.step_token_budget for s in servers]),
            sharpness=float(params.roofline_sharpness),
        )

    def take(self, idx: npt.NDArray[np.intp]) -> ServerArrays:
        vals = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, ReplicaArrays):
                v = v.take(idx)
            elif isinstance(v, np.ndarray):
                v = v[idx]
            vals.append(v)
        return ServerArrays(*vals)


# ----------------------------------------------------------------------------------------------
# Array formulas (each mirrors the scalar function named in its docstring)
# ----------------------------------------------------------------------------------------------


def roofline_s_array(memory_s: Array, compute_s: Array, sharpness: float) -> Array:
    """`step.roofline_s`: hi x ((m/hi)^p + (c/hi)^p)^(1/p), hi = max(m, c); 0 where hi <= 0."""
    hi = np.maximum(memory_s, compute_s)
    if math.isinf(sharpness):
        return hi
    pos = hi > 0
    safe = np.where(pos, hi, 1.0)
    val = safe * ((memory_s / safe) ** sharpness + (compute_s / safe) ** sharpness) ** (1.0 / sharpness)
    return np.where(pos, val, 0.0)


def expert_imbalance_array(assignments: Array, ep: Array) -> Array:
    """`step.expert_imbalance`: min(1 + sqrt(2 ln(ep) x ep / N), ep); 1 for ep = 1 or N <= 0."""
    on = (ep > 1) & (assignments > 0)
    safe_n = np.where(on, assignments, 1.0)
    val = np.minimum(1.0 + np.sqrt(2.0 * np.log(np.maximum(ep, 1.0)) * ep / safe_n), ep)
    return np.where(on, val, 1.0)


def weight_bytes_read_array(r: ReplicaArrays, tokens: Array) -> Array:
    """`Replica.weight_bytes_read`: shared weights / tp; MoE: + the touched fraction of routed
    experts, (1 - (1 - k/E)^tokens), over tp x dp devices, the busiest expert-parallel rank reading
    1 + (imbalance - 1) (1 - touched) times the mean."""
    out = r.shared_b * 1e9 * r.bpp / r.tp
    if not bool(r.is_moe.any()):
        return out
    e = np.maximum(r.num_experts, 1.0)
    touched = np.where(
        (r.num_experts > 0) & (tokens > 0),
        r.num_experts * (1.0 - (1.0 - r.experts_per_token / e) ** np.maximum(tokens, 0.0)),
        0.0,
    )
    frac = touched / e
    imb = 1.0 + (expert_imbalance_array(tokens * r.assignments_per_token, r.ep) - 1.0) * (1.0 - frac)
    res: Array = np.where(r.is_moe, out + r.expert_b * frac * imb * 1e9 * r.bpp / r.devices, out)
    return res


def gemm_flops_array(r: ReplicaArrays, tokens: Array) -> Array:
    """`Replica.gemm_flops`: dense 2 x active x tokens / tp; MoE 2 x (shared + active experts /
    moe_eff x imbalance) x tokens / (tp x dp)."""
    dense = 2.0 * r.gemm_params_b * 1e9 * tokens / r.tp
    if not bool(r.is_moe.any()):
        return dense
    shared = r.shared_active_b * 1e9
    experts = (
        r.active_expert_b / r.moe_eff * 1e9 * expert_imbalance_array(tokens * r.assignments_per_token, r.ep)
    )
    res: Array = np.where(r.is_moe, 2.0 * (shared + experts) * tokens / r.devices, dense)
    return res


def allreduce_s_array(r: ReplicaArrays, tokens: Array) -> Array:
    """`Replica.allreduce_s`: ring all-reduces of (tokens / dp) x hidden x act_bytes
    (2(tp-1)/tp x bytes / link + 2 log2(tp) x hop), 2 per layer, or with expert parallelism 1 per
    MoE layer and 2 per dense layer; 0 for tp = 1 or no tokens."""
    payload = tokens / r.dp * r.hidden * r.act_bytes
    one = 2.0 * (r.tp - 1.0) / r.tp * payload / r.link_bytes_s + 2.0 * np.log2(r.tp) * r.hop_s
    layers = np.where(r.ep > 1, r.layers - r.dense_layers + 2.0 * r.dense_layers, 2.0 * r.layers)
    return np.where((r.tp > 1) & (tokens > 0), layers * one, 0.0)


def moe_comm_s_array(r: ReplicaArrays, tokens: Array) -> Array:
    """`Replica.moe_comm_s`: 2 x MoE layers x all-to-all of tokens / (tp x dp) x k x hidden x
    act_bytes per device (`step.alltoall_s`); 0 for ep = 1 or no tokens."""
    on = (r.ep > 1) & (tokens > 0)
    if not bool(on.any()):
        return np.zeros_like(tokens)
    per_gpu = tokens / r.devices * r.routed_k * r.hidden * r.act_bytes
    inside = np.minimum(r.ep, r.domain)
    t_in = per_gpu * (inside - 1.0) / r.ep / r.link_bytes_s
    t_out = np.where(
        r.devices > r.domain, per_gpu * np.maximum(r.ep - r.domain, 0.0) / r.ep / r.scale_out_bytes_s, 0.0
    )
    one = np.maximum(t_in, t_out) + (1.0 + np.log2(np.maximum(r.ep, 1.0))) * r.hop_s
    return np.where(on, 2.0 * r.moe_layers * one, 0.0)


def step_s_array(
    r: ReplicaArrays,
    sharpness: float,
    *,
    decode_seqs: Array,
    context: Array,
    query_per_seq: Array | float = 1.0,
    prefill_tokens: Array | float = 0.0,
    prefill_attn_flops: Array | float = 0.0,
    encoder_windows: Array | float = 0.0,
    split_prefill: bool = True,
) -> Array:
    """`Replica.step(...).total_s`: roof(weights / BW, GEMM FLOPs / C) + roof(KV / BW_kv, attention
    FLOPs / C_attn) + all-reduce + all-to-all + overhead (see `step`'s module docstring); with
    pipeline stages, core(B / pp, P / pp or P) + pp x (overhead + hand-off) - overhead."""
    if not bool((r.pp > 1).any()):
        return _core_step_s_array(
            r,
            sharpness,
            decode_seqs=decode_seqs,
            context=context,
            query_per_seq=query_per_seq,
            prefill_tokens=prefill_tokens,
            prefill_attn_flops=prefill_attn_flops,
            encoder_windows=encoder_windows,
        )
    pp = r.pp
    multi = pp > 1
    div = np.where(multi, pp, 1.0) if split_prefill else np.ones_like(pp)
    pre_t = np.asarray(prefill_tokens, dtype=np.float64) / div
    pre_a = np.asarray(prefill_attn_flops, dtype=np.float64) / div
    pre_e = np.asarray(encoder_windows, dtype=np.float64) / div
    dec = np.where(multi, decode_seqs / pp, decode_seqs)
    core = _core_step_s_array(
        r,
        sharpness,
        decode_seqs=dec,
        context=context,
        query_per_seq=query_per_seq,
        prefill_tokens=pre_t,
        prefill_attn_flops=pre_a,
        encoder_windows=pre_e,
    )
    mb_tokens = dec * query_per_seq + pre_t
    overhead = np.where(mb_tokens > 0, r.overhead_s, 0.0)
    p2p = np.where(mb_tokens > 0, mb_tokens * r.hidden * r.act_bytes / r.p2p_bytes_s + r.hop_s, 0.0)
    total: Array = np.where(multi, core + pp * (overhead + p2p) - overhead, core)
    return total


def _core_step_s_array(
    r: ReplicaArrays,
    sharpness: float,
    *,
    decode_seqs: Array,
    context: Array,
    query_per_seq: Array | float = 1.0,
    prefill_tokens: Array | float = 0.0,
    prefill_attn_flops: Array | float = 0.0,
    encoder_windows: Array | float = 0.0,
) -> Array:
    """One step of the whole model on one stage's devices (`Replica.step` with pp = 1)."""
    decode_tokens = decode_seqs * query_per_seq
    tokens = decode_tokens + prefill_tokens
    w_bytes = np.where(tokens > 0, weight_bytes_read_array(r, tokens), 0.0)
    g_flops = gemm_flops_array(r, tokens)
    enc = np.broadcast_to(np.asarray(encoder_windows, dtype=np.float64), tokens.shape)
    speech = (enc > 0) & (r.encoder_layers > 0)
    attn_extra = np.asarray(prefill_attn_flops, dtype=np.float64)
    if bool(speech.any()):
        frames = r.frames_per_30s * enc
        w_bytes = w_bytes + np.where(speech, r.encoder_b * 1e9 * r.bpp / r.tp * np.minimum(1.0, enc), 0.0)
        g_flops = g_flops + np.where(speech, 2.0 * r.encoder_b * 1e9 * frames / r.tp, 0.0)
        # cross-attention K/V projections of the encoder output in every decoder layer
        g_flops = g_flops + np.where(speech, 4.0 * r.layers * r.hidden**2 * frames / r.tp, 0.0)
        attn_extra = attn_extra + np.where(
            speech, enc * 4.0 * r.encoder_layers * r.hidden * r.frames_per_30s**2, 0.0
        )
    mem_s = w_bytes / r.bandwidth
    cmp_s = g_flops / r.compute
    gemm_s = roofline_s_array(mem_s, cmp_s, sharpness)
    kv_read = decode_seqs / r.dp * context * r.kv_per_token_per_gpu
    a_flops = (decode_tokens * context * r.attn_flops_per_ctx + attn_extra) / r.devices
    attn_s = roofline_s_array(kv_read / r.kv_bandwidth, a_flops / r.attn_compute, sharpness)
    comm_s = allreduce_s_array(r, tokens) + moe_comm_s_array(r, tokens)
    overhead = np.where(tokens > 0, r.overhead_s, 0.0)
    total: Array = gemm_s + attn_s + comm_s + overhead
    return total


def server_step_s_array(s: ServerArrays, batch: Array, prefill_requests: Array | float) -> Array:
    """`Server._step_s`: one step of `batch` decodes carrying `prefill_requests` prompts; with a
    draft, g draft steps + one target verify of g + 1 tokens per sequence
    (`speculative.speculative_round_s`)."""
    target = step_s_array(
        s.rep,
        s.sharpness,
        decode_seqs=batch,
        context=s.decode_context,
        query_per_seq=s.g + 1.0,
        prefill_tokens=prefill_requests * s.prefill_tokens,
        prefill_attn_flops=prefill_requests * s.prefill_attn_flops,
        encoder_windows=prefill_requests * s.encoder_windows,
    )
    if not bool(s.has_spec.any()):
        return target
    draft = step_s_array(s.draft, s.sharpness, decode_seqs=batch, context=s.decode_context)
    draft = np.where(batch > 0, draft, 0.0)
    return np.where(s.has_spec, s.g * draft + target, target)


def prefill_s_array(s: ServerArrays, decode_seqs: Array) -> Array:
    """`Server.prefill_s(decode_seqs)` (one prompt): chunks x step(decode_seqs riding along,
    I / chunks prompt tokens)."""
    c = s.prefill_chunks
    st = step_s_array(
        s.rep,
        s.sharpness,
        decode_seqs=decode_seqs,
        context=s.decode_context,
        prefill_tokens=s.prefill_tokens / c,
        prefill_attn_flops=s.prefill_attn_flops / c,
        encoder_windows=s.encoder_windows / c,
        split_prefill=False,
    )
    out: Array = c * st
    return out


def md1_wait_s_array(utilization: Array, service_s: Array) -> Array:
    """`serving.md1_wait_s`: rho s / (2 (1 - rho)); 0 at rho <= 0, inf at rho >= 1."""
    busy = (utilization > 0) & (utilization < 1.0)
    safe = np.where(busy, utilization, 0.5)
    wait = safe * service_s / (2.0 * (1.0 - safe))
    return np.where(utilization >= 1.0, np.inf, np.where(busy, wait, 0.0))


def wait_quantile_s_array(mean_s: Array, p_wait: Array, tail: float) -> Array:
    """`serving.wait_quantile_s`: (mean / p_wait) ln(p_wait / tail) where p_wait > tail, else 0;
    inf for an unbounded mean."""
    on = (mean_s > 0) & (p_wait > tail)
    safe_p = np.where(on, p_wait, 1.0)
    finite = np.isfinite(mean_s)
    val = np.where(finite, mean_s, 0.0) / safe_p * np.log(safe_p / tail)
    return np.where(on, np.where(finite, val, np.inf), 0.0)


def erlang_c_array(servers: Array, offered: Array) -> Array:
    """`serving.erlang_c` for integer server counts: exact Erlang-B recursion up to 200 servers,
    Halfin-Whitt beyond (0 for beta > 8); 0 at no load, 1 at offered >= servers."""
    out = np.where(offered >= servers, 1.0, 0.0)
    live = (offered > 0) & (offered < servers)
    big = live & (servers > 200)
    if bool(big.any()):
        safe_c = np.where(big, servers, 1.0)
        beta = np.minimum((safe_c - np.where(big, offered, 0.0)) / np.sqrt(safe_c), 8.5)
        phi = np.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
        cdf = 0.5 * (1.0 + _erf(beta / math.sqrt(2.0)))
        hw = np.where(beta > 8.0, 0.0, 1.0 / (1.0 + beta * cdf / np.where(phi > 0, phi, 1.0)))
        out = np.where(big, hw, out)
    small = live & (servers <= 200)
    if bool(small.any()):
        idx = np.nonzero(small)[0]
        c = np.maximum(np.floor(servers[idx]), 1.0)
        a = offered[idx]
        # Erlang-B recursion B_k = a B_(k-1) / (k + a B_(k-1)), B_0 = 1, up to each entry's own c:
        # entries sorted by c (descending), so step k updates only the prefix with c >= k
        order = np.argsort(-c, kind="stable")
        c_s, a_s = c[order], a[order]
        bb = np.ones_like(a_s)
        neg_c = -c_s
        for k in range(1, int(c_s[0]) + 1):
            n = int(np.searchsorted(neg_c, -k, side="right"))
            head = a_s[:n] * bb[:n]
            bb[:n] = head / (k + head)
        out[idx[order]] = bb / (1.0 - a_s / c_s * (1.0 - bb))  # `out` is a fresh array here
    return out


def _erf(x: Array) -> Array:
    res: Array = np.vectorize(math.erf, otypes=[np.float64])(x)
    return res


def admission_wait_s_array(slots: Array, busy: Array, hold_s: Array) -> tuple[Array, Array]:
    """`serving.admission_wait_s`: (C(c, B) x hold / (c - B), C(c, B)); (0, 0) without load,
    (inf, 1) at B >= c."""
    live = (busy > 0) & (slots > 0)
    full = live & (busy >= slots)
    part = live & ~full
    c = np.where(part, erlang_c_array(slots, busy), 0.0)
    gap = np.where(part, slots - busy, 1.0)
    wait = np.where(full, np.inf, np.where(part, c * hold_s / gap, 0.0))
    prob = np.where(full, 1.0, c)
    return wait, prob


def round_s_array(s: ServerArrays, batch: Array, prefills: Array) -> Array:
    """`Server.round_s`: t(B, 0) + n (t(B, r) - t(B, 0)), r = min(max(p, 1), budget / I), n = p / r."""
    base = server_step_s_array(s, batch, 0.0)
    per_step = _per_step(s, prefills)
    n = prefills / per_step
    return np.where(prefills > 0, base + n * (server_step_s_array(s, batch, per_step) - base), base)


def _per_step(s: ServerArrays, prefills: Array) -> Array:
    tokens = s.prefill_tokens
    per_step = np.maximum(prefills, 1.0)
    safe_tokens = np.where(tokens > 0, tokens, 1.0)
    return np.where(tokens > 0, np.minimum(per_step, s.step_token_budget / safe_tokens), per_step)


def tpot_sd_array(s: ServerArrays, batch: Array, prefills: Array) -> Array:
    """`Server._tpot_sd`: sqrt(f (1 - f) (t1 - t0)^2 / m + max(dT/dB, 0)^2 x 2B/3) / tau."""
    m = np.maximum(s.output_tokens - 1.0, 1.0)
    per_step = _per_step(s, prefills)
    f = np.minimum(prefills / per_step, 1.0)
    t0 = server_step_s_array(s, batch, 0.0)
    t1 = server_step_s_array(s, batch, per_step)
    var = np.where(prefills > 0, f * (1.0 - f) * (t1 - t0) ** 2 / m, 0.0)
    h = np.maximum(0.05 * batch, 0.5)
    lo, hi = np.maximum(batch - h, 0.0), batch + h
    o = s.output_tokens
    slope = (round_s_array(s, hi, hi * s.tau / o) - round_s_array(s, lo, lo * s.tau / o)) / (hi - lo)
    var = var + np.where(batch > 0, np.maximum(slope, 0.0) ** 2 * 2.0 * batch / 3.0, 0.0)
    out: Array = np.sqrt(var) / s.tau
    return out


@dataclass(frozen=True, slots=True)
class PointArrays:
    """`OperatingPoint` fields for n servers (tails None: computed without them)."""

    batch: Array
    requests_per_s: Array
    output_tokens_per_s: Array
    input_tokens_per_s: Array
    ttft_s: Array
    tpot_s: Array
    e2e_s: Array
    prefill_share: Array
    admission_wait_s: Array
    ttft_admitted_s: Array
    ttft_p90_s: Array | None = None
    ttft_p99_s: Array | None = None
    tpot_p90_s: Array | None = None
    tpot_p99_s: Array | None = None

    def ttft_at(self, percentile: Array) -> Array:
        """TTFT per row at its statistic (0 mean, 90, 99)."""
        if self.ttft_p90_s is None or self.ttft_p99_s is None:
            return self.ttft_s
        return np.where(
            percentile == 90, self.ttft_p90_s, np.where(percentile == 99, self.ttft_p99_s, self.ttft_s)
        )

    def tpot_at(self, percentile: Array) -> Array:
        if self.tpot_p90_s is None or self.tpot_p99_s is None:
            return self.tpot_s
        return np.where(
            percentile == 90, self.tpot_p90_s, np.where(percentile == 99, self.tpot_p99_s, self.tpot_s)
        )

    def point(self, i: int) -> OperatingPoint:
        def opt(a: Array | None) -> float | None:
            return None if a is None else float(a[i])

        return OperatingPoint(
            batch=float(self.batch[i]),
            requests_per_s=float(self.requests_per_s[i]),
            output_tokens_per_s=float(self.output_tokens_per_s[i]),
            input_tokens_per_s=float(self.input_tokens_per_s[i]),
            ttft_s=float(self.ttft_s[i]),
            tpot_s=float(self.tpot_s[i]),
            e2e_s=float(self.e2e_s[i]),
            prefill_share=float(self.prefill_share[i]),
            ttft_p90_s=opt(self.ttft_p90_s),
            ttft_p99_s=opt(self.ttft_p99_s),
            tpot_p90_s=opt(self.tpot_p90_s),
            tpot_p99_s=opt(self.tpot_p99_s),
            admission_wait_s=float(self.admission_wait_s[i]),
            ttft_admitted_s=float(self.ttft_admitted_s[i]),
        )


def steady_array(
    s: ServerArrays, batch: Array, prefill_alone_s: Array | None = None, tails: bool = True
) -> PointArrays:
    """`Server.steady`: B running sequences, B tau / O prompts per round,
    T = t(B, 0) + n (t(B, r) - t(B, 0)), rate = B tau / (O T),
    TTFT = prefill(B) + M/D/1 wait at rho = rate x prefill compute time + admission wait
    + (1 - e^-B) T / 2; tails when `tails`."""
    b = np.minimum(np.maximum(batch, 0.0), s.token_budget_batch)
    o = s.output_tokens
    prefills = b * s.tau / o
    t_dec = server_step_s_array(s, b, 0.0)
    per_step = _per_step(s, prefills)
    n = prefills / per_step
    t = np.where(prefills > 0, t_dec + n * (server_step_s_array(s, b, per_step) - t_dec), t_dec)
    pos = t > 0
    safe_t = np.where(pos, t, 1.0)
    rate = np.where(pos, b * s.tau / (o * safe_t), 0.0)
    rho = rate * s.prefill_compute_s
    alone = prefill_alone_s if prefill_alone_s is not None else prefill_s_array(s, np.zeros_like(b))
    w1 = md1_wait_s_array(rho, alone)
    own = prefill_s_array(s, b)
    busy_frac = 1.0 - np.exp(-b)
    hold = own + np.maximum(o - 1.0, 0.0) * t / s.tau
    w2, p2 = admission_wait_s_array(s.max_batch, b, hold)
    admitted = own + w1 + busy_frac * t / 2.0
    ttft = admitted + w2
    tpot = t / s.tau
    share = np.where(pos, np.maximum(0.0, (t - t_dec) / safe_t), 0.0)
    tail_vals: dict[str, Array] = {}
    if tails:
        sd = tpot_sd_array(s, b, prefills)
        for name, tail in TAIL.items():
            q1 = wait_quantile_s_array(w1, rho, tail)
            q2 = wait_quantile_s_array(w2, p2, tail)
            tail_vals["ttft_" + name] = np.maximum(ttft, own + q1 + q2 + busy_frac * t * (1.0 - tail))
            tail_vals["tpot_" + name] = tpot + Z_SCORE[name] * sd
    return PointArrays(
        batch=b,
        requests_per_s=rate,
        output_tokens_per_s=rate * o,
        input_tokens_per_s=rate * s.input_tokens,
        ttft_s=ttft,
        tpot_s=tpot,
        e2e_s=ttft + np.maximum(o - 1.0, 0.0) * tpot,
        prefill_share=share,
        admission_wait_s=w2,
        ttft_admitted_s=admitted,
        ttft_p90_s=tail_vals.get("ttft_p90"),
        ttft_p99_s=tail_vals.get("ttft_p99"),
        tpot_p90_s=tail_vals.get("tpot_p90"),
        tpot_p99_s=tail_vals.get("tpot_p99"),
    )


@dataclass(frozen=True, slots=True)
class SearchResult:
    """`Server.best_meeting` for n servers: the point where `found`, and the idle point always."""

    found: BoolArray
    point: PointArrays
    idle: PointArrays
    """The near-idle steady state (batch 1e-3): the best TTFT and TPOT the replica can give."""


def best_meeting_array(
    s: ServerArrays, ttft_s: Array, tpot_s: Array, percentile: Array | None = None
) -> SearchResult:
    """`Server.best_meeting`: the largest batch whose steady state meets TTFT <= ttft_s and
    TPOT <= tpot_s (inf: unconstrained), by 60 halvings of [0, max_batch] in lockstep.

    Both latencies grow with the batch, so the feasible batches form an interval [0, B*]: the
    maximum-throughput point where it meets both, else the bisection, else none (the idle point
    already fails)."""
    alone = prefill_s_array(s, np.zeros_like(s.max_batch))
    pct = percentile if percentile is not None else np.zeros_like(s.max_batch)
    need_tails = bool((pct != 0).any())

    def ok(p: PointArrays, pc: Array, tt: Array, tp: Array) -> BoolArray:
        res: BoolArray = (p.ttft_at(pc) <= tt) & (p.tpot_at(pc) <= tp)
        return res

    top = steady_array(s, s.max_batch, alone)
    idle = steady_array(s, np.minimum(IDLE_BATCH, s.max_batch), alone)
    top_ok = ok(top, pct, ttft_s, tpot_s)
    search = ~top_ok & ok(idle, pct, ttft_s, tpot_s)
    batch = np.where(top_ok, s.max_batch, 0.0)
    if bool(search.any()):
        idx = np.nonzero(search)[0]
        sub = s.take(idx)
        sub_alone, sub_ttft, sub_tpot, sub_pct = alone[idx], ttft_s[idx], tpot_s[idx], pct[idx]
        lo = np.zeros(len(idx))
        hi = sub.max_batch.copy()
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            p = steady_array(sub, mid, sub_alone, tails=need_tails)
            good = ok(p, sub_pct, sub_ttft, sub_tpot)
            lo = np.where(good, mid, lo)
            hi = np.where(good, hi, mid)
        batch[idx] = lo
    point = steady_array(s, batch, alone)
    found = top_ok | (search & (point.requests_per_s > 0))
    return SearchResult(found, point, idle)


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


_PCT_CODE: dict[str, float] = {"mean": 0.0, "p90": 90.0, "p99": 99.0}


def _target_s(ms: float | None) -> float:
    return math.inf if ms is None else ms / 1e3


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """`replica_capacity`'s answer plus the idle point's latencies (why a search failed)."""

    capacity: Capacity
    idle_ttft_ms: float | None
    """Server-side TTFT of a near-idle replica (batch 1e-3): the lowest it can give; None where
    the configuration does not fit or a target is non-positive (no search)."""
    idle_tpot_ms: float | None


def search_capacities(
    queries: Sequence[CapacityQuery], *, params: CalibrationParams | None = None
) -> list[SearchOutcome]:
    """`replica_capacity` of every query, evaluated together: one entry per query, in order.

    Queries naming an engine are evaluated with that engine's parameters (`with_engine`), one
    lockstep search per engine. Configurations that do not fit (`why_not_fit`) or have a
    non-positive target are answered without a search; the rest are searched in lockstep
    (`best_meeting_array`)."""
    p = params if params is not None else default_params()
    engines = {q.engine for q in queries}
    if engines - {None}:
        out_e: list[SearchOutcome | None] = [None] * len(queries)
        for name in sorted(engines, key=lambda e: e or ""):
            idx = [i for i, q in enumerate(queries) if q.engine == name]
            pe = p if name is None else with_engine(p, ENGINES[name])
            sub = _search_one_engine([queries[i] for i in idx], pe)
            for i, res in zip(idx, sub, strict=True):
                out_e[i] = res
        return [o for o in out_e if o is not None]
    return _search_one_engine(queries, p)


def _search_one_engine(queries: Sequence[CapacityQuery], p: CalibrationParams) -> list[SearchOutcome]:
    """`search_capacities` of queries sharing one parameter set (engine)."""
    servers: dict[tuple[int, int, int, int, Shape, int, int, int, int], Server] = {}
    """Keyed by the identity of the (alive) specs: hashing them by value costs more than a server."""
    out: list[SearchOutcome | None] = [None] * len(queries)
    rows: list[int] = []
    row_server: list[Server] = []
    for i, q in enumerate(queries):
        key = (id(q.model), id(q.gpu), id(q.precision), q.tp, q.shape, id(q.draft), q.dp, q.ep, q.pp)
        server = servers.get(key)
        if server is None:
            server = _replica(q.model, q.gpu, q.precision, q.tp, q.shape, q.draft, p, q.dp, q.ep, q.pp)
            servers[key] = server
        reason = why_not_fit(server)
        if reason is not None:
            out[i] = SearchOutcome(
                _capacity(server, None, reason, fits=False, percentile=q.percentile), None, None
            )
        elif (q.ttft_ms is not None and q.ttft_ms <= 0) or (q.tpot_ms is not None and q.tpot_ms <= 0):
            out[i] = SearchOutcome(
                _capacity(server, None, "cannot meet non-positive latency targets", percentile=q.percentile),
                None,
                None,
            )
        else:
            rows.append(i)
            row_server.append(server)
    if rows:
        uniq: dict[int, int] = {}
        order: list[Server] = []
        for srv in row_server:
            if id(srv) not in uniq:
                uniq[id(srv)] = len(order)
                order.append(srv)
        which = np.asarray([uniq[id(srv)] for srv in row_server], dtype=np.intp)
        arrays = ServerArrays.of(order, p).take(which)
        pct_code = np.asarray([_PCT_CODE[queries[i].percentile] for i in rows], dtype=np.float64)
        res = best_meeting_array(
            arrays,
            np.asarray([_target_s(queries[i].ttft_ms) for i in rows]),
            np.asarray([_target_s(queries[i].tpot_ms) for i in rows]),
            pct_code,
        )
        idle_ttft_at = res.idle.ttft_at(pct_code)
        idle_tpot_at = res.idle.tpot_at(pct_code)
        for k, (i, srv) in enumerate(zip(rows, row_server, strict=True)):
            pc = queries[i].percentile
            idle_ttft, idle_tpot = float(idle_ttft_at[k]) * 1e3, float(idle_tpot_at[k]) * 1e3
            if res.found[k]:
                cap = _capacity(srv, res.point.point(k), None, percentile=pc)
            else:
                cap = _capacity(
                    srv,
                    None,
                    f"cannot meet targets: an idle replica gives TTFT {idle_ttft:.0f} ms, "
                    f"TPOT {idle_tpot:.1f} ms" + ("" if pc == "mean" else f" ({pc})"),
                    percentile=pc,
                )
            out[i] = SearchOutcome(cap, idle_ttft, idle_tpot)
    return [o for o in out if o is not None]


def replica_capacities(
    queries: Sequence[CapacityQuery], *, params: CalibrationParams | None = None
) -> list[Capacity]:
    """`replica_capacity` of every query (the capacities of `search_capacities`), in order."""
    return [o.capacity for o in search_capacities(queries, params=params)]
