"""Evaluate every workload's configurations at every TTFT budget, in two vectorised passes, through
a cache keyed by the physics inputs.

What a replica sustains depends only on the model, GPU, precision, TP degree, draft, request shape,
TTFT budget, TPOT limit and the calibration: never on prices, demand, supply or budgets. The
`EvaluationCache` keys each performance-model search by exactly those inputs, so re-building the
candidates of a what-if that changes only prices or demand makes no performance-model call at all,
and one that tightens a latency target searches only the new budgets.

Two passes. Pass 1 searches every (configuration, shape) at its workload's loosest budget. The best
operating point under a looser TTFT budget is also the best under any tighter budget it already
meets (the feasible batches form an interval), so pass 2 searches only the tighter budgets that the
loose point misses; a configuration that fails the loosest budget fails every tighter one.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import cast

from optimizer.candidates.grid import WorkloadGrid, mean_shape
from optimizer.candidates.records import (
    Admitted,
    BandOutcome,
    Config,
    ConfigOutcome,
    ModelEstimate,
    PointMetrics,
    Rejected,
    Rule,
)
from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf import CalibrationParams, Draft, Prediction, Shape, default_params, predict
from optimizer.perf.batched import CapacityQuery, SearchOutcome, search_capacities
from optimizer.perf.capacity import operating_regime
from optimizer.perf.engines import ENGINES, with_engine
from optimizer.perf.serving import Percentile
from optimizer.schema.problem import MeasuredThroughput

LoadKey = tuple[CapacityQuery, float]
PhysicsKey = tuple[ModelSpec, GpuSpec, PrecisionSpec, Draft | None]
InnerKey = tuple[int, int, int, Shape, float | None, float | None, Percentile, str | None]
"""(TP, DP, EP, request shape, TTFT target ms, TPOT target ms, the targets' percentile, engine)."""


class EvaluationCache:
    """Performance-model results keyed by every input that affects them, for re-use across builds.

    >>> cache = EvaluationCache()                                          # doctest: +SKIP
    >>> a = build_candidates(problem, catalog, cache=cache)                # doctest: +SKIP
    >>> before = cache.misses                                              # doctest: +SKIP
    >>> b = build_candidates(cheaper_h100s, catalog, cache=cache)          # doctest: +SKIP
    >>> cache.misses - before                                              # doctest: +SKIP
    0

    Keys are `CapacityQuery` values (model, GPU and precision specs, draft, TP / DP / EP degrees,
    request shape, TTFT and TPOT targets); the calibration is fixed per cache (`params`). The cache
    grows with the distinct queries it has answered and is never evicted: keep one per problem
    family (a what-if sweep, a solve and its baselines) and drop it with them.
    """

    def __init__(self, params: CalibrationParams | None = None) -> None:
        self.params = params if params is not None else default_params()
        self._searches: dict[PhysicsKey, dict[InnerKey, SearchOutcome]] = {}
        self._loads: dict[LoadKey, Prediction] = {}
        self.hits = 0
        """Queries answered from the table, over the cache's life."""
        self.misses = 0
        """Queries the performance model had to answer, over the cache's life."""

    def __len__(self) -> int:
        return sum(len(t) for t in self._searches.values()) + len(self._loads)

    def search(self, queries: Sequence[CapacityQuery]) -> list[SearchOutcome]:
        """`search_capacities` of the queries, computing only those not in the table (in one batch).

        The table is keyed (model, GPU, precision, draft) -> (TP, DP, EP, shape, TTFT, TPOT): the specs,
        costly to hash, are looked up once per distinct spec objects of the call."""
        tables: dict[tuple[int, int, int, int], dict[InnerKey, SearchOutcome]] = {}
        rows: list[tuple[dict[InnerKey, SearchOutcome], InnerKey]] = []
        todo: dict[tuple[int, InnerKey], tuple[CapacityQuery, dict[InnerKey, SearchOutcome]]] = {}
        for q in queries:
            ids = (id(q.model), id(q.gpu), id(q.precision), id(q.draft))
            table = tables.get(ids)
            if table is None:
                table = self._searches.setdefault((q.model, q.gpu, q.precision, q.draft), {})
                tables[ids] = table
            inner = (q.tp, q.dp, q.ep, q.shape, q.ttft_ms, q.tpot_ms, q.percentile, q.engine)
            rows.append((table, inner))
            if inner not in table:
                todo.setdefault((id(table), inner), (q, table))
        self.misses += len(todo)
        self.hits += len(queries) - len(todo)
        if todo:
            fresh = search_capacities([q for q, _ in todo.values()], params=self.params)
            for ((_, inner), (_, table)), res in zip(todo.items(), fresh, strict=True):
                table[inner] = res
        return [table[inner] for table, inner in rows]

    def at_load(self, query: CapacityQuery, requests_per_s: float) -> Prediction:
        """The model's operating point of the query's configuration at a Poisson load (`predict(qps=)`)."""
        key = (query, requests_per_s)
        hit = self._loads.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        params = self.params if query.engine is None else with_engine(self.params, ENGINES[query.engine])
        pred = predict(
            query.model,
            query.gpu,
            query.precision,
            query.tp,
            query.shape,
            qps=requests_per_s,
            draft=query.draft,
            params=params,
            dp=query.dp,
            ep=query.ep,
        )
        self._loads[key] = pred
        return pred


def _query(g: WorkloadGrid, c: Config, shape: Shape, budget: float | None) -> CapacityQuery:
    return CapacityQuery(
        c.model,
        c.gpu,
        c.precision,
        c.tp,
        shape,
        budget,
        g.tpot_limit_ms(shape),
        c.draft,
        percentile=g.workload.slo.percentile,
        engine=c.engine.id,
    )


def _tighter_to_search(loose: SearchOutcome, budgets: tuple[float | None, ...]) -> Sequence[float | None]:
    """The tighter budgets (all but the loosest, ascending) that need their own search: those below
    the loose point's TTFT. None where the loose point does not exist (it fails them all)."""
    cap = loose.capacity
    if not cap.fits or cap.requests_per_s <= 0 or budgets[-1] is None:
        return ()
    tighter = cast("tuple[float, ...]", budgets[:-1])
    return tighter[: bisect.bisect_left(tighter, cap.ttft_ms)]


def _cells(grids: Iterable[WorkloadGrid]) -> list[tuple[WorkloadGrid, Config, Shape]]:
    """(grid, configuration, shape) of every configuration of a grid with budgets, in grid order."""
    return [(g, c, shape) for g in grids if g.budgets for c in g.configs for _, shape in g.shapes]


def evaluate_grids(
    grids: Sequence[WorkloadGrid], cache: EvaluationCache
) -> dict[str, tuple[ConfigOutcome, ...]]:
    """workload id -> every configuration's outcome at each of its budgets (see module docstring)."""
    cells = _cells(grids)
    loose = cache.search([_query(g, c, shape, g.budgets[-1]) for g, c, shape in cells])
    tight_keys = [
        (k, b) for k, (g, _, _) in enumerate(cells) for b in _tighter_to_search(loose[k], g.budgets)
    ]
    tight_res = cache.search([_query(*cells[k], b) for k, b in tight_keys])
    tight: dict[int, dict[float | None, SearchOutcome]] = {}
    for (k, b), r in zip(tight_keys, tight_res, strict=True):
        tight.setdefault(k, {})[b] = r

    out: dict[str, tuple[ConfigOutcome, ...]] = {}
    k = 0
    for g in grids:
        outcomes = []
        shares = [share for share, _ in g.shapes]
        for c in g.configs if g.budgets else ():
            cells_c = range(k, k + len(g.shapes))
            k += len(g.shapes)
            m = g.measured.get((c.gpu.id, c.precision.id, c.tp, c.model.id)) if c.draft is None else None
            own = [tight.get(j, {}) for j in cells_c]
            if m is None and not any(own):
                # every budget re-uses the loose searches: one answer for all
                band = model_band(
                    g, g.budgets[-1], list(zip(shares, (loose[j] for j in cells_c), strict=True))
                )
                outcomes.append(ConfigOutcome(c, g.budgets, (band,) * len(g.budgets)))
                continue
            bands: list[BandOutcome] = []
            prev: tuple[list[SearchOutcome], BandOutcome] | None = None
            for b in g.budgets:
                res = [o.get(b) or loose[j] for o, j in zip(own, cells_c, strict=True)]
                if m is None and prev is not None and all(x is y for x, y in zip(res, prev[0], strict=True)):
                    bands.append(prev[1])  # the same searches as the previous budget: the same answer
                    continue
                band = model_band(g, b, list(zip(shares, res, strict=True)))
                if m is not None:
                    band = measured_band(g, c, b, band, list(zip(shares, res, strict=True)), m, cache)
                prev = (res, band)
                bands.append(band)
            outcomes.append(ConfigOutcome(c, g.budgets, tuple(bands)))
        out[g.workload.id] = tuple(outcomes)
    return out


def mixture(caps: Sequence[tuple[float, SearchOutcome]], point: PointMetrics | None = None) -> Admitted:
    """Histogram shapes: per-request times add, so rps = 1 / sum(share_i / rps_i); out tokens/s =
    rps x sum(share_i x tok_i / rps_i); latency = worst bin; memory and batch of the first bin."""
    inv = sum(share / r.capacity.requests_per_s for share, r in caps)
    rps = 1.0 / inv
    out_tok = (
        sum(share * r.capacity.output_tokens_per_s / r.capacity.requests_per_s for share, r in caps) * rps
    )
    ttft = max(r.capacity.ttft_ms for _, r in caps)
    return Admitted(
        rps, out_tok, ttft, max(r.capacity.tpot_ms for _, r in caps), caps[0][1].capacity, point=point
    )


def point_metrics(
    g: WorkloadGrid, budget: float | None, res: Sequence[tuple[float, SearchOutcome]]
) -> PointMetrics:
    """The operating point of an admitted band (`PointMetrics`): each bin's regime from its targets
    (`operating_regime`: TTFT budget, the shape's TPOT limit), latencies the worst bin's."""
    regimes = [
        operating_regime(r.capacity, budget, g.tpot_limit_ms(shape))
        for (_, shape), (_, r) in zip(g.shapes, res, strict=True)
    ]
    regime, bound = next((x for x in regimes if x[0] == "latency_bound"), regimes[0])
    caps = [r.capacity for _, r in res]
    return PointMetrics(
        regime=regime,
        bound_by=bound,
        running=caps[0].running,
        ttft_mean_ms=max(c.ttft_mean_ms for c in caps),
        ttft_p90_ms=max(c.ttft_p90_ms for c in caps),
        ttft_p99_ms=max(c.ttft_p99_ms for c in caps),
        tpot_mean_ms=max(c.tpot_mean_ms for c in caps),
        tpot_p90_ms=max(c.tpot_p90_ms for c in caps),
        tpot_p99_ms=max(c.tpot_p99_ms for c in caps),
        e2e_ms=max(c.e2e_ms for c in caps),
        prefill_share=caps[0].prefill_share,
    )


def rejection(g: WorkloadGrid, budget: float | None, shape: Shape, res: SearchOutcome) -> Rejected:
    """The rule that removes a configuration at a budget, from the search and its idle point:
    no fit -> memory fit; idle TPOT over the limit -> TPOT; idle TTFT over the budget -> TTFT."""
    cap = res.capacity
    if not cap.fits:
        return Rejected(Rule.FIT, cap.reason or "does not fit")
    limit = g.tpot_limit_ms(shape)
    ttft, tpot = res.idle_ttft_ms, res.idle_tpot_ms
    if limit is not None and tpot is not None and tpot > limit:
        return Rejected(Rule.TPOT, f"idle-replica TPOT {tpot:.1f} ms > limit {limit:g} ms", ttft, tpot)
    if budget is not None and ttft is not None and ttft > budget:
        return Rejected(
            Rule.TTFT, f"idle-replica TTFT {ttft:.0f} ms > server budget {budget:g} ms", ttft, tpot
        )
    rule = Rule.TTFT if budget is not None else Rule.TPOT
    return Rejected(rule, cap.reason or "no operating point", ttft, tpot)


def model_band(
    g: WorkloadGrid, budget: float | None, res: Sequence[tuple[float, SearchOutcome]]
) -> BandOutcome:
    """The model's answer at one budget: the mixture of every shape's best point, or the first
    failing shape's rejection."""
    for (_, shape), (_, r) in zip(g.shapes, res, strict=True):
        if not r.capacity.fits or r.capacity.requests_per_s <= 0:
            return rejection(g, budget, shape, r)
    return mixture(res, point_metrics(g, budget, res))


def _source(measured: float | None, key: str, rps: float) -> str:
    """Where a measured configuration's latency came from, for messages."""
    if measured is not None:
        return "measured"
    return f"model estimate at the measured {rps:.3g} req/s; state {key} in the measurement if measured"


def measured_band(
    g: WorkloadGrid,
    c: Config,
    budget: float | None,
    model: BandOutcome,
    res: Sequence[tuple[float, SearchOutcome]],
    m: MeasuredThroughput,
    cache: EvaluationCache,
) -> BandOutcome:
    """Measurements replace estimates: the configuration is admitted on the measured figures, with
    the model's own beside them, whether or not the model itself would admit it.

    rate = measured output tokens/s / mean output tokens. TTFT and TPOT are the measured ones;
    one not measured is the model's estimate: at the model's own operating point for this budget
    where it has one, else at the measured rate (mean shape; none where the model predicts an
    overloaded or non-fitting replica, and then the measurement must state it). Admitted when
    TTFT <= budget and TPOT <= the TPOT limit; running sequences by Little's law,
    rate x (TTFT + (O - 1) TPOT), at most the engine's max_num_seqs (the exported engine runs at
    most that many; the measurement was taken within its engine's limit, while latencies the model
    fills in at its own operating point can overstate the running sequences) and at most the model's
    KV-fit maximum batch (the engine's max_num_seqs never exceeds what fits; that cap is noted).
    Rejected (memory fit) whatever was measured when the weights alone exceed the GPU's memory: no
    measurement changes that arithmetic."""
    w = g.workload
    shape = mean_shape(w)
    rps = m.output_tokens_per_s_per_replica / w.request.mean_output_tokens
    cap = res[0][1].capacity
    longest = max((sh.input_tokens + sh.output_tokens for share, sh in g.shapes if share > 0), default=0.0)
    if c.model.modality != "speech" and longest > c.model.max_context_tokens:
        return Rejected(
            Rule.FIT,
            f"measured, but requests of {longest:,.0f} tokens exceed {c.model.id}'s context of "
            f"{c.model.max_context_tokens:,} tokens",
            measured=True,
        )
    if cap.weights_gb_per_gpu > c.gpu.memory_gb:
        return Rejected(
            Rule.FIT,
            f"measured, but its weights alone take {cap.weights_gb_per_gpu:.1f} GB per GPU, more "
            f"than the {c.gpu.memory_gb:g} GB of {c.gpu.id}; check the measurement's gpu, precision and "
            "tensor_parallel",
            measured=True,
        )
    if isinstance(model, Admitted):
        estimate = ModelEstimate(model.capacity_rps, model.ttft_ms, model.tpot_ms)
        why_none = ""
    else:
        load = cache.at_load(_query(g, c, shape, None), rps).capacity
        estimate = ModelEstimate(
            capacity_rps=None,
            ttft_ms=load.ttft_ms if load.fits and math.isfinite(load.ttft_ms) else None,
            tpot_ms=load.tpot_ms if load.fits else None,
            note=f"model: {model.rule}: {model.reason}",
        )
        why_none = load.reason or "the model predicts an overloaded replica"
    ttft = m.ttft_ms if m.ttft_ms is not None else estimate.ttft_ms
    tpot = m.tpot_ms if m.tpot_ms is not None else estimate.tpot_ms
    if ttft is None or tpot is None:
        missing = " and ".join(k for k, v in (("ttft_ms", ttft), ("tpot_ms", tpot)) if v is None)
        return Rejected(
            Rule.MEASUREMENT,
            f"measured {c.label} gives no {missing} and the model has no estimate at {rps:.3g} req/s "
            f"({why_none}); add {missing} to the measurement",
            measured=True,
        )
    if budget is not None and ttft > budget:
        src = _source(m.ttft_ms, "ttft_ms", rps)
        reason = f"TTFT {ttft:.4g} ms ({src}) > server budget {budget:g} ms"
        return Rejected(Rule.TTFT, reason, ttft, tpot, measured=True)
    limit = g.tpot_limit_ms(shape)
    if limit is not None and tpot > limit:
        src = _source(m.tpot_ms, "tpot_ms", rps)
        return Rejected(
            Rule.TPOT, f"TPOT {tpot:.4g} ms ({src}) > limit {limit:g} ms", ttft, tpot, measured=True
        )
    batch = max(math.ceil(rps * (ttft + max(shape.output_tokens - 1.0, 0.0) * tpot) / 1e3 - 1e-9), 1)
    batch = min(batch, c.engine.max_num_seqs)
    max_batch: int | None = None
    if cap.fits and cap.max_batch >= 1:
        if batch > cap.max_batch:
            note = (
                f"the measured rate implies {batch} sequences in flight (Little's law), more than the "
                f"{cap.max_batch} whose KV cache fits by the model; max_num_seqs is capped at "
                f"{cap.max_batch}: check the measurement's ttft_ms/tpot_ms"
            )
            estimate = replace(estimate, note=f"{estimate.note}; {note}" if estimate.note else note)
            batch = cap.max_batch
    else:
        max_batch = batch  # the model finds no KV room: the measured operating point is the only limit
    return Admitted(
        rps,
        m.output_tokens_per_s_per_replica,
        ttft,
        tpot,
        cap,
        measured=True,
        model=estimate,
        batch=batch,
        max_batch=max_batch,
    )
