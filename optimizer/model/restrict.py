"""Restrictions of a fleet problem, for baselines: the same rules on a smaller choice set.

A baseline built here is the user's own problem with some choices taken away (purchase options,
GPU types, the serverless API). Every rule of the plan still applies to it - precision floor and
quality (through the same candidates), measured throughput, residency and placement (through the
same routes), supply, power, budget, shortfall policy - so its optimum is never below the plan's.
"""

from __future__ import annotations

import dataclasses
import math

from optimizer.model.data import FleetData


def restrict_fleet(
    data: FleetData,
    *,
    options: frozenset[str] | None = None,
    gpu: str | None = None,
    serverless: bool = True,
) -> FleetData:
    """`data` with only offers whose option is in `options` (None: all) and GPU is `gpu` (None:
    all), and without the serverless API unless `serverless`. Candidates and routes are kept: the
    model drops those no remaining offer can host.

    >>> from optimizer.model.synthetic import synthetic_fleet
    >>> small = restrict_fleet(synthetic_fleet(seed=1), options=frozenset({"on_demand"}), gpu="gpu0")
    >>> {(o.gpu, o.option) for o in small.offers} <= {("gpu0", "on_demand")}
    True
    """
    offers = tuple(
        o for o in data.offers if (options is None or o.option in options) and (gpu is None or o.gpu == gpu)
    )
    workloads = data.workloads
    if not serverless:
        workloads = tuple(dataclasses.replace(w, serverless_usd_per_request=None) for w in workloads)
    return dataclasses.replace(data, offers=offers, workloads=workloads)


def serverless_only_usd(data: FleetData) -> float | None:
    """Least monthly cost of a plan without GPUs: demand goes to the serverless API or, where the
    workload allows shortfall, unserved at its penalty - within the budget, which caps serverless
    spend (the penalty is not spent).

    Per (w, r, t): volume v = demand x 3600 x hours requests, serverless price p, penalty q (None:
    shortfall not allowed). Without a budget each unit takes min(p, q). With a budget B this is a
    fractional knapsack, solved exactly by its greedy: first the volume that must be served
    (no shortfall), then serve where p < q in decreasing order of saving per dollar (q - p) / p
    while the budget lasts; the rest is unmet at q. None when some demand may not go to the
    serverless API (not allowed, or a share cap below 1, without shortfall to take the rest) or
    the volume that must be served already breaks the budget.
    """
    hours = {p.id: p.hours_per_month for p in data.periods}
    workloads = {w.id: w for w in data.workloads}
    must = 0.0  # USD of serverless that no shortfall can replace
    optional: list[tuple[float, float, float]] = []  # (price p, penalty q, requests)
    for (w, _r, t), rps in data.demand_rps.items():
        if rps <= 0:
            continue
        wd = workloads[w]
        volume = rps * 3600.0 * hours[t]
        p, q = wd.serverless_usd_per_request, wd.unmet_usd_per_request
        if p is None or wd.serverless_max_share < 1.0:
            if q is None or p is None:
                return None
            # a capped share: the cap may go serverless, the rest must go unmet
            optional.append((p, q, volume * wd.serverless_max_share))
            must_unmet = volume * (1.0 - wd.serverless_max_share)
            optional.append((math.inf, q, must_unmet))
            continue
        if q is None:
            must += p * volume
        else:
            optional.append((p, q, volume))
    budget = math.inf if data.budget_usd_per_month is None else data.budget_usd_per_month
    if must > budget * (1 + 1e-9):
        return None
    left = budget - must
    total = must
    for p, q, volume in sorted(optional, key=lambda o: -(o[1] - o[0]) / o[0] if o[0] > 0 else -math.inf):
        if p < q and p * volume <= left:
            total += p * volume
            left -= p * volume
        elif p < q and left > 0:
            served = left / p
            total += p * served + q * (volume - served)
            left = 0.0
        else:
            total += q * volume
    return total
