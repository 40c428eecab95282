"""Figures of a plan that a sweep reports per scenario: cost, shares, GPUs and spend by type and option.

Pure functions of a `Plan` (no problem, catalog or solver needed), so results and charts can be
recomputed from saved plans.
"""

from __future__ import annotations

from collections import defaultdict

from optimizer.schema.plan import Plan

SECONDS_PER_HOUR = 3600.0
NON_GPU_TERMS: tuple[str, ...] = ("egress", "serverless")
"""Spend terms not attributable to a GPU type (the shortfall penalty is not spend)."""


def demand_tokens_per_month(plan: Plan) -> dict[str, float]:
    """Input + output tokens demanded per month per workload: sum over regions and periods of
    rps x 3600 x hours x (input + output tokens per request)."""
    hours = {p.id: p.hours_per_month for p in plan.periods}
    per_request = {w.id: w.input_tokens + w.output_tokens for w in plan.workloads}
    out: dict[str, float] = defaultdict(float)
    for d in plan.demand:
        out[d.workload] += d.rps * SECONDS_PER_HOUR * hours[d.period] * per_request[d.workload]
    return dict(out)


def fleet_shares(plan: Plan) -> dict[str, float]:
    """Token-weighted shares of all demand: served by the fleet, by the serverless API, unmet, and
    `demand_met_share` = 1 - unmet."""
    weights = demand_tokens_per_month(plan)
    total = sum(weights.values())
    if total <= 0:
        return {"served_share": 0.0, "serverless_share": 0.0, "unmet_share": 0.0, "demand_met_share": 0.0}
    shares = {
        key: sum(getattr(w, key) * weights.get(w.id, 0.0) for w in plan.workloads) / total
        for key in ("served_share", "serverless_share", "unmet_share")
    }
    shares["demand_met_share"] = 1.0 - shares["unmet_share"]
    return shares


def gpus_by(plan: Plan, key: str) -> dict[str, int]:
    """Peak GPUs held per GPU type (`key="gpu"`) or purchase option (`key="purchase_option"`): the most,
    over periods, of sum of instances x GPUs per instance."""
    per_period: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for h in plan.instances:
        group = str(getattr(h, key))
        for period, count in h.instances_by_period.items():
            per_period[group][period] += count * h.gpus_per_instance
    return {
        g: max(v.values(), default=0) for g, v in sorted(per_period.items()) if max(v.values(), default=0)
    }


def spend_by(plan: Plan, key: str) -> dict[str, float]:
    """Monthly spend (USD) per GPU type or purchase option: sum over holdings and periods of
    instances x GPUs per instance x USD per GPU-hour x hours in the period; plus the non-GPU terms
    (egress, serverless) as their own entries, so the parts add up to `monthly_spend_usd`."""
    hours = {p.id: p.hours_per_month for p in plan.periods}
    out: dict[str, float] = defaultdict(float)
    for h in plan.instances:
        for period, count in h.instances_by_period.items():
            out[str(getattr(h, key))] += count * h.gpus_per_instance * h.usd_per_gpu_hour * hours[period]
    for term in NON_GPU_TERMS:
        value = plan.cost_breakdown.get(term, 0.0)
        if value > 0.005:
            out[term] += value
    return {k: v for k, v in sorted(out.items()) if v > 0.005}


def plan_row(plan: Plan) -> dict[str, object]:
    """The flat figures a sweep row holds for a solved scenario."""
    row: dict[str, object] = {
        "status": plan.status,
        "gap": plan.gap,
        "monthly_cost_usd": plan.monthly_cost_usd,
        "monthly_spend_usd": plan.monthly_spend_usd,
        "usd_per_million_tokens": plan.usd_per_million_tokens,
    }
    row.update(fleet_shares(plan))
    by_type = gpus_by(plan, "gpu")
    row["gpus"] = sum(by_type.values())
    row.update({f"gpus.{k}": v for k, v in by_type.items()})
    row.update({f"gpus_by_option.{k}": v for k, v in gpus_by(plan, "purchase_option").items()})
    row.update({f"spend_usd.{k}": v for k, v in spend_by(plan, "gpu").items()})
    row.update({f"spend_usd_by_option.{k}": v for k, v in spend_by(plan, "purchase_option").items()})
    return row
