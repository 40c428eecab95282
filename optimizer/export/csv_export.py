"""Procurement CSV: one row per instance holding (site, GPU type, purchase option, tenant).

Columns: site, provider, region, gpu, instance_type, purchase_option, tenant, gpus_per_instance,
usd_per_gpu_hour, usd_per_instance_hour, instances_peak, gpus_peak, instances_<period> and
gpus_<period> for every period, and monthly_cost_usd = sum over periods of instances x GPUs per
instance x USD per GPU-hour x hours of the month in that period. The rows' monthly costs add up to the
plan's instance cost terms (on-demand, spot, committed, owned capital and power); egress, serverless
and shortfall are not bought per instance and appear in the trailing `not_in_rows` comment line.
"""

from __future__ import annotations

import csv
import io

from optimizer.schema.plan import InstanceHolding, Plan

INSTANCE_TERMS = ("on_demand", "spot", "committed", "owned_capital", "power")
"""Objective terms paid per instance-hour (the rest are traffic costs)."""


def holding_monthly_usd(plan: Plan, h: InstanceHolding) -> float:
    """sum_t instances[t] x gpus_per_instance x usd_per_gpu_hour x hours_per_month[t]."""
    hours = {p.id: p.hours_per_month for p in plan.periods}
    return sum(
        n * h.gpus_per_instance * h.usd_per_gpu_hour * hours[t] for t, n in h.instances_by_period.items()
    )


def procurement_csv(plan: Plan) -> str:
    """The procurement view as CSV text (header row, one row per holding)."""
    periods = [p.id for p in plan.periods]
    where: dict[tuple[str, str], tuple[str, str]] = {}
    for d in plan.deployments:
        if d.cloud:
            where[(d.site, d.gpu)] = (d.cloud, d.cloud_region or "")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "site",
            "provider",
            "region",
            "gpu",
            "instance_type",
            "purchase_option",
            "tenant",
            "gpus_per_instance",
            "usd_per_gpu_hour",
            "usd_per_instance_hour",
            "instances_peak",
            "gpus_peak",
            *(f"instances_{t}" for t in periods),
            *(f"gpus_{t}" for t in periods),
            "monthly_cost_usd",
        ]
    )
    for h in plan.instances:
        provider, region = where.get((h.site, h.gpu), ("", ""))
        counts = [h.instances_by_period.get(t, 0) for t in periods]
        w.writerow(
            [
                h.site,
                provider,
                region,
                h.gpu,
                h.instance_type or "",
                h.purchase_option,
                h.tenant,
                h.gpus_per_instance,
                f"{h.usd_per_gpu_hour:.6g}",
                f"{h.usd_per_gpu_hour * h.gpus_per_instance:.6g}",
                max(counts),
                max(counts) * h.gpus_per_instance,
                *counts,
                *(n * h.gpus_per_instance for n in counts),
                f"{holding_monthly_usd(plan, h):.2f}",
            ]
        )
    rest = {k: v for k, v in plan.cost_breakdown.items() if k not in INSTANCE_TERMS and abs(v) > 0.005}
    buf.write("# not_in_rows: " + (", ".join(f"{k}={v:.2f}" for k, v in rest.items()) or "none") + "\n")
    return buf.getvalue()
