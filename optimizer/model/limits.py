"""Fleet-wide limits: GPU supply, site GPU count and power, distinct GPU types, budget."""

from __future__ import annotations

from collections import defaultdict

import pulp

from optimizer.model.coefficients import instances_for
from optimizer.model.fleet_model import FleetModel


def _gpus_held(m: FleetModel) -> dict[tuple[str, str, str], list[tuple[pulp.LpVariable, float]]]:
    """(site, gpu, period) -> (instance variable, gpus_per_instance) held in that period."""
    ix = m.index
    out: dict[tuple[str, str, str], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (s, g, o, t, _tenant), inst in m.instances.items():
        gpi = float(ix.offers[(s, g, o)].gpus_per_instance)
        for period in ix.periods if t is None else (t,):
            out[(s, g, period)].append((inst, gpi))
    return out


def add_supply(m: FleetModel) -> None:
    """sum_(o, tenant) gpus_per_instance x inst[s, g, o, t, tenant] <= supply_max_gpus[s, g].

    Over: (site, gpu, period) with a supply limit and instance variables.
    """
    supply = m.index.data.supply_max_gpus
    for (s, g, t), terms in _gpus_held(m).items():
        if (s, g) in supply:
            m.add("supply", (s, g, t), pulp.LpAffineExpression(terms) <= supply[(s, g)])


def add_site_gpus(m: FleetModel) -> None:
    """sum_(g, o, tenant) gpus_per_instance x inst[s, g, o, t, tenant] <= max_gpus[s].

    Over: (site, period) for sites with a GPU limit.
    """
    ix = m.index
    per_site: dict[tuple[str, str], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (s, _g, t), terms in _gpus_held(m).items():
        per_site[(s, t)] += terms
    for (s, t), terms in per_site.items():
        limit = ix.sites[s].max_gpus
        if limit is not None:
            m.add("site_gpus", (s, t), pulp.LpAffineExpression(terms) <= limit)


def add_site_power(m: FleetModel) -> None:
    """sum_(g, o, tenant) gpus_per_instance x gpu_power_kw[g] x inst[s, g, o, t, tenant] <= power_limit_kw[s].

    Over: (site, period) for sites with a power limit.
    """
    ix = m.index
    power: dict[tuple[str, str], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (s, g, t), terms in _gpus_held(m).items():
        kw = ix.data.gpu_power_kw.get(g, 0.0)
        power[(s, t)] += [(inst, gpi * kw) for inst, gpi in terms]
    for (s, t), terms in power.items():
        limit = ix.sites[s].power_limit_kw
        if limit is not None:
            m.add("site_power", (s, t), pulp.LpAffineExpression(terms) <= limit)


def add_max_gpu_types(m: FleetModel) -> None:
    """inst[s, g, o(, t), tenant] <= M x used[g] for every instance pool; sum_g used[g] <= max_gpu_types.

    Over: instance pools and GPU types, when `used` binaries exist (the limit can bind). M: instances
    holding the most replicas some optimal plan needs (`Bounds.replicas`).
    """
    if not m.gpu_used:
        return
    ix = m.index
    bounds = m.bounds
    gpus_bound: dict[tuple[str, str, str, str], float] = defaultdict(float)  # (s, g, o, tenant)
    for c, s, o in ix.slots:
        cand = ix.candidates[c]
        pool = (s, cand.gpu, o, ix.tenant(cand.workload))
        gpus_bound[pool] += cand.gpus_per_replica * bounds.replicas((c, s, o))
    for key, inst in m.instances.items():
        s, g, o, _t, tenant = key
        big_m = max(1, instances_for(gpus_bound[(s, g, o, tenant)], ix.offers[(s, g, o)].gpus_per_instance))
        m.add("gpu_type_link", key, inst <= big_m * m.gpu_used[g])
    limit = ix.data.max_gpu_types
    assert limit is not None
    m.add("max_gpu_types", (), pulp.lpSum(m.gpu_used.values()) <= limit)


def add_budget(m: FleetModel) -> None:
    """sum_(term != shortfall_penalty) cost[term] <= budget (+ budget_slack in elastic models).

    Over: the whole fleet, when a budget is set. The shortfall penalty is not money spent, so unmet
    demand is how a tight budget shows.
    """
    budget = m.index.data.budget_usd_per_month
    if budget is None:
        return
    lhs = m.spending if m.budget_slack is None else m.spending - m.budget_slack
    m.add("budget", (), lhs <= budget)
