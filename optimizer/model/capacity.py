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


def capacity_expr(
    m: FleetModel, workload: str, site: str, candidate: str, period: str, options: list[str]
) -> pulp.LpAffineExpression:
    """Usable rps of candidate c at site s in period t:
    capacity_rps x utilization x sum_o availability[o] x n[c, s, o, t]."""
    ix = m.index
    cand = ix.candidates[candidate]
    terms = []
    for o in options:
        n = m.replica(candidate, site, o, period)
        if n is not None:
            avail = ix.offers[(site, cand.gpu, o)].availability
            terms.append((n, usable_rps(cand.capacity_rps, ix.sites[site].utilization, avail)))
    return pulp.LpAffineExpression(terms)


def add_capacity(m: FleetModel) -> None:
    """sum_r x[w, r, s, c, t] <= capacity_rps[c] x utilization[s] x (sum_non-spot n[c, s, o, t]
    + availability x n[c, s, spot, t]).

    Over: (workload, site, candidate, period) with traffic variables.
    """
    routed: dict[tuple[str, str, str, str], list[pulp.LpVariable]] = defaultdict(list)
    for (w, _r, s, c, t), x in m.traffic.items():
        routed[(w, s, c, t)].append(x)
    options = _options(m)
    for (w, s, c, t), xs in routed.items():
        m.add("capacity", (w, s, c, t), pulp.lpSum(xs) <= capacity_expr(m, w, s, c, t, options[(c, s)]))


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
        m.add("packing", key, pulp.LpAffineExpression(packed[key]) <= gpi * inst)


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
            m.add("spot_share", (w, t), pulp.LpAffineExpression(spot) <= pulp.LpAffineExpression(total))
