"""Hand-made and random FleetData for the model tests."""

from __future__ import annotations

import random

from optimizer.model.data import (
    CandidateData,
    FleetData,
    OfferData,
    PeriodData,
    RouteData,
    SiteData,
    WorkloadData,
)

OPTION_TERM = {
    "on_demand": "on_demand",
    "spot": "spot",
    "committed_1y": "committed",
    "committed_3y": "committed",
}


def offer(
    site: str, gpu: str, option: str, price: float, gpi: int = 1, availability: float = 1.0
) -> OfferData:
    """An offer whose whole price sits in the option's cost term (owned: 80% capital, 20% power)."""
    if option == "owned":
        terms = {"owned_capital": round(price * 0.8, 6), "power": round(price * 0.2, 6)}
    else:
        terms = {OPTION_TERM[option]: price}
    return OfferData(site, gpu, option, terms, gpus_per_instance=gpi, availability=availability)


def random_small_fleet(seed: int) -> FleetData:
    """2-3 GPU types x 2 precisions, 2 sites, 2 purchase options, 2 periods, 1-2 regions, 1 workload."""
    rng = random.Random(seed)
    gpus = ["ga", "gb", "gc"][: rng.choice([2, 3])]
    options = rng.sample(["on_demand", "spot", "committed_1y", "owned"], 2)
    h0 = round(rng.uniform(0.3, 0.7) * 730, 1)
    periods = (PeriodData("p0", h0), PeriodData("p1", round(730 - h0, 1)))
    regions = ("ra", "rb")[: rng.choice([1, 2])]
    sites = (
        SiteData(
            "s0",
            "central",
            round(rng.uniform(0.6, 1.0), 2),
            max_gpus=rng.randint(2, 6) if rng.random() < 0.15 else None,
        ),
        SiteData("s1", "edge", round(rng.uniform(0.6, 1.0), 2)),
    )
    power: dict[str, float] = {}
    if rng.random() < 0.1:
        power = {g: 0.7 for g in gpus}
        sites = (sites[0], SiteData("s1", "edge", sites[1].utilization, power_limit_kw=2.1))
    candidates = tuple(
        CandidateData(
            f"c_{g}_{p}",
            "w",
            "big" if p == "p16" else "small",
            g,
            rng.choice([1, 2]),
            round(rng.uniform(2.0, 10.0), 2),
        )
        for g in gpus
        for p in ("p16", "p8")
    )
    factor = {"on_demand": 1.0, "spot": 0.4, "committed_1y": 0.6, "owned": 0.5}
    offers = tuple(
        offer(
            s.id,
            g,
            o,
            round(rng.uniform(1.0, 4.0) * factor[o], 3),
            gpi=rng.choice([1, 2]),
            availability=round(rng.uniform(0.5, 1.0), 2) if o == "spot" else 1.0,
        )
        for s in sites
        for g in gpus
        for o in options
        if rng.random() < 0.6
    )
    budget = rng.random() < 0.1
    serverless = not budget and rng.random() < 0.4
    egress = not budget and rng.random() < 0.5
    routes = tuple(
        RouteData("w", r, s.id, c.id, round(rng.uniform(0.0, 2e-5), 8) if egress else 0.0)
        for r in regions
        for s in sites
        for c in candidates
        if rng.random() < 0.7
    )
    demand = {
        ("w", r, t.id): round(rng.uniform(0.5, 12.0), 2)
        for r in regions
        for t in periods
        if rng.random() < 0.9
    }
    workload = WorkloadData(
        "w",
        headroom=rng.choice([0.0, 0.1, 0.2]),
        serverless_usd_per_request=round(rng.uniform(1e-4, 1e-3), 6) if serverless else None,
        serverless_max_share=rng.choice([1.0, 0.5, 0.3]),
        unmet_usd_per_request=round(rng.uniform(1e-4, 5e-3), 6) if budget or rng.random() < 0.3 else None,
        daily_coverage=rng.random() < 0.2,
        group_max_share={"big": rng.choice([0.5, 0.7])} if rng.random() < 0.25 else {},
    )
    supply = {("s0", g): rng.randint(1, 4) for g in gpus if rng.random() < 0.2}
    return FleetData(
        periods=periods,
        workloads=(workload,),
        regions=regions,
        sites=sites,
        candidates=candidates,
        offers=offers,
        routes=routes,
        demand_rps=demand,
        gpu_power_kw=power,
        supply_max_gpus=supply,
        spot_max_share=rng.choice([1.0, 0.5]) if "spot" in options else 1.0,
        max_gpu_types=1 if rng.random() < 0.25 else None,
        min_replicas_per_active_site=2 if rng.random() < 0.15 else 0,
        budget_usd_per_month=round(rng.uniform(1000, 6000), 2) if budget else None,
    )


def random_nested_fleet(seed: int) -> FleetData:
    """`random_small_fleet` with routes as the candidate builder makes them: each candidate has a
    server-side TTFT, each (region, site) a latency budget, and a route exists iff TTFT <= budget
    (nested admissible sets); looser-band copies of each configuration have more capacity and a
    higher TTFT, and egress is priced per (region, site)."""
    import dataclasses

    base = random_small_fleet(seed)
    rng = random.Random(10_000 + seed)
    cands: list[CandidateData] = []
    for c in base.candidates[: rng.choice([2, 3, 4])]:
        ttft = round(rng.uniform(50, 300), 1)
        cands.append(dataclasses.replace(c, ttft_ms=ttft))
        if rng.random() < 0.6:
            cands.append(
                dataclasses.replace(
                    c, id=f"{c.id}_b", capacity_rps=round(c.capacity_rps * 1.4, 2), ttft_ms=ttft + 150
                )
            )
    regions = ("ra", "rb", "rc")[: rng.choice([2, 3])]
    budget = {(r, s.id): round(rng.uniform(100, 480), 1) for r in regions for s in base.sites}
    egress = {k: round(rng.uniform(0.0, 2e-5), 8) if rng.random() < 0.5 else 0.0 for k in budget}
    routes = tuple(
        RouteData("w", r, s.id, c.id, egress[(r, s.id)])
        for r in regions
        for s in base.sites
        for c in cands
        if c.ttft_ms <= budget[(r, s.id)]
    )
    demand = {
        ("w", r, t.id): round(rng.uniform(0.5, 8.0), 2)
        for r in regions
        for t in base.periods
        if rng.random() < 0.9
    }
    return dataclasses.replace(
        base, candidates=tuple(cands), regions=regions, routes=routes, demand_rps=demand
    )
