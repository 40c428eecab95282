"""Validation of the performance model against a file of published measurements.

Every row is reported (prediction, measurement, signed error, or the reason it was skipped), and
per metric: count of scored rows, median, mean and worst absolute percentage error (APE).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.perf.benchmarks import (
    LATENCY_METRICS,
    METRICS,
    THROUGHPUT_METRICS,
    BenchmarkRow,
    Resolver,
    RowPrediction,
    default_resolver,
    predict_row,
    read_benchmarks,
)
from optimizer.perf.params import CalibrationParams, default_params


@dataclass(frozen=True, slots=True)
class MetricSummary:
    count: int
    median_ape_pct: float
    mean_ape_pct: float
    worst_ape_pct: float


def metric_class(metric: str) -> str:
    """`throughput` or `latency` (the two classes the acceptance criteria are stated for)."""
    return "latency" if metric in LATENCY_METRICS else "throughput"


def group_summary(results: Sequence[RowPrediction], key: str) -> dict[str, dict[str, MetricSummary]]:
    """Per group (`family`: hardware family, `engine`: serving engine) and per metric class
    (throughput, latency): APE statistics over scored rows."""
    groups: dict[str, dict[str, list[float]]] = {}
    for r in results:
        e = signed_error_pct(r)
        if e is None:
            continue
        name = (r.gpu_family if key == "family" else r.engine) or "?"
        groups.setdefault(name, {}).setdefault(metric_class(r.row.metric), []).append(abs(e))
    return {
        name: {
            cls: MetricSummary(len(v), statistics.median(v), statistics.fmean(v), max(v))
            for cls, v in sorted(by_cls.items(), key=lambda kv: kv[0] != "throughput")
        }
        for name, by_cls in sorted(groups.items())
    }


def class_summary(results: Sequence[RowPrediction]) -> dict[str, MetricSummary]:
    """Pooled APE statistics for all throughput metrics and all latency metrics."""
    out: dict[str, MetricSummary] = {}
    for cls, metrics in (("throughput", THROUGHPUT_METRICS), ("latency", LATENCY_METRICS)):
        apes = [abs(e) for r in results if r.row.metric in metrics and (e := signed_error_pct(r)) is not None]
        if apes:
            out[cls] = MetricSummary(len(apes), statistics.median(apes), statistics.fmean(apes), max(apes))
    return out


def _summary_json(s: MetricSummary) -> dict[str, Any]:
    return {
        "count": s.count,
        "median_ape_pct": s.median_ape_pct,
        "mean_ape_pct": s.mean_ape_pct,
        "worst_ape_pct": s.worst_ape_pct,
    }


@dataclass(frozen=True)
class ValidationReport:
    results: tuple[RowPrediction, ...]
    summary: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def by_class(self) -> dict[str, MetricSummary]:
        return class_summary(self.results)

    @property
    def by_family(self) -> dict[str, dict[str, MetricSummary]]:
        return group_summary(self.results, "family")

    @property
    def by_engine(self) -> dict[str, dict[str, MetricSummary]]:
        return group_summary(self.results, "engine")

    @property
    def scored(self) -> int:
        return sum(1 for r in self.results if r.predicted is not None)

    @property
    def scored_fraction(self) -> float:
        return self.scored / len(self.results) if self.results else 0.0

    def to_json(self) -> dict[str, Any]:
        """The documented contract: {"rows": [...], "summary": {metric: {...}}}."""
        rows: list[dict[str, Any]] = []
        for r in self.results:
            row: dict[str, Any] = {
                "row": r.row.index,
                "metric": r.row.metric,
                "measured": r.row.value,
                "predicted": r.predicted,
                "skipped": r.skipped,
            }
            row.update(
                {
                    "error_pct": signed_error_pct(r),
                    "model": r.row.model,
                    "gpu": r.row.gpu,
                    "scenario": r.row.scenario,
                    "tensor_parallel": r.tensor_parallel,
                    "data_parallel": r.dp,
                    "expert_parallel": r.ep,
                    "pipeline_parallel": r.pp,
                    "gpu_family": r.gpu_family,
                    "engine": r.engine,
                    "note": r.note,
                }
            )
            rows.append(row)
        summary = {m: _summary_json(s) for m, s in self.summary.items()}
        return {
            "rows": rows,
            "summary": summary,
            "by_class": {c: _summary_json(s) for c, s in self.by_class.items()},
            "by_family": {f: {c: _summary_json(s) for c, s in d.items()} for f, d in self.by_family.items()},
            "by_engine": {e: {c: _summary_json(s) for c, s in d.items()} for e, d in self.by_engine.items()},
            "scored": self.scored,
            "skipped": len(self.results) - self.scored,
        }


def signed_error_pct(r: RowPrediction) -> float | None:
    """(predicted - measured) / measured x 100; None when skipped or measured is 0."""
    if r.predicted is None or r.row.value == 0:
        return None
    return (r.predicted - r.row.value) / r.row.value * 100.0


def summarize(results: Sequence[RowPrediction]) -> dict[str, MetricSummary]:
    """Per-metric APE statistics over scored rows (metrics in contract order)."""
    out: dict[str, MetricSummary] = {}
    for metric in METRICS:
        apes = [abs(e) for r in results if r.row.metric == metric and (e := signed_error_pct(r)) is not None]
        if not apes:
            continue
        out[metric] = MetricSummary(len(apes), statistics.median(apes), statistics.fmean(apes), max(apes))
    return out


def validate_rows(
    rows: Sequence[BenchmarkRow], *, resolver: Resolver | None = None, params: CalibrationParams | None = None
) -> ValidationReport:
    res = resolver if resolver is not None else default_resolver()
    p = params if params is not None else default_params()
    results = tuple(predict_row(r, res, p) for r in rows)
    return ValidationReport(results, summarize(results))


def validate_file(
    path: str | Path, *, resolver: Resolver | None = None, params: CalibrationParams | None = None
) -> ValidationReport:
    """Read a benchmark CSV (InputError if malformed) and predict every row."""
    return validate_rows(read_benchmarks(path), resolver=resolver, params=params)


def _layout(r: RowPrediction) -> str:
    parts = [f"TP{r.tensor_parallel}" if r.tensor_parallel is not None else "TP?"]
    if r.dp > 1:
        parts.append(f"DP{r.dp}")
    if r.ep > 1:
        parts.append(f"EP{r.ep}")
    if r.pp > 1:
        parts.append(f"PP{r.pp}")
    return " ".join(parts)


def markdown_report(report: ValidationReport) -> str:
    """Every row, then summaries per metric, metric class, hardware family and engine (Markdown)."""
    out = [
        "| row | model | GPU | n | layout | engine | precision | scenario | in/out | conc/batch | metric "
        "| measured | predicted | error % |",
        "|---:|---|---|---:|---|---|---|---|---|---:|---|---:|---:|---:|",
    ]
    for r in report.results:
        e = signed_error_pct(r)
        io = "" if r.input_tokens is None else f"{r.input_tokens:g}/{r.output_tokens:g}"
        conc = "" if r.row.concurrency_or_batch is None else f"{r.row.concurrency_or_batch:g}"
        pred = "skipped: " + (r.skipped or "") if r.predicted is None else f"{r.predicted:,.4g}"
        out.append(
            f"| {r.row.index} | {r.row.model} | {r.row.gpu} | {r.row.num_gpus} | {_layout(r)} | "
            f"{r.engine or ''} | {r.row.precision} | {r.row.scenario} | {io} | {conc} | {r.row.metric} | "
            f"{r.row.value:,.4g} | {pred} | {'' if e is None else f'{e:+.1f}'} |"
        )
    out += ["", "| metric | rows | median APE % | mean APE % | worst APE % |", "|---|---:|---:|---:|---:|"]
    for m, s in report.summary.items():
        out.append(
            f"| {m} | {s.count} | {s.median_ape_pct:.1f} | {s.mean_ape_pct:.1f} | {s.worst_ape_pct:.1f} |"
        )
    for c, s in report.by_class.items():
        stats = f"{s.median_ape_pct:.1f} | {s.mean_ape_pct:.1f} | {s.worst_ape_pct:.1f}"
        out.append(f"| **all {c}** | {s.count} | {stats} |")
    for title, groups in (("hardware family", report.by_family), ("engine", report.by_engine)):
        out += [
            "",
            f"| {title} | throughput rows | throughput median APE % | latency rows | latency median APE % |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, by_cls in groups.items():
            t, lat = by_cls.get("throughput"), by_cls.get("latency")
            out.append(
                f"| {name} | {t.count if t else 0} | {f'{t.median_ape_pct:.1f}' if t else ''} | "
                f"{lat.count if lat else 0} | {f'{lat.median_ape_pct:.1f}' if lat else ''} |"
            )
    out.append("")
    out.append(f"Scored {report.scored} of {len(report.results)} rows.")
    return "\n".join(out) + "\n"
