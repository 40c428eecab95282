"""The candidate grid of one workload: which configurations to evaluate, at which TTFT budgets, for
which request shapes, over which (region, site) pairs.

Latency bands. The TTFT a user sees is network round trip + server-side TTFT, so the server-side
budget depends on the (region, site) pair. A configuration is therefore evaluated at each distinct
budget `ttft_target - rtt(region, site)`; tighter budgets mean lower capacity.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from optimizer.candidates.demand import demand_rps
from optimizer.candidates.offers import OfferTable
from optimizer.candidates.records import Config
from optimizer.catalog import Catalog
from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.errors import InputError, InputIssue
from optimizer.perf import Draft, Shape
from optimizer.perf.engines import (
    EngineSpec,
    default_engine,
    engine_conflicts,
    planning_spec,
    runs_on,
    serves_precision,
)
from optimizer.schema.problem import MeasuredThroughput, Problem, Site, Workload

DEFAULT_TP = (1, 2, 4, 8)

MeasuredKey = tuple[str, str, int, str]
"""(GPU id, precision id, tensor-parallel degree, model id) of a measured entry."""


@dataclass(frozen=True)
class WorkloadGrid:
    """Everything the candidate stage decides for one workload before evaluating anything."""

    workload: Workload
    index: int
    """Position in `problem.workloads` (for error paths)."""
    configs: tuple[Config, ...]
    budgets: tuple[float | None, ...]
    """Distinct server-side TTFT budgets, tightest first; (None,) for work without a TTFT target;
    empty when every allowed site's round trip alone exceeds the target."""
    shapes: tuple[tuple[float, Shape], ...]
    """(share of requests, shape): one mean shape, or the bins of a length histogram."""
    measured: Mapping[MeasuredKey, MeasuredThroughput]
    pairs: tuple[tuple[str, Site], ...]
    """(region, site) pairs with a round trip that placement and residency allow."""
    demand: Mapping[tuple[str, str, str], float]
    """(workload, region, period) -> requests/s (positive only)."""

    @property
    def multi_band(self) -> bool:
        return len(self.budgets) > 1

    @functools.cached_property
    def _tpot_limits(self) -> dict[Shape, float | None]:
        return {shape: tpot_limit_ms(self.workload, shape) for _, shape in self.shapes}

    def tpot_limit_ms(self, shape: Shape) -> float | None:
        """`tpot_limit_ms` of the workload for one of its shapes."""
        limits = self._tpot_limits
        return limits[shape] if shape in limits else tpot_limit_ms(self.workload, shape)


def tp_degrees(w: Workload, gpu: GpuSpec, max_instance: int) -> list[int]:
    """Allowed tensor-parallel degrees: the workload's list (default 1, 2, 4, 8) within the GPU's
    scale-up domain and the largest instance offered."""
    base = w.tensor_parallel or DEFAULT_TP
    return sorted({tp for tp in base if tp <= gpu.max_tensor_parallel and tp <= max_instance})


def allowed_precisions(w: Workload, catalog: Catalog, gpu: GpuSpec) -> list[PrecisionSpec]:
    """The workload's precisions (default: every catalog precision) meeting min_quality that the GPU runs."""
    if w.precisions is not None:
        specs = [catalog.precision(p) for p in w.precisions]
    else:
        specs = [p for p in catalog.precisions() if p.relative_accuracy >= w.min_quality]
    return [p for p in specs if p.relative_accuracy >= w.min_quality and catalog.supports(gpu, p)]


def tpot_limit_ms(w: Workload, shape: Shape) -> float | None:
    """The per-token limit a replica must meet: the workload's TPOT target, or for batch work with a
    deadline, deadline / output tokens (one request, start to last token, within the deadline)."""
    if w.slo.tpot_ms is not None:
        return w.slo.tpot_ms
    if w.slo.deadline_hours is not None and shape.output_tokens > 0:
        return w.slo.deadline_hours * 3.6e6 / shape.output_tokens
    return None


def ttft_budgets(w: Workload, rtts: list[float]) -> tuple[float | None, ...]:
    """Distinct server-side TTFT budgets target - rtt > 0 (ms, rounded to 1 us), tightest first;
    (None,) for batch/no-TTFT work."""
    target = w.slo.ttft_ms
    if target is None:
        return (None,)
    return tuple(sorted({round(target - r, 3) for r in rtts if target - r > 0}))


def request_shapes(w: Workload) -> tuple[tuple[float, Shape], ...]:
    """(share, shape) per histogram bin, or the one mean shape (with audio seconds for speech)."""
    if w.request.histogram is not None:
        return tuple((b.share, Shape(b.input_tokens, b.output_tokens)) for b in w.request.histogram)
    return ((1.0, Shape(w.request.mean_input_tokens, w.request.mean_output_tokens, w.request.audio_seconds)),)


def mean_shape(w: Workload) -> Shape:
    return Shape(w.request.mean_input_tokens, w.request.mean_output_tokens, w.request.audio_seconds)


def measured_entries(w: Workload, catalog: Catalog) -> dict[MeasuredKey, MeasuredThroughput]:
    """The workload's measurements by (GPU, precision, TP, model) catalog ids."""
    return {
        (
            catalog.gpu(m.gpu).id,
            catalog.precision(m.precision).id,
            m.tensor_parallel,
            catalog.model(m.model).id if m.model else catalog.model(w.model).id,
        ): m
        for m in w.measured
    }


def site_allowed(problem: Problem, w: Workload, site: Site, region_id: str) -> bool:
    """Placement (centralized: central sites only; edge: edge only) and residency (user_region: the
    site's jurisdiction is the region's; a list: the site's jurisdiction is in it)."""
    placement = w.placement or problem.policy.placement
    if placement == "centralized" and site.kind != "central":
        return False
    if placement == "edge" and site.kind != "edge":
        return False
    if w.residency is None:
        return True
    if w.residency == "user_region":
        region = next(r for r in problem.user_regions if r.id == region_id)
        return site.jurisdiction is not None and site.jurisdiction == region.jurisdiction
    return site.jurisdiction in w.residency


def route_pairs(problem: Problem, w: Workload) -> tuple[tuple[str, Site], ...]:
    """(region, site) pairs of the workload's regions with a listed round trip that the site allows."""
    return tuple(
        (r_id, s)
        for r_id in w.demand.region_split
        for s in problem.sites
        if r_id in s.latency_ms and site_allowed(problem, w, s, r_id)
    )


def models_of(w: Workload, catalog: Catalog) -> list[tuple[ModelSpec, bool]]:
    """(model, primary): the workload's model, then its model-routing alternatives."""
    return [(catalog.model(w.model), True), *((catalog.model(a.model), False) for a in w.alternatives)]


def engine_for(w: Workload, gpu: GpuSpec) -> EngineSpec | None:
    """The serving engine the workload's replicas run on this device: the workload's `engine` where
    it runs there (None where it does not), else the default rule (`engines.default_engine`:
    llama.cpp on Apple silicon, vLLM elsewhere)."""
    kind = str(gpu.kind.value)
    if w.engine is not None:
        named = planning_spec(w.engine)
        return named if runs_on(named, gpu.vendor, kind) else None
    return default_engine(gpu.vendor, kind)


def engine_serves_model(engine: EngineSpec, model: ModelSpec) -> bool:
    """Encoder-decoder speech models (Whisper) need an engine that serves them."""
    return engine.speech or model.encoder_layers == 0


def check_engine(w: Workload, wi: int, catalog: Catalog, offers: OfferTable) -> None:
    """A workload's named engine must serve its listed precisions and its models and run on some
    offered device (`engines.engine_conflicts`); raises InputError listing every conflict. The
    loader's semantic checks report the same with file lines; this guards the Python API."""
    if w.engine is None:
        return
    conflicts = engine_conflicts(
        planning_spec(w.engine),
        [catalog.precision(p).id for p in w.precisions] if w.precisions is not None else None,
        [(m.id, m.encoder_layers > 0) for m, _ in models_of(w, catalog)],
        [(g.id, g.vendor, str(g.kind.value)) for g in offers.gpus.values()],
    )
    if conflicts:
        raise InputError([InputIssue(f"workloads[{wi}].{key}", msg) for key, msg in conflicts])


def configurations(w: Workload, catalog: Catalog, offers: OfferTable) -> tuple[Config, ...]:
    """Model x offered GPU x allowed precision x TP degree x (speculation for the primary model, where
    the engine takes a draft model), each with the engine it runs on that GPU (`engine_for`):
    precisions the engine does not serve, TP degrees above its limit and models it cannot run are
    left out."""
    out: list[Config] = []
    for model, primary in models_of(w, catalog):
        drafts: list[Draft | None] = [None]
        if primary and w.speculative is not None:
            s = w.speculative
            drafts.append(Draft(catalog.model(s.draft_model), s.acceptance_rate, s.draft_tokens))
        for gid in sorted(offers.gpus):
            gpu = offers.gpus[gid]
            engine = engine_for(w, gpu)
            if engine is None or not engine_serves_model(engine, model):
                continue
            engine_drafts = drafts if engine.draft_model else [None]
            for prec in allowed_precisions(w, catalog, gpu):
                if not serves_precision(engine, prec.id):
                    continue
                for tp in tp_degrees(w, gpu, offers.largest_instance(gid)):
                    if tp <= engine.max_tp:
                        out.extend(
                            Config(w.id, model, primary, gpu, prec, tp, d, engine) for d in engine_drafts
                        )
    return tuple(out)


def workload_grid(
    problem: Problem, catalog: Catalog, offers: OfferTable, wi: int, w: Workload
) -> WorkloadGrid:
    check_engine(w, wi, catalog, offers)
    pairs = route_pairs(problem, w)
    return WorkloadGrid(
        workload=w,
        index=wi,
        configs=configurations(w, catalog, offers),
        budgets=ttft_budgets(w, [float(s.latency_ms[r]) for r, s in pairs]),
        shapes=request_shapes(w),
        measured=measured_entries(w, catalog),
        pairs=pairs,
        demand=demand_rps(problem, w),
    )
