"""Latency bands -> candidates: each admitted band of a configuration that adds capacity over the
next tighter band becomes one `CandidateInfo`.

The configuration at budget B may serve exactly the pairs whose round trip is <= target - B. Bands
whose capacity is not above the last kept tighter band's by more than `SAME_CAPACITY_REL` are
dropped (same capacity or within 0.1 %, fewer routes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.candidates.checkpoints import checkpoint_for
from optimizer.candidates.grid import WorkloadGrid
from optimizer.candidates.records import Admitted, CandidateInfo, ConfigOutcome
from optimizer.catalog import Catalog
from optimizer.perf.engines import planning_engine

SAME_CAPACITY_REL = 1e-3
"""A band must beat the last kept tighter band's capacity by more than this (0.1 %, relative) to be
kept. A looser band that adds less is served by the tighter one, which meets every SLO the looser
one meets (its TTFT is lower) at no more than 0.1 % less capacity on those routes. Without this,
a configuration whose capacity barely depends on the TTFT budget (TPOT-bound, or capped by the
engine's batch limit) became one candidate per distinct route budget (up to regions x sites of
them, each 0.01 % apart), which multiplied the MIP's replica variables without changing plans.
A plan's proven gap is relative to the kept candidates."""


def max_model_len(model_context: int, tokens: float) -> int:
    """Engine max model length: the next power of two above 2 x (prompt + output), capped by the
    model's context: min(context, 2^(ceil(log2(max(I + O, 16))) + 1)).

    >>> max_model_len(131072, 800)
    2048
    """
    return int(min(model_context, 2 ** math.ceil(math.log2(max(tokens, 16)) + 1)))


@dataclass(frozen=True, slots=True)
class Band:
    """An admitted band kept for its capacity gain: what routing and pruning compare."""

    id: str
    model: str
    gpu: str
    tensor_parallel: int
    capacity_rps: float
    ttft_ms: float
    budget_ms: float | None
    outcome: ConfigOutcome
    admitted: Admitted


def candidate_info(g: WorkloadGrid, b: Band, catalog: Catalog) -> CandidateInfo:
    """The plan's record of one admitted band (engine settings, memory, model beside measured)."""
    c, band, w, budget, cid = b.outcome.config, b.admitted, g.workload, b.budget_ms, b.id
    cap = band.capacity
    ckpt = checkpoint_for(w, c.model, c.precision, c.primary, catalog)
    est = band.model
    return CandidateInfo(
        id=cid,
        workload=w.id,
        model=c.model.id,
        gpu=c.gpu.id,
        precision=c.precision.id,
        tensor_parallel=c.tp,
        speculative=c.draft is not None,
        capacity_rps=band.capacity_rps,
        output_tokens_per_s=band.output_tokens_per_s,
        batch=band.batch if band.batch is not None else cap.batch,
        max_batch=band.max_batch if band.max_batch is not None else cap.max_batch,
        ttft_ms=band.ttft_ms,
        tpot_ms=band.tpot_ms,
        ttft_budget_ms=budget,
        memory_gb_per_gpu=cap.memory_gb_per_gpu,
        weights_gb_per_gpu=cap.weights_gb_per_gpu,
        kv_gb_per_gpu=cap.kv_gb_per_gpu,
        max_model_len=max_model_len(
            c.model.max_context_tokens, w.request.mean_input_tokens + w.request.mean_output_tokens
        ),
        vllm_quantization=c.precision.vllm_quantization,
        kv_cache_dtype="fp8" if c.precision.kv_bytes <= 1.0 else "auto",
        measured=band.measured,
        hf_repo=ckpt.hf_repo,
        hf_repo_source=ckpt.source,
        checkpoint_note=ckpt.note,
        gpu_memory_gb=c.gpu.memory_gb,
        gpu_vendor=c.gpu.vendor,
        device_kind=str(c.gpu.kind.value),
        engine=planning_engine(c.engine),
        engine_max_num_seqs=c.engine.max_num_seqs,
        point=band.point,
        model_capacity_rps=est.capacity_rps if est is not None else band.capacity_rps,
        model_ttft_ms=est.ttft_ms if est is not None else band.ttft_ms,
        model_tpot_ms=est.tpot_ms if est is not None else band.tpot_ms,
        model_note=est.note if est is not None else None,
    )


def band_candidates(g: WorkloadGrid, o: ConfigOutcome, taken: set[str]) -> list[Band]:
    """One candidate per admitted band that raises capacity over the tighter bands, tightest first.

    Ids: `base_id`, plus `__b<budget>` when the workload has several bands (and `_<k>` if two
    budgets round to the same integer); `taken` holds the workload's ids so far and is updated."""
    out: list[Band] = []
    prev_rps = 0.0
    last: object = None
    for budget, band in zip(o.budgets, o.bands, strict=True):
        if band is last or not isinstance(band, Admitted):
            continue
        last = band
        if band.capacity_rps <= prev_rps * (1 + SAME_CAPACITY_REL):
            continue
        prev_rps = band.capacity_rps
        cid = o.config.base_id
        if budget is not None and g.multi_band:
            cid += f"__b{round(budget)}"
        if cid in taken:
            cid += f"_{len(out) + 1}"
        taken.add(cid)
        c = o.config
        out.append(Band(cid, c.model.id, c.gpu.id, c.tp, band.capacity_rps, band.ttft_ms, budget, o, band))
    return out
