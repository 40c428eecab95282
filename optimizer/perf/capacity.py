"""Public entry points: capacity of one replica under latency targets, and operating-point predictions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf.params import CalibrationParams, default_params
from optimizer.perf.serving import PERCENTILES, OperatingPoint, Percentile, Server, SpecSetup
from optimizer.perf.step import Replica
from optimizer.perf.workload import request_work

OutputDist = Literal["fixed", "exponential"]
Regime = Literal["throughput_bound", "latency_bound"]
"""Operating regime of a replica: at its largest batch (throughput-bound) or below it because a
latency target binds (latency-bound)."""
BoundBy = Literal["memory", "max_num_seqs", "token_budget", "ttft", "tpot"]
"""What stops the batch from growing: the KV memory, the engine's sequence cap or per-step token
budget (throughput-bound), or the TTFT / TPOT target (latency-bound)."""


@dataclass(frozen=True)
class Shape:
    """Mean request shape: prompt tokens, generated tokens, and (speech models) audio seconds.

    `output_dist`: `fixed` (every request generates output_tokens) or `exponential` (output lengths
    exponential with that mean: running sequences are length-biased and hold I + O KV tokens on
    average, static batches run until their longest member ends)."""

    input_tokens: float
    output_tokens: float
    audio_seconds: float | None = None
    output_dist: OutputDist = "fixed"


@dataclass(frozen=True)
class Draft:
    """Speculative decoding with a draft model on the same ranks and precision as the target."""

    model: ModelSpec
    acceptance_rate: float
    draft_tokens: int


@dataclass(frozen=True)
class Capacity:
    """What one replica sustains for one request shape.

    `fits=False`: the configuration cannot run (reason says why); every rate is 0.
    `fits=True` with `requests_per_s == 0`: it runs, but cannot meet the latency targets.
    """

    fits: bool
    reason: str | None
    requests_per_s: float
    output_tokens_per_s: float
    batch: int
    """Running sequences at the operating point (rounded up: the max-num-seqs setting)."""
    max_batch: int
    """Most sequences of this shape whose KV fits (continuous batching)."""
    ttft_ms: float
    """Server-side time to first token at the operating point, at `percentile` (mean by default).
    At the max-throughput point without a TTFT target (arrivals would queue without bound) this is
    the TTFT once a slot is free."""
    tpot_ms: float
    """Per-request time per output token at `percentile`."""
    weights_gb_per_gpu: float
    kv_gb_per_gpu: float
    """KV cache in use at the operating point, per device."""
    memory_gb_per_gpu: float
    """Weights + runtime/activation reserve + KV in use, per device."""
    kv_budget_gb_per_gpu: float = 0.0
    """KV cache budget per device: kv_mem_fraction x (memory - weights - reserve)."""
    max_model_len: int = 0
    """Engine max model length implied by the shape (prompt + output, speech: per window + frames)."""
    e2e_ms: float = 0.0
    prefill_share: float = 0.0
    """Share of GPU time spent on prompt processing at the operating point."""
    tensor_parallel: int = 1
    percentile: Percentile = "mean"
    """Statistic of ttft_ms / tpot_ms (the latency targets' `slo.percentile`)."""
    ttft_mean_ms: float = 0.0
    ttft_p90_ms: float = 0.0
    ttft_p99_ms: float = 0.0
    tpot_mean_ms: float = 0.0
    tpot_p90_ms: float = 0.0
    tpot_p99_ms: float = 0.0
    data_parallel: int = 1
    """Attention data-parallel groups in the replica (DEP); devices = tp x dp x pp."""
    expert_parallel: int = 1
    pipeline_parallel: int = 1
    running: float = 0.0
    """Steady-state running sequences at the operating point (continuous; `batch` rounds it up)."""
    at_max_batch: bool = False
    """The point is the largest batch the replica holds (memory, engine cap or token budget)."""
    max_batch_limit: BoundBy = "memory"
    """What sets `max_batch`: `memory` (KV cache), `max_num_seqs` (engine cap) or `token_budget`."""


def max_batch_limit(server: Server) -> BoundBy:
    """What sets the server's max batch: min(KV-fit sequences, engine max_num_seqs x dp, token-budget
    batch); ties go to the engine cap, then the token budget."""
    blk = server.rep.params.kv_block_tokens
    by_memory = server.memory.max_sequences(server.work.kv_tokens_mean + blk / 2.0, blk)
    by_budget = max(1, math.ceil(server.token_budget_batch))
    if server.seq_cap <= min(by_memory, by_budget):
        return "max_num_seqs"
    if by_budget < by_memory:
        return "token_budget"
    return "memory"


def operating_regime(
    cap: Capacity, ttft_target_ms: float | None, tpot_target_ms: float | None
) -> tuple[Regime, BoundBy]:
    """The regime of a capacity point and what bounds it. Throughput-bound when the point is the
    largest batch (the search's top point met both targets; bound by `max_batch_limit`); otherwise
    latency-bound by the target with the least relative slack, (target - value) / target, at the
    point's percentile.

    >>> c = Capacity(True, None, 1.0, 1.0, 8, 64, 90.0, 39.9, 1.0, 1.0, 2.0)
    >>> operating_regime(c, 100.0, 40.0)
    ('latency_bound', 'tpot')
    """
    if cap.at_max_batch:
        return "throughput_bound", cap.max_batch_limit
    slack: list[tuple[float, BoundBy]] = []
    if ttft_target_ms is not None and ttft_target_ms > 0:
        slack.append(((ttft_target_ms - cap.ttft_ms) / ttft_target_ms, "ttft"))
    if tpot_target_ms is not None and tpot_target_ms > 0:
        slack.append(((tpot_target_ms - cap.tpot_ms) / tpot_target_ms, "tpot"))
    if not slack:
        return "throughput_bound", cap.max_batch_limit
    return "latency_bound", min(slack, key=lambda s: s[0])[1]


def ttft_ms_at(cap: Capacity, percentile: Percentile) -> float:
    """TTFT of a capacity point at a statistic (mean, p90, p99), ms."""
    return {"mean": cap.ttft_mean_ms, "p90": cap.ttft_p90_ms, "p99": cap.ttft_p99_ms}[percentile]


def tpot_ms_at(cap: Capacity, percentile: Percentile) -> float:
    """Per-request TPOT of a capacity point at a statistic (mean, p90, p99), ms."""
    return {"mean": cap.tpot_mean_ms, "p90": cap.tpot_p90_ms, "p99": cap.tpot_p99_ms}[percentile]


def _replica(
    model: ModelSpec,
    gpu: GpuSpec,
    precision: PrecisionSpec,
    tp: int,
    shape: Shape,
    draft: Draft | None,
    params: CalibrationParams,
    dp: int = 1,
    ep: int = 1,
    pp: int = 1,
) -> Server:
    rep = Replica(model, gpu, precision, tp, params, dp=dp, ep=ep, pp=pp)
    work = request_work(
        model, shape.input_tokens, shape.output_tokens, shape.audio_seconds, output_dist=shape.output_dist
    )
    spec = None
    if draft is not None:
        spec = SpecSetup(
            Replica(draft.model, gpu, precision, tp, params), draft.acceptance_rate, draft.draft_tokens
        )
    return Server(rep, work, spec)


def why_not_fit(server: Server) -> str | None:
    """Reason the configuration cannot run, or None."""
    rep = server.rep
    model, gpu, tp = rep.model, rep.gpu, rep.tp
    if tp < 1:
        return f"tensor parallel {tp} < 1"
    if tp > gpu.max_tensor_parallel:
        return f"tensor parallel {tp} exceeds {gpu.name}'s scale-up domain ({gpu.max_tensor_parallel})"
    if model.num_attention_heads % tp != 0:
        return f"{model.num_attention_heads} attention heads are not divisible by tensor parallel {tp}"
    if rep.dp < 1 or rep.ep < 1 or rep.pp < 1:
        return f"data parallel {rep.dp}, expert parallel {rep.ep} and pipeline stages {rep.pp} must be >= 1"
    if rep.pp > model.num_layers:
        return f"{rep.pp} pipeline stages exceed {model.name}'s {model.num_layers} layers"
    if (rep.dp > 1 or rep.ep > 1) and not model.is_moe:
        return f"{model.name} is dense: expert / attention-data parallelism needs a mixture-of-experts model"
    if rep.ep > 1 and (rep.devices % rep.ep != 0 or rep.ep > model.num_experts):
        return (
            f"expert parallel {rep.ep} must divide the replica's {rep.devices} devices and not exceed "
            f"{model.num_experts} experts"
        )
    if model.encoder_layers == 0 and server.work.kv_tokens_peak > model.max_context_tokens:
        return (
            f"request of {server.work.kv_tokens_peak:.0f} tokens exceeds {model.name}'s context "
            f"({model.max_context_tokens})"
        )
    mem = server.memory
    if mem.kv_budget_bytes_per_gpu <= 0:
        return (
            f"weights {mem.weights_bytes_per_gpu / 1e9:.1f} GB/GPU + reserve "
            f"{mem.reserve_bytes_per_gpu / 1e9:.1f} GB exceed usable {mem.usable_bytes_per_gpu / 1e9:.1f} GB "
            f"of {gpu.name} at tp={tp}"
        )
    if server.max_batch_static < 1:
        return (
            f"no room for one {server.work.kv_tokens_peak:.0f}-token sequence: KV budget "
            f"{mem.kv_budget_bytes_per_gpu / 1e9:.2f} GB/GPU"
        )
    return None


def _finite_ttft_s(point: OperatingPoint, percentile: Percentile) -> float:
    """TTFT at a statistic; at the offline maximum (admission wait unbounded) the TTFT once a slot is
    free, with the tail of the other parts kept (quantile minus the unbounded admission part)."""
    v = point.ttft_at(percentile)
    if math.isfinite(v) or point.ttft_admitted_s is None:
        return v
    return point.ttft_admitted_s


def _capacity(
    server: Server,
    point: OperatingPoint | None,
    reason: str | None,
    *,
    fits: bool = True,
    percentile: Percentile = "mean",
) -> Capacity:
    mem = server.memory
    w = server.work
    weights = mem.weights_bytes_per_gpu / 1e9
    reserve = mem.reserve_bytes_per_gpu / 1e9
    max_len = math.ceil(
        w.kv_tokens_peak
        if server.rep.model.encoder_layers == 0
        else w.kv_tokens_peak - (server.rep.model.encoder_frames_per_30s or 0)
    )
    if point is None:
        return Capacity(
            fits=fits,
            reason=reason,
            requests_per_s=0.0,
            output_tokens_per_s=0.0,
            batch=0,
            max_batch=server.max_batch,
            ttft_ms=0.0,
            tpot_ms=0.0,
            weights_gb_per_gpu=weights,
            kv_gb_per_gpu=0.0,
            memory_gb_per_gpu=weights + reserve,
            kv_budget_gb_per_gpu=max(mem.kv_budget_bytes_per_gpu, 0.0) / 1e9,
            max_model_len=max_len,
            tensor_parallel=server.rep.tp,
            percentile=percentile,
            data_parallel=server.rep.dp,
            expert_parallel=server.rep.ep,
            pipeline_parallel=server.rep.pp,
        )
    ttft = {p: _finite_ttft_s(point, p) * 1e3 for p in PERCENTILES}
    tpot = {p: point.tpot_at(p) * 1e3 for p in PERCENTILES}
    batch = math.ceil(point.batch - 1e-9) if point.batch > 0 else 0
    blk = server.rep.params.kv_block_tokens
    kv = point.batch * (w.kv_tokens_mean + blk / 2.0) * mem.kv_bytes_per_token_per_gpu / 1e9
    return Capacity(
        fits=True,
        reason=reason,
        requests_per_s=point.requests_per_s,
        output_tokens_per_s=point.output_tokens_per_s,
        batch=batch,
        max_batch=server.max_batch,
        ttft_ms=ttft[percentile],
        tpot_ms=tpot[percentile],
        weights_gb_per_gpu=weights,
        kv_gb_per_gpu=kv,
        memory_gb_per_gpu=weights + reserve + kv,
        kv_budget_gb_per_gpu=max(mem.kv_budget_bytes_per_gpu, 0.0) / 1e9,
        max_model_len=max_len,
        e2e_ms=point.e2e_s * 1e3
        if math.isfinite(point.e2e_s)
        else ttft["mean"] + tpot["mean"] * max(server.work.output_tokens - 1.0, 0.0),
        prefill_share=point.prefill_share,
        tensor_parallel=server.rep.tp,
        percentile=percentile,
        ttft_mean_ms=ttft["mean"],
        ttft_p90_ms=ttft["p90"],
        ttft_p99_ms=ttft["p99"],
        tpot_mean_ms=tpot["mean"],
        tpot_p90_ms=tpot["p90"],
        tpot_p99_ms=tpot["p99"],
        data_parallel=server.rep.dp,
        expert_parallel=server.rep.ep,
        pipeline_parallel=server.rep.pp,
        running=point.batch,
        at_max_batch=point.batch >= min(float(server.max_batch), server.token_budget_batch) * (1 - 1e-9),
        max_batch_limit=max_batch_limit(server),
    )


def replica_capacity(
    model: ModelSpec,
    gpu: GpuSpec,
    precision: PrecisionSpec,
    tp: int,
    shape: Shape,
    ttft_ms: float | None,
    tpot_ms: float | None,
    *,
    draft: Draft | None = None,
    params: CalibrationParams | None = None,
    dp: int = 1,
    ep: int = 1,
    percentile: Percentile = "mean",
    pp: int = 1,
) -> Capacity:
    """Highest sustained request rate of one replica at which TTFT <= ttft_ms and TPOT <= tpot_ms,
    both at `percentile` (mean, p90 or p99; the workload's `slo.percentile`).

    Targets of None are unconstrained; with both None this is the max-throughput point (largest
    batch that fits). TTFT is server-side (network latency is the caller's). A configuration that
    does not fit returns fits=False, its reason, and zero capacity.
    """
    p = params if params is not None else default_params()
    server = _replica(model, gpu, precision, tp, shape, draft, p, dp, ep, pp)
    reason = why_not_fit(server)
    if reason is not None:
        return _capacity(server, None, reason, fits=False, percentile=percentile)
    ttft_s = None if ttft_ms is None else ttft_ms / 1e3
    tpot_s = None if tpot_ms is None else tpot_ms / 1e3
    if (ttft_s is not None and ttft_s <= 0) or (tpot_s is not None and tpot_s <= 0):
        return _capacity(server, None, "cannot meet non-positive latency targets", percentile=percentile)
    point = server.best_meeting(ttft_s, tpot_s, percentile)
    if point is None:
        light = server.steady(1e-3)
        return _capacity(
            server,
            None,
            f"cannot meet targets: an idle replica gives TTFT "
            f"{light.ttft_at(percentile) * 1e3:.0f} ms, TPOT {light.tpot_at(percentile) * 1e3:.1f} ms"
            + ("" if percentile == "mean" else f" ({percentile})"),
            percentile=percentile,
        )
    return _capacity(server, point, None, percentile=percentile)


Mode = Literal["max_throughput", "concurrency", "batch", "static_batch", "qps", "targets"]


@dataclass(frozen=True)
class Prediction:
    """A predicted operating point plus the replica's memory picture."""

    mode: Mode
    capacity: Capacity
    """Memory fields, max batch and the operating point's rates and latencies."""
    overloaded: bool = False
    """QPS mode: the requested rate exceeds the replica's maximum (TTFT grows without bound)."""


def predict(
    model: ModelSpec,
    gpu: GpuSpec,
    precision: PrecisionSpec,
    tp: int,
    shape: Shape,
    *,
    concurrency: float | None = None,
    batch: float | None = None,
    static: bool = False,
    qps: float | None = None,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    draft: Draft | None = None,
    params: CalibrationParams | None = None,
    dp: int = 1,
    ep: int = 1,
    percentile: Percentile = "mean",
    pp: int = 1,
) -> Prediction:
    """Predict one operating point of one replica.

    Exactly one load description is used, in this order: `concurrency` (closed loop), `batch`
    (continuous batching with that many running sequences, or one static batch if `static`),
    `qps` (Poisson arrivals), latency targets (capacity), or none (max throughput).
    """
    p = params if params is not None else default_params()
    server = _replica(model, gpu, precision, tp, shape, draft, p, dp, ep, pp)
    reason = why_not_fit(server)
    mode: Mode
    if concurrency is not None:
        mode = "concurrency"
    elif batch is not None:
        mode = "static_batch" if static else "batch"
    elif qps is not None:
        mode = "qps"
    elif ttft_ms is not None or tpot_ms is not None:
        mode = "targets"
    else:
        mode = "max_throughput"
    if reason is not None:
        return Prediction(mode, _capacity(server, None, reason, fits=False))
    if mode == "targets":
        return Prediction(
            mode,
            replica_capacity(
                model,
                gpu,
                precision,
                tp,
                shape,
                ttft_ms,
                tpot_ms,
                draft=draft,
                params=p,
                dp=dp,
                ep=ep,
                percentile=percentile,
                pp=pp,
            ),
        )
    overloaded = False
    if concurrency is not None:
        point = server.closed_loop(concurrency)
    elif batch is not None:
        point = (
            server.static_batch(int(batch)) if static else server.steady(min(batch, float(server.max_batch)))
        )
    elif qps is not None:
        point = server.at_rate(qps)
        overloaded = point.overloaded
    else:
        point = server.max_throughput()
    return Prediction(mode, _capacity(server, point, None), overloaded)
