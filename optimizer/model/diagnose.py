"""Why a fleet problem is infeasible: a cheap structural pre-check, and reading an elastic re-solve.

The pre-check needs no solver: demand that no route, serverless or shortfall can take. The elastic
re-solve (built with `build_model(data, elastic=True)` and solved by `optimizer.solve`) lets demand
go unmet everywhere and the budget overrun at a price; the demand it leaves unmet names the
workload, region and period, and the limits that are tight at the sites that could have served it
name the rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from optimizer.model.data import FleetData
from optimizer.model.fleet_model import FleetModel
from optimizer.model.index import index_fleet
from optimizer.model.rules import rule_text


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason the problem has no feasible plan."""

    rule: str
    """The binding rule, e.g. 'no route meets the latency target', "supply limit at site 'fra'"."""
    detail: str
    workload: str | None = None
    region: str | None = None
    period: str | None = None
    unmet_rps: float | None = None
    """Demand the elastic re-solve could not serve (rps), where known."""

    def render(self) -> str:
        keys = (("workload", self.workload), ("region", self.region), ("period", self.period))
        where = ", ".join(f"{k} {v!r}" for k, v in keys if v is not None)
        head = f"{where}: " if where else ""
        return f"{head}{self.rule} — {self.detail}"


def render_findings(findings: list[Finding], limit: int = 20) -> str:
    """A readable message: one line per finding (at most `limit`)."""
    lines = [f"  - {f.render()}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more")
    return "problem is infeasible:\n" + "\n".join(lines)


def precheck(data: FleetData) -> list[Finding]:
    """Structural infeasibility found without solving, per (workload, region) with demand.

    - no usable route (no route meets the latency target, or none of the routed sites offers a
      GPU that can host the configuration) and neither serverless (for all of it) nor shortfall;
    - the routed model groups, capped by model-routing shares, plus the serverless share, cover
      less than all demand;
    - only spot capacity is reachable while spot_max_share is 0;
    - a hybrid workload without a usable central or edge site.
    """
    ix = index_fleet(data)
    findings: list[Finding] = []
    usable = defaultdict(list)
    for route in ix.routes:
        usable[(route.workload, route.region)].append(route)
    raw_sites = defaultdict(set)
    for route in data.routes:
        raw_sites[(route.workload, route.region)].add(route.site)
    slot_options = defaultdict(set)
    for c, s, o in ix.slots:
        slot_options[(c, s)].add(o)

    for (w, r), periods in ix.traffic_periods.items():
        wd = ix.workloads[w]
        if wd.unmet_usd_per_request is not None:
            continue  # anything may go unmet, at its penalty
        demand_periods = [t for t in periods if (w, r, t) in ix.demand]
        period = demand_periods[0] if len(demand_periods) == 1 else None
        when = "" if period else f" (periods {', '.join(demand_periods)})"
        sl_share = wd.serverless_max_share if wd.serverless_usd_per_request is not None else 0.0
        routes = usable[(w, r)]
        if not routes:
            if sl_share >= 1.0:
                continue
            if raw_sites[(w, r)]:
                rule = "no offer can host the routed configurations"
                detail = (
                    f"sites {sorted(raw_sites[(w, r)])} meet the latency target but offer no "
                    "GPU/instance that fits a replica"
                )
            else:
                rule = "no route meets the latency target"
                detail = "no site and configuration meets the TTFT target (with residency, placement)"
            detail += (
                f", and serverless may take only {sl_share:.0%} of demand"
                if sl_share > 0
                else ", and serverless is not allowed"
            ) + when
            findings.append(Finding(rule, detail, w, r, period))
            continue
        groups = {ix.candidates[x.candidate].group for x in routes}
        routed_share = sum(wd.group_max_share.get(g, 1.0) for g in groups)
        if routed_share + sl_share < 1.0 - 1e-9:
            findings.append(
                Finding(
                    "model routing share",
                    f"models {sorted(groups)} may serve at most {routed_share:.0%} of demand "
                    f"(group_max_share) and serverless {sl_share:.0%}{when}",
                    w,
                    r,
                    period,
                )
            )
            continue
        if (
            data.spot_max_share <= 0.0
            and all(slot_options[(x.candidate, x.site)] <= {"spot"} for x in routes)
            and sl_share < 1.0
        ):
            detail = f"only spot capacity is reachable and spot_max_share is 0{when}"
            findings.append(Finding("spot share limit", detail, w, r, period))

    for w, wd in ix.workloads.items():
        if wd.placement != "hybrid" or not any(k[0] == w for k in ix.demand):
            continue
        kinds = {ix.sites[s].kind for c, s, _o in ix.slots if ix.candidates[c].workload == w}
        for kind in ("central", "edge"):
            if kind not in kinds:
                findings.append(
                    Finding(
                        "hybrid placement",
                        f"no {kind} site has a usable route and offer for this workload",
                        w,
                    )
                )
    return findings


def unmet_required(m: FleetModel, tol: float = 1e-6) -> dict[tuple[str, str, str], float]:
    """(workload, region, period) -> rps a solved elastic model leaves unmet although the input
    requires it to be served."""
    ix = m.index
    out: dict[tuple[str, str, str], float] = {}
    for (w, r, t), var in m.unmet.items():
        missing = float(var.varValue or 0.0)
        if ix.workloads[w].unmet_usd_per_request is None and missing > max(tol, 1e-4 * ix.need(w, r, t)):
            out[(w, r, t)] = missing
    return out


def _slack(m: FleetModel, family: str, key: tuple[str | None, ...]) -> tuple[float, float] | None:
    """(slack, right-hand side) of the <= constraint family[key] in the solved model, if it exists."""
    con = m.constraints.get(family, {}).get(key)
    if con is None or con.value() is None:
        return None
    return -float(con.value()), -float(con.constant)


def describe_rule(m: FleetModel, family: str, w: str, r: str, t: str) -> str:
    """The binding rule `family` as it applies to demand (w, r, t), with the sites where its limit
    is within one instance of full (the places that stopped more capacity being bought)."""
    ix = m.index
    wd = ix.workloads[w]
    data = ix.data
    routes = [x for x in ix.routes if x.workload == w and x.region == r]
    sites = sorted({x.site for x in routes})
    gpus = sorted({ix.candidates[x.candidate].gpu for x in routes})
    periods = ix.periods if wd.daily_coverage else (t,)

    def step(s: str, gs: list[str], kw: bool = False) -> float:
        """Largest instance (GPUs, or kW) that could still be added at site s."""
        sizes = [
            o.gpus_per_instance * (data.gpu_power_kw.get(o.gpu, 0.0) if kw else 1.0)
            for o in data.offers
            if o.site == s and o.gpu in gs
        ]
        return max(sizes, default=1.0)

    def places(tight_only: bool) -> str:
        """Limits of `family` at the reachable sites (only those within one instance of full)."""
        found: list[str] = []
        for s in sites:
            for tt in periods:
                if family == "supply":
                    for g in gpus:
                        got = _slack(m, "supply", (s, g, tt))
                        if got is not None and (not tight_only or got[0] < step(s, [g]) - 1e-9):
                            found.append(f"supply limit at site {s!r} for GPU {g!r} ({got[1] + 0.0:g} GPUs)")
                else:
                    kw = family == "site_power"
                    got = _slack(m, family, (s, tt))
                    if got is not None and (not tight_only or got[0] < step(s, gpus, kw) - 1e-9):
                        found.append(
                            f"power limit at site {s!r} ({got[1] + 0.0:g} kW)"
                            if kw
                            else f"GPU limit of site {s!r} ({got[1] + 0.0:g} GPUs)"
                        )
        return "; ".join(dict.fromkeys(found))

    if family == "budget":
        return f"budget of ${data.budget_usd_per_month or 0.0:,.2f}/month"
    if family in ("supply", "site_gpus", "site_power"):
        fallback = f"{rule_text(family)} at sites {sites}"
        return places(tight_only=True) or places(tight_only=False) or fallback
    if family == "max_gpu_types":
        return f"at most {data.max_gpu_types} GPU types"
    if family == "spot_share":
        return f"spot share limit ({data.spot_max_share:.0%} of capacity)"
    if family == "model_routing":
        capped = sorted({ix.candidates[x.candidate].group for x in routes} & set(wd.group_max_share))
        return (
            "; ".join(
                f"model routing share: {g!r} may serve at most {wd.group_max_share[g]:.0%}" for g in capped
            )
            or "model routing share"
        )
    if family == "serverless_share":
        return f"serverless max share ({wd.serverless_max_share:.0%})"
    if family == "min_replicas":
        return f"minimum of {data.min_replicas_per_active_site} replicas per active site"
    return rule_text(family)


def findings_for_unmet(
    m: FleetModel,
    unmet: dict[tuple[str, str, str], float],
    families: dict[tuple[str, str, str], list[str]],
) -> list[Finding]:
    """One finding per unmet (workload, region, period), naming the families that bind there."""
    ix = m.index
    findings: list[Finding] = []
    for (w, r, t), missing in unmet.items():
        fams = families.get((w, r, t), [])
        if fams:
            rule = "; ".join(dict.fromkeys(describe_rule(m, f, w, r, t) for f in fams))
        elif not any(x.workload == w and x.region == r for x in ix.routes):
            rule = "no route meets the latency target"
        else:
            rule = "not enough capacity on the routes that meet the latency target within the other limits"
        # Unmet traffic is in demand units (it carries its headroom with it): compare with demand.
        detail = f"{missing:.4g} of {ix.demand.get((w, r, t), 0.0):.4g} rps cannot be served"
        findings.append(Finding(rule, detail, w, r, t, missing))
    return findings
