"""Problem + catalog + performance model -> the MIP's number table (`FleetData`).

For every workload (and each of its routing alternatives) this enumerates replica configurations:
GPU type offered somewhere x precision allowed by the quality floor and supported by the GPU x
tensor-parallel degree x (with and without speculative decoding), and asks the performance model
for the capacity of one replica at the workload's TTFT and TPOT targets.

Latency bands. The TTFT a user sees is network round trip + server-side TTFT, so the server-side
budget depends on the (region, site) pair. A configuration is therefore evaluated at each distinct
budget `ttft_target - rtt(region, site)`; tighter budgets mean lower capacity. The configuration at
budget B may serve exactly the pairs whose round trip is <= target - B. Bands whose capacity is not
strictly above the next tighter band's are dropped (same capacity, fewer routes: dominated).

Dominance pruning is exact: candidate a dominates b (same workload, same model group, same GPU
type) when a uses no more GPUs per replica, has at least b's capacity, and a server-side TTFT no
worse than b's. Any plan using b can swap each b replica for an a replica at no more cost and no
less capacity on the same or more routes, so pruning never changes the optimum (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from optimizer.catalog import Catalog
from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.errors import InputError, InputIssue
from optimizer.model.data import (
    CandidateData,
    FleetData,
    OfferData,
    PeriodData,
    RouteData,
    SiteData,
    WorkloadData,
)
from optimizer.perf import Capacity, Draft, Shape, replica_capacity
from optimizer.schema.problem import (
    HOURS_PER_MONTH,
    GpuOffer,
    MeasuredThroughput,
    Problem,
    PurchaseOption,
    Site,
    Workload,
)

DEFAULT_TP = (1, 2, 4, 8)
EGRESS_BYTES_PER_OUTPUT_TOKEN = 150.0
"""Bytes leaving the site per generated token when streamed as server-sent-event JSON chunks
(an OpenAI-style `chat.completion.chunk` carrying one token is 150-250 bytes; plain text would be
about 4). Prompts are ingress, which clouds do not charge."""
SECONDS_PER_DAY = 86400.0


# ----------------------------------------------------------------------------------------------
# Small pure coefficient functions
# ----------------------------------------------------------------------------------------------


def annuity_factor(rate: float, years: float) -> float:
    """Capital recovery factor per year: r / (1 - (1 + r)^-n); 1/n when r = 0.

    >>> round(annuity_factor(0.0, 4), 4)
    0.25
    >>> round(annuity_factor(0.08, 4), 4)
    0.3019
    """
    if rate <= 0.0:
        return 1.0 / years
    return float(rate / (1.0 - (1.0 + rate) ** -years))


def owned_capital_usd_per_gpu_hour(
    capex_usd: float, rate: float, years: float, hosting_usd_month: float
) -> float:
    """Monthly capital charge spread over the month's hours, plus hosting:
    (capex x annuity(rate, years) / 12 + hosting) / 730.

    >>> round(owned_capital_usd_per_gpu_hour(35040.0, 0.0, 4.0, 0.0), 3)
    1.0
    """
    return (capex_usd * annuity_factor(rate, years) / 12.0 + hosting_usd_month) / HOURS_PER_MONTH


def owned_power_usd_per_gpu_hour(tdp_w: float, load_fraction: float, pue: float, usd_per_kwh: float) -> float:
    """Electricity per GPU-hour: TDP (kW) x average load fraction x PUE x price per kWh.

    >>> round(owned_power_usd_per_gpu_hour(700.0, 0.7, 1.3, 0.10), 4)
    0.0637
    """
    return tdp_w / 1000.0 * load_fraction * pue * usd_per_kwh


def hours_per_month(hours_per_day: float) -> float:
    """Hours in an average month spent in a period lasting `hours_per_day` each day: h x 730 / 24."""
    return hours_per_day * HOURS_PER_MONTH / 24.0


def tokens_per_request(w: Workload) -> tuple[float, float]:
    """Mean (input, output) tokens per request."""
    return w.request.mean_input_tokens, w.request.mean_output_tokens


def daily_requests(w: Workload) -> float:
    """Requests per day from whichever volume the workload states."""
    d = w.demand
    if d.requests_per_day is not None:
        return d.requests_per_day
    if d.output_tokens_per_day is not None:
        return d.output_tokens_per_day / w.request.mean_output_tokens
    assert d.audio_hours_per_day is not None
    if not w.request.audio_seconds:
        raise InputError(
            InputIssue(
                f"workloads[{w.id}].request.audio_seconds", "audio_hours_per_day needs request.audio_seconds"
            )
        )
    return d.audio_hours_per_day * 3600.0 / w.request.audio_seconds


def profile_factors(problem: Problem, w: Workload) -> list[float]:
    """Per-period load multipliers with hour-weighted mean 1: p_t / (sum_t p_t h_t / 24)."""
    periods = problem.period_list()
    prof = w.demand.profile
    if prof is None:
        raw = [1.0] * len(periods)
    elif isinstance(prof, dict):
        raw = [float(prof.get(p.id, 0.0)) for p in periods]
    else:
        raw = [float(v) for v in prof]
    mean = sum(v * p.hours_per_day for v, p in zip(raw, periods, strict=True)) / 24.0
    if mean <= 0:
        raise InputError(InputIssue(f"workloads[{w.id}].demand.profile", "profile weights are all zero"))
    return [v / mean for v in raw]


def region_shift(problem: Problem, offset_hours: float) -> int:
    """Hourly periods: a region at UTC+k sees local hour (t + k) mod 24 at UTC period t."""
    return round(offset_hours) % 24 if problem.periods == "hourly" else 0


# ----------------------------------------------------------------------------------------------
# Candidate details the plan needs (not given to the MIP)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    id: str
    workload: str
    model: str
    gpu: str
    precision: str
    tensor_parallel: int
    speculative: bool
    capacity_rps: float
    output_tokens_per_s: float
    batch: int
    max_batch: int
    ttft_ms: float
    tpot_ms: float
    ttft_budget_ms: float | None
    """Server-side TTFT budget this band was computed at (None: batch work, no target)."""
    memory_gb_per_gpu: float
    weights_gb_per_gpu: float
    kv_gb_per_gpu: float
    max_model_len: int
    vllm_quantization: str | None
    kv_cache_dtype: str
    measured: bool
    """Capacity comes from the user's measurement, not the model."""
    hf_repo: str
    """Hugging Face repository the engine loads (see `checkpoint_for`)."""
    hf_repo_source: CheckpointSource
    checkpoint_note: str | None
    gpu_memory_gb: float
    gpu_vendor: str
    """Catalog vendor of the device (NVIDIA, AMD, Intel, ...)."""
    device_kind: str
    """`gpu` or `cpu` (catalog device kind)."""


@dataclass(frozen=True)
class WorkloadFacts:
    id: str
    input_tokens: float
    output_tokens: float
    requests_per_day: float
    ttft_target_ms: float | None
    tpot_target_ms: float | None


@dataclass(frozen=True)
class CandidateSet:
    fleet: FleetData
    info: dict[str, CandidateInfo]
    workloads: dict[str, WorkloadFacts]
    rtt_ms: dict[tuple[str, str], float]
    """(region, site) -> network round trip, ms."""
    considered: int
    """Configurations evaluated (all bands), before pruning."""
    not_fitting: int
    pruned: int
    gpu_ids_by_offer: dict[tuple[str, int], str] = field(default_factory=dict)
    """(site id, offer index in the problem file) -> catalog GPU id."""
    primary_model: dict[str, str] = field(default_factory=dict)
    """workload -> catalog id of its primary model."""
    draft_hf_ids: dict[str, str] = field(default_factory=dict)
    """workload -> Hugging Face id of its speculative draft model."""
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Builder
# ----------------------------------------------------------------------------------------------


def _offer_prices(
    problem: Problem, catalog: Catalog, offer: GpuOffer, gpu: GpuSpec, where: str
) -> dict[PurchaseOption, dict[str, float]]:
    """Cost terms (USD per GPU-hour) for every purchase option this offer has and the problem allows."""
    po = problem.purchase_options
    explicit = offer.prices
    out: dict[PurchaseOption, dict[str, float]] = {}

    def catalog_price(kind: str) -> float | None:
        ref = offer.catalog_prices
        if ref is None:
            return None
        rows = catalog.prices_for(
            ref.provider,
            ref.region,
            gpu.id,
            kind,
            gpus_per_instance=offer.gpus_per_instance,
            instance_type=ref.instance_type,
        )
        return rows[0].usd_per_gpu_hour if rows else None

    on_demand = explicit.on_demand if explicit.on_demand is not None else catalog_price("on_demand")
    if po.on_demand and on_demand is not None:
        out[PurchaseOption.ON_DEMAND] = {"on_demand": on_demand}
    spot = explicit.spot if explicit.spot is not None else catalog_price("spot")
    if po.spot is not None and spot is not None:
        out[PurchaseOption.SPOT] = {"spot": spot}
    for opt, terms, price in (
        (PurchaseOption.COMMITTED_1Y, po.committed_1y, explicit.committed_1y),
        (PurchaseOption.COMMITTED_3Y, po.committed_3y, explicit.committed_3y),
    ):
        if terms is None:
            continue
        if price is None and terms.discount_vs_on_demand is not None and on_demand is not None:
            price = on_demand * (1.0 - terms.discount_vs_on_demand)
        if price is not None:
            out[opt] = {"committed": price}
    if po.owned is not None and offer.owned:
        capex = offer.capital_usd_per_gpu if offer.capital_usd_per_gpu is not None else gpu.purchase_price_usd
        if capex is None:
            raise InputError(
                InputIssue(
                    f"{where}.capital_usd_per_gpu",
                    f"owned {gpu.id} needs capital_usd_per_gpu (the catalog has no price)",
                )
            )
        o = po.owned
        out[PurchaseOption.OWNED] = {
            "owned_capital": owned_capital_usd_per_gpu_hour(
                capex, o.annual_interest_rate, o.lifetime_years, o.hosting_usd_per_gpu_month
            ),
            "power": owned_power_usd_per_gpu_hour(
                gpu.tdp_w, o.average_power_fraction, o.pue, o.power_usd_per_kwh
            ),
        }
    return out


def _tp_degrees(w: Workload, gpu: GpuSpec, max_instance: int) -> list[int]:
    base = w.tensor_parallel or DEFAULT_TP
    return sorted({tp for tp in base if tp <= gpu.max_tensor_parallel and tp <= max_instance})


def _precisions(w: Workload, catalog: Catalog, gpu: GpuSpec) -> list[PrecisionSpec]:
    if w.precisions is not None:
        specs = [catalog.precision(p) for p in w.precisions]
    else:
        specs = [p for p in catalog.precisions() if p.relative_accuracy >= w.min_quality]
    return [p for p in specs if p.relative_accuracy >= w.min_quality and catalog.supports(gpu, p)]


def _mixture_capacity(caps: list[tuple[float, Capacity]]) -> tuple[float, float, float, float]:
    """Histogram shapes: per-request times add, so rps = 1 / sum(share_i / rps_i); latency = worst bin.

    Returns (rps, output tokens/s, ttft, tpot)."""
    inv = sum(share / c.requests_per_s for share, c in caps)
    rps = 1.0 / inv
    out_tok = sum(share * c.output_tokens_per_s / c.requests_per_s for share, c in caps) * rps
    return rps, out_tok, max(c.ttft_ms for _, c in caps), max(c.tpot_ms for _, c in caps)


def tpot_limit_ms(w: Workload, shape: Shape) -> float | None:
    """The per-token limit a replica must meet: the workload's TPOT target, or for batch work with a
    deadline, deadline / output tokens (one request, start to last token, within the deadline)."""
    if w.slo.tpot_ms is not None:
        return w.slo.tpot_ms
    if w.slo.deadline_hours is not None and shape.output_tokens > 0:
        return w.slo.deadline_hours * 3.6e6 / shape.output_tokens
    return None


def _budgets(w: Workload, rtts: list[float]) -> list[float | None]:
    """Distinct server-side TTFT budgets (ms), tightest first; [None] for batch/no-TTFT work."""
    target = w.slo.ttft_ms
    if target is None:
        return [None]
    return [*sorted({round(target - r, 3) for r in rtts if target - r > 0})]


def build_candidates(problem: Problem, catalog: Catalog, *, prune: bool = True) -> CandidateSet:
    """Enumerate, evaluate and prune replica configurations; emit FleetData for the MIP."""
    periods = problem.period_list()
    period_data = tuple(PeriodData(p.id, hours_per_month(p.hours_per_day)) for p in periods)
    regions = {r.id: r for r in problem.user_regions}
    po = problem.purchase_options

    notes: list[str] = []

    # Offers and sites ------------------------------------------------------------------------
    offers: list[OfferData] = []
    supply: dict[tuple[str, str], int] = {}
    site_gpu_instance: dict[tuple[str, str], int] = {}
    site_data: list[SiteData] = []
    gpus_offered: dict[str, GpuSpec] = {}
    gpu_ids_by_offer: dict[tuple[str, int], str] = {}
    primary_model: dict[str, str] = {}
    draft_hf_ids: dict[str, str] = {}
    for si, site in enumerate(problem.sites):
        site_data.append(
            SiteData(site.id, site.kind, site.sustainable_utilization, site.max_gpus, site.power_limit_kw)
        )
        for oi, offer in enumerate(site.offers):
            gpu = catalog.gpu(offer.gpu)
            where = f"sites[{si}].offers[{oi}]"
            if (site.id, gpu.id) in site_gpu_instance:
                raise InputError(
                    InputIssue(where, f"site {site.id} offers {gpu.id} twice; list each GPU once")
                )
            site_gpu_instance[(site.id, gpu.id)] = offer.gpus_per_instance
            gpu_ids_by_offer[(site.id, oi)] = gpu.id
            prices = _offer_prices(problem, catalog, offer, gpu, where)
            fixed = sorted(
                (sum(t.values()), opt.value) for opt, t in prices.items() if opt.fixed_over_periods
            )
            for _, dropped in fixed[1:]:
                # Committed and owned capacity behave identically in every constraint (same count in all
                # periods, same supply and power); only the cheapest per GPU-hour can be in an optimum.
                notes.append(f"{site.id}/{gpu.id}: {dropped} dropped, {fixed[0][1]} is cheaper per GPU-hour")
                del prices[PurchaseOption(dropped)]
            for opt, terms in prices.items():
                offers.append(
                    OfferData(
                        site.id,
                        gpu.id,
                        opt.value,
                        terms,
                        offer.gpus_per_instance,
                        po.spot.availability if opt is PurchaseOption.SPOT and po.spot else 1.0,
                    )
                )
            if prices:
                gpus_offered[gpu.id] = gpu
            if offer.max_gpus is not None:
                supply[(site.id, gpu.id)] = offer.max_gpus
    priced = {(o.site, o.gpu) for o in offers}

    site_by_id = {s.id: s for s in problem.sites}
    rtt = {(r, s.id): float(ms) for s in problem.sites for r, ms in s.latency_ms.items()}
    shipped_gpus = sorted(gpus_offered)

    # Workloads ---------------------------------------------------------------------------------
    candidates: list[CandidateData] = []
    info: dict[str, CandidateInfo] = {}
    workloads: list[WorkloadData] = []
    facts: dict[str, WorkloadFacts] = {}
    demand: dict[tuple[str, str, str], float] = {}
    routes: list[RouteData] = []
    considered = not_fitting = 0

    for wi, w in enumerate(problem.workloads):
        tin, tout = tokens_per_request(w)
        per_day = daily_requests(w)
        facts[w.id] = WorkloadFacts(w.id, tin, tout, per_day, w.slo.ttft_ms, w.slo.tpot_ms)
        factors = profile_factors(problem, w)
        for r_id, share in w.demand.region_split.items():
            shift = region_shift(problem, regions[r_id].utc_offset_hours)
            for ti, p in enumerate(periods):
                rate = per_day * share * factors[(ti + shift) % len(periods)] / SECONDS_PER_DAY
                if rate > 0:
                    demand[(w.id, r_id, p.id)] = rate

        tokens = tin + tout
        sl = w.serverless
        placement = w.placement or problem.policy.placement
        group_share: dict[str, float] = {}
        models: list[tuple[ModelSpec, bool]] = [(catalog.model(w.model), True)]
        primary_model[w.id] = models[0][0].id
        if w.speculative is not None:
            draft_hf_ids[w.id] = catalog.model(w.speculative.draft_model).hf_id
        for alt in w.alternatives:
            m = catalog.model(alt.model)
            group_share[m.id] = alt.max_share
            models.append((m, False))
        workloads.append(
            WorkloadData(
                id=w.id,
                headroom=problem.policy.headroom,
                dedicated=w.dedicated,
                serverless_usd_per_request=(
                    (tin * sl.usd_per_million_input_tokens + tout * sl.usd_per_million_output_tokens) / 1e6
                    if sl.allowed
                    else None
                ),
                serverless_max_share=sl.max_share,
                unmet_usd_per_request=(
                    tokens * problem.policy.shortfall.penalty_usd_per_million_tokens / 1e6
                    if problem.policy.shortfall.allowed
                    else None
                ),
                daily_coverage=bool(w.slo.is_batch and (w.slo.deadline_hours or 0) >= 24.0),
                group_max_share=group_share,
                placement=placement,
            )
        )

        # Sites this workload may use: placement mode and residency.
        def site_ok(site: Site, region_id: str, w: Workload = w, placement: str = placement) -> bool:
            if placement == "centralized" and site.kind != "central":
                return False
            if placement == "edge" and site.kind != "edge":
                return False
            if w.residency is None:
                return True
            if w.residency == "user_region":
                return site.jurisdiction is not None and site.jurisdiction == regions[region_id].jurisdiction
            return site.jurisdiction in w.residency

        pairs = [
            (r_id, s)
            for r_id in w.demand.region_split
            for s in problem.sites
            if (r_id, s.id) in rtt and site_ok(s, r_id)
        ]
        budgets = _budgets(w, [rtt[(r, s.id)] for r, s in pairs])
        measured = {
            (
                catalog.gpu(m.gpu).id,
                catalog.precision(m.precision).id,
                m.tensor_parallel,
                catalog.model(m.model).id if m.model else catalog.model(w.model).id,
            ): m
            for m in w.measured
        }

        wl_cands: list[CandidateInfo] = []
        for model, primary in models:
            drafts: list[Draft | None] = [None]
            if primary and w.speculative is not None:
                drafts.append(
                    Draft(
                        catalog.model(w.speculative.draft_model),
                        w.speculative.acceptance_rate,
                        w.speculative.draft_tokens,
                    )
                )
            for gid in shipped_gpus:
                gpu = gpus_offered[gid]
                max_inst = max(
                    (n for (s, g), n in site_gpu_instance.items() if g == gid and (s, g) in priced), default=0
                )
                for prec in _precisions(w, catalog, gpu):
                    for tp in _tp_degrees(w, gpu, max_inst):
                        for draft in drafts:
                            band_caps = _evaluate(w, model, gpu, prec, tp, draft, budgets, measured)
                            considered += len(budgets)
                            prev_rps = 0.0
                            kept = 0
                            for budget, ev in band_caps:
                                if ev is None:
                                    not_fitting += 1
                                    continue
                                rps, out_tok, ttft, tpot, cap, is_measured = ev
                                if rps <= prev_rps * (1 + 1e-9):
                                    continue  # same capacity as a tighter band: dominated
                                prev_rps = rps
                                kept += 1
                                cid = f"{w.id}__{model.id}__{gid}__{prec.id}__tp{tp}"
                                if draft is not None:
                                    cid += "__spec"
                                if budget is not None and len(budgets) > 1:
                                    cid += f"__b{round(budget)}"
                                if cid in info:
                                    cid += f"_{kept}"
                                ckpt = checkpoint_for(w, model, prec, primary, catalog)
                                ci = CandidateInfo(
                                    id=cid,
                                    workload=w.id,
                                    model=model.id,
                                    gpu=gid,
                                    precision=prec.id,
                                    tensor_parallel=tp,
                                    speculative=draft is not None,
                                    capacity_rps=rps,
                                    output_tokens_per_s=out_tok,
                                    batch=cap.batch,
                                    max_batch=cap.max_batch,
                                    ttft_ms=ttft,
                                    tpot_ms=tpot,
                                    ttft_budget_ms=budget,
                                    memory_gb_per_gpu=cap.memory_gb_per_gpu,
                                    weights_gb_per_gpu=cap.weights_gb_per_gpu,
                                    kv_gb_per_gpu=cap.kv_gb_per_gpu,
                                    max_model_len=int(
                                        min(
                                            model.max_context_tokens,
                                            2 ** math.ceil(math.log2(max(tin + tout, 16)) + 1),
                                        )
                                    ),
                                    vllm_quantization=prec.vllm_quantization,
                                    kv_cache_dtype="fp8" if prec.kv_bytes <= 1.0 else "auto",
                                    measured=is_measured,
                                    hf_repo=ckpt.hf_repo,
                                    hf_repo_source=ckpt.source,
                                    checkpoint_note=ckpt.note,
                                    gpu_memory_gb=gpu.memory_gb,
                                    gpu_vendor=gpu.vendor,
                                    device_kind=str(gpu.kind.value),
                                )
                                wl_cands.append(ci)
        if not wl_cands:
            raise InputError(
                InputIssue(
                    f"workloads[{wi}]",
                    f"workload {w.id}: no configuration of {w.model} fits any offered GPU at any allowed "
                    "precision "
                    "while meeting its TPOT target; offer larger GPUs, relax min_quality or the TPOT target",
                )
            )
        allowed: dict[str, frozenset[tuple[str, str]]] = {}
        has_demand = {k[1] for k in demand if k[0] == w.id}
        for ci in wl_cands:
            ok = set()
            for r_id, site in pairs:
                inst = site_gpu_instance.get((site.id, ci.gpu))
                if (
                    r_id not in has_demand
                    or inst is None
                    or (site.id, ci.gpu) not in priced
                    or ci.tensor_parallel > inst
                ):
                    continue
                if w.slo.ttft_ms is not None and rtt[(r_id, site.id)] + ci.ttft_ms > w.slo.ttft_ms + 1e-9:
                    continue
                ok.add((r_id, site.id))
            allowed[ci.id] = frozenset(ok)
        kept_cands = [c for c in (_prune(wl_cands, allowed) if prune else wl_cands) if allowed[c.id]]
        for ci in kept_cands:
            info[ci.id] = ci
            candidates.append(
                CandidateData(
                    ci.id, w.id, ci.model, ci.gpu, ci.tensor_parallel, ci.capacity_rps, ci.ttft_ms, ci.tpot_ms
                )
            )
            for r_id, site_id in sorted(allowed[ci.id]):
                egress = tout * EGRESS_BYTES_PER_OUTPUT_TOKEN / 1e9 * site_by_id[site_id].egress_usd_per_gb
                routes.append(RouteData(w.id, r_id, site_id, ci.id, egress))

    fleet = FleetData(
        periods=period_data,
        workloads=tuple(workloads),
        regions=tuple(r.id for r in problem.user_regions),
        sites=tuple(site_data),
        candidates=tuple(candidates),
        offers=tuple(offers),
        routes=tuple(routes),
        demand_rps=demand,
        gpu_power_kw={g.id: g.tdp_w / 1000.0 for g in gpus_offered.values()},
        supply_max_gpus=supply,
        spot_max_share=po.spot.max_share if po.spot is not None else 0.0,
        max_gpu_types=problem.policy.max_gpu_types,
        min_replicas_per_active_site=problem.policy.min_replicas_per_active_site,
        budget_usd_per_month=problem.policy.budget_usd_per_month,
    )
    return CandidateSet(
        fleet,
        info,
        facts,
        rtt,
        considered,
        not_fitting,
        pruned=considered - not_fitting - len(info),
        gpu_ids_by_offer=gpu_ids_by_offer,
        primary_model=primary_model,
        draft_hf_ids=draft_hf_ids,
        notes=notes,
    )


Evaluation = tuple[float, float, float, float, Capacity, bool]


def _evaluate(
    w: Workload,
    model: ModelSpec,
    gpu: GpuSpec,
    prec: PrecisionSpec,
    tp: int,
    draft: Draft | None,
    budgets: list[float | None],
    measured: Mapping[tuple[str, str, int, str], MeasuredThroughput],
) -> list[tuple[float | None, Evaluation | None]]:
    """Capacity of one configuration at each TTFT budget (None where it does not fit or cannot meet
    the targets)."""
    shapes: list[tuple[float, Shape]]
    if w.request.histogram is not None:
        shapes = [(b.share, Shape(b.input_tokens, b.output_tokens)) for b in w.request.histogram]
    else:
        shapes = [
            (1.0, Shape(w.request.mean_input_tokens, w.request.mean_output_tokens, w.request.audio_seconds))
        ]
    m = measured.get((gpu.id, prec.id, tp, model.id)) if draft is None else None
    results: dict[float | None, Evaluation | None] = {}
    last: tuple[list[tuple[float, Capacity]], float] | None = None
    # Loosest budget first: the best operating point under a looser TTFT budget is also the best under
    # any tighter budget it already meets, so only budgets below its TTFT need a new search.
    for budget in reversed(budgets):
        if last is not None and budget is not None and last[1] <= budget:
            caps = last[0]
        else:
            caps = [
                (
                    share,
                    replica_capacity(
                        model, gpu, prec, tp, shape, budget, tpot_limit_ms(w, shape), draft=draft
                    ),
                )
                for share, shape in shapes
            ]
        if any(not c.fits or c.requests_per_s <= 0 for _, c in caps):
            results[budget] = None
            last = None
            continue
        rps, out_tok, ttft, tpot = _mixture_capacity(caps)
        last = (caps, ttft)
        if m is not None:
            out_tok = m.output_tokens_per_s_per_replica
            rps = out_tok / w.request.mean_output_tokens
            ttft = m.ttft_ms if m.ttft_ms is not None else ttft
            tpot = m.tpot_ms if m.tpot_ms is not None else tpot
            if (budget is not None and ttft > budget) or (w.slo.tpot_ms is not None and tpot > w.slo.tpot_ms):
                results[budget] = None
                continue
        results[budget] = (rps, out_tok, ttft, tpot, caps[0][1], m is not None)
    return [(b, results[b]) for b in budgets]


def _prune(cands: list[CandidateInfo], routes: dict[str, frozenset[tuple[str, str]]]) -> list[CandidateInfo]:
    """Drop exactly dominated candidates; deterministic tie-breaking by id.

    a dominates b when both serve the same workload with the same model on the same GPU type, a can
    serve every (region, site) pair b can (route sets), and floor(g_b / g_a) replicas of a, which
    use no more GPUs than one replica of b, have at least b's capacity. Replacing each b replica by
    those a replicas keeps every constraint (GPU counts, power, supply, packing, spot GPUs, minimum
    replica counts, GPU types) and costs no more, so the optimum is unchanged.
    """
    kept: list[CandidateInfo] = []
    ordered = sorted(cands, key=lambda c: (c.tensor_parallel, -c.capacity_rps, c.ttft_ms, c.id))
    for c in ordered:
        dominated = False
        for k in kept:
            if (
                k.model == c.model
                and k.gpu == c.gpu
                and k.tensor_parallel <= c.tensor_parallel
                and (c.tensor_parallel // k.tensor_parallel) * k.capacity_rps >= c.capacity_rps
                and routes[k.id] >= routes[c.id]
            ):
                dominated = True
                break
        if not dominated:
            kept.append(c)
    return sorted(kept, key=lambda c: c.id)


CheckpointSource = Literal["catalog", "workload_model", "workload_hf_repo"]


@dataclass(frozen=True)
class Checkpoint:
    hf_repo: str
    source: CheckpointSource
    note: str | None


ONLINE_QUANTIZATION: frozenset[str | None] = frozenset({None, "fp8"})
"""vLLM `--quantization` methods that run from the BF16 checkpoint (fp8: dynamic online quantization)."""


def checkpoint_for(
    w: Workload, model: ModelSpec, prec: PrecisionSpec, primary: bool, catalog: Catalog
) -> Checkpoint:
    """Which Hugging Face repository the engine loads for this model and precision, and whether it holds
    the precision's weight format.

    Order: the workload's `hf_repo[precision]`, then `hf_repo.default`, then the workload's `model` if
    written as a repository id (`owner/name`), then the catalog's `hf_id`. Alternatives (not primary)
    always use the catalog's. A precision vLLM cannot quantize online (anything but BF16 and FP8) needs
    a pre-quantized checkpoint: unless named for that precision, `checkpoint_note` says so.
    """
    repo, explicit = model.hf_id, False
    source: CheckpointSource = "catalog"
    by_precision = {catalog.precision(k).id: v for k, v in w.hf_repo.items() if k != "default"}
    if primary:
        if prec.id in by_precision:
            repo, source, explicit = by_precision[prec.id], "workload_hf_repo", True
        elif "default" in w.hf_repo:
            repo, source = w.hf_repo["default"], "workload_hf_repo"
        elif "/" in w.model:
            repo, source = w.model, "workload_model"
    note = None
    if not explicit and prec.vllm_quantization not in ONLINE_QUANTIZATION:
        note = (
            f"{repo} is not known to hold {prec.id} weights (vLLM --quantization {prec.vllm_quantization} "
            "loads a pre-quantized checkpoint): set the workload's hf_repo."
            f"{prec.id} to a {prec.id} checkpoint of {model.id}"
        )
    return Checkpoint(repo, source, note)
