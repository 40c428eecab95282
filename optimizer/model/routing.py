"""Per-candidate traffic from a solved pool model: the constructive side of the band argument.

The reduced formulation routes y[w, r, s, pool, t] and checks capacity once per nested latency band.
`split_pool` turns such a solution into per-candidate traffic x[w, r, s, c, t] that meets every
candidate's own capacity and every route's latency: regions are served tightest band first, each
from any candidate its band admits that still has room. This succeeds whenever the band rows hold
(docs/formulation.md), so the plan (and its independent check) sees candidate-level routing.
"""

from __future__ import annotations

from collections import defaultdict

from optimizer.model.coefficients import usable_rps
from optimizer.model.fleet_model import FleetModel
from optimizer.model.index import Pool

TrafficKey = tuple[str, str, str, str, str]


def split_pool(
    pool: Pool, flows: dict[str, float], capacity: dict[str, float]
) -> dict[tuple[str, str], float]:
    """(region, candidate) -> rps, from region -> rps of one pool and period and candidate -> usable rps.

    Greedy, tightest band first: when region r (band l) is served, every region served before it
    admits a subset of band l, so the room left in band l is cap(band l) - traffic of bands <= l
    served so far >= r's traffic by the band row. Any shortfall is solver round-off: it goes to the
    admitted candidate with the most capacity.

    >>> p = Pool("w", "s", "any", None, (("a",), ("a", "b")), {"near": 1, "far": 0}, {})
    >>> split_pool(p, {"far": 4.0, "near": 6.0}, {"a": 5.0, "b": 5.0})
    {('far', 'a'): 4.0, ('near', 'a'): 1.0, ('near', 'b'): 5.0}
    """
    room = {c: max(0.0, capacity.get(c, 0.0)) for c in pool.candidates}
    out: dict[tuple[str, str], float] = {}
    for r in sorted(flows, key=lambda r: (pool.region_level[r], r)):
        left = flows[r]
        admitted = pool.levels[pool.region_level[r]]
        for c in admitted:
            if left <= 0:
                break
            take = min(left, room[c])
            if take > 0:
                out[(r, c)] = out.get((r, c), 0.0) + take
                room[c] -= take
                left -= take
        if left > 0:  # round-off: onto the admitted candidate with the most capacity (it has replicas)
            c = max(admitted, key=lambda c: (capacity.get(c, 0.0), room[c], c))
            out[(r, c)] = out.get((r, c), 0.0) + left
            room[c] -= left
    return out


def candidate_traffic(m: FleetModel, clean: float = 1e-9) -> dict[TrafficKey, float]:
    """(workload, region, site, candidate, period) -> rps of a solved model (values above `clean`)."""
    ix = m.index
    pools = {(p.workload, p.site, p.key): p for p in ix.pools}
    flows: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(dict)  # (w, s, key, t) -> r -> rps
    for (w, r, s, key, t), y in m.traffic.items():
        v = float(y.varValue or 0.0)
        if v > clean:
            flows[(w, s, key, t)][r] = v
    out: dict[TrafficKey, float] = {}
    for (w, s, key, t), by_region in flows.items():
        pool = pools[(w, s, key)]
        if len(pool.candidates) == 1:
            c = pool.candidates[0]
            out.update({(w, r, s, c, t): v for r, v in by_region.items()})
            continue
        cap: dict[str, float] = {}
        for c in pool.candidates:
            cand = ix.candidates[c]
            total = 0.0
            for o in ("on_demand", "spot", "committed_1y", "committed_3y", "owned"):
                n = m.replica(c, s, o, t)
                if n is not None and n.varValue:
                    avail = ix.offers[(s, cand.gpu, o)].availability
                    total += float(n.varValue) * usable_rps(cand.capacity_rps, ix.sites[s].utilization, avail)
            cap[c] = total
        for (r, c), v in split_pool(pool, by_region, cap).items():
            if v > clean:
                out[(w, r, s, c, t)] = v
    return out
