"""Demand-side families: coverage (hourly and daily), model-routing shares, serverless share."""

from __future__ import annotations

from collections import defaultdict

import pulp

from optimizer.model.fleet_model import FleetModel


def _served(m: FleetModel) -> dict[tuple[str, str, str], list[pulp.LpVariable]]:
    """(workload, region, period) -> traffic variables of every route."""
    out: dict[tuple[str, str, str], list[pulp.LpVariable]] = defaultdict(list)
    for (w, r, _s, _c, t), x in m.traffic.items():
        out[(w, r, t)].append(x)
    return out


def _covered(
    m: FleetModel, served: dict[tuple[str, str, str], list[pulp.LpVariable]], w: str, r: str, t: str
) -> pulp.LpAffineExpression:
    """served + (1 + headroom) x (serverless + unmet) at (w, r, t).

    Serverless and unmet are in demand units: headroom protects the GPU capacity the plan buys, so a
    request sent to the serverless API (or left unserved) takes its headroom with it.
    """
    terms = [(x, 1.0) for x in served.get((w, r, t), [])]
    factor = 1.0 + m.index.workloads[w].headroom
    serverless, unmet = m.serverless.get((w, r, t)), m.unmet.get((w, r, t))
    if serverless is not None:
        terms.append((serverless, factor))
    if unmet is not None:
        terms.append((unmet, factor))
    return pulp.LpAffineExpression(terms)


def add_demand_coverage(m: FleetModel) -> None:
    """served + (1+h) x (serverless + unmet) >= demand x (1+h), h = headroom.

    Headroom is a margin on GPU capacity only: serverless and unmet are in demand units, so a plan
    that sends everything to serverless pays exactly the serverless-only price.

    Over: (workload, region, period) with demand > 0, for workloads without daily coverage.
    """
    ix = m.index
    served = _served(m)
    for w, r, t in ix.demand:
        if not ix.workloads[w].daily_coverage:
            m.add("cover", (w, r, t), _covered(m, served, w, r, t) >= ix.need(w, r, t))


def add_daily_coverage(m: FleetModel) -> None:
    """sum_t hours[t] x (served + (1+h)(serverless + unmet))[w,r,t] >= sum_t hours[t] x demand[w,r,t] x (1+h).

    Over: (workload, region) with demand, for daily-coverage (batch) workloads: the day's volume may
    be served in any period.
    """
    ix = m.index
    served = _served(m)
    for (w, r), periods in ix.traffic_periods.items():
        if not ix.workloads[w].daily_coverage:
            continue
        lhs = pulp.lpSum(ix.hours[t] * _covered(m, served, w, r, t) for t in periods)
        volume = sum(ix.hours[t] * ix.need(w, r, t) for t in periods)
        m.add("daily_cover", (w, r), lhs >= volume)


def add_model_routing(m: FleetModel) -> None:
    """sum_(s, pools of group g) y[w, r, s, p, t] <= group_max_share[w, g] x demand[w, r, t] x (1 + headroom).

    Pools never mix a capped group with others (`index.build_pools`), so the group's traffic is
    the traffic of its pools.

    Over: (workload, region, period, group) for groups the workload caps and that have routes,
    in every period with traffic variables (per period also for daily-coverage workloads).
    """
    ix = m.index
    pools = {(p.workload, p.site, p.key): p for p in ix.pools}
    by_group: dict[tuple[str, str, str, str], list[pulp.LpVariable]] = defaultdict(list)
    for (w, r, s, key, t), x in m.traffic.items():
        group = pools[(w, s, key)].group
        if group is not None and group in ix.workloads[w].group_max_share:
            by_group[(w, r, t, group)].append(x)
    for (w, r, t, g), xs in by_group.items():
        cap = ix.workloads[w].group_max_share[g] * ix.need(w, r, t)
        m.add("group_share", (w, r, t, g), pulp.lpSum(xs) <= cap)


def add_serverless_share(m: FleetModel) -> None:
    """serverless[w, r, t] <= serverless_max_share[w] x demand[w, r, t]  (demand units, no headroom).

    Over: (workload, region, period) with a serverless variable.
    """
    ix = m.index
    for (w, r, t), sl in m.serverless.items():
        share = ix.workloads[w].serverless_max_share
        m.add("serverless_share", (w, r, t), sl <= share * ix.demand[(w, r, t)])
