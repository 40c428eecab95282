"""Independent re-check of a plan, rule by rule, from the plan document alone.

This module imports nothing from the model, the solver, the candidate builder or the catalog: it
recomputes every rule from the numbers the plan states (demand, capacities, latencies, prices,
limits). A plan that fails is never written as a success (`optimizer solve` exits 4).

One `check_*` function per rule family, each returning readable violation messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from optimizer.errors import PlanCheckError
from optimizer.schema.plan import Deployment, Plan, PlanSite, PlanWorkload

REL_TOL = 1e-6
ABS_TOL_RPS = 1e-6
ABS_TOL_USD = 1e-3
FIXED = {"committed_1y", "committed_3y", "owned"}
Key3 = tuple[str, str, str]


def _le(a: float, b: float, abs_tol: float = ABS_TOL_RPS) -> bool:
    """a <= b within tolerance: a <= b + max(abs_tol, REL_TOL x |b|)."""
    return a <= b + max(abs_tol, REL_TOL * abs(b))


def _close(a: float, b: float, abs_tol: float = ABS_TOL_USD) -> bool:
    return abs(a - b) <= max(abs_tol, REL_TOL * max(abs(a), abs(b)))


@dataclass(frozen=True)
class _View:
    """Lookups over the plan, built once."""

    plan: Plan
    periods: list[str]
    hours: dict[str, float]
    workloads: dict[str, PlanWorkload]
    sites: dict[str, PlanSite]
    regions: dict[str, str | None]
    dep_by_candidate: dict[str, Deployment]
    demand: dict[Key3, float]

    @staticmethod
    def of(plan: Plan) -> _View:
        return _View(
            plan=plan,
            periods=[p.id for p in plan.periods],
            hours={p.id: p.hours_per_month for p in plan.periods},
            workloads={w.id: w for w in plan.workloads},
            sites={s.id: s for s in plan.sites},
            regions={r.id: r.jurisdiction for r in plan.regions},
            dep_by_candidate={d.candidate: d for d in plan.deployments},
            demand={(d.workload, d.region, d.period): d.rps for d in plan.demand},
        )

    def need(self, key: Key3) -> float:
        """Demand with headroom, rps."""
        return self.demand.get(key, 0.0) * (1.0 + self.workloads[key[0]].headroom)


def recompute_costs(plan: Plan) -> dict[str, float]:
    """Monthly cost by term, from instance holdings, prices, hours and traffic.

    instances: count x gpus_per_instance x price_term x hours (fixed options: every period, 730 h);
    traffic: rps x 3600 x hours x USD per request.
    """
    hours = {p.id: p.hours_per_month for p in plan.periods}
    costs: dict[str, float] = defaultdict(float)
    for h in plan.instances:
        for t, n in h.instances_by_period.items():
            for term, price in h.cost_terms_usd_per_gpu_hour.items():
                costs[term] += n * h.gpus_per_instance * price * hours[t]
    for f in plan.routing:
        costs["egress"] += f.rps * 3600.0 * hours[f.period] * f.egress_usd_per_request
    wl = {w.id: w for w in plan.workloads}
    for x in plan.serverless:
        costs["serverless"] += (
            x.rps * 3600.0 * hours[x.period] * (wl[x.workload].serverless_usd_per_request or 0.0)
        )
    for u in plan.unmet:
        costs["shortfall_penalty"] += (
            u.rps * 3600.0 * hours[u.period] * (wl[u.workload].shortfall_usd_per_request or 0.0)
        )
    return dict(costs)


def check_costs(v: _View) -> list[str]:
    """The breakdown sums to the total; each term recomputes from holdings and traffic; spend is the
    total less the shortfall penalty; spend within the budget."""
    plan, out = v.plan, []
    total = sum(plan.cost_breakdown.values())
    if not _close(total, plan.monthly_cost_usd):
        out.append(f"cost: breakdown sums to {total:.2f}, total says {plan.monthly_cost_usd:.2f}")
    tol = max(ABS_TOL_USD, 1e-7 * plan.monthly_cost_usd)
    for term, value in recompute_costs(plan).items():
        stated = plan.cost_breakdown.get(term, 0.0)
        if not _close(value, stated, abs_tol=tol):
            out.append(f"cost: term {term} recomputes to {value:.2f}, plan says {stated:.2f}")
    spend = plan.monthly_cost_usd - plan.cost_breakdown.get("shortfall_penalty", 0.0)
    if not _close(spend, plan.monthly_spend_usd):
        out.append(f"cost: spend {plan.monthly_spend_usd:.2f} != total minus shortfall penalty {spend:.2f}")
    budget = plan.rules.budget_usd_per_month
    if budget is not None and not _le(spend, budget, ABS_TOL_USD):
        out.append(f"budget: spend {spend:.2f} > {budget:.2f}")
    return out


def recompute_workload_costs(plan: Plan) -> dict[str, float]:
    """Monthly cost per workload, re-derived from the plan alone.

    A dedicated holding belongs to its tenant. A shared holding's cost in period t is split by the
    GPUs each non-dedicated workload's replicas occupy in that (site, gpu, option) pool in t (a
    dedicated workload's replicas sit on its own instances); a pool idle in t is split by its use over
    all periods, then by each workload's GPU use in the whole plan, then equally. Egress, serverless
    and shortfall costs belong to the workload whose traffic it is.
    """
    hours = {p.id: p.hours_per_month for p in plan.periods}
    wl = {w.id: w for w in plan.workloads}
    out: dict[str, float] = {w: 0.0 for w in wl}
    pool_t: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    pool_all: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    plan_all: dict[str, float] = defaultdict(float)
    for d in plan.deployments:
        if wl[d.workload].dedicated:
            continue  # on its own instances: no share of shared holdings
        for t, n in d.replicas_by_period.items():
            gpus = float(n * d.gpus_per_replica)
            if gpus > 0:
                pool_t[(d.site, d.gpu, d.purchase_option, t)][d.workload] += gpus
                pool_all[(d.site, d.gpu, d.purchase_option)][d.workload] += gpus
                plan_all[d.workload] += gpus
    equal = {w: 1.0 for w in wl}
    for h in plan.instances:
        for t, n in h.instances_by_period.items():
            cost = n * h.gpus_per_instance * sum(h.cost_terms_usd_per_gpu_hour.values()) * hours[t]
            if h.tenant != "shared" and h.tenant in out:
                out[h.tenant] += cost
                continue
            levels = (
                pool_t.get((h.site, h.gpu, h.purchase_option, t), {}),
                pool_all.get((h.site, h.gpu, h.purchase_option), {}),
                plan_all,
                equal,
            )
            for weights in levels:
                total = sum(weights.values())
                if total > 0:
                    for w, weight in weights.items():
                        out[w] += cost * weight / total
                    break
    for f in plan.routing:
        out[f.workload] += f.rps * 3600.0 * hours[f.period] * f.egress_usd_per_request
    for sv in plan.serverless:
        price = wl[sv.workload].serverless_usd_per_request or 0.0
        out[sv.workload] += sv.rps * 3600.0 * hours[sv.period] * price
    for u in plan.unmet:
        penalty = wl[u.workload].shortfall_usd_per_request or 0.0
        out[u.workload] += u.rps * 3600.0 * hours[u.period] * penalty
    return out


def check_workload_costs(v: _View) -> list[str]:
    """Each workload's stated cost re-derives from holdings and traffic; the workloads' costs add up
    to the plan's total, and each workload's USD per million tokens is its cost over its tokens."""
    plan, out = v.plan, []
    tol = max(ABS_TOL_USD, 1e-7 * plan.monthly_cost_usd)
    recomputed = recompute_workload_costs(plan)
    for w in plan.workloads:
        if not _close(w.monthly_cost_usd, recomputed.get(w.id, 0.0), abs_tol=tol):
            out.append(
                f"cost: workload {w.id} is charged {w.monthly_cost_usd:.2f}, "
                f"re-derived {recomputed.get(w.id, 0.0):.2f}"
            )
        if w.usd_per_million_tokens is not None and w.tokens_per_month > 0:
            expected = w.monthly_cost_usd / w.tokens_per_month * 1e6
            if not _close(w.usd_per_million_tokens, expected, abs_tol=1e-9):
                out.append(f"cost: workload {w.id} USD per M tokens {w.usd_per_million_tokens} != {expected}")
    summed = sum(w.monthly_cost_usd for w in plan.workloads)
    if not _close(summed, plan.monthly_cost_usd, abs_tol=tol):
        out.append(f"cost: workloads' costs sum to {summed:.2f}, plan total is {plan.monthly_cost_usd:.2f}")
    return out


def check_periods(v: _View) -> list[str]:
    """Every deployment lists every period; fixed options hold one count in all periods."""
    out = []
    for d in v.plan.deployments:
        where = f"{d.candidate}@{d.site}/{d.purchase_option}"
        if set(d.replicas_by_period) != set(v.periods):
            out.append(f"deployment {where}: periods missing")
        if d.purchase_option in FIXED and len(set(d.replicas_by_period.values())) > 1:
            out.append(f"deployment {where}: fixed option varies over periods")
        if d.workload not in v.workloads or d.site not in v.sites:
            out.append(f"deployment {d.candidate}: unknown workload or site")
    for h in v.plan.instances:
        if h.fixed and len(set(h.instances_by_period.values())) > 1:
            out.append(f"instances {h.site}/{h.gpu}/{h.purchase_option}: fixed option varies over periods")
    return out


def check_coverage(v: _View) -> list[str]:
    """served + serverless x (1 + headroom) >= (demand - unmet) x (1 + headroom) per (workload,
    region, period); summed over periods (hour-weighted) for batch work. Serverless and unmet are in
    demand units: headroom protects GPU capacity only."""
    served: dict[Key3, float] = defaultdict(float)
    for f in v.plan.routing:
        served[(f.workload, f.region, f.period)] += f.rps
    for x in v.plan.serverless:
        served[(x.workload, x.region, x.period)] += x.rps * (1.0 + v.workloads[x.workload].headroom)
    unmet = {(u.workload, u.region, u.period): u.rps for u in v.plan.unmet}
    out = []
    daily: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key in set(v.demand) | set(served):
        w, r, t = key
        factor = 1.0 + v.workloads[w].headroom
        need = max(0.0, v.demand.get(key, 0.0) - unmet.get(key, 0.0)) * factor
        if unmet.get(key, 0.0) > v.demand.get(key, 0.0) + ABS_TOL_RPS:
            out.append(f"coverage: {w} {r} {t}: unmet {unmet[key]:.4f} rps exceeds demand")
        if v.workloads[w].daily_coverage:
            daily[(w, r)][0] += need * v.hours[t]
            daily[(w, r)][1] += served.get(key, 0.0) * v.hours[t]
        elif not _le(need, served.get(key, 0.0)):
            out.append(
                f"coverage: workload {w} region {r} period {t}: {served.get(key, 0.0):.4f} rps < {need:.4f}"
            )
    for (w, r), (need, got) in daily.items():
        if not _le(need, got, abs_tol=ABS_TOL_RPS * 730):
            out.append(f"coverage: batch workload {w} region {r}: daily volume not served")
    return out


def check_capacity(v: _View) -> list[str]:
    """Traffic on (candidate, site, period) <= replicas x availability x capacity x site utilisation."""
    flows: dict[Key3, float] = defaultdict(float)
    for f in v.plan.routing:
        flows[(f.candidate, f.site, f.period)] += f.rps
    usable: dict[Key3, float] = defaultdict(float)
    for d in v.plan.deployments:
        for t, n in d.replicas_by_period.items():
            usable[(d.candidate, d.site, t)] += (
                n * d.availability * d.predicted.capacity_rps * v.sites[d.site].utilization
            )
    return [
        f"capacity: {c} at {s} period {t}: {rps:.4f} rps routed > {usable.get((c, s, t), 0.0):.4f} rps usable"
        for (c, s, t), rps in flows.items()
        if not _le(rps, usable.get((c, s, t), 0.0))
    ]


def check_routes(v: _View) -> list[str]:
    """Each flow: the site serves the region at the stated round trip; rtt + server TTFT <= target;
    residency; placement mode."""
    out = []
    for f in v.plan.routing:
        w, site = v.workloads[f.workload], v.sites[f.site]
        tag = f"{f.workload} {f.region}->{f.site} ({f.candidate})"
        if f.region not in site.rtt_ms or not _close(f.rtt_ms, site.rtt_ms[f.region], abs_tol=1e-9):
            out.append(f"routing: {tag}: round trip not the site's to that region")
            continue
        d = v.dep_by_candidate.get(f.candidate)
        if d is None or d.workload != f.workload:
            out.append(f"routing: {tag}: no deployment of that configuration")
            continue
        if not _close(f.ttft_ms, f.rtt_ms + d.predicted.ttft_ms, abs_tol=1e-6):
            out.append(f"routing: {tag}: stated TTFT {f.ttft_ms} != rtt + server TTFT")
        if (
            f.rps > ABS_TOL_RPS
            and w.ttft_target_ms is not None
            and not _le(f.ttft_ms, w.ttft_target_ms, 1e-6)
        ):
            out.append(f"latency: {tag}: TTFT {f.ttft_ms:.1f} ms > target {w.ttft_target_ms:.1f} ms")
        if w.residency == "user_region":
            home = v.regions.get(f.region)
            if site.jurisdiction is None or site.jurisdiction != home:
                out.append(f"residency: {tag}: served in {site.jurisdiction}, outside {home}")
        elif w.residency is not None and site.jurisdiction not in w.residency:
            out.append(f"residency: {tag}: served in {site.jurisdiction}, outside {w.residency}")
        if w.placement == "centralized" and site.kind != "central":
            out.append(f"placement: {tag}: centralized workload at an edge site")
        if w.placement == "edge" and site.kind != "edge":
            out.append(f"placement: {tag}: edge workload at a central site")
    return out


def check_latency_and_placement(v: _View) -> list[str]:
    """Every deployment meets its workload's TPOT target; hybrid workloads use central and edge sites."""
    out = []
    for d in v.plan.deployments:
        target = v.workloads[d.workload].tpot_target_ms
        if target is not None and not _le(d.predicted.tpot_ms, target, 1e-6):
            out.append(f"latency: {d.candidate} TPOT {d.predicted.tpot_ms:.1f} ms > target {target}")
    for w in v.plan.workloads:
        if w.placement == "hybrid":
            kinds = {
                v.sites[d.site].kind for d in v.plan.deployments if d.workload == w.id and d.replicas > 0
            }
            if kinds != {"central", "edge"}:
                out.append(f"placement: hybrid workload {w.id} uses {sorted(kinds)}, needs central and edge")
    return out


def check_shares(v: _View) -> list[str]:
    """Model routing: traffic to a capped model <= share x need (demand with headroom); serverless
    only where allowed and <= max share x demand (demand units, no headroom: the model's rule, since
    headroom protects GPU capacity only); unmet only where shortfall is allowed."""
    out = []
    by_group: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for f in v.plan.routing:
        d = v.dep_by_candidate.get(f.candidate)
        by_group[(f.workload, f.region, f.period, d.model if d else "?")] += f.rps
    for (w, r, t, g), rps in by_group.items():
        share = v.workloads[w].group_max_share.get(g)
        if share is not None and not _le(rps, share * v.need((w, r, t))):
            out.append(f"routing: {w} {r} {t}: model {g} takes {rps:.4f} rps > {share:.0%} of demand")
    for x in v.plan.serverless:
        wl = v.workloads[x.workload]
        if not wl.serverless_allowed and x.rps > ABS_TOL_RPS:
            out.append(f"serverless: {x.workload} is not allowed serverless traffic")
        else:
            cap = wl.serverless_max_share * v.demand.get((x.workload, x.region, x.period), 0.0)
            if not _le(x.rps, cap):
                out.append(
                    f"serverless: {x.workload} {x.region} {x.period}: {x.rps:.4f} rps > max share "
                    f"{wl.serverless_max_share:g} x demand = {cap:.4f} rps"
                )
    for u in v.plan.unmet:
        if v.workloads[u.workload].shortfall_usd_per_request is None and u.rps > ABS_TOL_RPS:
            out.append(
                f"shortfall: {u.workload} {u.region} {u.period} leaves demand unmet, which is not allowed"
            )
    return out


def check_packing(v: _View) -> list[str]:
    """Replica GPUs <= GPUs in whole instances per (site, gpu, option, tenant, period); dedicated
    workloads only on their own instances; a replica fits in one instance."""
    used: dict[tuple[str, ...], float] = defaultdict(float)
    for d in v.plan.deployments:
        tenant = d.workload if v.workloads[d.workload].dedicated else "shared"
        for t, n in d.replicas_by_period.items():
            used[(d.site, d.gpu, d.purchase_option, tenant, t)] += n * d.gpus_per_replica
    bought: dict[tuple[str, ...], int] = defaultdict(int)
    size: dict[tuple[str, str], int] = {}
    for h in v.plan.instances:
        size[(h.site, h.gpu)] = h.gpus_per_instance
        for t, n in h.instances_by_period.items():
            bought[(h.site, h.gpu, h.purchase_option, h.tenant, t)] += n * h.gpus_per_instance
    out = [
        f"packing: {gpus:.0f} GPUs of replicas at {'/'.join(key)} exceed "
        f"{bought.get(key, 0)} GPUs in instances"
        for key, gpus in used.items()
        if gpus > bought.get(key, 0)
    ]
    for d in v.plan.deployments:
        if d.gpus_per_replica > size.get((d.site, d.gpu), 0) and d.replicas > 0:
            out.append(
                f"packing: a replica of {d.candidate} ({d.gpus_per_replica} GPUs) does not fit one instance"
            )
    return out


def check_limits(v: _View) -> list[str]:
    """Per period: GPUs of a type at a site <= supply; GPUs at a site <= its limit; power <= limit."""
    out = []
    for t in v.periods:
        per_type: dict[tuple[str, str], int] = defaultdict(int)
        per_site: dict[str, int] = defaultdict(int)
        power: dict[str, float] = defaultdict(float)
        supply: dict[tuple[str, str], int | None] = {}
        for h in v.plan.instances:
            gpus = h.instances_by_period.get(t, 0) * h.gpus_per_instance
            per_type[(h.site, h.gpu)] += gpus
            per_site[h.site] += gpus
            power[h.site] += gpus * h.gpu_power_kw
            supply[(h.site, h.gpu)] = h.supply_max_gpus
        for (site_id, gpu), gpus in per_type.items():
            lim = supply.get((site_id, gpu))
            if lim is not None and gpus > lim:
                out.append(f"supply: {gpu} at {site_id} period {t}: {gpus} GPUs > limit {lim}")
        for site_id, gpus in per_site.items():
            site = v.sites[site_id]
            if site.max_gpus is not None and gpus > site.max_gpus:
                out.append(f"supply: site {site_id} period {t}: {gpus} GPUs > site limit {site.max_gpus}")
            if site.power_limit_kw is not None and not _le(power[site_id], site.power_limit_kw, 1e-6):
                out.append(
                    f"power: site {site_id} period {t}: {power[site_id]:.1f} kW > {site.power_limit_kw} kW"
                )
    return out


def check_spot(v: _View) -> list[str]:
    """Per workload and period: spot GPUs <= spot_max_share x all of the workload's GPUs."""
    out = []
    share = v.plan.rules.spot_max_share
    for w in v.plan.workloads:
        for t in v.periods:
            total = spot = 0
            for d in v.plan.deployments:
                if d.workload == w.id:
                    gpus = d.replicas_by_period.get(t, 0) * d.gpus_per_replica
                    total += gpus
                    spot += gpus if d.purchase_option == "spot" else 0
            if not _le(spot, share * total):
                out.append(f"spot: {w.id} period {t}: {spot} spot GPUs > {share:.0%} of {total}")
    return out


def check_fleet_rules(v: _View) -> list[str]:
    """Distinct GPU types <= limit; a workload present at a site runs >= the minimum replicas there in
    every period."""
    out = []
    rules = v.plan.rules
    types = {h.gpu for h in v.plan.instances if any(n > 0 for n in h.instances_by_period.values())}
    if rules.max_gpu_types is not None and len(types) > rules.max_gpu_types:
        out.append(f"gpu types: {len(types)} in use ({sorted(types)}) > limit {rules.max_gpu_types}")
    least = rules.min_replicas_per_active_site
    if least > 0:
        active = {(d.workload, d.site) for d in v.plan.deployments if d.replicas > 0}
        active |= {(f.workload, f.site) for f in v.plan.routing if f.rps > ABS_TOL_RPS}
        for w_id, site_id in sorted(active):
            for t in v.periods:
                n = sum(
                    d.replicas_by_period.get(t, 0)
                    for d in v.plan.deployments
                    if d.workload == w_id and d.site == site_id
                )
                if n < least:
                    out.append(f"min replicas: {w_id} at {site_id} period {t}: {n} < {least}")
    return out


def check_engine(v: _View) -> list[str]:
    """Per deployment: 1 <= batch <= max_batch and max_num_seqs = batch (the engine never runs more
    sequences than the plan's capacity assumes, nor more than fit)."""
    out = []
    for d in v.plan.deployments:
        where = f"{d.candidate}@{d.site}/{d.purchase_option}"
        p = d.predicted
        if not 1 <= p.batch <= p.max_batch:
            out.append(f"engine: {where}: batch {p.batch} outside [1, max_batch {p.max_batch}]")
        if d.engine.max_num_seqs != p.batch:
            out.append(f"engine: {where}: max_num_seqs {d.engine.max_num_seqs} != planned batch {p.batch}")
    return out


CHECKS: tuple[Callable[[_View], list[str]], ...] = (
    check_costs,
    check_workload_costs,
    check_periods,
    check_coverage,
    check_capacity,
    check_routes,
    check_latency_and_placement,
    check_shares,
    check_packing,
    check_limits,
    check_spot,
    check_fleet_rules,
    check_engine,
)


def check_plan(plan: Plan) -> list[str]:
    """Every violated rule as a readable message; empty when the plan is sound."""
    view = _View.of(plan)
    return [msg for check in CHECKS for msg in check(view)]


def ensure_plan_ok(plan: Plan) -> None:
    """Raise PlanCheckError listing every violation."""
    problems = check_plan(plan)
    if problems:
        raise PlanCheckError("the solved plan failed its independent re-check:\n  " + "\n  ".join(problems))
