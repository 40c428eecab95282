"""Supply-side families per workload: routed traffic within capacity, packing, spot exposure."""

from __future__ import annotations

from collections import defaultdict

import pulp

from optimizer.model.coefficients import usable_rps
from optimizer.model.fleet_model import FleetModel, InstanceKey


def _options(m: FleetModel) -> dict[tuple[str, str], list[str]]:
    """(candidate, site) -> purchase options with a replica slot."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c, s, o in m.index.slots:
        out[(c, s)].append(o)
    return out


def capacity_terms(
    m: FleetModel, site: str, candidate: str, period: str, options: list[str]
) -> list[tuple[pulp.LpVariable, float]]:
    """Usable rps of candidate c at site s in period t, as (n[c, s, o, t], coefficient) terms:
    capacity_rps x utilization x sum_o availability[o] x n[c, s, o, t]."""
    ix = m.index
    cand = ix.candidates[candidate]
    terms = []
    for o in options:
        n = m.replica(candidate, site, o, period)
        if n is not None:
            avail = ix.offers[(site, cand.gpu, o)].availability
            terms.append((n, usable_rps(cand.capacity_rps, ix.sites[site].utilization, avail)))
    return terms


def add_capacity(m: FleetModel) -> None:
    """Per pool, period and latency band l: sum_(r: level(r) <= l) y[w, r, s, p, t]
    <= sum_(c in band l) capacity_rps[c] x utilization[s] x (sum_non-spot n[c, s, o, t]
    + availability x n[c, s, spot, t]).

    Over: (workload, site, pool, period) with traffic variables, one row per band of the pool. The
    bands are nested (a region with a tighter latency budget admits a subset of the candidates), so
    these rows are exactly the Hall conditions of routing each region's traffic to candidates it
    admits (docs/formulation.md); a one-candidate pool (full formulation) is today's per-candidate
    row `capacity[w, s, c, t]`. A band no region present in period t sits at is implied by the band
    below it (same traffic, more capacity) and left out.
    """
    ix = m.index
    pools = {(p.workload, p.site, p.key): p for p in ix.pools}
    routed: dict[tuple[str, str, str, str], list[tuple[pulp.LpVariable, int]]] = defaultdict(list)
    for (w, r, s, key, t), x in m.traffic.items():
        routed[(w, s, key, t)].append((x, pools[(w, s, key)].region_level[r]))
    options = _options(m)
    for (w, s, key, t), xs in routed.items():
        pool = pools[(w, s, key)]
        present = {lv for _x, lv in xs}
        supply: dict[str, list[tuple[pulp.LpVariable, float]]] = {}
        for level, cands in enumerate(pool.levels):
            if level not in present:
                continue  # same traffic as the band below, more capacity: implied
            terms = [(x, 1.0) for x, lv in xs if lv <= level]
            for c in cands:
                if c not in supply:
                    supply[c] = [(n, -a) for n, a in capacity_terms(m, s, c, t, options[(c, s)])]
                terms.extend(supply[c])
            name = (w, s, key, t) if len(pool.levels) == 1 else (w, s, key, f"band{level}", t)
            m.add("capacity", name, pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE))


def add_instance_packing(m: FleetModel) -> None:
    """sum_(c of tenant, gpu g) gpus_per_replica[c] x n[c,s,o(,t)] <= gpus_per_instance x inst[s,g,o(,t),ten].

    Over: instance pools (site, gpu, option, period or all periods if fixed, tenant). Replicas never
    span instances (slots need gpus_per_replica <= gpus_per_instance); with power-of-two sizes the
    aggregate GPU count is an exact packing.
    """
    ix = m.index
    packed: dict[InstanceKey, list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, s, o, t), n in m.replicas.items():
        cand = ix.candidates[c]
        packed[(s, cand.gpu, o, t, ix.tenant(cand.workload))].append((n, float(cand.gpus_per_replica)))
    for key, inst in m.instances.items():
        s, g, o, _t, _tenant = key
        gpi = ix.offers[(s, g, o)].gpus_per_instance
        m.add(
            "packing",
            key,
            pulp.LpConstraint(
                pulp.LpAffineExpression([*packed[key], (inst, -float(gpi))]), pulp.LpConstraintLE
            ),
        )


def add_spot_share(m: FleetModel) -> None:
    """sum_(c,s) g[c] x n[c,s,spot,t] <= spot_max_share x sum_(c,s,o) g[c] x n[c,s,o,t]  (GPUs).

    Over: (workload, period) for workloads with spot slots, when spot_max_share < 1. The share is of
    the workload's GPUs: spot GPUs are what a preemption wave can take away (their usable capacity
    already counts at availability in `add_capacity`). Counting GPUs, not rps, keeps candidate
    dominance pruning exact: a configuration with no more GPUs and no less capacity can always
    replace a dominated one without breaking this rule.
    """
    ix = m.index
    share = ix.data.spot_max_share
    if share >= 1.0:
        return
    options = _options(m)
    by_w: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for c, s in options:
        by_w[ix.candidates[c].workload].append((c, s))
    for w, pairs in by_w.items():
        if not any("spot" in options[p] for p in pairs):
            continue
        for t in ix.periods:
            spot: list[tuple[pulp.LpVariable, float]] = []
            total: list[tuple[pulp.LpVariable, float]] = []
            for c, s in pairs:
                g = float(ix.candidates[c].gpus_per_replica)
                for o in options[(c, s)]:
                    n = m.replica(c, s, o, t)
                    if n is None:
                        continue
                    total.append((n, share * g))
                    if o == "spot":
                        spot.append((n, g))
            # spot - total; a spot count appears in both (PuLP does not sum repeated terms of a list)
            coef: dict[pulp.LpVariable, float] = dict(spot)
            for n, a in total:
                coef[n] = coef.get(n, 0.0) - a
            row = pulp.LpConstraint(pulp.LpAffineExpression(list(coef.items())), pulp.LpConstraintLE)
            m.add("spot_share", (w, t), row)
