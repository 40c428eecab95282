"""Site-activity families: what makes a site active for a workload, and the rules on active sites."""

from __future__ import annotations

from collections import defaultdict

import pulp

from optimizer.model.fleet_model import FleetModel

LE, GE = pulp.LpConstraintLE, pulp.LpConstraintGE


def _replicas_at(m: FleetModel) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(workload, site) -> its replica slots (candidate, site, option)."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for c, s, o in m.index.slots:
        out[(m.index.candidates[c].workload, s)].append((c, s, o))
    return out


def replica_terms(
    m: FleetModel, slots: list[tuple[str, str, str]], period: str
) -> list[tuple[pulp.LpVariable, float]]:
    """Replicas held in `period` over `slots` (fixed options count in every period), as terms."""
    terms = []
    for c, s, o in slots:
        n = m.replica(c, s, o, period)
        if n is not None:
            terms.append((n, 1.0))
    return terms


def replicas_expr(m: FleetModel, slots: list[tuple[str, str, str]], period: str) -> pulp.LpAffineExpression:
    """Replicas held in `period` over `slots` (fixed options count in every period)."""
    return pulp.LpAffineExpression(replica_terms(m, slots, period))


def _row(terms: list[tuple[pulp.LpVariable, float]], sense: int) -> pulp.LpConstraint:
    """sum terms (sense) 0, built from the term list at once (no expression arithmetic)."""
    return pulp.LpConstraint(pulp.LpAffineExpression(terms), sense)


def add_active_sites(m: FleetModel) -> None:
    """sum_(r,c) x[w, r, s, c, t] <= served_max[w, t] x active[w, s];
    and, with a minimum per active site, sum_(c,o) n[c, s, o, t] <= M[w, s] x active[w, s].

    Over: (workload, site, period) with an `active` binary. served_max: demand x (1 + headroom) summed
    over regions (the day's volume for daily coverage); M: the replicas some optimal plan holds at
    the site in a period (`Bounds.site_replicas`).
    """
    if not m.active:
        return
    ix = m.index
    bounds = m.bounds
    routed: dict[tuple[str, str, str], list[pulp.LpVariable]] = defaultdict(list)
    for (w, _r, s, _c, t), x in m.traffic.items():
        routed[(w, s, t)].append(x)
    slots_at = _replicas_at(m)
    for (w, s), act in m.active.items():
        for t in ix.periods:
            if routed.get((w, s, t)):
                big_m = bounds.served_max(w, t)
                m.add(
                    "active_traffic",
                    (w, s, t),
                    _row([*((x, 1.0) for x in routed[(w, s, t)]), (act, -big_m)], LE),
                )
        if ix.data.min_replicas_per_active_site > 0:
            big_m_rep = bounds.site_replicas(w, s)
            for t in ix.periods:
                m.add(
                    "active_replicas",
                    (w, s, t),
                    _row([*replica_terms(m, slots_at[(w, s)], t), (act, -big_m_rep)], LE),
                )


def add_min_replicas(m: FleetModel) -> None:
    """sum_(c,o) n[c, s, o, t] >= min_replicas_per_active_site x active[w, s];
    and the whole instance this implies: sum_(g,o,tenant) inst[s, g, o, t, tenant] >= active[w, s].

    The second row (`min_instances`) is implied by the first with integer counts: an active site
    holds a replica in every period, its GPUs sit in an instance of one of the workload's pools at
    s (GPUs x n <= gpus_per_instance x inst), so that instance count is >= 1. The LP relaxation
    does not see it (it buys 1/8 of an 8-GPU instance for one 1-GPU replica); with it, an active
    site costs at least one whole instance per period there too (a generated one-workload problem:
    LP bound 1,140 -> 2,554, against plans of 4,386).

    Over: (workload, site, period) with an `active` binary, when the minimum is > 0; the pools are
    (site, GPU, option, tenant) of the workload's replica slots at the site, fixed options' counts
    in every period. The `min_instances` row is left out where the LP already implies it: when
    every slot's replica fills at least a whole instance (g[c] >= gpus_per_instance, e.g. the
    1-GPU instances of edge sites), packing gives sum inst >= sum_c g[c] n[c] / G >= sum n >= min x
    active >= active, so the row would only cost memory (`min_instances_implied`).
    """
    min_rep = m.index.data.min_replicas_per_active_site
    if min_rep <= 0:
        return
    ix = m.index
    slots_at = _replicas_at(m)
    for (w, s), act in m.active.items():
        pools = sorted({(ix.candidates[c].gpu, o, ix.tenant(w)) for c, _s, o in slots_at[(w, s)]})
        implied = min_instances_implied(m, slots_at[(w, s)])
        for t in ix.periods:
            m.add(
                "min_replicas",
                (w, s, t),
                _row([*replica_terms(m, slots_at[(w, s)], t), (act, -float(min_rep))], GE),
            )
            if implied:
                continue
            held = [inst for g, o, ten in pools if (inst := m.instance(s, g, o, t, ten)) is not None]
            if held:
                m.add("min_instances", (w, s, t), _row([*((v, 1.0) for v in held), (act, -1.0)], GE))


def min_instances_implied(m: FleetModel, slots: list[tuple[str, str, str]]) -> bool:
    """Whether every replica of `slots` fills at least one whole instance of its offer
    (gpus_per_replica >= gpus_per_instance), so the packing and minimum-replica rows already
    imply a whole instance per active site and period, in the LP too."""
    ix = m.index
    for c, s, o in slots:
        cand = ix.candidates[c]
        if cand.gpus_per_replica < ix.offers[(s, cand.gpu, o)].gpus_per_instance:
            return False
    return True


def add_hybrid_placement(m: FleetModel) -> None:
    """sum_(s central) active[w, s] >= 1 and sum_(s edge) active[w, s] >= 1; an active site holds
    replicas: sum_t sum_(c,o) n[c, s, o, t] >= active[w, s] (implied when the minimum is > 0).

    Over: workloads with hybrid placement.
    """
    ix = m.index
    slots_at = _replicas_at(m)
    for w, wd in ix.workloads.items():
        if wd.placement != "hybrid":
            continue
        for kind in ("central", "edge"):
            acts = [a for (w2, s), a in m.active.items() if w2 == w and ix.sites[s].kind == kind]
            m.add(f"hybrid_{kind}", (w,), pulp.lpSum(acts) >= 1)
        if ix.data.min_replicas_per_active_site <= 0:
            for (w2, s), act in m.active.items():
                if w2 == w:
                    held = pulp.lpSum(replicas_expr(m, slots_at[(w, s)], t) for t in ix.periods)
                    m.add("hybrid_in_use", (w, s), held >= act)
