"""Published-benchmark files: reading the calibration CSV format and predicting each row.

The header is a contract (see /work/shared/calibration/README.md and optimizer/perf/data/README.md):

    source_url,source_title,source_date,model,total_params_b,active_params_b,gpu,num_gpus,
    tensor_parallel,precision,framework,scenario,input_len,output_len,concurrency_or_batch,metric,
    value,unit,notes

A row the model cannot map (unknown GPU, model or precision, unknown scenario or metric, missing
lengths without a documented dataset) is *skipped with a reason*, never a crash. A malformed file
(wrong header, wrong column count, non-numeric number) raises `InputError` listing every problem.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.errors import InputError, InputIssue, OptimizerError
from optimizer.perf.params import CalibrationParams
from optimizer.perf.serving import OperatingPoint, Server
from optimizer.perf.step import Replica
from optimizer.perf.workload import request_work

HEADER: tuple[str, ...] = (
    "source_url",
    "source_title",
    "source_date",
    "model",
    "total_params_b",
    "active_params_b",
    "gpu",
    "num_gpus",
    "tensor_parallel",
    "precision",
    "framework",
    "scenario",
    "input_len",
    "output_len",
    "concurrency_or_batch",
    "metric",
    "value",
    "unit",
    "notes",
)
METRICS: tuple[str, ...] = (
    "output_tokens_per_s_total",
    "output_tokens_per_s_per_gpu",
    "total_tokens_per_s",
    "ttft_ms",
    "itl_ms",
    "e2e_latency_ms",
    "requests_per_s",
)
THROUGHPUT_METRICS = frozenset(
    {"output_tokens_per_s_total", "output_tokens_per_s_per_gpu", "total_tokens_per_s", "requests_per_s"}
)
LATENCY_METRICS = frozenset({"ttft_ms", "itl_ms", "e2e_latency_ms"})
SCENARIOS: tuple[str, ...] = (
    "offline_max_throughput",
    "online_serving_qps",
    "online_fixed_concurrency",
    "offline_latency_fixed_batch",
    "static_batch_throughput",
    "static_batch1_first_token",
    "single_stream_decode",
    "prefill_only",
    "mlperf_offline",
    "mlperf_server",
)


@dataclass(frozen=True, slots=True)
class DatasetMeans:
    input_tokens: float
    output_tokens: float
    source: str


MLPERF_DATASETS: dict[str, DatasetMeans] = {
    # Output mean: 294.45 tokens/sample, the reference implementation's accuracy target
    # (mlcommons/inference language/llama2-70b/README.md, "Tokens per sample: 294.45"); submitted
    # results agree (DGX-H100 v5.0: 31,306.8 tokens/s at 107.256 samples/s = 292 tokens/sample).
    # Input mean: NOT printed there; OpenOrca prompts are capped at 1024 tokens; 300 is an
    # unverified estimate.
    "llama_2_70b": DatasetMeans(
        300.0, 294.45, "MLPerf llama2-70b OpenOrca 24,576 samples; output documented, input estimated"
    ),
    # Mixtral-8x7B (15,000 samples: OpenOrca, GSM8K, MBXP): both means are unverified estimates.
    "mixtral_8x7b": DatasetMeans(300.0, 145.0, "MLPerf mixtral-8x7b 15k samples (unverified estimate)"),
    # Llama 3.1 405B (long-context mix): unverified estimates.
    "llama_3_1_405b": DatasetMeans(9400.0, 680.0, "MLPerf llama3.1-405b (unverified estimate)"),
    # Llama 3.1 8B (CNN/DailyMail summarisation): unverified estimates.
    "llama_3_1_8b": DatasetMeans(780.0, 110.0, "MLPerf llama3.1-8b CNN/DailyMail (unverified estimate)"),
}
"""Documented mean request lengths of MLPerf datasets, used when a row leaves the lengths empty."""

MLPERF_SERVER_LIMITS_MS: dict[str, tuple[float, float]] = {
    "llama_2_70b": (2000.0, 200.0),
    "mixtral_8x7b": (2000.0, 200.0),
    "llama_3_1_405b": (6000.0, 175.0),
    "llama_3_1_8b": (2000.0, 100.0),
}
"""MLPerf Server (TTFT, TPOT) limits per model, ms (applied here to means, not p99)."""

SINGLE_STREAM_DEFAULT = DatasetMeans(128.0, 512.0, "assumed short prompt; immaterial at batch 1")


@dataclass(frozen=True, slots=True)
class BenchmarkRow:
    index: int
    """0-based data row index."""
    line: int
    model: str
    gpu: str
    num_gpus: int
    tensor_parallel: int | None
    precision: str
    framework: str
    scenario: str
    input_len: float | None
    output_len: float | None
    concurrency_or_batch: float | None
    metric: str
    value: float
    source_url: str = ""


def _num(
    text: str,
    col: str,
    line: int,
    issues: list[InputIssue],
    file: str,
    *,
    required: bool,
    integer: bool = False,
) -> float | None:
    t = text.strip().replace(",", "")
    if t == "":
        if required:
            issues.append(InputIssue(path=col, message=f"{col} is required", line=line, file=file))
        return None
    try:
        v = float(t)
    except ValueError:
        issues.append(
            InputIssue(path=col, message=f"{col} must be a number, got {text!r}", line=line, file=file)
        )
        return None
    if not math.isfinite(v):
        issues.append(
            InputIssue(path=col, message=f"{col} must be finite, got {text!r}", line=line, file=file)
        )
        return None
    if integer and v != int(v):
        issues.append(
            InputIssue(path=col, message=f"{col} must be an integer, got {text!r}", line=line, file=file)
        )
        return None
    return v


def parse_benchmarks(text: str, file: str = "<benchmarks>") -> list[BenchmarkRow]:
    """Parse a benchmark CSV; raise InputError with every malformed cell."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            InputIssue(path="", message="empty file: expected the benchmark CSV header", file=file)
        ) from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    if tuple(header) != HEADER:
        raise InputError(
            InputIssue(
                path="header",
                message="expected header " + ",".join(HEADER) + "; got " + ",".join(header),
                line=1,
                file=file,
            )
        )
    rows: list[BenchmarkRow] = []
    issues: list[InputIssue] = []
    index = 0
    for rec in reader:
        line = reader.line_num
        if not rec or all(c.strip() == "" for c in rec):
            continue
        if len(rec) != len(HEADER):
            issues.append(
                InputIssue(
                    path="", message=f"expected {len(HEADER)} columns, got {len(rec)}", line=line, file=file
                )
            )
            index += 1
            continue
        cell = dict(zip(HEADER, rec, strict=True))
        n_before = len(issues)
        num_gpus = _num(cell["num_gpus"], "num_gpus", line, issues, file, required=True, integer=True)
        tp = _num(
            cell["tensor_parallel"], "tensor_parallel", line, issues, file, required=False, integer=True
        )
        for col in ("total_params_b", "active_params_b"):
            _num(cell[col], col, line, issues, file, required=False)
        i_len = _num(cell["input_len"], "input_len", line, issues, file, required=False)
        o_len = _num(cell["output_len"], "output_len", line, issues, file, required=False)
        conc = _num(cell["concurrency_or_batch"], "concurrency_or_batch", line, issues, file, required=False)
        value = _num(cell["value"], "value", line, issues, file, required=True)
        if num_gpus is not None and num_gpus < 1:
            issues.append(InputIssue(path="num_gpus", message="num_gpus must be >= 1", line=line, file=file))
        if tp is not None and tp < 1:
            issues.append(
                InputIssue(
                    path="tensor_parallel", message="tensor_parallel must be >= 1", line=line, file=file
                )
            )
        for col, v in (("input_len", i_len), ("output_len", o_len), ("concurrency_or_batch", conc)):
            if v is not None and v < 0:
                issues.append(InputIssue(path=col, message=f"{col} must be >= 0", line=line, file=file))
        if len(issues) == n_before:
            assert num_gpus is not None and value is not None
            rows.append(
                BenchmarkRow(
                    index=index,
                    line=line,
                    model=cell["model"].strip(),
                    gpu=cell["gpu"].strip(),
                    num_gpus=int(num_gpus),
                    tensor_parallel=None if tp is None else int(tp),
                    precision=cell["precision"].strip(),
                    framework=cell["framework"].strip(),
                    scenario=cell["scenario"].strip(),
                    input_len=i_len,
                    output_len=o_len,
                    concurrency_or_batch=conc,
                    metric=cell["metric"].strip(),
                    value=value,
                    source_url=cell["source_url"].strip(),
                )
            )
        index += 1
    if issues:
        raise InputError(issues)
    return rows


def read_benchmarks(path: str | Path) -> list[BenchmarkRow]:
    """Read a benchmark CSV from disk (InputError if missing, unreadable or malformed)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            InputIssue(path="", message=f"cannot read benchmark file: {exc.strerror or exc}", file=str(p))
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            InputIssue(path="", message="benchmark file is not UTF-8 text", file=str(p))
        ) from None
    return parse_benchmarks(text, str(p))


# -- mapping rows onto the catalog --------------------------------------------------------------


class Resolver:
    """Name lookups (model, gpu, precision) with skip reasons instead of exceptions."""

    def __init__(
        self,
        gpu: Callable[[str], GpuSpec],
        model: Callable[[str], ModelSpec],
        precision: Callable[[str], PrecisionSpec],
    ) -> None:
        self._gpu = gpu
        self._model = model
        self._precision = precision

    @staticmethod
    def _try(fn: Callable[[str], object], names: Sequence[str]) -> tuple[object | None, str | None]:
        err: str | None = None
        for n in names:
            if not n:
                continue
            try:
                return fn(n), None
            except OptimizerError as exc:
                err = err or str(exc)
        return None, err or "empty name"

    def resolve(self, row: BenchmarkRow) -> tuple[ModelSpec, GpuSpec, PrecisionSpec] | str:
        model, err = self._try(self._model, [row.model])
        if model is None:
            return f"unknown model {row.model!r} ({err})"
        gpu, err = self._try(self._gpu, [row.gpu])
        if gpu is None:
            return f"unknown GPU {row.gpu!r} ({err})"
        stripped = re.sub(r"\s*\(.*\)\s*$", "", row.precision)
        prec, err = self._try(self._precision, [row.precision, stripped])
        if prec is None:
            return f"unknown precision {row.precision!r} ({err})"
        assert isinstance(model, ModelSpec) and isinstance(gpu, GpuSpec) and isinstance(prec, PrecisionSpec)
        return model, gpu, prec


def default_resolver() -> Resolver:
    from optimizer.catalog import default_catalog

    cat = default_catalog()
    return Resolver(cat.gpu, cat.model, cat.precision)


# -- predicting one row -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowPrediction:
    row: BenchmarkRow
    predicted: float | None
    skipped: str | None
    tensor_parallel: int | None = None
    copies: int = 0
    input_tokens: float | None = None
    output_tokens: float | None = None
    gpu_family: str | None = None
    note: str | None = None
    """Caveat on a scored prediction (e.g. a measured batch beyond the modelled KV capacity)."""


def parse_scenario(s: str) -> tuple[str, float | None] | None:
    """`online_serving_qps=N` -> ("online_serving_qps", N) (inf allowed); others -> (kind, None)."""
    t = s.strip().lower()
    m = re.fullmatch(r"online_serving_qps\s*=\s*([0-9.eE+-]+|inf|infinity)", t)
    if m:
        try:
            q = float(m.group(1))
        except ValueError:
            return None
        if q <= 0 or math.isnan(q):
            return None
        return "online_serving_qps", q
    if t in SCENARIOS and t != "online_serving_qps":
        return t, None
    return None


def _lengths(row: BenchmarkRow, kind: str, model: ModelSpec) -> tuple[float, float] | str:
    i, o = row.input_len, row.output_len
    if i is not None and o is not None:
        return i, o
    ds: DatasetMeans | None = None
    if kind.startswith("mlperf"):
        ds = MLPERF_DATASETS.get(model.id)
    elif kind == "single_stream_decode":
        ds = SINGLE_STREAM_DEFAULT
    if ds is None:
        return "input/output lengths empty and no documented dataset means for this scenario and model"
    return (ds.input_tokens if i is None else i), (ds.output_tokens if o is None else o)


def _fitting_tps(
    model: ModelSpec,
    gpu: GpuSpec,
    prec: PrecisionSpec,
    num_gpus: int,
    i: float,
    o: float,
    params: CalibrationParams,
) -> list[int]:
    """Powers of two up to num_gpus (and the scale-up domain) at which the model fits."""
    from optimizer.perf.capacity import why_not_fit

    out: list[int] = []
    tp = 1
    while tp <= min(num_gpus, gpu.max_tensor_parallel):
        srv = Server(Replica(model, gpu, prec, tp, params), request_work(model, i, max(o, 1.0)))
        if why_not_fit(srv) is None:
            out.append(tp)
        tp *= 2
    return out


def _metric(
    point: OperatingPoint, metric: str, copies: int, num_gpus: int, i: float, o: float
) -> float | None:
    rate = point.requests_per_s * copies
    if metric == "output_tokens_per_s_total":
        return rate * o
    if metric == "output_tokens_per_s_per_gpu":
        return rate * o / num_gpus
    if metric == "total_tokens_per_s":
        return rate * (i + o)
    if metric == "requests_per_s":
        return rate
    if metric == "ttft_ms":
        return point.ttft_s * 1e3
    if metric == "itl_ms":
        return point.tpot_s * 1e3
    if metric == "e2e_latency_ms":
        return point.e2e_s * 1e3
    return None


def predict_row(row: BenchmarkRow, resolver: Resolver, params: CalibrationParams) -> RowPrediction:
    """Predict one published measurement, or say why it is skipped.

    An empty tensor_parallel is chosen as the source would have: among the powers of two up to
    num_gpus (and the GPU's scale-up domain) that fit, the one with the best predicted value for
    the row's metric (highest throughput, lowest latency), with num_gpus // tp data-parallel copies.
    """
    if row.metric not in METRICS:
        return RowPrediction(row, None, f"unknown metric {row.metric!r}")
    sc = parse_scenario(row.scenario)
    if sc is None:
        return RowPrediction(row, None, f"unknown scenario {row.scenario!r}")
    kind, qps = sc
    res = resolver.resolve(row)
    if isinstance(res, str):
        return RowPrediction(row, None, res)
    model, gpu, prec = res
    lens = _lengths(row, kind, model)
    if isinstance(lens, str):
        return RowPrediction(row, None, lens, gpu_family=gpu.family)
    i, o = lens
    if kind == "prefill_only":
        o = 0.0
    if row.tensor_parallel is not None:
        return _predict_at_tp(row, model, gpu, prec, kind, qps, i, o, row.tensor_parallel, params)
    options = _fitting_tps(model, gpu, prec, row.num_gpus, i, o, params)
    if not options:
        return RowPrediction(
            row, None, f"{model.name} does not fit on {row.num_gpus} x {gpu.name}", gpu_family=gpu.family
        )
    preds = [_predict_at_tp(row, model, gpu, prec, kind, qps, i, o, tp, params) for tp in options]
    scored = [p for p in preds if p.predicted is not None]
    if not scored:
        return preds[0]
    if row.metric in LATENCY_METRICS:
        return min(scored, key=lambda p: (p.predicted or 0.0, p.tensor_parallel or 0))
    return max(scored, key=lambda p: (p.predicted or 0.0, -(p.tensor_parallel or 0)))


def _predict_at_tp(
    row: BenchmarkRow,
    model: ModelSpec,
    gpu: GpuSpec,
    prec: PrecisionSpec,
    kind: str,
    qps: float | None,
    i: float,
    o: float,
    tp: int,
    params: CalibrationParams,
) -> RowPrediction:
    copies = max(1, row.num_gpus // tp)
    server = Server(Replica(model, gpu, prec, tp, params), request_work(model, i, max(o, 1.0)))
    from optimizer.perf.capacity import why_not_fit

    why = why_not_fit(server)
    tp_used = tp

    note: str | None = None

    def out(predicted: float | None, skipped: str | None) -> RowPrediction:
        return RowPrediction(
            row,
            predicted,
            skipped,
            tensor_parallel=tp_used,
            copies=copies,
            input_tokens=i,
            output_tokens=o,
            gpu_family=gpu.family,
            note=note,
        )

    if why is not None:
        return out(None, f"does not fit: {why}")
    n = row.concurrency_or_batch
    point: OperatingPoint
    if kind in ("offline_max_throughput", "mlperf_offline") or (
        kind == "online_serving_qps" and qps == math.inf
    ):
        if row.metric in ("ttft_ms", "e2e_latency_ms"):
            return out(None, "latency at infinite load depends on the request count")
        point = server.max_throughput()
    elif kind == "online_serving_qps":
        assert qps is not None
        point = server.at_rate(qps / copies)
    elif kind == "online_fixed_concurrency":
        if n is None or n <= 0:
            return out(None, "online_fixed_concurrency needs concurrency_or_batch")
        point = server.closed_loop(n / copies)
    elif kind in ("offline_latency_fixed_batch", "static_batch_throughput"):
        if n is None or n <= 0:
            return out(None, f"{kind} needs concurrency_or_batch")
        per_copy = max(1, math.ceil(n / copies))
        if per_copy > server.max_batch_static:
            note = f"measured batch {per_copy} exceeds the modelled KV capacity ({server.max_batch_static})"
        point = server.static_batch(per_copy)
    elif kind == "static_batch1_first_token":
        point = server.static_batch(1)
        if row.metric not in ("ttft_ms", "e2e_latency_ms", "itl_ms"):
            return out(None, f"metric {row.metric} undefined for static_batch1_first_token")
    elif kind == "single_stream_decode":
        point = server.static_batch(1)
        if row.metric in ("output_tokens_per_s_total", "output_tokens_per_s_per_gpu"):
            rate = 1.0 / point.tpot_s
            return out(rate * copies if row.metric.endswith("total") else rate * copies / row.num_gpus, None)
    elif kind == "prefill_only":
        b = max(1.0, n or 1.0)
        t = server.prefill_s(0.0, requests=b)
        tok_s = b * i / t * copies
        if row.metric == "total_tokens_per_s":
            return out(tok_s, None)
        if row.metric == "ttft_ms":
            return out(t * 1e3, None)
        if row.metric == "requests_per_s":
            return out(b / t * copies, None)
        return out(None, f"metric {row.metric} undefined for prefill_only")
    elif kind == "mlperf_server":
        limits = MLPERF_SERVER_LIMITS_MS.get(model.id, (2000.0, 200.0))
        best = server.best_meeting(limits[0] / 1e3, limits[1] / 1e3)
        if best is None:
            return out(
                0.0 if row.metric in THROUGHPUT_METRICS else None,
                None if row.metric in THROUGHPUT_METRICS else "cannot meet MLPerf limits",
            )
        point = best
    else:  # pragma: no cover - parse_scenario only returns known kinds
        return out(None, f"unsupported scenario {kind}")
    value = _metric(point, row.metric, copies, row.num_gpus, i, o)
    if value is None or not math.isfinite(value):
        return out(None, f"{row.metric} is unbounded at this load (overloaded)")
    return out(value, None)
