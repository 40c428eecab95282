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
    METRICS,
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


@dataclass(frozen=True)
class ValidationReport:
    results: tuple[RowPrediction, ...]
    summary: dict[str, MetricSummary] = field(default_factory=dict)

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
                    "note": r.note,
                }
            )
            rows.append(row)
        summary = {
            m: {
                "count": s.count,
                "median_ape_pct": s.median_ape_pct,
                "mean_ape_pct": s.mean_ape_pct,
                "worst_ape_pct": s.worst_ape_pct,
            }
            for m, s in self.summary.items()
        }
        return {"rows": rows, "summary": summary}


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
