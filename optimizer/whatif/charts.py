"""Charts of sweep and frontier results (matplotlib, headless): PNG and SVG, titled, with units.

- `cost`: monthly cost (and spend, dashed, same colour) against the numeric varied parameter with the
  most values, one line per combination of the others (a bar per scenario when none is numeric);
- `spend_by_gpu` / `spend_by_option`: stacked monthly spend per scenario by GPU type (plus egress and
  serverless) and by purchase option;
- `frontier`: share of demand met against the monthly budget (frontiers with a `budget` column).

SVG text is kept as text (`svg.fonttype: none`), so titles and axis labels are searchable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.whatif.api import SweepResult

FORMATS: tuple[str, ...] = ("png", "svg")
COST_LEGEND = "monthly cost (objective: spend + any shortfall penalty)"
MAX_SERIES = 10
"""Most lines drawn on one chart (further combinations are left out, and the legend says so)."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    return plt


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values) and bool(values)


def _label(param: str) -> str:
    if param == "budget":
        return "monthly budget (USD per month)"
    if param.startswith("scale_demand"):
        return f"demand scale factor ({param.partition('.')[2] or 'all workloads'}, x)"
    if param.startswith("scale_price"):
        return f"price scale factor ({param.partition('.')[2] or 'all GPUs'}, x)"
    unit = ""
    leaf = param.rstrip("*").split(".")[-1]
    for suffix, name in (("_ms", "ms"), ("_usd_per_month", "USD per month"), ("_per_day", "per day")):
        if leaf.endswith(suffix):
            unit = f" ({name})"
    return f"{param}{' (x factor)' if param.endswith('*') else unit}"


def _save(fig: Any, out: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        fig.savefig(path, format=fmt, dpi=110, bbox_inches="tight")
        paths.append(path)
    return paths


def _ok(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") in ("optimal", "feasible")]


def _series(result: SweepResult, x: str, y: str) -> list[tuple[str, list[float], list[float]]]:
    """(legend, xs, ys) per combination of the parameters other than x, solved rows only."""
    others = [p for p in result.parameters if p != x]
    groups: dict[str, tuple[list[float], list[float]]] = {}
    for r in _ok(result.records):
        key = ", ".join(f"{p}={r.get(p)}" for p in others) or y
        xs, ys = groups.setdefault(key, ([], []))
        if r.get(y) is not None and r.get(x) is not None:
            xs.append(float(r[x]))
            ys.append(float(r[y]))
    out = []
    for key, (xs, ys) in groups.items():
        pairs = sorted(zip(xs, ys, strict=True))
        out.append((key, [p[0] for p in pairs], [p[1] for p in pairs]))
    return out


def x_parameter(result: SweepResult) -> str | None:
    """The parameter to draw costs against: the numeric one with the most distinct values (the first
    of those on a tie), or None (then one bar per scenario)."""
    best: tuple[int, str] | None = None
    for p in result.parameters:
        values = [r.get(p) for r in result.records]
        if _numeric(values) and (best is None or len(set(values)) > best[0]):
            best = (len(set(values)), p)
    return best[1] if best is not None else None


def cost_chart(result: SweepResult, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    x = x_parameter(result)
    solved = _ok(result.records)
    if x is not None:
        series = _series(result, x, "monthly_cost_usd")
        spend = _series(result, x, "monthly_spend_usd")
        show_spend = any(r.get("monthly_spend_usd") != r.get("monthly_cost_usd") for r in solved)
        for (legend, xs, ys), (_, sxs, sys_) in list(zip(series, spend, strict=True))[:MAX_SERIES]:
            (line,) = ax.plot(xs, ys, marker="o", label=f"cost, {legend}" if len(series) > 1 else COST_LEGEND)
            if show_spend:
                ax.plot(
                    sxs,
                    sys_,
                    linestyle="--",
                    marker=".",
                    color=line.get_color(),
                    label=f"spend, {legend}" if len(series) > 1 else "monthly spend",
                )
        ax.set_xlabel(_label(x))
        if len(series) > MAX_SERIES:
            ax.plot([], [], " ", label=f"({len(series) - MAX_SERIES} more series not drawn)")
    else:
        names = [r["scenario"] for r in solved]
        ax.bar(names, [float(r["monthly_cost_usd"]) for r in solved], color="#4C72B0", label="monthly cost")
        ax.set_xlabel("scenario")
        ax.tick_params(axis="x", rotation=30)
    ax.set_ylabel("monthly cost (USD per month)")
    against = f"against {x}" if x is not None else "by scenario"
    ax.set_title(f"{result.problem}: monthly cost {against}")
    ax.grid(True, alpha=0.3)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"${v:,.0f}"))
    ax.legend(fontsize="small")
    paths = _save(fig, out, "cost", formats)
    plt.close(fig)
    return paths


def spend_chart(
    result: SweepResult, out: Path, by: str = "gpu", formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Stacked monthly spend per scenario, by GPU type (`by="gpu"`) or purchase option (`"option"`)."""
    plt = _pyplot()
    prefix = "spend_usd." if by == "gpu" else "spend_usd_by_option."
    solved = _ok(result.records)
    parts = [c for c in result.columns if c.startswith(prefix)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(solved) + 3), 4.8))
    names = [r["scenario"] for r in solved]
    bottom = [0.0] * len(solved)
    for part in parts:
        values = [float(r.get(part) or 0.0) for r in solved]
        if not any(values):
            continue
        ax.bar(names, values, bottom=bottom, label=part[len(prefix) :])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    what = "GPU type" if by == "gpu" else "purchase option"
    ax.set_title(f"{result.problem}: monthly spend by {what}")
    ax.set_xlabel("scenario")
    ax.set_ylabel("monthly spend (USD per month)")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"${v:,.0f}"))
    ax.tick_params(axis="x", rotation=30)
    ax.grid(True, axis="y", alpha=0.3)
    if parts:
        ax.legend(fontsize="small", title=what)
    paths = _save(fig, out, f"spend_by_{by}", formats)
    plt.close(fig)
    return paths


def frontier_chart(result: SweepResult, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Share of demand met (fleet + serverless) against the monthly budget."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for legend, xs, ys in _series(result, "budget", "demand_met_share")[:MAX_SERIES]:
        ax.plot(
            xs,
            [100.0 * y for y in ys],
            marker="o",
            label="demand met" if legend == "demand_met_share" else legend,
        )
    ax.set_title(f"{result.problem}: demand served within each monthly budget")
    ax.set_xlabel(_label("budget"))
    ax.set_ylabel("demand met (% of tokens)")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"${v:,.0f}"))
    ax.set_ylim(0, 105)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    paths = _save(fig, out, "frontier", formats)
    plt.close(fig)
    return paths


def write_charts(result: SweepResult, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Every chart that fits the result (none when no scenario solved)."""
    out.mkdir(parents=True, exist_ok=True)
    if not _ok(result.records):
        return []
    paths = cost_chart(result, out, formats)
    paths += spend_chart(result, out, "gpu", formats)
    paths += spend_chart(result, out, "option", formats)
    if "budget" in result.parameters:
        paths += frontier_chart(result, out, formats)
    return paths
