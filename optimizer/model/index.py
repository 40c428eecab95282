"""Lookups over `FleetData`, checked once: which replica slots, routes and demand keys exist.

`index_fleet` validates the table (unknown ids, duplicates, out-of-range numbers) and raises one
`ValueError` listing every inconsistency: FleetData is produced by code, so an inconsistency is a bug
upstream, reported before any variable is made.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from optimizer.model.data import (
    ALL_OPTIONS,
    COST_TERMS,
    FIXED_OPTIONS,
    CandidateData,
    FleetData,
    OfferData,
    RouteData,
    SiteData,
    WorkloadData,
)

SHARED_TENANT = "shared"
"""Tenant of instances that replicas of non-dedicated workloads share."""

DemandKey = tuple[str, str, str]
"""(workload, region, period)."""
Slot = tuple[str, str, str]
"""(candidate, site, option): where a replica variable may exist."""
Formulation = Literal["reduced", "full"]
"""`reduced`: traffic per (workload, region, site, pool) with one capacity row per nested latency
band (see `Pool`); `full`: traffic per candidate (every pool is one candidate)."""
ANY_GROUP = "any"
"""Pool key of a reduced pool holding the candidates of every model group the workload does not cap."""


@dataclass(frozen=True)
class Pool:
    """Candidates of one workload at one site whose traffic is modelled together.

    `levels` are the distinct admissible candidate sets of the regions routed here, nested and
    increasing (a region whose latency budget is tighter admits a subset); `region_level[r]` is the
    level of region r's admissible set. Traffic y[w, r, s, key, t] may use any candidate of its
    level; capacity holds per level l: sum_(r: level(r) <= l) y[r] <= sum_(c in levels[l]) cap[c]
    (exact for nested sets, see docs/formulation.md). A full-formulation pool is one candidate
    with one level, i.e. today's per-candidate capacity row.
    """

    workload: str
    site: str
    key: str
    """Candidate id (one-candidate pool) or a group key (`any`, or the capped group's id)."""
    group: str | None
    """The model group every candidate belongs to, where that is one group; None otherwise."""
    levels: tuple[tuple[str, ...], ...]
    region_level: dict[str, int]
    egress: dict[str, float]
    """Region -> USD per request of the routes from that region (the same for every candidate)."""

    @property
    def candidates(self) -> tuple[str, ...]:
        return self.levels[-1]


@dataclass(frozen=True)
class FleetIndex:
    """Validated lookups; every collection is in FleetData's input order (deterministic)."""

    data: FleetData
    periods: tuple[str, ...]
    hours: dict[str, float]
    month_hours: float
    """Sum of all periods' hours_per_month (730 for a full day)."""
    workloads: dict[str, WorkloadData]
    sites: dict[str, SiteData]
    candidates: dict[str, CandidateData]
    offers: dict[tuple[str, str, str], OfferData]
    """(site, gpu, option) -> offer."""
    routes: tuple[RouteData, ...]
    """Usable routes: some offer can host the candidate at the site, and the region has demand."""
    slots: tuple[Slot, ...]
    """(candidate, site, option) with an offer for the candidate's GPU that fits one replica in one
    instance, and at least one usable route through (candidate, site)."""
    demand: dict[DemandKey, float]
    """(workload, region, period) -> rps, positive entries only."""
    traffic_periods: dict[tuple[str, str], tuple[str, ...]]
    """(workload, region) -> periods with traffic variables: the periods with demand, or every
    period for daily-coverage workloads (their volume may move to any period)."""
    pools: tuple[Pool, ...] = ()
    """Traffic pools (see `Pool`), in input order; `reduced` merges the candidates of a workload at a
    site (per capped model group), `full` has one pool per routed (candidate, site)."""

    @cached_property
    def pool_of(self) -> dict[tuple[str, str], Pool]:
        """(site, candidate) -> the pool holding the candidate at that site."""
        return {(p.site, c): p for p in self.pools for c in p.candidates}

    def need(self, w: str, r: str, t: str) -> float:
        """Demand to cover: demand x (1 + headroom)."""
        return self.demand.get((w, r, t), 0.0) * (1.0 + self.workloads[w].headroom)

    def tenant(self, workload: str) -> str:
        """Instance tenant of a workload: its own id if dedicated, else `shared`."""
        return workload if self.workloads[workload].dedicated else SHARED_TENANT

    def periods_of(self, option: str) -> tuple[str | None, ...]:
        """Period keys of a variable: (None,) for fixed options (one count for all periods)."""
        return (None,) if option in FIXED_OPTIONS else self.periods


def _duplicates(ids: Iterable[object]) -> list[object]:
    seen: set[object] = set()
    dup: list[object] = []
    for i in ids:
        if i in seen:
            dup.append(i)
        seen.add(i)
    return dup


def dominated_fixed_offers(offers: Iterable[OfferData]) -> set[tuple[str, str, str]]:
    """(site, gpu, option) of fixed offers another fixed offer beats: same site, GPU, instance size
    and availability, price no lower (ties: the later option in ALL_OPTIONS order loses).

    Fixed options are paid the same hours and no rule tells them apart, so swapping a dominated
    offer's instances for the dominating one's never costs more: dropping them keeps the optimum
    and removes symmetric choices.
    """
    rank = {o: i for i, o in enumerate(ALL_OPTIONS)}
    groups: dict[tuple[str, str, int, float], list[OfferData]] = defaultdict(list)
    for o in offers:
        if o.fixed:
            groups[(o.site, o.gpu, o.gpus_per_instance, o.availability)].append(o)
    out: set[tuple[str, str, str]] = set()
    for same in groups.values():
        best = min(same, key=lambda o: (o.usd_per_gpu_hour, rank.get(o.option, len(rank))))
        out |= {(o.site, o.gpu, o.option) for o in same if o is not best}
    return out


def _nested(sets: Iterable[frozenset[str]]) -> list[frozenset[str]] | None:
    """The distinct sets in increasing order if they form a chain (each a subset of the next), else None.

    >>> [sorted(s) for s in _nested([frozenset("ab"), frozenset("a"), frozenset("ab")]) or []]
    [['a'], ['a', 'b']]
    >>> _nested([frozenset("ab"), frozenset("bc")]) is None
    True
    """
    chain = sorted(set(sets), key=lambda x: (len(x), sorted(x)))
    for small, big in itertools.pairwise(chain):
        if not small <= big:
            return None
    return chain


def build_pools(
    data: FleetData,
    routes: tuple[RouteData, ...],
    workloads: dict[str, WorkloadData],
    formulation: Formulation,
) -> tuple[Pool, ...]:
    """Group usable routes into traffic pools (see `Pool`).

    Reduced: per (workload, site, class), class = the candidate's model group where the workload
    caps that group, else `any`. Kept only where it is exact: the regions' admissible sets are
    nested and each region's egress price is the same for all its candidates; otherwise (and in
    the full formulation) each candidate is a pool of its own.
    """
    group_of = {c.id: c.group for c in data.candidates}
    by_pool: dict[tuple[str, str, str], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in routes:
        g = group_of[r.candidate]
        cls = g if g in workloads[r.workload].group_max_share else ANY_GROUP
        by_pool[(r.workload, r.site, cls)][r.region][r.candidate] = r.egress_usd_per_request
    pools: list[Pool] = []
    for (w, s, cls), per_region in by_pool.items():
        chain = _nested(frozenset(cands) for cands in per_region.values())
        one_price = all(len(set(cands.values())) == 1 for cands in per_region.values())
        if formulation == "reduced" and chain is not None and one_price:
            order = {c: i for i, c in enumerate(dict.fromkeys(c for cs in per_region.values() for c in cs))}
            levels = tuple(tuple(sorted(level, key=order.__getitem__)) for level in chain)
            groups = {group_of[c] for c in levels[-1]}
            pools.append(
                Pool(
                    w,
                    s,
                    cls,
                    next(iter(groups)) if len(groups) == 1 else None,
                    levels,
                    {r: chain.index(frozenset(cs)) for r, cs in per_region.items()},
                    {r: next(iter(cs.values())) for r, cs in per_region.items()},
                )
            )
            continue
        cands = dict.fromkeys(c for cs in per_region.values() for c in cs)
        for c in cands:
            regions = {r: cs[c] for r, cs in per_region.items() if c in cs}
            pools.append(Pool(w, s, c, group_of[c], ((c,),), dict.fromkeys(regions, 0), regions))
    return tuple(pools)


def index_fleet(data: FleetData, formulation: Formulation = "reduced") -> FleetIndex:
    """Validate `data` and build the lookups the model needs."""
    issues: list[str] = []
    for what, ids in (
        ("period", [p.id for p in data.periods]),
        ("workload", [w.id for w in data.workloads]),
        ("region", list(data.regions)),
        ("site", [s.id for s in data.sites]),
        ("candidate", [c.id for c in data.candidates]),
        ("offer", [(o.site, o.gpu, o.option) for o in data.offers]),
        ("route", [(r.workload, r.region, r.site, r.candidate) for r in data.routes]),
    ):
        issues += [f"duplicate {what} {d!r}" for d in _duplicates(ids)]

    periods = tuple(p.id for p in data.periods)
    hours = {p.id: p.hours_per_month for p in data.periods}
    issues += [f"period {t!r}: hours_per_month {h} < 0" for t, h in hours.items() if h < 0]
    workloads = {w.id: w for w in data.workloads}
    sites = {s.id: s for s in data.sites}
    candidates = {c.id: c for c in data.candidates}
    regions = set(data.regions)

    for w in data.workloads:
        if w.dedicated and w.id == SHARED_TENANT:
            issues.append(f"workload id {SHARED_TENANT!r} is reserved for shared instances")
        if w.headroom < 0:
            issues.append(f"workload {w.id!r}: headroom {w.headroom} < 0")
        if not 0.0 <= w.serverless_max_share <= 1.0:
            issues.append(f"workload {w.id!r}: serverless_max_share {w.serverless_max_share} not in [0, 1]")
        for price, what in ((w.serverless_usd_per_request, "serverless"), (w.unmet_usd_per_request, "unmet")):
            if price is not None and price < 0:
                issues.append(f"workload {w.id!r}: {what} price {price} < 0")
        for g, share in w.group_max_share.items():
            if not 0.0 <= share <= 1.0:
                issues.append(f"workload {w.id!r}: group_max_share[{g!r}] = {share} not in [0, 1]")
    for c in data.candidates:
        if c.workload not in workloads:
            issues.append(f"candidate {c.id!r}: unknown workload {c.workload!r}")
        if c.gpus_per_replica < 1 or c.capacity_rps < 0:
            issues.append(f"candidate {c.id!r}: gpus_per_replica must be >= 1 and capacity_rps >= 0")
    for s in data.sites:
        if not 0.0 <= s.utilization <= 1.0:
            issues.append(f"site {s.id!r}: utilization {s.utilization} not in [0, 1]")
        if s.kind not in ("central", "edge"):
            issues.append(f"site {s.id!r}: kind {s.kind!r} is not central or edge")
    for o in data.offers:
        where = f"offer ({o.site}, {o.gpu}, {o.option})"
        if o.site not in sites:
            issues.append(f"{where}: unknown site")
        if o.option not in ALL_OPTIONS:
            issues.append(f"{where}: unknown option; expected one of {ALL_OPTIONS}")
        if o.gpus_per_instance < 1 or not 0.0 < o.availability <= 1.0:
            issues.append(f"{where}: gpus_per_instance must be >= 1 and availability in (0, 1]")
        for term, price in o.cost_terms_usd_per_gpu_hour.items():
            if term not in COST_TERMS or price < 0:
                issues.append(f"{where}: cost term {term!r}={price} (terms: {COST_TERMS}, price >= 0)")
    for r in data.routes:
        where = f"route ({r.workload}, {r.region}, {r.site}, {r.candidate})"
        if r.workload not in workloads or r.region not in regions or r.site not in sites:
            issues.append(f"{where}: unknown workload, region or site")
        cand = candidates.get(r.candidate)
        if cand is None or cand.workload != r.workload:
            issues.append(f"{where}: candidate unknown or of another workload")
        if r.egress_usd_per_request < 0:
            issues.append(f"{where}: egress price < 0")
    for (w_id, r_id, t_id), rps in data.demand_rps.items():
        if w_id not in workloads or r_id not in regions or t_id not in hours or rps < 0:
            issues.append(f"demand ({w_id}, {r_id}, {t_id}) = {rps}: unknown key or negative")
    for (s_id, _g), n in data.supply_max_gpus.items():
        if s_id not in sites or n < 0:
            issues.append(f"supply_max_gpus ({s_id}, {_g}): unknown site or negative")
    for s in data.sites:
        if s.power_limit_kw is not None:
            missing = sorted({o.gpu for o in data.offers if o.site == s.id} - set(data.gpu_power_kw))
            if missing:
                issues.append(f"site {s.id!r} has a power limit but gpu_power_kw lacks {missing}")
    if not 0.0 <= data.spot_max_share <= 1.0:
        issues.append(f"spot_max_share {data.spot_max_share} not in [0, 1]")
    if issues:
        raise ValueError("FleetData is inconsistent:\n  - " + "\n  - ".join(issues))

    demand: dict[DemandKey, float] = {}
    for w in data.workloads:
        for r_id in data.regions:
            for t in periods:
                rps = data.demand_rps.get((w.id, r_id, t), 0.0)
                if rps > 0:
                    demand[(w.id, r_id, t)] = rps
    traffic_periods: dict[tuple[str, str], tuple[str, ...]] = {}
    for w_id, r_id, t in demand:
        if workloads[w_id].daily_coverage:
            traffic_periods[(w_id, r_id)] = periods
        else:
            traffic_periods[(w_id, r_id)] = (*traffic_periods.get((w_id, r_id), ()), t)

    offers = {(o.site, o.gpu, o.option): o for o in data.offers}
    dominated = dominated_fixed_offers(data.offers)
    options_for: dict[tuple[str, str], list[str]] = defaultdict(list)  # (candidate, site) -> options
    for c in data.candidates:
        for s in data.sites:
            for option in ALL_OPTIONS:
                offer = offers.get((s.id, c.gpu, option))
                if (
                    offer is not None
                    and c.gpus_per_replica <= offer.gpus_per_instance
                    and (s.id, c.gpu, option) not in dominated
                ):
                    options_for[(c.id, s.id)].append(option)
    routes = tuple(
        r
        for r in data.routes
        if (r.workload, r.region) in traffic_periods and options_for.get((r.candidate, r.site))
    )
    routed = {(r.candidate, r.site) for r in routes}
    slots = tuple(
        (c.id, s.id, o)
        for c in data.candidates
        for s in data.sites
        if (c.id, s.id) in routed
        for o in options_for[(c.id, s.id)]
    )
    return FleetIndex(
        data=data,
        periods=periods,
        hours=hours,
        month_hours=sum(hours.values()),
        workloads=workloads,
        sites=sites,
        candidates=candidates,
        offers=offers,
        routes=routes,
        slots=slots,
        demand=demand,
        traffic_periods=traffic_periods,
        pools=build_pools(data, routes, workloads, formulation),
    )
