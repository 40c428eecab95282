"""The objective: monthly cost as a sum of named terms (data.COST_TERMS), each a PuLP expression."""

from __future__ import annotations

from collections import defaultdict

import pulp

from optimizer.model.coefficients import gpu_cost_per_month, hours_charged, traffic_cost_per_rps_month
from optimizer.model.data import COST_TERMS
from optimizer.model.fleet_model import FleetModel


def add_cost_terms(m: FleetModel) -> None:
    """cost[term] = sum_inst price[term] x gpus_per_instance x hours x inst
                  + sum_traffic-like usd_per_request x 3600 x hours[t] x rps.

    Terms: on_demand, spot, committed, owned_capital, power (instances: each offer's price split);
    egress (traffic), serverless, shortfall_penalty (unmet, where the input allows shortfall).
    """
    ix = m.index
    coefs: dict[str, dict[pulp.LpVariable, float]] = {term: defaultdict(float) for term in COST_TERMS}
    for (s, g, o, t, _tenant), inst in m.instances.items():
        offer = ix.offers[(s, g, o)]
        hours = hours_charged(offer.fixed, ix.hours[t] if t is not None else 0.0, ix.month_hours)
        for term, price in offer.cost_terms_usd_per_gpu_hour.items():
            coefs[term][inst] += gpu_cost_per_month(price, offer.gpus_per_instance, hours)
    # per region: one price per pool and region (index.build_pools)
    egress = {(p.workload, p.site, p.key): p.egress for p in ix.pools}
    for (w, r, s, key, t), x in m.traffic.items():
        price = egress[(w, s, key)][r]
        if price > 0:
            coefs["egress"][x] += traffic_cost_per_rps_month(price, ix.hours[t])
    for (w, _r, t), sl in m.serverless.items():
        price = ix.workloads[w].serverless_usd_per_request or 0.0
        coefs["serverless"][sl] += traffic_cost_per_rps_month(price, ix.hours[t])
    for (w, _r, t), un in m.unmet.items():
        penalty = ix.workloads[w].unmet_usd_per_request
        if penalty is not None:  # elastic-only unmet is priced in `violation`, not in the cost
            coefs["shortfall_penalty"][un] += traffic_cost_per_rps_month(penalty, ix.hours[t])
    for term in COST_TERMS:
        m.cost_terms[term] = pulp.LpAffineExpression([(v, a) for v, a in coefs[term].items() if a != 0.0])


def add_violation(m: FleetModel) -> None:
    """violation = sum_(w,r,t) unmet[w, r, t] x hours[t] / (730 x need[w, r, t]) over demand the input
    requires to be served (elastic models only): 1.0 = one region's demand unserved all month."""
    if not m.elastic:
        return
    ix = m.index
    terms = [
        (un, ix.hours[t] / (ix.month_hours * ix.need(w, r, t)))
        for (w, r, t), un in m.unmet.items()
        if ix.workloads[w].unmet_usd_per_request is None and ix.need(w, r, t) > 0
    ]
    m.violation = pulp.LpAffineExpression(terms)


def set_objective(m: FleetModel) -> None:
    """minimise sum_term cost[term] (USD per month)."""
    m.problem.setObjective(m.total_cost)
