"""Views of a plan: terminal summary tables (rich), an explanation view, and file output."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from optimizer.outputs import atomic_write_text
from optimizer.schema.plan import Alternative, Explanation, Plan


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON-compatible data (key order as in the schema)."""
    return plan.model_dump(mode="json")


def dump_plan(plan: Plan, fmt: str) -> str:
    """Serialise as `yaml` or `json`."""
    data = plan_to_dict(plan)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, width=120))


def write_plan(plan: Plan, path: Path, fmt: str | None = None) -> None:
    """Write the plan atomically (temporary file + rename): a failure never truncates `path`."""
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "yaml")
    atomic_write_text(path, dump_plan(plan, fmt))


def _usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def make_console() -> Console:
    """A console as wide as the terminal; 160 columns when output is not a terminal (pipes, files)."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def print_summary(plan: Plan, console: Console | None = None) -> None:
    """Headline, cost breakdown, per-workload costs, deployments and baselines."""
    con = console or make_console()
    limit = plan.solve.mip_gap_limit
    if plan.status == "optimal":
        gap = f" (proven within the {limit:.2g} relative gap limit" + (
            f"; final gap {plan.gap:.3%})" if plan.gap else ")"
        )
    else:
        gap = " (NOT proven optimal: stopped at a limit" + (
            f", gap {plan.gap:.2%})" if plan.gap is not None else ")"
        )
    penalty = plan.cost_breakdown.get("shortfall_penalty", 0.0)
    spend = (
        f" (spend {_usd(plan.monthly_spend_usd)} + shortfall penalty {_usd(penalty)})"
        if penalty > 0.005
        else ""
    )
    con.print(
        f"[bold]{plan.problem}[/bold]: {plan.status}{gap}; monthly cost [bold]{_usd(plan.monthly_cost_usd)}"
        f"[/bold]{spend}"
        + (
            f", ${plan.usd_per_million_tokens:.3f} per million tokens served"
            if plan.usd_per_million_tokens
            else ""
        )
    )
    t = Table(title="Cost breakdown (USD/month)")
    t.add_column("term")
    t.add_column("USD/month", justify="right")
    t.add_column("share", justify="right")
    for term, v in plan.cost_breakdown.items():
        if abs(v) > 0.005:
            t.add_row(term, _usd(v), f"{v / plan.monthly_cost_usd:.1%}" if plan.monthly_cost_usd else "-")
    con.print(t)

    t = Table(title="Workloads")
    for col in ("workload", "model", "req/day", "USD/month", "USD/M tok", "served", "serverless", "unmet"):
        t.add_column(col, justify="left" if col in ("workload", "model") else "right")
    for w in plan.workloads:
        t.add_row(
            w.id,
            w.model,
            f"{w.requests_per_day:,.0f}",
            _usd(w.monthly_cost_usd),
            "-" if w.usd_per_million_tokens is None else f"{w.usd_per_million_tokens:.3f}",
            f"{w.served_share:.1%}",
            f"{w.serverless_share:.1%}",
            f"{w.unmet_share:.1%}",
        )
    con.print(t)

    t = Table(title="Deployments (peak replicas over periods)")
    left = ("workload", "site", "model", "gpu", "precision", "option")
    for col in (
        "workload",
        "site",
        "model",
        "gpu",
        "precision",
        "TP",
        "option",
        "replicas",
        "GPUs",
        "min..max",
        "TTFT ms",
        "TPOT ms",
        "tok/s/replica",
    ):
        t.add_column(col, justify="left" if col in left else "right")
    for d in plan.deployments:
        lo, hi = min(d.replicas_by_period.values()), max(d.replicas_by_period.values())
        t.add_row(
            d.workload,
            d.site,
            d.model,
            d.gpu,
            d.precision + (" +spec" if d.speculative else ""),
            str(d.tensor_parallel),
            d.purchase_option,
            str(d.replicas),
            str(d.gpus),
            f"{lo}..{hi}",
            f"{d.predicted.ttft_ms:.0f}",
            f"{d.predicted.tpot_ms:.1f}",
            f"{d.predicted.output_tokens_per_s:,.0f}",
        )
    con.print(t)

    gpus: dict[str, float] = defaultdict(float)
    for h in plan.instances:
        gpus[f"{h.site}/{h.gpu}/{h.purchase_option}"] = max(
            gpus[f"{h.site}/{h.gpu}/{h.purchase_option}"],
            float(max(h.instances_by_period.values()) * h.gpus_per_instance),
        )
    if plan.baselines:
        t = Table(title="Baselines")
        for col in ("baseline", "USD/month", "plan saves", "note"):
            t.add_column(col)
        for b in plan.baselines:
            t.add_row(
                b.description,
                _usd(b.monthly_cost_usd),
                "-" if b.savings_pct is None else f"{b.savings_pct:.1f}%",
                b.note,
            )
        con.print(t)
    s = plan.solve
    con.print(
        f"solver {s.solver} {s.solver_version or ''}: {s.status} "
        f"({s.variables} variables, {s.constraints} constraints; {s.candidates_kept} candidates kept of "
        f"{s.candidates_considered} evaluated)"
    )


def _model_estimate(a: Alternative) -> str:
    """'-' for modelled figures; for measured ones the performance model's own capacity and TTFT."""
    if not a.measured:
        return "-"
    cap = "cannot meet targets" if a.model_capacity_rps is None else f"{a.model_capacity_rps:.2f} rps"
    ttft = "" if a.model_ttft_ms is None else f", {a.model_ttft_ms:.0f} ms"
    return f"measured; model: {cap}{ttft}"


def _regime(a: Alternative) -> str:
    """`latency-bound (ttft)` / `throughput-bound (memory)`; `measured` for measured figures."""
    if a.regime is None or a.bound_by is None:
        return "measured" if a.measured else "-"
    return f"{a.regime.replace('_', '-')} ({a.bound_by.replace('_', ' ')})"


def _point_caption(plan: Plan, e: Explanation) -> str:
    """The chosen configuration's operating point with every metric at it (from its deployment)."""
    head = f"chosen operating point: {_regime(e.chosen)}"
    op = next(
        (
            d.predicted.operating_point
            for d in plan.deployments
            if d.candidate == e.chosen.candidate and d.site == e.site and d.predicted.operating_point
        ),
        None,
    )
    if op is None:
        return head
    return (
        f"{head}; {op.running_sequences:.1f} running sequences; TTFT mean/p90/p99 "
        f"{op.ttft_mean_ms:.0f}/{op.ttft_p90_ms:.0f}/{op.ttft_p99_ms:.0f} ms; TPOT "
        f"{op.tpot_mean_ms:.1f}/{op.tpot_p90_ms:.1f}/{op.tpot_p99_ms:.1f} ms; end-to-end {op.e2e_ms:.0f} ms; "
        f"prefill {op.prefill_share:.0%} of GPU time"
    )


def print_explanations(plan: Plan, console: Console | None = None) -> None:
    """Why each deployment: its cost per unit capacity against the runners-up at the same site."""
    con = console or make_console()
    if not plan.explanations:
        con.print("this plan carries no explanations (solve it again with this version)")
        return
    for e in plan.explanations:
        t = Table(
            title=f"{e.workload} at {e.site}: rank {e.rank} by cost per unit capacity; {e.note}",
            caption=_point_caption(plan, e),
        )
        for col in (
            "",
            "gpu",
            "model",
            "precision",
            "TP",
            "option",
            "USD per rps-hour",
            "rps/replica",
            "TTFT ms",
            "model estimate",
            "serves",
        ):
            t.add_column(col)
        for tag, a in [("chosen", e.chosen)] + [("runner-up", a) for a in e.runners_up]:
            t.add_row(
                tag,
                a.gpu,
                a.model,
                a.precision,
                str(a.tensor_parallel),
                a.purchase_option,
                f"{a.usd_per_rps_hour:.4f}",
                f"{a.capacity_rps:.2f}",
                f"{a.ttft_ms:.0f}",
                _model_estimate(a),
                ",".join(a.serves_regions),
            )
        con.print(t)
