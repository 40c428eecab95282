"""`optimizer perf predict|validate|calibrate`: the performance model from the command line.

- `predict`: memory, max batch, TTFT, TPOT and throughput of one replica at one operating point
  (`--concurrency C`, `--batch B [--static]`, `--qps Q`, `--ttft-ms/--tpot-ms` targets, or nothing
  for max throughput).
- `validate --benchmarks FILE.csv`: predict every row of a published-benchmark file (calibration CSV
  format) and report per-row errors, skipped rows with reasons, and per-metric APE summaries.
- `calibrate`: re-fit the family efficiencies (same as `python -m optimizer.perf.calibrate`).

Invalid input (unknown names, conflicting flags, malformed CSV) raises InputError: exit 2. A
configuration that does not fit in memory, or has no capacity meeting the latency targets, is still
shown (memory table, or the JSON document with `fits`/`reason`) and exits 3 with the reason and a fix
on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from optimizer.errors import ExitCode, InputError
from optimizer.perf.capacity import Draft, Prediction, Shape, predict
from optimizer.perf.validation import ValidationReport, markdown_report, signed_error_pct, validate_file

_PIPE_WIDTH = 200


def register(sub: Any) -> None:
    """Add `perf` and its sub-commands to the top-level sub-parsers."""
    parser = sub.add_parser(
        "perf",
        help="performance model: predict one configuration, validate against published benchmarks",
        description="Analytic LLM-inference performance model (see docs/performance-model.md).",
    )
    cmds = parser.add_subparsers(dest="perf_command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser(
        "predict",
        help="predict one replica at one operating point",
        description="Memory, max batch, TTFT, TPOT and throughput of one replica.",
    )
    p.add_argument("--model", required=True, help="catalog model name or alias")
    p.add_argument("--gpu", required=True, help="catalog GPU name or alias")
    p.add_argument("--precision", required=True, help="catalog precision name or alias")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel degree (GPUs per replica)")
    p.add_argument("--input-tokens", type=float, default=None, help="mean prompt tokens")
    p.add_argument("--output-tokens", type=float, required=True, help="mean generated tokens")
    p.add_argument("--audio-seconds", type=float, default=None, help="speech models: audio per request")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=float, help="closed loop: requests kept in flight")
    load.add_argument("--batch", type=float, help="running sequences (continuous batching)")
    load.add_argument("--qps", type=float, help="Poisson arrivals, requests/s")
    p.add_argument("--static", action="store_true", help="with --batch: one static batch, run to completion")
    p.add_argument("--ttft-ms", type=float, default=None, help="TTFT target (capacity mode)")
    p.add_argument("--tpot-ms", type=float, default=None, help="TPOT target (capacity mode)")
    p.add_argument(
        "--percentile",
        choices=["mean", "p90", "p99"],
        default="mean",
        help="statistic the TTFT/TPOT targets are stated for (capacity mode; default mean)",
    )
    p.add_argument(
        "--output-dist",
        choices=["fixed", "exponential"],
        default="fixed",
        help="output lengths: all equal (fixed) or exponential with mean --output-tokens",
    )
    p.add_argument("--engine", default=None, help="serving engine: trtllm (default), vllm, sglang, llama_cpp")
    p.add_argument("--ep", type=int, default=1, help="expert-parallel degree (MoE)")
    p.add_argument(
        "--dp", type=int, default=1, help="attention data-parallel groups (DEP), each of --tp GPUs"
    )
    p.add_argument("--pp", type=int, default=1, help="pipeline stages, each of --tp x --dp GPUs")
    p.add_argument("--draft-model", default=None, help="speculative decoding draft model")
    p.add_argument("--acceptance-rate", type=float, default=0.7, help="draft token acceptance rate")
    p.add_argument("--draft-tokens", type=int, default=4, help="draft tokens per verification step")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run_predict)

    v = cmds.add_parser(
        "validate",
        help="score the model against a published-benchmark CSV",
        description="Predict every row of a benchmark CSV (calibration format) and report errors.",
    )
    v.add_argument(
        "--benchmarks",
        default=None,
        metavar="FILE.csv",
        help="benchmark CSV (default: both shipped files, calibration_set.csv and generalization_set.csv)",
    )
    v.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE.yaml",
        help="calibration YAML to validate (default: the shipped one), e.g. written by perf calibrate --out",
    )
    v.add_argument("--json", action="store_true", help="print the JSON report")
    v.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the docs)")
    v.set_defaults(func=run_validate)

    c = cmds.add_parser(
        "calibrate",
        help="re-fit the per-family efficiencies on the calibration file",
        description=(
            "Fit the efficiency parameters on the calibration file (never the generalization file) and "
            "write the YAML to --out; overwriting the shipped calibration needs --replace-shipped. "
            "Progress goes to stderr."
        ),
    )
    c.add_argument(
        "--data", type=Path, default=None, help="benchmark CSV (default: packaged calibration_set.csv)"
    )
    c.add_argument("--out", type=Path, default=None, help="write the fitted YAML to this file")
    c.add_argument(
        "--replace-shipped",
        action="store_true",
        help="overwrite the shipped optimizer/perf/data/calibration.yaml",
    )
    c.add_argument("--dry-run", action="store_true", help="fit and print only")
    c.add_argument("--date", default=None, help="fit date to record (default: today)")
    c.set_defaults(func=run_calibrate)


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=_PIPE_WIDTH)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# -- predict --------------------------------------------------------------------------------------


def _check_predict_args(args: argparse.Namespace) -> None:
    problems: list[str] = []
    for flag in ("input_tokens", "output_tokens", "audio_seconds"):
        val = getattr(args, flag)
        if val is not None and not math.isfinite(val):
            problems.append(f"--{flag.replace('_', '-')} must be a finite number")
    if problems:
        raise InputError("; ".join(problems))
    if args.tp < 1:
        problems.append("--tp must be >= 1")
    if args.output_tokens < 1:
        problems.append("--output-tokens must be >= 1")
    if args.input_tokens is None and args.audio_seconds is None:
        problems.append("--input-tokens is required (or --audio-seconds for speech models)")
    if args.input_tokens is not None and args.input_tokens < 0:
        problems.append("--input-tokens must be >= 0")
    if args.audio_seconds is not None and args.audio_seconds <= 0:
        problems.append("--audio-seconds must be > 0")
    for flag in ("concurrency", "batch", "qps", "ttft_ms", "tpot_ms"):
        val = getattr(args, flag)
        if val is not None and (not math.isfinite(val) or val <= 0):
            problems.append(f"--{flag.replace('_', '-')} must be a positive number")
    if (args.ttft_ms is not None or args.tpot_ms is not None) and (
        args.concurrency is not None or args.batch is not None or args.qps is not None
    ):
        problems.append(
            "latency targets (--ttft-ms/--tpot-ms) cannot be combined with --concurrency/--batch/--qps"
        )
    if args.static and args.batch is None:
        problems.append("--static needs --batch")
    if not 0.0 <= args.acceptance_rate <= 1.0:
        problems.append("--acceptance-rate must be in [0, 1]")
    if not 1 <= args.draft_tokens <= 16:
        problems.append("--draft-tokens must be between 1 and 16 (as speculative.draft_tokens in a problem)")
    if args.ep < 1 or args.dp < 1 or args.pp < 1:
        problems.append("--ep, --dp and --pp must be >= 1")
    if problems:
        raise InputError("; ".join(problems))


def run_predict(args: argparse.Namespace) -> int:
    """Entry point of `optimizer perf predict`."""
    from optimizer.catalog import default_catalog

    _check_predict_args(args)
    cat = default_catalog()
    model = cat.model(args.model)
    gpu = cat.gpu(args.gpu)
    prec = cat.precision(args.precision)
    if model.modality == "speech" and args.audio_seconds is None:
        raise InputError(f"{model.id} is a speech model: give --audio-seconds (audio per request, seconds)")
    if model.modality != "speech" and args.audio_seconds is not None:
        raise InputError(
            f"--audio-seconds is only for speech models and {model.id} is a {model.modality} model; "
            "give --input-tokens instead"
        )
    if not cat.supports(gpu, prec):
        usable = [p.id for p in cat.precisions() if cat.supports(gpu, p)]
        raise InputError(
            f"{gpu.id} cannot run {prec.id} natively (needs {', '.join(prec.requires)}); "
            f"precisions it supports: {', '.join(usable)}"
        )
    draft = None
    if args.draft_model:
        draft = Draft(cat.model(args.draft_model), args.acceptance_rate, args.draft_tokens)
    from optimizer.perf.engines import ENGINES, with_engine
    from optimizer.perf.params import default_params

    if args.engine is not None and args.engine not in ENGINES:
        raise InputError(f"unknown engine {args.engine!r}; known: {', '.join(ENGINES)}")
    params = with_engine(default_params(), ENGINES[args.engine or "trtllm"])
    shape = Shape(args.input_tokens or 0.0, args.output_tokens, args.audio_seconds, args.output_dist)
    pred = predict(
        model,
        gpu,
        prec,
        args.tp,
        shape,
        concurrency=args.concurrency,
        batch=args.batch,
        static=args.static,
        qps=args.qps,
        ttft_ms=args.ttft_ms,
        tpot_ms=args.tpot_ms,
        draft=draft,
        params=params,
        dp=args.dp,
        ep=args.ep,
        percentile=args.percentile,
        pp=args.pp,
    )
    ident = {
        "model": model.id,
        "gpu": gpu.id,
        "precision": prec.id,
        "tp": args.tp,
        "input_tokens": shape.input_tokens,
        "output_tokens": shape.output_tokens,
        "audio_seconds": shape.audio_seconds,
    }
    if args.json:
        cap = {k: _finite(v) for k, v in asdict(pred.capacity).items()}
        print(
            json.dumps(
                {**ident, "mode": pred.mode, "overloaded": pred.overloaded, **cap}, indent=2, allow_nan=False
            )
        )
    else:
        _print_prediction(ident, pred)
    return _verdict(ident, pred)


def _verdict(ident: dict[str, Any], pred: Prediction) -> int:
    """Exit 3 (infeasible), with the reason and a fix on stderr, when the configuration cannot serve:
    it does not fit in memory, or no batch meets the latency targets; 0 otherwise."""
    cap = pred.capacity
    what = f"{ident['model']} on {ident['tp']} x {ident['gpu']} at {ident['precision']}"
    if not cap.fits:
        reason = cap.reason or "does not fit"
        fix = (
            "; use a larger --tp, a lower-precision --precision, a GPU with more memory, or shorter requests"
            if " GB" in reason
            else ""
        )
        print(f"infeasible: {what} does not fit: {reason}{fix}", file=sys.stderr)
        return int(ExitCode.INFEASIBLE)
    if cap.max_batch >= 1 and cap.batch > cap.max_batch:
        print(
            f"infeasible: {what} does not fit: a batch of {cap.batch:,} sequences needs more KV cache than "
            f"fits ({cap.max_batch:,} sequences at most); use a smaller --batch",
            file=sys.stderr,
        )
        return int(ExitCode.INFEASIBLE)
    if cap.requests_per_s <= 0:
        fix = "relax --ttft-ms/--tpot-ms, or try a faster GPU or a larger --tp"
        print(f"infeasible: {what} has no capacity: {cap.reason}; {fix}", file=sys.stderr)
        return int(ExitCode.INFEASIBLE)
    return int(ExitCode.OK)


def _fmt(x: float, digits: int = 1) -> str:
    if not math.isfinite(x):
        return "unbounded"
    return f"{x:,.{digits}f}"


def _print_prediction(ident: dict[str, Any], pred: Prediction) -> None:
    console = _console()
    cap = pred.capacity
    title = (
        f"{ident['model']} on {ident['tp']} x {ident['gpu']} at {ident['precision']} "
        f"({ident['input_tokens']:g} in / {ident['output_tokens']:g} out; mode {pred.mode})"
    )
    mem = Table(title=title + " - memory per GPU", show_header=True)
    mem.add_column("item")
    mem.add_column("GB", justify="right")
    mem.add_row("weights", _fmt(cap.weights_gb_per_gpu, 2))
    mem.add_row("KV budget (after weights and reserve)", _fmt(cap.kv_budget_gb_per_gpu, 2))
    mem.add_row("KV in use at operating point", _fmt(cap.kv_gb_per_gpu, 2))
    mem.add_row("total in use (weights + reserve + KV)", _fmt(cap.memory_gb_per_gpu, 2))
    console.print(mem)
    if not cap.fits or cap.requests_per_s <= 0:
        return  # `_verdict` says why on stderr (exit 3)
    op = Table(title="operating point (one replica)", show_header=True)
    op.add_column("quantity")
    op.add_column("value", justify="right")
    op.add_row("max batch (sequences whose KV fits)", str(cap.max_batch))
    op.add_row("running sequences (batch)", str(cap.batch))
    op.add_row("requests/s", _fmt(cap.requests_per_s, 3))
    op.add_row("output tokens/s", _fmt(cap.output_tokens_per_s))
    devices = max(cap.tensor_parallel * cap.data_parallel * cap.pipeline_parallel, 1)
    op.add_row("output tokens/s per GPU", _fmt(cap.output_tokens_per_s / devices))
    op.add_row(
        "TTFT (server) mean / p90 / p99, ms",
        " / ".join(_fmt(x) for x in (cap.ttft_mean_ms, cap.ttft_p90_ms, cap.ttft_p99_ms)),
    )
    op.add_row(
        "TPOT mean / p90 / p99, ms",
        " / ".join(_fmt(x, 2) for x in (cap.tpot_mean_ms, cap.tpot_p90_ms, cap.tpot_p99_ms)),
    )
    op.add_row("end-to-end latency, ms", _fmt(cap.e2e_ms))
    op.add_row("prefill share of GPU time", f"{cap.prefill_share:.0%}")
    op.add_row("max model length (engine setting)", str(cap.max_model_len))
    console.print(op)
    if pred.overloaded:
        console.print(
            "[bold yellow]overloaded:[/] the requested rate exceeds this replica's maximum throughput"
        )


# -- validate -------------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    """Entry point of `optimizer perf validate`."""
    from optimizer.perf.params import load_params
    from optimizer.perf.split import CALIBRATION_SET, GENERALIZATION_SET, data_dir

    params = load_params(args.params) if args.params is not None else None
    if args.benchmarks is not None:
        report = validate_file(args.benchmarks, params=params)
        if args.markdown:
            print(markdown_report(report), end="")
            return int(ExitCode.OK)
        if args.json:
            print(json.dumps(_json_safe(report.to_json()), indent=2, allow_nan=False))
            return int(ExitCode.OK)
        print_report(report, _console())
        return int(ExitCode.OK)
    reports = {
        "calibration": validate_file(data_dir() / CALIBRATION_SET, params=params),
        "generalization": validate_file(data_dir() / GENERALIZATION_SET, params=params),
    }
    if args.markdown:
        for name, rep in reports.items():
            print(f"### {name}\n")
            print(markdown_report(rep))
        return int(ExitCode.OK)
    if args.json:
        doc = {name: rep.to_json() for name, rep in reports.items()}
        print(json.dumps(_json_safe(doc), indent=2, allow_nan=False))
        return int(ExitCode.OK)
    console = _console()
    for name, rep in reports.items():
        file = CALIBRATION_SET if name == "calibration" else GENERALIZATION_SET
        console.rule(f"{name} file ({file})")
        print_report(rep, console)
    return int(ExitCode.OK)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return _finite(obj)


def print_report(report: ValidationReport, console: Console) -> None:
    """Per-row table, then per-metric summary."""
    rows = Table(title="per-row predictions", show_header=True)
    for col, just in (
        ("row", "right"),
        ("model", "left"),
        ("gpu", "left"),
        ("tp", "right"),
        ("prec", "left"),
        ("scenario", "left"),
        ("in/out", "left"),
        ("conc", "right"),
        ("metric", "left"),
        ("measured", "right"),
        ("predicted", "right"),
        ("error %", "right"),
        ("skipped (reason) / note", "left"),
    ):
        rows.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in report.results:
        err = signed_error_pct(r)
        io = "" if r.input_tokens is None else f"{r.input_tokens:g}/{r.output_tokens:g}"
        rows.add_row(
            str(r.row.index),
            r.row.model,
            r.row.gpu,
            "" if r.tensor_parallel is None else str(r.tensor_parallel),
            r.row.precision,
            r.row.scenario,
            io,
            "" if r.row.concurrency_or_batch is None else f"{r.row.concurrency_or_batch:g}",
            r.row.metric,
            f"{r.row.value:,.4g}",
            "" if r.predicted is None else f"{r.predicted:,.4g}",
            "" if err is None else f"{err:+.1f}",
            r.skipped or (f"note: {r.note}" if r.note else ""),
        )
    console.print(rows)
    summ = Table(title="summary (absolute percentage error over scored rows)", show_header=True)
    for col in ("metric", "count", "median APE %", "mean APE %", "worst APE %"):
        summ.add_column(col, justify="left" if col == "metric" else "right")
    for m, s in report.summary.items():
        summ.add_row(
            m, str(s.count), f"{s.median_ape_pct:.1f}", f"{s.mean_ape_pct:.1f}", f"{s.worst_ape_pct:.1f}"
        )
    for cls, s in report.by_class.items():
        summ.add_row(
            f"(all {cls} metrics)",
            str(s.count),
            f"{s.median_ape_pct:.1f}",
            f"{s.mean_ape_pct:.1f}",
            f"{s.worst_ape_pct:.1f}",
        )
    console.print(summ)
    for title, groups in (("hardware family", report.by_family), ("engine", report.by_engine)):
        grp = Table(title=f"median APE % by {title}", show_header=True)
        for col in (title, "throughput rows", "throughput median %", "latency rows", "latency median %"):
            grp.add_column(col, justify="left" if col == title else "right")
        for name, by_cls in groups.items():
            t, lat = by_cls.get("throughput"), by_cls.get("latency")
            grp.add_row(
                name,
                str(t.count) if t else "0",
                f"{t.median_ape_pct:.1f}" if t else "",
                str(lat.count) if lat else "0",
                f"{lat.median_ape_pct:.1f}" if lat else "",
            )
        console.print(grp)
    skipped = len(report.results) - report.scored
    console.print(
        f"scored {report.scored} of {len(report.results)} rows ({report.scored_fraction:.0%}); "
        f"skipped {skipped}"
    )


# -- calibrate ------------------------------------------------------------------------------------


def run_calibrate(args: argparse.Namespace) -> int:
    """Entry point of `optimizer perf calibrate`."""
    from optimizer.perf.calibrate import main as calibrate_main

    argv: list[str] = []
    if args.data is not None:
        argv += ["--data", str(args.data)]
    if args.out is not None:
        argv += ["--out", str(args.out)]
    if args.replace_shipped:
        argv.append("--replace-shipped")
    if args.dry_run:
        argv.append("--dry-run")
    if args.date is not None:
        argv += ["--date", args.date]
    return calibrate_main(argv)
