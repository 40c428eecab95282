"""Synthetic `FleetData` of any size, for benchmarks and solver tests (not realistic prices).

Deterministic for a given seed: GPU types with 1-8 GPU instances, candidates spread over
workloads, central and edge sites, every purchase option, a daily demand profile per region.
"""

from __future__ import annotations

import math
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

_TERM = {"on_demand": "on_demand", "spot": "spot", "committed_1y": "committed", "committed_3y": "committed"}
_FACTOR = {"on_demand": 1.0, "spot": 0.45, "committed_1y": 0.65, "committed_3y": 0.5, "owned": 0.45}


def synthetic_fleet(
    *,
    candidates: int = 10,
    periods: int = 4,
    sites: int = 3,
    regions: int = 2,
    workloads: int = 2,
    gpu_types: int = 4,
    seed: int = 0,
) -> FleetData:
    """A random fleet problem of the given size (every workload gets >= 1 candidate)."""
    rng = random.Random(seed)
    gpus = [f"gpu{i}" for i in range(gpu_types)]
    gpi = {g: rng.choice([1, 2, 4, 8]) for g in gpus}
    hours = 730.0 / periods
    period_data = tuple(PeriodData(f"t{i:02d}", hours) for i in range(periods))
    region_ids = tuple(f"r{i}" for i in range(regions))
    site_data = tuple(
        SiteData(
            f"s{i}",
            "central" if i % 3 != 2 else "edge",
            round(rng.uniform(0.6, 0.95), 2),
            max_gpus=rng.choice([None, 512]),
        )
        for i in range(sites)
    )
    workload_data = tuple(
        WorkloadData(
            f"w{i}",
            headroom=0.1,
            serverless_usd_per_request=2e-3 if i % 2 else None,
            serverless_max_share=0.2,
            daily_coverage=(i % 4 == 3),
        )
        for i in range(workloads)
    )
    cands = []
    for i in range(candidates):
        w = workload_data[i % workloads].id
        g = rng.choice(gpus)
        gpr = rng.choice([d for d in (1, 2, 4, 8) if d <= gpi[g]])
        cands.append(CandidateData(f"c{i:03d}", w, w, g, gpr, round(rng.uniform(1.0, 6.0) * gpr, 2)))
    offers = []
    for s in site_data:
        for g in gpus:
            base = rng.uniform(1.0, 5.0)
            for o in ("on_demand", "spot", "committed_1y", "committed_3y", "owned"):
                if rng.random() < 0.8:
                    price = round(base * _FACTOR[o], 4)
                    terms = (
                        {"owned_capital": round(price * 0.8, 4), "power": round(price * 0.2, 4)}
                        if o == "owned"
                        else {_TERM[o]: price}
                    )
                    offers.append(
                        OfferData(
                            s.id,
                            g,
                            o,
                            terms,
                            gpus_per_instance=gpi[g],
                            availability=0.8 if o == "spot" else 1.0,
                        )
                    )
    routes = [
        RouteData(c.workload, r, s.id, c.id, round(rng.uniform(0, 1e-5), 8))
        for c in cands
        for r in region_ids
        for s in site_data
        if rng.random() < 0.7
    ]
    demand: dict[tuple[str, str, str], float] = {}
    for wd in workload_data:
        scale = rng.uniform(5.0, 60.0)
        for r in region_ids:
            share = rng.uniform(0.3, 1.0)
            for i, t in enumerate(period_data):
                profile = 0.6 + 0.4 * math.sin(2 * math.pi * i / periods)
                demand[(wd.id, r, t.id)] = round(scale * share * profile, 3)
    return FleetData(
        periods=period_data,
        workloads=workload_data,
        regions=region_ids,
        sites=site_data,
        candidates=tuple(cands),
        offers=tuple(offers),
        routes=tuple(routes),
        demand_rps=demand,
        gpu_power_kw={g: 0.7 for g in gpus},
        spot_max_share=0.5,
        max_gpu_types=max(1, gpu_types - 1),
        min_replicas_per_active_site=1,
    )
