"""Why a workload ends with no route from a user region: the rule that removed the last options,
with its numbers.

A (workload, region) with demand and no route cannot be served unless serverless may take all of
it or shortfall is allowed; the candidate stage then raises `InfeasibleError` (exit 3) with one
finding per such pair. Each finding walks the funnel a route passes and names the first rule that
leaves nothing:

1. network latency: some site lists a round trip to the region;
2. placement: the policy (centralized / edge) allows some of those sites;
3. residency: the data-residency rule allows some of those;
4. GPU offers / precision-quality floor / tensor-parallel degree: the workload has some
   configuration at all (a priced GPU, a precision meeting min_quality that it runs, a TP degree);
5. TTFT target: some allowed site's round trip alone is below the target;
6. GPU offers: a site within reach hosts some configuration (GPU type, instance size);
7. memory fit: some hosted configuration fits;
8. TPOT target: some fitting configuration meets the TPOT limit (idle replica, or measured);
9. TTFT target (incl. network RTT): the best round trip + server TTFT (idle replica, or measured)
   over hosted, fitting, TPOT-meeting configurations, against the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.candidates.evaluate import EvaluationCache, _query
from optimizer.candidates.grid import WorkloadGrid, allowed_precisions, site_allowed
from optimizer.candidates.offers import OfferTable
from optimizer.candidates.records import Admitted, Config, ConfigOutcome, Rejected, Rule
from optimizer.catalog import Catalog
from optimizer.model.data import WorkloadData
from optimizer.model.diagnose import Finding
from optimizer.schema.problem import Problem, Site


def must_route(wd: WorkloadData) -> bool:
    """Demand of this workload needs a GPU route: no shortfall, and serverless (if allowed) may not
    take all of it."""
    sl_share = wd.serverless_max_share if wd.serverless_usd_per_request is not None else 0.0
    return wd.unmet_usd_per_request is None and sl_share < 1.0


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """A configuration's best case: whether it fits, and its lowest TTFT and TPOT."""

    config: Config
    fits: bool
    reason: str | None
    memory_ratio: float
    """Memory needed (weights + reserve) / device memory: how close a non-fitting one comes."""
    ttft_ms: float | None
    """Idle-replica (or measured) server-side TTFT; None when it does not fit."""
    tpot_over: str | None
    """Why the best TPOT misses the limit (None: it meets it)."""
    tpot_ms: float | None = None
    """The best TPOT (idle replica, or the measured / estimated one at the measured load)."""


def config_facts(
    g: WorkloadGrid, configs: Sequence[Config], outcomes: dict[Config, ConfigOutcome], cache: EvaluationCache
) -> list[ConfigFacts]:
    """Best-case figures of each configuration: measured values where measured, else the model's
    search without a TTFT target (its idle point)."""
    out = []
    for c in configs:
        measured = [b for b in outcomes[c].bands if b.measured] if c in outcomes else []
        if measured:
            b = measured[0]
            if isinstance(b, Admitted):
                out.append(ConfigFacts(c, True, None, 0.0, b.ttft_ms, None))
                continue
            if b.rule is Rule.TPOT:
                out.append(ConfigFacts(c, True, None, 0.0, b.best_ttft_ms, b.reason, b.best_tpot_ms))
                continue
            if b.rule is Rule.TTFT:
                out.append(ConfigFacts(c, True, None, 0.0, b.best_ttft_ms, None))
                continue
            out.append(ConfigFacts(c, False, b.reason, 0.0, None, None))
            continue
        results = cache.search([_query(g, c, shape, None) for _, shape in g.shapes])
        caps = [r.capacity for r in results]
        if not all(cap.fits for cap in caps):
            bad = next(cap for cap in caps if not cap.fits)
            out.append(ConfigFacts(c, False, bad.reason, bad.memory_gb_per_gpu / c.gpu.memory_gb, None, None))
            continue
        tpot_over = None
        for (_, shape), r in zip(g.shapes, results, strict=True):
            limit = g.tpot_limit_ms(shape)
            if limit is not None and r.idle_tpot_ms is not None and r.idle_tpot_ms > limit:
                tpot_over = f"idle-replica TPOT {r.idle_tpot_ms:.1f} ms > limit {limit:g} ms"
                break
        ttfts = [r.idle_ttft_ms for r in results if r.idle_ttft_ms is not None]
        tpots = [r.idle_tpot_ms for r in results if r.idle_tpot_ms is not None]
        out.append(
            ConfigFacts(
                c, True, None, 0.0, max(ttfts) if ttfts else None, tpot_over, max(tpots) if tpots else None
            )
        )
    return out


def _no_config(g: WorkloadGrid, catalog: Catalog, offers: OfferTable) -> tuple[Rule, str]:
    """Why the grid is empty: no priced GPU, no precision passes the quality floor on any, or no TP
    degree fits."""
    w = g.workload
    if not offers.gpus:
        return Rule.OFFERS, "no site prices any GPU under the allowed purchase options"
    gpus = sorted(offers.gpus)
    runnable = {gid: allowed_precisions(w, catalog, offers.gpus[gid]) for gid in gpus}
    if not any(runnable.values()):
        listed = w.precisions is not None
        considered = [catalog.precision(p) for p in w.precisions] if w.precisions is not None else []
        considered = considered or list(catalog.precisions())
        meeting = [p for p in considered if p.relative_accuracy >= w.min_quality]
        kind = "listed" if listed else "catalog"
        if not meeting:
            best = max(considered, key=lambda p: p.relative_accuracy)
            return (
                Rule.QUALITY,
                f"min_quality {w.min_quality:g} excludes every {kind} precision (the most accurate, "
                f"{best.id}, has relative accuracy {best.relative_accuracy:g})",
            )
        return (
            Rule.QUALITY,
            f"the {kind} precisions meeting min_quality {w.min_quality:g} "
            f"({', '.join(p.id for p in meeting)}) run on none of the offered GPUs ({', '.join(gpus)})",
        )
    degrees = ", ".join(str(t) for t in (w.tensor_parallel or ()))
    limits = ", ".join(
        f"{gid} (scale-up {offers.gpus[gid].max_tensor_parallel}, "
        f"instances of {offers.largest_instance(gid)})"
        for gid in gpus
    )
    return Rule.PARALLELISM, f"tensor_parallel [{degrees}] exceeds every offered GPU's limit: {limits}"


def region_finding(
    problem: Problem,
    catalog: Catalog,
    g: WorkloadGrid,
    region: str,
    offers: OfferTable,
    rtt: dict[tuple[str, str], float],
    outcomes: dict[Config, ConfigOutcome],
    cache: EvaluationCache,
) -> Finding:
    """The rule that leaves (workload, region) without a route (see the module docstring)."""
    w = g.workload

    def finding(rule: Rule, detail: str) -> Finding:
        return Finding(str(rule), detail, w.id, region)

    listed = [s for s in problem.sites if region in s.latency_ms]
    if not listed:
        return finding(Rule.NETWORK, f"no site lists a round trip to region {region!r} (sites' latency_ms)")
    placement = w.placement or problem.policy.placement
    placed = [s for s in listed if placement not in ("centralized", "edge") or _placement_ok(placement, s)]
    if not placed:
        return finding(
            Rule.PLACEMENT,
            f"placement {placement!r} excludes every site reachable from {region!r}: "
            + ", ".join(f"{s.id} ({s.kind})" for s in listed),
        )
    allowed = [s for s in placed if site_allowed(problem, w, s, region)]
    if not allowed:
        juris = next((r.jurisdiction for r in problem.user_regions if r.id == region), None)
        need = (
            f"jurisdiction {juris!r} (user_region)"
            if w.residency == "user_region"
            else f"jurisdiction {' or '.join(repr(j) for j in w.residency or ())}"
        )
        return finding(
            Rule.RESIDENCY,
            f"residency needs {need}; sites reachable from {region!r}: "
            + ", ".join(f"{s.id} ({s.jurisdiction or 'no jurisdiction'})" for s in placed),
        )
    target = w.slo.ttft_ms
    near = sorted(allowed, key=lambda s: rtt[(region, s.id)])
    reach = [s for s in near if target is None or rtt[(region, s.id)] < target]
    if not g.configs:
        rule, detail = _no_config(g, catalog, offers)
        return finding(rule, detail)
    facts = config_facts(g, g.configs, outcomes, cache)
    if not reach:
        s0 = near[0]
        best = min(
            (f for f in facts if f.fits and f.ttft_ms is not None and f.tpot_over is None),
            key=lambda f: f.ttft_ms or 0.0,
            default=None,
        )
        server = (
            f" + best server TTFT {best.ttft_ms:.0f} ms ({best.config.label}) = "
            f"{rtt[(region, s0.id)] + (best.ttft_ms or 0.0):.0f} ms"
            if best is not None
            else ""
        )
        return finding(
            Rule.TTFT,
            f"nearest allowed site {s0.id} is {rtt[(region, s0.id)]:g} ms round trip from "
            f"{region!r}{server}, "
            f"against a TTFT target of {target:g} ms; no site is reachable within the target",
        )
    hosted = [(s, f) for s in reach for f in facts if offers.hosts(s.id, f.config.gpu.id, f.config.tp)]
    if not hosted:
        sold = sorted({gid for (sid, gid) in offers.priced if sid in {s.id for s in reach}})
        sites = ", ".join(s.id for s in reach)
        if not sold:
            return finding(
                Rule.OFFERS,
                f"sites within reach of {region!r} ({sites}) price no GPU under the allowed purchase options",
            )
        return finding(
            Rule.OFFERS,
            f"sites within reach of {region!r} ({sites}) offer {', '.join(sold)}, which host none of the "
            "workload's configurations (GPU type, or instances smaller than the tensor-parallel degree)",
        )
    fitting = [(s, f) for s, f in hosted if f.fits]
    if not fitting:
        closest = min((f for _, f in hosted), key=lambda f: f.memory_ratio)
        return finding(
            Rule.FIT,
            f"none of the {len({f.config for _, f in hosted})} configurations hostable within reach fits; "
            f"closest: {closest.config.label}: {closest.reason}",
        )
    meeting = [(s, f) for s, f in fitting if f.tpot_over is None]
    if not meeting:
        best_t = min((f for _, f in fitting), key=lambda f: f.tpot_ms if f.tpot_ms is not None else math.inf)
        return finding(
            Rule.TPOT,
            f"no fitting configuration meets the TPOT limit; best: {best_t.config.label}: {best_t.tpot_over}",
        )
    s_best, f_best = min(meeting, key=lambda sf: rtt[(region, sf[0].id)] + (sf[1].ttft_ms or 0.0))
    total = rtt[(region, s_best.id)] + (f_best.ttft_ms or 0.0)
    if target is not None and total > target:
        return finding(
            Rule.TTFT,
            f"best achievable TTFT {total:.0f} ms (round trip {rtt[(region, s_best.id)]:g} ms to {s_best.id} "
            f"+ server {f_best.ttft_ms:.0f} ms, {f_best.config.label}) > target {target:g} ms",
        )
    reasons = sorted(
        {f"{b.rule}: {b.reason}" for o in outcomes.values() for b in o.bands if isinstance(b, Rejected)}
    )
    return finding(
        Rule.TTFT if target is not None else Rule.TPOT,
        "no configuration qualifies at a budget that reaches a site: " + "; ".join(reasons[:3]),
    )


def _placement_ok(placement: str, site: Site) -> bool:
    return (placement == "centralized" and site.kind == "central") or (
        placement == "edge" and site.kind == "edge"
    )
