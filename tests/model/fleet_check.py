"""Recompute every rule from a Solution and its FleetData, independently of optimizer.model."""

from __future__ import annotations

from collections import defaultdict

from optimizer.model.data import FIXED_OPTIONS, FleetData
from optimizer.solve import Solution

TOL = 1e-6


def _le(a: float, b: float) -> bool:
    return a <= b + TOL * max(1.0, abs(b))


def recompute_costs(d: FleetData, sol: Solution) -> dict[str, float]:
    hours = {p.id: p.hours_per_month for p in d.periods}
    month = sum(hours.values())
    offers = {(o.site, o.gpu, o.option): o for o in d.offers}
    costs: dict[str, float] = defaultdict(float)
    seen_fixed = set()
    for (s, g, o, t, tenant), n in sol.instances.items():
        offer = offers[(s, g, o)]
        if offer.fixed:
            if (s, g, o, tenant) in seen_fixed:
                continue
            seen_fixed.add((s, g, o, tenant))
        h = month if offer.fixed else hours[t]
        for term, price in offer.cost_terms_usd_per_gpu_hour.items():
            costs[term] += n * offer.gpus_per_instance * price * h
    egress = {(r.workload, r.region, r.site, r.candidate): r.egress_usd_per_request for r in d.routes}
    wl = {w.id: w for w in d.workloads}
    for (w, r, s, c, t), x in sol.traffic.items():
        costs["egress"] += x * 3600 * hours[t] * egress[(w, r, s, c)]
    for (w, _r, t), x in sol.serverless.items():
        costs["serverless"] += x * 3600 * hours[t] * (wl[w].serverless_usd_per_request or 0.0)
    for (w, _r, t), x in sol.unmet.items():
        costs["shortfall_penalty"] += x * 3600 * hours[t] * (wl[w].unmet_usd_per_request or 0.0)
    return dict(costs)


def violations(d: FleetData, sol: Solution) -> list[str]:
    v: list[str] = []
    periods = [p.id for p in d.periods]
    hours = {p.id: p.hours_per_month for p in d.periods}
    wl = {w.id: w for w in d.workloads}
    cand = {c.id: c for c in d.candidates}
    site = {s.id: s for s in d.sites}
    offers = {(o.site, o.gpu, o.option): o for o in d.offers}
    routes = {(r.workload, r.region, r.site, r.candidate) for r in d.routes}

    for term, value in recompute_costs(d, sol).items():
        if abs(value - sol.cost_terms[term]) > 1e-6 * max(1.0, value):
            v.append(f"cost {term}: {sol.cost_terms[term]} != {value}")
    if abs(sum(sol.cost_terms.values()) - sol.objective) > 1e-6 * max(1.0, sol.objective):
        v.append("objective != sum of cost terms")

    for (c, s, o, _t), _n in sol.replicas.items():
        if o in FIXED_OPTIONS and len({sol.replicas.get((c, s, o, t), 0) for t in periods}) > 1:
            v.append(f"fixed replicas vary: {c} {s} {o}")
    for w, r, s, c, _t in sol.traffic:
        if (w, r, s, c) not in routes:
            v.append(f"traffic on a route that does not exist: {(w, r, s, c)}")

    served: dict[tuple[str, str, str], float] = defaultdict(float)
    for (w, r, _s, _c, t), x in sol.traffic.items():
        served[(w, r, t)] += x
    for k, x in sol.serverless.items():  # demand units: headroom protects GPU capacity only
        served[k] += x * (1 + wl[k[0]].headroom)
    for k, x in sol.unmet.items():  # unmet is in demand units; it also drops that demand's headroom
        served[k] += x * (1 + wl[k[0]].headroom)
    daily_need: dict[tuple[str, str], float] = defaultdict(float)
    daily_got: dict[tuple[str, str], float] = defaultdict(float)
    for (w, r, t), rps in d.demand_rps.items():
        need = rps * (1 + wl[w].headroom)
        if wl[w].daily_coverage:
            daily_need[(w, r)] += need * hours[t]
        elif not _le(need, served[(w, r, t)]):
            v.append(f"coverage {w} {r} {t}: {served[(w, r, t)]} < {need}")
        for g, share in wl[w].group_max_share.items():
            by_g = sum(
                x
                for (w2, r2, _s, c, t2), x in sol.traffic.items()
                if (w2, r2, t2) == (w, r, t) and cand[c].group == g
            )
            if not _le(by_g, share * need):
                v.append(f"group share {w} {r} {t} {g}")
        if not _le(sol.serverless.get((w, r, t), 0.0), wl[w].serverless_max_share * rps):
            v.append(f"serverless share {w} {r} {t}")
    for (w, r, t), x in served.items():
        if wl[w].daily_coverage:
            daily_got[(w, r)] += x * hours[t]
    for wr, volume in daily_need.items():
        if not _le(volume, daily_got[wr]):
            v.append(f"daily coverage {wr}")
    for (w, _r, _t), x in sol.unmet.items():
        if wl[w].unmet_usd_per_request is None and x > TOL:
            v.append(f"unmet not allowed {w}")

    flow: dict[tuple[str, str, str], float] = defaultdict(float)
    for (_w, _r, s, c, t), x in sol.traffic.items():
        flow[(c, s, t)] += x
    for (c, s, t), x in flow.items():
        cap = sum(
            n * cand[c].capacity_rps * site[s].utilization * offers[(s, cand[c].gpu, o)].availability
            for (c2, s2, o, t2), n in sol.replicas.items()
            if (c2, s2, t2) == (c, s, t)
        )
        if not _le(x, cap):
            v.append(f"capacity {c} {s} {t}: {x} > {cap}")

    gpus: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    for (c, s, o, t), n in sol.replicas.items():
        w = cand[c].workload
        tenant = w if wl[w].dedicated else "shared"
        gpus[(s, cand[c].gpu, o, t, tenant)] += n * cand[c].gpus_per_replica
        if cand[c].gpus_per_replica > offers[(s, cand[c].gpu, o)].gpus_per_instance:
            v.append(f"replica of {c} spans instances")
    for pool, used in gpus.items():
        held = sol.instances.get(pool, 0) * offers[pool[:3]].gpus_per_instance
        if used > held:
            v.append(f"packing {pool}: {used} GPUs > {held}")

    for t in periods:
        per_sg: dict[tuple[str, str], int] = defaultdict(int)
        per_s: dict[str, int] = defaultdict(int)
        kw: dict[str, float] = defaultdict(float)
        for (s, g, o, t2, _ten), n in sol.instances.items():
            if t2 == t:
                per_sg[(s, g)] += n * offers[(s, g, o)].gpus_per_instance
                per_s[s] += n * offers[(s, g, o)].gpus_per_instance
                kw[s] += n * offers[(s, g, o)].gpus_per_instance * d.gpu_power_kw.get(g, 0.0)
        for sg, count in per_sg.items():
            if sg in d.supply_max_gpus and count > d.supply_max_gpus[sg]:
                v.append(f"supply {sg} {t}")
        for s_id, count in per_s.items():
            max_gpus, power_kw = site[s_id].max_gpus, site[s_id].power_limit_kw
            if max_gpus is not None and count > max_gpus:
                v.append(f"site gpus {s_id} {t}")
            if power_kw is not None and not _le(kw[s_id], power_kw):
                v.append(f"power {s_id} {t}")
        for w in wl:
            total = spot = 0.0
            for (c, _s, o, t2), n in sol.replicas.items():
                if t2 == t and cand[c].workload == w:
                    u = float(n * cand[c].gpus_per_replica)
                    total += u
                    spot += u if o == "spot" else 0.0
            if not _le(spot, d.spot_max_share * total):
                v.append(f"spot share {w} {t}")
    m = d.min_replicas_per_active_site
    if m > 0:
        for w, s in sol.active_sites:
            for t in periods:
                n = sum(
                    k
                    for (c, s2, _o, t2), k in sol.replicas.items()
                    if s2 == s and t2 == t and cand[c].workload == w
                )
                if n < m:
                    v.append(f"min replicas {w} {s} {t}: {n} < {m}")
    for wd in wl.values():
        if wd.placement == "hybrid":
            kinds = {site[s].kind for (w2, s) in sol.active_sites if w2 == wd.id}
            if kinds != {"central", "edge"}:
                v.append(f"hybrid {wd.id}: {kinds}")
    if d.max_gpu_types is not None and len(sol.gpu_types) > d.max_gpu_types:
        v.append("gpu types")
    if d.budget_usd_per_month is not None:
        spend = sum(x for term, x in sol.cost_terms.items() if term != "shortfall_penalty")
        if not _le(spend, d.budget_usd_per_month):
            v.append("budget")
    return v
