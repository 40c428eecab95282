"""Decision variables, created only where an offer, a route or a rule makes them meaningful."""

from __future__ import annotations

from optimizer.model.fleet_model import FleetModel


def add_replicas(m: FleetModel) -> None:
    """n[c, s, o] in Z+ for fixed options (one count for all periods), n[c, s, o, t] in Z+ otherwise.

    Over: (candidate, site, option) slots with an offer for the candidate's GPU at the site whose
    instance fits one replica, and at least one route through (candidate, site).
    """
    ix = m.index
    for c, s, o in ix.slots:
        for t in ix.periods_of(o):
            m.replicas[(c, s, o, t)] = m.new_var("replicas", (c, s, o, t), integer=True)


def add_instances(m: FleetModel) -> None:
    """inst[s, g, o(, t), tenant] in Z+: whole instances bought, per tenant (`shared` or a dedicated
    workload id).

    Over: (site, gpu, option, tenant) pools holding at least one replica slot; per period unless fixed.
    """
    ix = m.index
    for c, s, o in ix.slots:
        cand = ix.candidates[c]
        tenant = ix.tenant(cand.workload)
        for t in ix.periods_of(o):
            key = (s, cand.gpu, o, t, tenant)
            if key not in m.instances:
                m.instances[key] = m.new_var("instances", key, integer=True)


def add_traffic(m: FleetModel) -> None:
    """y[w, r, s, p, t] >= 0, rps routed from user region r to the candidates of pool p at site s
    (full formulation: p is one candidate c, y = x[w, r, s, c, t]).

    Over: (workload, region, site, pool) with a usable route x the periods of (w, r) with demand
    (every period for daily coverage).
    """
    ix = m.index
    pool_of = ix.pool_of
    for route in ix.routes:
        w, r, s = route.workload, route.region, route.site
        key = pool_of[(s, route.candidate)].key
        if (w, r, s, key, ix.traffic_periods[(w, r)][0]) in m.traffic:
            continue
        for t in ix.traffic_periods[(w, r)]:
            m.traffic[(w, r, s, key, t)] = m.new_var("traffic", (w, r, s, key, t))


def add_serverless_and_unmet(m: FleetModel) -> None:
    """serverless[w, r, t] >= 0 where the workload allows serverless; 0 <= unmet[w, r, t] <= demand
    where it allows shortfall (everywhere in an elastic model). Unmet is in demand units: leaving
    u rps of demand unserved also drops its headroom, (1 + headroom) x u of coverage.

    Over: (workload, region, period) with demand > 0.
    """
    ix = m.index
    for w, r, t in ix.demand:
        wd = ix.workloads[w]
        if wd.serverless_usd_per_request is not None:
            m.serverless[(w, r, t)] = m.new_var("serverless", (w, r, t))
        if wd.unmet_usd_per_request is not None or m.elastic:
            m.unmet[(w, r, t)] = m.new_var("unmet", (w, r, t), up=ix.demand[(w, r, t)])


def add_site_activity(m: FleetModel) -> None:
    """active[w, s] in {0, 1}: workload w has replicas or traffic at site s.

    Over: (workload, site) with replica slots, only when a rule needs it: a minimum number of
    replicas per active site (all workloads) or hybrid placement (that workload).
    """
    ix = m.index
    min_rep = ix.data.min_replicas_per_active_site
    for c, s, _o in ix.slots:
        w = ix.candidates[c].workload
        if (w, s) not in m.active and (min_rep > 0 or ix.workloads[w].placement == "hybrid"):
            m.active[(w, s)] = m.new_binary("active", (w, s))


def add_gpu_type_use(m: FleetModel) -> None:
    """used[g] in {0, 1}: some instance of GPU type g is bought.

    Over: GPU types with instance variables, only when max_gpu_types could bind (fewer allowed
    than GPU types offered on some route).
    """
    limit = m.index.data.max_gpu_types
    gpus = list(dict.fromkeys(g for _s, g, _o, _t, _ten in m.instances))
    if limit is None or len(gpus) <= limit:
        return
    for g in gpus:
        m.gpu_used[g] = m.new_binary("gpu_used", (g,))


def add_budget_slack(m: FleetModel) -> None:
    """budget_slack >= 0, USD per month above the budget (elastic models with a budget only)."""
    if m.elastic and m.index.data.budget_usd_per_month is not None:
        m.budget_slack = m.new_var("budget_slack", ())
