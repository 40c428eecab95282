"""The plan report for people: a self-contained HTML page (charts as inline SVG) or Markdown.

Sections: headline (monthly cost, cost per million tokens, savings against the baselines), cost
breakdown (chart), capacity against demand over the day per workload (chart), sites and what runs
where, latency margins per route, assumptions (prices with their sources and dates, the performance
model's fitted parameters and its error against published measurements), and caveats. Everything is
computed from the plan, plus the built-in catalog (price-row sources) and the packaged calibration
and validation data for the assumptions. No network access: the page embeds its styles and charts.
"""

from __future__ import annotations

import html
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import yaml

from optimizer.errors import OptimizerError
from optimizer.schema.plan import Plan

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#1b1f24;background:#fff;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #dde3ea}
.headline{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#f2f6fb;border-left:6px solid #2b6cb0;padding:.7rem 1rem;min-width:190px}
.card .v{font-size:1.5rem;font-weight:700}.card .k{font-size:.8rem;color:#4a5568;text-transform:uppercase}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #dde3ea;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#edf2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff5e6;border-left:6px solid #dd6b20;padding:.5rem .8rem;margin:.4rem 0}
.muted{color:#4a5568;font-size:.85rem}svg{max-width:100%;height:auto}
"""


def usd(x: float | None) -> str:
    """`$12,345` (whole dollars), `-` for None."""
    return "-" if x is None else f"${x:,.0f}"


# ----------------------------------------------------------------------------------------------
# Facts computed from the plan
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityRow:
    period: str
    demand_rps: float
    """Demand x (1 + headroom), requests/s: what the fleet must cover."""
    capacity_rps: float
    """Usable fleet capacity: sum of replicas x capacity x site utilisation x spot availability."""
    serverless_rps: float
    """Traffic sent to the serverless API, requests/s (demand units, as in the plan and its cost)."""
    unmet_rps: float
    """Demand left unserved, requests/s (demand units)."""
    headroom: float = 0.0
    """The workload's headroom h: serverless and unmet traffic carry none, so each of their req/s
    stands for (1 + h) req/s of `demand_rps`."""

    @property
    def covered_rps(self) -> float:
        """What covers `demand_rps`, as the MIP counts it: capacity + (1 + h) x (serverless + unmet)."""
        return self.capacity_rps + (1.0 + self.headroom) * (self.serverless_rps + self.unmet_rps)


def capacity_by_period(plan: Plan) -> dict[str, list[CapacityRow]]:
    """Per workload and period: required demand, usable capacity, serverless and unmet traffic.

    capacity[w, t] = sum_d replicas[d, t] x capacity_rps[d] x utilisation[site(d)] x availability[d].
    """
    util = {s.id: s.utilization for s in plan.sites}
    head = {w.id: w.headroom for w in plan.workloads}
    cap: dict[tuple[str, str], float] = defaultdict(float)
    for d in plan.deployments:
        for t, n in d.replicas_by_period.items():
            cap[(d.workload, t)] += n * d.predicted.capacity_rps * util[d.site] * d.availability
    dem: dict[tuple[str, str], float] = defaultdict(float)
    for r in plan.demand:
        dem[(r.workload, r.period)] += r.rps * (1.0 + head[r.workload])
    sls: dict[tuple[str, str], float] = defaultdict(float)
    for r in plan.serverless:
        sls[(r.workload, r.period)] += r.rps
    unm: dict[tuple[str, str], float] = defaultdict(float)
    for r in plan.unmet:
        unm[(r.workload, r.period)] += r.rps
    return {
        w.id: [
            CapacityRow(
                p.id, dem[(w.id, p.id)], cap[(w.id, p.id)], sls[(w.id, p.id)], unm[(w.id, p.id)], head[w.id]
            )
            for p in plan.periods
        ]
        for w in plan.workloads
    }


@dataclass(frozen=True)
class RouteMargin:
    workload: str
    region: str
    site: str
    config: str
    ttft_ms: float
    """Worst user-facing TTFT over the periods the route carries traffic (rtt + server TTFT)."""
    ttft_target_ms: float | None
    tpot_ms: float
    tpot_target_ms: float | None
    peak_rps: float

    @property
    def ttft_margin_ms(self) -> float | None:
        return None if self.ttft_target_ms is None else self.ttft_target_ms - self.ttft_ms

    @property
    def tpot_margin_ms(self) -> float | None:
        return None if self.tpot_target_ms is None else self.tpot_target_ms - self.tpot_ms


def route_margins(plan: Plan) -> list[RouteMargin]:
    """Latency headroom of every route that carries traffic: target - achieved, TTFT and TPOT."""
    wl = {w.id: w for w in plan.workloads}
    dep = {(d.workload, d.site, d.candidate): d for d in plan.deployments}
    worst: dict[tuple[str, str, str, str], tuple[float, float]] = {}
    for f in plan.routing:
        key = (f.workload, f.region, f.site, f.candidate)
        ttft, rps = worst.get(key, (0.0, 0.0))
        worst[key] = (max(ttft, f.ttft_ms), max(rps, f.rps))
    out = []
    for (w, r, s, c), (ttft, rps) in sorted(worst.items()):
        d = dep.get((w, s, c))
        label = f"{d.gpu} {d.precision} TP{d.tensor_parallel}" if d else c
        out.append(
            RouteMargin(
                w,
                r,
                s,
                label,
                ttft,
                wl[w].ttft_target_ms,
                d.predicted.tpot_ms if d else 0.0,
                wl[w].tpot_target_ms,
                rps,
            )
        )
    return out


@dataclass(frozen=True)
class PriceAssumption:
    site: str
    gpu: str
    purchase_option: str
    usd_per_gpu_hour: float
    terms: dict[str, float]
    source: str
    as_of: str


def price_assumptions(plan: Plan) -> list[PriceAssumption]:
    """Every price the plan pays, with the catalog price row's source and date where the offer used the
    built-in price list (matched by provider, region, GPU and price), else `problem file`."""
    from optimizer.catalog import default_catalog

    catalog = default_catalog()
    where = {(d.site, d.gpu): (d.cloud, d.cloud_region) for d in plan.deployments if d.cloud}
    out = []
    for h in plan.instances:
        source, as_of = "problem file (explicit price)", "-"
        cloud, region = where.get((h.site, h.gpu), (None, None))
        if cloud and region and h.purchase_option in ("on_demand", "spot"):
            try:
                rows = catalog.prices_for(cloud, region, h.gpu, h.purchase_option)
            except OptimizerError:  # an unknown name just means no catalog row
                rows = ()
            match = [r for r in rows if math.isclose(r.usd_per_gpu_hour, h.usd_per_gpu_hour, rel_tol=1e-6)]
            if match:
                source, as_of = f"catalog: {match[0].source} ({match[0].instance_type})", match[0].as_of
        out.append(
            PriceAssumption(
                h.site,
                h.gpu,
                h.purchase_option,
                h.usd_per_gpu_hour,
                dict(h.cost_terms_usd_per_gpu_hour),
                source,
                as_of,
            )
        )
    return out


@dataclass(frozen=True)
class ModelAssumptions:
    fit: dict[str, Any]
    families: dict[str, dict[str, Any]]
    error: dict[str, tuple[int, float, float]]
    """metric -> (rows scored, median |error| %, worst |error| %)."""
    rows_total: int


def model_assumptions(plan: Plan) -> ModelAssumptions:
    """The fitted performance-model parameters (for the hardware families the plan uses, where
    identifiable) and the model's error on the published measurements shipped with the package."""
    from optimizer.perf.validation import validate_file

    data = files("optimizer.perf") / "data"
    doc = yaml.safe_load((data / "calibration.yaml").read_text(encoding="utf-8"))
    fit = {k: doc.get(k) for k in ("fit_date", "data_file", "rows_scored", "loss")}
    families = {k: v for k, v in (doc.get("families") or {}).items() if isinstance(v, dict)}
    report = validate_file(str(data / "published_benchmarks.csv"))
    error = {m: (s.count, s.median_ape_pct, s.worst_ape_pct) for m, s in report.summary.items()}
    return ModelAssumptions(fit, families, error, len(report.results))


def caveats(plan: Plan) -> list[str]:
    """What a reader must know before acting on the plan."""
    out = []
    if plan.status != "optimal":
        out.append(
            f"The solver stopped at a limit: the plan is feasible but not proven optimal (gap {plan.gap})."
        )
    if not plan.baselines:
        out.append("No baselines: the plan was solved with --no-baselines, so savings are not shown.")
    for d in plan.deployments:
        if d.checkpoint_note:
            out.append(f"{d.workload} at {d.site} ({d.gpu}, {d.precision}): {d.checkpoint_note}.")
    if any(d.purchase_option == "spot" for d in plan.deployments):
        out.append(
            "Spot capacity is counted at its average availability; a preemption wave can take it away "
            "(the plan caps its share at " + f"{plan.rules.spot_max_share:.0%})."
        )
    if plan.unmet:
        out.append(
            "Part of the demand is left unmet (shortfall allowed, at a penalty): see the workloads table."
        )
    if any(d.cloud is None for d in plan.deployments):
        out.append("Some sites have no cloud provider/region in the plan: set them in the SkyPilot export.")
    out.append(
        "Capacities, TTFT and TPOT are predictions of the calibrated performance model (error below), "
        "not measurements; benchmark a replica before scaling out."
    )
    out.append("Periods are read as consecutive slices of the day from 00:00 UTC.")
    return list(dict.fromkeys(out))


# ----------------------------------------------------------------------------------------------
# Charts (matplotlib -> inline SVG)
# ----------------------------------------------------------------------------------------------


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "fleet-optimizer"
    return plt


def cost_chart_svg(plan: Plan) -> str:
    """Horizontal bars: each cost term in USD per month."""
    plt = _pyplot()
    terms = [(k, v) for k, v in plan.cost_breakdown.items() if abs(v) > 0.005]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(terms), 1) + 1.0))
    names = [k.replace("_", " ") for k, _ in terms]
    values = [v for _, v in terms]
    bars = ax.barh(names, values, color="#2b6cb0")
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {usd(v)}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("USD per month")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, max([*values, 1.0]) * 1.25)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def capacity_chart_svg(plan: Plan, workload: str, rows: list[CapacityRow]) -> str:
    """Per period: required demand (with headroom) against usable capacity, plus serverless."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = list(range(len(rows)))
    ax.step(x, [r.capacity_rps for r in rows], where="mid", color="#2b6cb0", lw=2, label="usable capacity")
    ax.plot(
        x,
        [r.demand_rps for r in rows],
        color="#dd6b20",
        lw=2,
        marker="o",
        ms=3,
        label="demand x (1 + headroom)",
    )
    # Serverless and unmet traffic carry no headroom: drawn x (1 + h), in the units of the demand line.
    scaled = "" if all(r.headroom == 0 for r in rows) else " x (1 + headroom)"
    if any(r.serverless_rps > 0 for r in rows):
        ax.bar(
            x,
            [r.serverless_rps * (1.0 + r.headroom) for r in rows],
            color="#9ae6b4",
            label="serverless" + scaled,
            alpha=0.8,
        )
    if any(r.unmet_rps > 0 for r in rows):
        ax.bar(
            x,
            [r.unmet_rps * (1.0 + r.headroom) for r in rows],
            color="#feb2b2",
            label="unmet" + scaled,
            alpha=0.8,
        )
    ax.set_xticks(x)
    ax.set_xticklabels([r.period for r in rows], rotation=90 if len(rows) > 8 else 0, fontsize=8)
    ax.set_ylabel("requests / s")
    ax.set_title(f"{workload}: capacity against demand over the day (UTC periods)", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    svg = _svg(fig)
    plt.close(fig)
    return svg


# ----------------------------------------------------------------------------------------------
# Tables as plain rows (shared by HTML and Markdown)
# ----------------------------------------------------------------------------------------------


@dataclass
class Section:
    title: str
    intro: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    charts: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


def _lowest_coverage(rows: list[CapacityRow], daily_hours: dict[str, float] | None = None) -> str:
    """min over periods with demand of (capacity + (1 + h)(serverless + unmet)) / (demand x (1 + h)):
    1.00 when the plan covers its demand exactly, as the MIP counts coverage. Batch work covered over
    the day (`daily_hours`, hours per period) is one ratio of hour-weighted sums, the MIP's rule for it,
    with ' (daily)' appended."""
    if daily_hours is not None:
        need = sum(r.demand_rps * daily_hours[r.period] for r in rows)
        got = sum(r.covered_rps * daily_hours[r.period] for r in rows)
        return f"{got / need:.2f} (daily)" if need > 0 else "-"
    ratios = [r.covered_rps / r.demand_rps for r in rows if r.demand_rps > 0]
    return f"{min(ratios):.2f}" if ratios else "-"


def headline(plan: Plan) -> list[tuple[str, str]]:
    """(label, value) cards: monthly cost, spend, cost per million tokens, savings per baseline."""
    cards = [("monthly cost", usd(plan.monthly_cost_usd))]
    if abs(plan.monthly_spend_usd - plan.monthly_cost_usd) > 0.5:
        cards.append(("monthly spend (excl. shortfall penalty)", usd(plan.monthly_spend_usd)))
    per_m = plan.usd_per_million_tokens
    cards.append(("cost per million tokens", "-" if per_m is None else f"${per_m:.3f}"))
    for b in plan.baselines:
        if b.savings_pct is not None:
            cards.append((f"saves vs {b.name.replace('_', ' ')}", f"{b.savings_pct:.1f}%"))
    return cards


def sections(plan: Plan) -> list[Section]:
    """The report's sections after the headline, in order."""
    out: list[Section] = []
    total = plan.monthly_cost_usd or 1.0
    out.append(
        Section(
            "Cost breakdown",
            "Monthly cost by objective term (they sum to the headline).",
            ["term", "USD/month", "share"],
            [
                [k.replace("_", " "), usd(v), f"{v / total:.1%}"]
                for k, v in plan.cost_breakdown.items()
                if abs(v) > 0.005
            ],
            {1, 2},
            [cost_chart_svg(plan)],
        )
    )
    if plan.baselines:
        out.append(
            Section(
                "Baselines",
                "Simple fleets the plan is compared against.",
                ["baseline", "USD/month", "plan saves", "note"],
                [
                    [
                        b.description,
                        usd(b.monthly_cost_usd),
                        "-" if b.savings_pct is None else f"{b.savings_pct:.1f}%",
                        b.note,
                    ]
                    for b in plan.baselines
                ],
                {1, 2},
            )
        )
    out.append(
        Section(
            "Workloads",
            "Cost attributed to each workload and how its demand is served.",
            [
                "workload",
                "model",
                "requests/day",
                "USD/month",
                "USD per M tokens",
                "fleet",
                "serverless",
                "unmet",
            ],
            [
                [
                    w.id,
                    w.model,
                    f"{w.requests_per_day:,.0f}",
                    usd(w.monthly_cost_usd),
                    "-" if w.usd_per_million_tokens is None else f"{w.usd_per_million_tokens:.3f}",
                    f"{w.served_share:.1%}",
                    f"{w.serverless_share:.1%}",
                    f"{w.unmet_share:.1%}",
                ]
                for w in plan.workloads
            ],
            {2, 3, 4, 5, 6, 7},
        )
    )
    caps = capacity_by_period(plan)
    hours = {p.id: p.hours_per_month for p in plan.periods}
    daily = {w.id: w.daily_coverage for w in plan.workloads}
    out.append(
        Section(
            "Capacity against demand over the day",
            "Usable capacity (replicas x predicted capacity x site utilisation x spot availability) "
            "against demand with headroom, per period. Serverless and unmet traffic carry no headroom, "
            "so each of their requests covers (1 + headroom) of it. Batch work with a deadline of a day or "
            "more is covered over the day, so its ratio is of daily totals (daily).",
            [
                "workload",
                "lowest (capacity + (1 + h)(serverless + unmet)) / (demand x (1 + h))",
                "peak demand req/s",
                "peak capacity req/s",
            ],
            [
                [
                    w,
                    _lowest_coverage(rows, hours if daily[w] else None),
                    f"{max(r.demand_rps for r in rows):.2f}",
                    f"{max(r.capacity_rps for r in rows):.2f}",
                ]
                for w, rows in caps.items()
            ],
            {1, 2, 3},
            [capacity_chart_svg(plan, w, rows) for w, rows in caps.items()],
        )
    )
    out.append(
        Section(
            "Sites: what runs where",
            "Peak replicas over the day (fewest..most), per site, configuration and purchase option.",
            [
                "site",
                "kind",
                "workload",
                "GPU",
                "precision",
                "TP",
                "option",
                "replicas",
                "GPUs (peak)",
                "instance type",
                "checkpoint",
            ],
            [
                [
                    d.site,
                    next(s.kind for s in plan.sites if s.id == d.site),
                    d.workload,
                    d.gpu,
                    d.precision + (" + speculative" if d.speculative else ""),
                    str(d.tensor_parallel),
                    d.purchase_option,
                    f"{min(d.replicas_by_period.values())}..{max(d.replicas_by_period.values())}",
                    str(d.gpus),
                    d.instance_type or "-",
                    d.hf_repo,
                ]
                for d in sorted(plan.deployments, key=lambda d: (d.site, d.workload, d.gpu))
            ],
            {5, 7, 8},
        )
    )
    out.append(
        Section(
            "Latency margins per route",
            "Worst user-facing TTFT (network round trip + server) over the periods a route is used, and "
            "predicted TPOT, against the targets; margin = target - achieved. Peak req/s is the GPU "
            "capacity the route carries, which includes the headroom (demand x (1 + headroom)).",
            [
                "workload",
                "user region",
                "site",
                "configuration",
                "peak req/s (incl. headroom)",
                "TTFT ms",
                "target",
                "margin",
                "TPOT ms",
                "target",
                "margin",
            ],
            [
                [
                    m.workload,
                    m.region,
                    m.site,
                    m.config,
                    f"{m.peak_rps:.2f}",
                    f"{m.ttft_ms:.0f}",
                    "-" if m.ttft_target_ms is None else f"{m.ttft_target_ms:.0f}",
                    "-" if m.ttft_margin_ms is None else f"{m.ttft_margin_ms:.0f}",
                    f"{m.tpot_ms:.1f}",
                    "-" if m.tpot_target_ms is None else f"{m.tpot_target_ms:.0f}",
                    "-" if m.tpot_margin_ms is None else f"{m.tpot_margin_ms:.1f}",
                ]
                for m in route_margins(plan)
            ],
            {4, 5, 6, 7, 8, 9, 10},
        )
    )
    out.append(
        Section(
            "Assumptions: prices",
            "Every price the plan pays, with its source and date.",
            ["site", "GPU", "option", "USD per GPU-hour", "terms", "source", "as of"],
            [
                [
                    p.site,
                    p.gpu,
                    p.purchase_option,
                    f"{p.usd_per_gpu_hour:.4g}",
                    ", ".join(f"{k} {v:.4g}" for k, v in p.terms.items()),
                    p.source,
                    p.as_of,
                ]
                for p in price_assumptions(plan)
            ],
            {3},
        )
    )
    ma = model_assumptions(plan)
    fit = ma.fit
    out.append(
        Section(
            "Assumptions: performance model",
            f"Calibrated parameters fitted {fit.get('fit_date')} on {fit.get('rows_scored')} rows of "
            f"{fit.get('data_file')} (loss {fit.get('loss')}). Error against {ma.rows_total} published "
            "measurements (absolute percentage error):",
            ["metric", "rows scored", "median error", "worst error"],
            [[m, str(n), f"{med:.1f}%", f"{worst:.1f}%"] for m, (n, med, worst) in ma.error.items()],
            {1, 2, 3},
            bullets=[
                f"{fam}: bandwidth efficiency {p.get('bw_eff')}, compute efficiency {p.get('compute_eff')}, "
                f"step overhead {p.get('step_overhead_ms')} ms "
                f"({p.get('source', 'fit')}, {p.get('rows', 0)} rows)"
                for fam, p in sorted(ma.families.items())
            ],
        )
    )
    out.append(Section("Caveats", bullets=caveats(plan)))
    return out


# ----------------------------------------------------------------------------------------------
# Renderers
# ----------------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def status_line(plan: Plan) -> str:
    if plan.status == "optimal":
        gap = f"optimal within the {plan.solve.mip_gap_limit:.2g} relative gap limit"
    else:
        gap = "feasible, NOT proven optimal" + (f" (gap {plan.gap:.2%})" if plan.gap is not None else "")
    return f"Plan status: {gap}; solver {plan.solve.solver} {plan.solve.solver_version or ''}".strip()


def render_html(plan: Plan) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Fleet plan: {_e(plan.problem)}</title><style>{CSS}</style></head><body>",
        f"<h1>Fleet plan: {_e(plan.problem)}</h1>",
        f'<p class="muted">{_e(status_line(plan))}; plan schema {plan.schema_version}.</p>',
        '<div class="headline">',
    ]
    for label, value in headline(plan):
        parts.append(
            f'<div class="card"><div class="k">{_e(label)}</div><div class="v">{_e(value)}</div></div>'
        )
    parts.append("</div>")
    for s in sections(plan):
        parts.append(f"<h2>{_e(s.title)}</h2>")
        if s.intro:
            parts.append(f"<p>{_e(s.intro)}</p>")
        parts.extend(f"<figure>{svg}</figure>" for svg in s.charts)
        if s.header:
            parts.append(
                "<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in s.header) + "</tr></thead><tbody>"
            )
            for row in s.rows:
                cells = "".join(
                    f'<td class="n">{_e(c)}</td>' if i in s.numeric else f"<td>{_e(c)}</td>"
                    for i, c in enumerate(row)
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
        if s.bullets:
            cls = ' class="warn"' if s.title == "Caveats" else ""
            parts.append("<ul>" + "".join(f"<li{cls}>{_e(b)}</li>" for b in s.bullets) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: Plan) -> str:
    """The report as Markdown (tables; charts left out, their numbers are in the tables)."""
    lines = [
        f"# Fleet plan: {plan.problem}",
        "",
        f"{status_line(plan)}; plan schema {plan.schema_version}.",
        "",
    ]
    lines += [f"- **{label}**: {value}" for label, value in headline(plan)]
    for s in sections(plan):
        lines += ["", f"## {s.title}", ""]
        if s.intro:
            lines += [s.intro, ""]
        if s.header:
            lines.append("| " + " | ".join(_md_cell(h) for h in s.header) + " |")
            lines.append(
                "|" + "|".join("---:" if i in s.numeric else "---" for i in range(len(s.header))) + "|"
            )
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.rows]
        if s.bullets:
            lines += ([""] if s.header else []) + [f"- {b}" for b in s.bullets]
    return "\n".join(lines) + "\n"
