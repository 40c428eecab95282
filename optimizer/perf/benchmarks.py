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
from optimizer.perf.engines import EngineSpec, engine_from_framework, get_engine, with_engine
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
"""MLPerf Server (TTFT, TPOT) limits per model, ms; both are p99 limits and are applied as such."""

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
    source_title: str = ""
    dp: int = 1
    """Attention data-parallel groups stated in the parallelism column (DEP), 1 otherwise."""
    ep: int = 1
    """Expert-parallel degree stated in the parallelism column, 1 otherwise."""
    pp: int = 1
    """Pipeline stages stated in the parallelism column, 1 otherwise."""
    parallelism_error: str | None = None
    """Why the parallelism column could not be read (the row is then skipped with this reason)."""


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


@dataclass(frozen=True, slots=True)
class Parallelism:
    """Parallel layout of one measured replica."""

    tp: int | None
    """Tensor parallelism of attention (None: not stated, the validator chooses)."""
    dp: int = 1
    ep: int = 1
    pp: int = 1


_PAR_TOKEN = re.compile(r"(dep|attn[-_ ]?dp|adp|dp|tp|ep|pp)\s*[=:]?\s*(\d+)", re.IGNORECASE)


def parse_parallelism(text: str) -> Parallelism | str:
    """Read the `tensor_parallel` column: an integer TP degree, or a layout such as `TP8`, `EP8`,
    `TP8 EP8`, `DEP8` (attention data parallel 8 + expert parallel 8), `DP8xEP8`, `TP4 PP2`.

    Rules: `DEPn` = dp n, ep n, tp 1; `EPn` alone = experts over n devices with attention TP n
    (vLLM `--enable-expert-parallel`); unstated tp with dp = 1 stays unstated. Returns the reason
    when the text is not a layout.

    >>> parse_parallelism("8"), parse_parallelism("")
    (Parallelism(tp=8, dp=1, ep=1, pp=1), Parallelism(tp=None, dp=1, ep=1, pp=1))
    >>> parse_parallelism("DEP8"), parse_parallelism("TP8/EP8")
    (Parallelism(tp=1, dp=8, ep=8, pp=1), Parallelism(tp=8, dp=1, ep=8, pp=1))
    >>> parse_parallelism("EP4")
    Parallelism(tp=4, dp=1, ep=4, pp=1)
    """
    t = text.strip().replace(",", "")
    if t == "":
        return Parallelism(None)
    if re.fullmatch(r"\d+(\.0+)?", t):
        v = int(float(t))
        return Parallelism(v) if v >= 1 else f"tensor_parallel must be >= 1, got {text!r}"
    found = _PAR_TOKEN.findall(t)
    rest = re.sub(r"[\sx×+/&;()_-]|\band\b", "", _PAR_TOKEN.sub(" ", t), flags=re.IGNORECASE)
    if not found or rest:
        return f"cannot read parallelism {text!r} (expected an integer or e.g. TP8, EP8, DEP8, TP4 PP2)"
    vals: dict[str, int] = {}
    for key, num in found:
        k = key.lower().replace("-", "").replace("_", "").replace(" ", "")
        k = {"attndp": "dp", "adp": "dp"}.get(k, k)
        n = int(num)
        if n < 1:
            return f"parallel degree must be >= 1 in {text!r}"
        if k == "dep":
            vals["dp"], vals["ep"] = n, n
            vals.setdefault("tp", 1)
        else:
            vals[k] = n
    tp = vals.get("tp")
    dp, ep, pp = vals.get("dp", 1), vals.get("ep", 1), vals.get("pp", 1)
    if tp is None and (dp > 1 or ep > 1):
        tp = max(ep // dp, 1)
    return Parallelism(tp, dp, ep, pp)


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
        layout = parse_parallelism(cell["tensor_parallel"])
        for col in ("total_params_b", "active_params_b"):
            _num(cell[col], col, line, issues, file, required=False)
        i_len = _num(cell["input_len"], "input_len", line, issues, file, required=False)
        o_len = _num(cell["output_len"], "output_len", line, issues, file, required=False)
        conc = _num(cell["concurrency_or_batch"], "concurrency_or_batch", line, issues, file, required=False)
        value = _num(cell["value"], "value", line, issues, file, required=True)
        if num_gpus is not None and num_gpus < 1:
            issues.append(InputIssue(path="num_gpus", message="num_gpus must be >= 1", line=line, file=file))
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
                    tensor_parallel=layout.tp if isinstance(layout, Parallelism) else None,
                    precision=cell["precision"].strip(),
                    framework=cell["framework"].strip(),
                    scenario=cell["scenario"].strip(),
                    input_len=i_len,
                    output_len=o_len,
                    concurrency_or_batch=conc,
                    metric=cell["metric"].strip(),
                    value=value,
                    source_url=cell["source_url"].strip(),
                    source_title=cell["source_title"].strip(),
                    dp=layout.dp if isinstance(layout, Parallelism) else 1,
                    ep=layout.ep if isinstance(layout, Parallelism) else 1,
                    pp=layout.pp if isinstance(layout, Parallelism) else 1,
                    parallelism_error=layout if isinstance(layout, str) else None,
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


_MEMORY = re.compile(r"[-_ (]*(\d+(?:\.\d+)?)\s*gi?b\)?", re.IGNORECASE)
_VENDOR = re.compile(r"\b(nvidia|amd|instinct|intel|habana|tesla|geforce)\b[-_ ]*", re.IGNORECASE)
_FORM = re.compile(r"[-_ ]*\b(sxm[45]?|oam|hbm3e?|nvl\d*)\b", re.IGNORECASE)
_MODEL_SUFFIX = re.compile(
    r"[-_ ]+(instruct|chat|hf|base|fp8|fp4|nvfp4|awq|gptq|bf16|fp16|int4|int8|w4a16|w8a8|dynamic|it)$",
    re.IGNORECASE,
)
MODEL_ARCH_ALIASES: dict[str, str] = {
    # DeepSeek-R1 is a post-trained DeepSeek-V3: the same architecture and config values.
    "deepseekr1": "DeepSeek-V3",
    "deepseekv30324": "DeepSeek-V3",
}
"""Models whose architecture is another catalog entry's (same config.json numbers)."""


def gpu_name_candidates(name: str) -> list[str]:
    """Spellings to try for an accelerator name, most specific first: as written, without the
    memory size (`Gaudi2-96GB` -> `Gaudi2`), without vendor words, without the form factor.

    >>> gpu_name_candidates("Gaudi2-96GB")
    ['Gaudi2-96GB', 'Gaudi2']
    >>> gpu_name_candidates("AMD Instinct MI300X OAM 192GB")[-1]
    'MI300X'
    """
    out = [name]
    no_mem = _MEMORY.sub("", name).strip(" -_")
    no_vendor = _VENDOR.sub("", no_mem).strip(" -_")
    no_form = _FORM.sub("", no_vendor).strip(" -_")
    for cand in (no_mem, no_vendor, no_form):
        if cand and cand not in out:
            out.append(cand)
    return out


def stated_memory_gb(name: str) -> float | None:
    """Memory size written in an accelerator name (`H100-80GB` -> 80), if any."""
    m = _MEMORY.search(name)
    return float(m.group(1)) if m else None


def model_name_candidates(name: str) -> list[str]:
    """Spellings to try for a model: as written, then without deployment suffixes (`-Instruct`,
    `-FP8`, `-hf`...), then a documented same-architecture alias (DeepSeek-R1 -> DeepSeek-V3).

    >>> model_name_candidates("Llama-3.1-70B-Instruct-FP8")
    ['Llama-3.1-70B-Instruct-FP8', 'Llama-3.1-70B-Instruct', 'Llama-3.1-70B']
    >>> model_name_candidates("deepseek-ai/DeepSeek-R1")[-1]
    'DeepSeek-V3'
    """
    out = [name]
    base = name.split("/", 1)[1] if "/" in name else name
    cur = base
    while True:
        nxt = _MODEL_SUFFIX.sub("", cur)
        if nxt == cur or not nxt:
            break
        cur = nxt
        out.append(cur)
    key = re.sub(r"[^a-z0-9]+", "", cur.lower())
    if key in MODEL_ARCH_ALIASES:
        out.append(MODEL_ARCH_ALIASES[key])
    return out


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
        """Catalog entries of a row, or why not.

        Unstated precision (empty cell) = the engine's default (`engines.EngineSpec.default_precision`:
        the model's native BF16 for vLLM, SGLang, TensorRT-LLM; GGUF F16 for llama.cpp). A GPU name
        that carries a memory size resolves only to an entry within 12% of it (`H100-94GB` is not an
        H100 SXM 80GB)."""
        model, err = self._try(self._model, model_name_candidates(row.model))
        if model is None:
            return f"unknown model {row.model!r} ({err})"
        gpu, err = self._try(self._gpu, gpu_name_candidates(row.gpu))
        if gpu is None:
            return f"unknown GPU {row.gpu!r} ({err})"
        assert isinstance(gpu, GpuSpec)
        mem = stated_memory_gb(row.gpu)
        if mem is not None and abs(mem / gpu.memory_gb - 1.0) > 0.12:
            return (
                f"GPU {row.gpu!r} states {mem:g} GB but the closest catalog entry {gpu.id} has "
                f"{gpu.memory_gb:g} GB (add that variant to the catalog)"
            )
        text = row.precision.strip()
        if text == "":
            text = engine_for_row(row).default_precision
        stripped = re.sub(r"\s*\(.*\)\s*$", "", text)
        inner = re.findall(r"\(([^)]*)\)", text)
        prec, err = self._try(self._precision, [text, stripped, *inner])
        if prec is None:
            return f"unknown precision {row.precision!r} ({err})"
        assert isinstance(model, ModelSpec) and isinstance(prec, PrecisionSpec)
        return model, gpu, prec


def engine_for_row(row: BenchmarkRow) -> EngineSpec:
    """The engine a row was measured with (from `framework`, then the source title); the reference
    engine (TensorRT-LLM) when neither names one."""
    return engine_from_framework(row.framework) or engine_from_framework(row.source_title) or get_engine(None)


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
    engine: str | None = None
    """Serving engine the row was predicted with (`engines.ENGINES` id)."""
    dp: int = 1
    ep: int = 1
    pp: int = 1


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


Layout = tuple[int, int, int, int]
"""(tp, dp, ep, pp) of one replica."""


def _fits(
    model: ModelSpec,
    gpu: GpuSpec,
    prec: PrecisionSpec,
    layout: Layout,
    i: float,
    o: float,
    params: CalibrationParams,
) -> bool:
    from optimizer.perf.capacity import why_not_fit

    tp, dp, ep, pp = layout
    srv = Server(
        Replica(model, gpu, prec, tp, params, dp=dp, ep=ep, pp=pp), request_work(model, i, max(o, 1.0))
    )
    return why_not_fit(srv) is None


def _fitting_layouts(
    model: ModelSpec,
    gpu: GpuSpec,
    prec: PrecisionSpec,
    num_gpus: int,
    i: float,
    o: float,
    params: CalibrationParams,
) -> list[Layout]:
    """Layouts tried when a row leaves parallelism unstated (the engines' default is tensor
    parallelism): powers of two up to num_gpus and the scale-up domain at which the model fits. A
    mixture-of-experts model that fits no such TP falls back to expert parallelism over all
    num_gpus devices with attention TP t and data parallel num_gpus / t (as deployed across nodes); a
    dense model that fits no TP is pipelined across nodes: TP = the scale-up domain, PP = num_gpus / TP."""
    out: list[Layout] = []
    tp = 1
    while tp <= min(num_gpus, gpu.max_tensor_parallel):
        if _fits(model, gpu, prec, (tp, 1, 1, 1), i, o, params):
            out.append((tp, 1, 1, 1))
        tp *= 2
    if not out and model.is_moe:
        tp = 1
        while tp <= min(num_gpus, gpu.max_tensor_parallel):
            lay = (tp, num_gpus // tp, num_gpus, 1)
            if num_gpus % tp == 0 and _fits(model, gpu, prec, lay, i, o, params):
                out.append(lay)
            tp *= 2
    if not out:
        tp = min(num_gpus, gpu.max_tensor_parallel)
        lay = (tp, 1, 1, num_gpus // tp)
        if lay[3] > 1 and _fits(model, gpu, prec, lay, i, o, params):
            out.append(lay)
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
    if row.parallelism_error is not None:
        return RowPrediction(row, None, row.parallelism_error)

    sc = parse_scenario(row.scenario)
    if sc is None:
        return RowPrediction(row, None, f"unknown scenario {row.scenario!r}")
    kind, qps = sc
    res = resolver.resolve(row)
    if isinstance(res, str):
        return RowPrediction(row, None, res)
    model, gpu, prec = res
    engine = engine_for_row(row)
    params = with_engine(params, engine)
    lens = _lengths(row, kind, model)
    if isinstance(lens, str):
        return RowPrediction(row, None, lens, gpu_family=gpu.family, engine=engine.id)
    i, o = lens
    if kind == "prefill_only":
        o = 0.0
    if row.tensor_parallel is not None:
        layout = (row.tensor_parallel, row.dp, row.ep, row.pp)
        return _predict_at_tp(row, model, gpu, prec, kind, qps, i, o, layout, params)
    options = _fitting_layouts(model, gpu, prec, row.num_gpus, i, o, params)
    if not options:
        return RowPrediction(
            row,
            None,
            f"{model.name} does not fit on {row.num_gpus} x {gpu.name} with tensor, expert or pipeline "
            "parallelism",
            gpu_family=gpu.family,
            engine=engine.id,
        )
    preds = [_predict_at_tp(row, model, gpu, prec, kind, qps, i, o, lay, params) for lay in options]
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
    layout: Layout,
    params: CalibrationParams,
) -> RowPrediction:
    tp, dp, ep, pp = layout
    copies = max(1, row.num_gpus // (tp * dp * pp))
    server = Server(
        Replica(model, gpu, prec, tp, params, dp=dp, ep=ep, pp=pp), request_work(model, i, max(o, 1.0))
    )
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
            engine=params.engine,
            dp=dp,
            ep=ep,
            pp=pp,
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
        best = server.best_meeting(limits[0] / 1e3, limits[1] / 1e3, "p99")
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
