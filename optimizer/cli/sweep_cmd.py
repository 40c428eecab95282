"""`optimizer sweep` and `optimizer frontier`, and the override options every solve accepts.

Thin: parse, call `optimizer.whatif`, print, exit. Progress (with ETA) and logs go to stderr; with
`--format json|csv` stdout holds the results document alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from optimizer.cli.validate_cmd import add_catalog_dir_option
from optimizer.errors import ExitCode, InputError
from optimizer.loading.problem_file import LoadedProblem
from optimizer.pipeline import SolveOptions
from optimizer.whatif.api import (
    SWEEP_THREADS,
    SweepResult,
    build_axes,
    results_csv,
    run_scenarios,
    write_results,
)
from optimizer.whatif.overrides import Override, apply_overrides, parse_override, parse_scale, read_source
from optimizer.whatif.runner import EXECUTORS, ScenarioOutcome, default_jobs
from optimizer.whatif.scenarios import expand, load_scenarios

# --------------------------------------------------------------------------------------------
# Overrides on any solve
# --------------------------------------------------------------------------------------------


class _OverrideAction(argparse.Action):
    """Collects --set / --scale-demand / --scale-price in the order given, tagged by kind."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((self.const, str(values)))
        setattr(namespace, self.dest, items)


def add_override_arguments(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """--set PATH=VALUE / 'PATH*=FACTOR', --scale-demand [WORKLOAD=]F, --scale-price [GPU=]F (repeatable,
    applied in the order given). `several`: the scale options take comma-separated values (sweep axes)."""
    values = "F1,F2,..." if several else "F"
    parser.add_argument(
        "--set",
        dest="overrides",
        action=_OverrideAction,
        const="set",
        metavar="PATH=VALUE",
        help="override a value of the problem"
        + (" (every scenario, first)" if several else "")
        + ": dotted path, list items by id (offers by gpu) or [N]; "
        "'PATH*=FACTOR' scales the current value. Repeatable, e.g. --set workloads.chat.slo.ttft_ms=300",
    )
    for flag, what in (
        ("--scale-demand", "every workload's daily demand (or WORKLOAD=...)"),
        (
            "--scale-price",
            "a GPU's effective price at every site and purchase option, file or catalog (GPU=...; "
            "a bare factor scales every GPU)",
        ),
    ):
        parser.add_argument(
            flag,
            dest="overrides" if not several else flag[2:].replace("-", "_"),
            action=_OverrideAction if not several else "append",
            const=flag[2:] if not several else None,
            metavar=f"[NAME=]{values}",
            help=f"multiply {what} by the factor" + (" (each value one scenario)" if several else ""),
        )


def overrides_from_args(args: argparse.Namespace) -> list[Override]:
    out: list[Override] = []
    for kind, text in getattr(args, "overrides", None) or []:
        out.append(parse_override(text) if kind == "set" else parse_scale(text, kind))
    return out


def load_with_overrides(path: Path, args: argparse.Namespace) -> LoadedProblem:
    """The problem file with the command line's overrides applied and validated (notes on stderr)."""
    overrides = overrides_from_args(args)
    catalog_dirs = getattr(args, "catalog_dir", None) or ()
    if not overrides:
        from optimizer.loading.problem_file import load_problem

        return load_problem(path, catalog_dirs=catalog_dirs)
    loaded, notes = apply_overrides(read_source(path, catalog_dirs), overrides)
    for note in notes:
        print(f"override: {note}", file=sys.stderr)
    return loaded


# --------------------------------------------------------------------------------------------
# sweep / frontier
# --------------------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("problem", type=Path, help="problem YAML file")
    add_catalog_dir_option(p)
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="a varied parameter ('PATH*=F1,F2' scales the current value); repeatable: every combination",
    )
    p.add_argument("--zip", action="store_true", help="pair the i-th values of the varied parameters instead")
    p.add_argument("--out", type=Path, metavar="DIR", help="write results.csv, results.json and charts here")
    p.add_argument("--plans", action="store_true", help="also write each scenario's plan to DIR/plans/")
    p.add_argument("--no-charts", action="store_true", help="do not draw charts")
    p.add_argument(
        "--chart-format", default="png,svg", metavar="png,svg", help="chart file formats (default: png,svg)"
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="what to print on stdout"
    )
    p.add_argument(
        "--jobs", "-j", type=int, metavar="N", help=f"worker processes (default: the cores, {default_jobs()})"
    )
    p.add_argument(
        "--executor", choices=EXECUTORS, default="process", help="where scenarios run (default: process)"
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler (with --executor dask); default: a local cluster",
    )
    p.add_argument("--solver", choices=("highs", "cbc"))
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit per scenario, seconds")
    p.add_argument("--mip-gap", type=float, metavar="G")
    p.add_argument(
        "--threads", type=int, default=SWEEP_THREADS, help="solver threads per scenario (default: 1)"
    )
    p.add_argument("--baselines", action="store_true", help="also compute each scenario's baselines (slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(sub: Any) -> None:
    s = sub.add_parser(
        "sweep",
        help="solve a problem under many what-ifs (parallel) and tabulate and chart the results",
        description="Solve every combination of the varied parameters (or every named scenario of "
        "--scenarios FILE). Exit 0 every scenario proven optimal, 1 some scenario not proven optimal, "
        "infeasible or failed (see its status), 2 invalid input or override, 4 internal error.",
    )
    _add_common(s)
    add_override_arguments(s, several=True)
    s.add_argument("--scenarios", type=Path, metavar="FILE", help="named scenarios, each a set of overrides")
    s.set_defaults(func=run_sweep, kind="sweep")

    f = sub.add_parser(
        "frontier",
        help="budget frontier (demand served per budget) or latency frontier (cost per target)",
        description="For each monthly budget, the most demand that can be served within it (shortfall "
        "allowed at the problem's penalty or --penalty); with --vary over a TTFT/TPOT target, the cost "
        "against the target. Exit codes as for sweep.",
    )
    _add_common(f)
    add_override_arguments(f)
    f.add_argument("--budgets", metavar="B1,B2,...", help="monthly budgets, USD per month")
    f.add_argument(
        "--penalty",
        type=float,
        metavar="USD_PER_M",
        help="shortfall penalty, USD per million unserved tokens",
    )
    f.set_defaults(func=run_sweep, kind="frontier")


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{flag} {text}: give comma-separated numbers, e.g. 100000,200000") from None


def _solve_options(args: argparse.Namespace) -> SolveOptions:
    if args.time_limit is not None and args.time_limit <= 0:
        raise InputError("--time-limit must be positive")
    if args.mip_gap is not None and not 0 <= args.mip_gap <= 1:
        raise InputError("--mip-gap must be between 0 and 1")
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    if args.scheduler and args.executor != "dask":
        raise InputError("--scheduler needs --executor dask")
    return SolveOptions(
        solver=args.solver,
        time_limit_s=args.time_limit,
        mip_gap=args.mip_gap,
        threads=args.threads,
        baselines=args.baselines,
    )


def _scenarios(args: argparse.Namespace) -> list[Any]:
    fixed = overrides_from_args(args)
    budgets = _numbers(args.budgets, "--budgets") if getattr(args, "budgets", None) else None
    if args.kind == "frontier":
        if not budgets and not args.vary:
            raise InputError("frontier needs --budgets B1,B2,... and/or --vary over a TTFT or TPOT target")
        if args.penalty is not None:
            fixed.append(parse_override(f"policy.shortfall.penalty_usd_per_million_tokens={args.penalty!r}"))
    axes = build_axes(
        args.vary,
        getattr(args, "scale_demand", None),
        getattr(args, "scale_price", None),
        budgets,
    )
    if getattr(args, "scenarios", None) is not None:
        if axes:
            raise InputError("give either --scenarios or --vary/--scale-demand/--scale-price, not both")
        return load_scenarios(args.scenarios, fixed)
    if not axes:
        raise InputError(
            "nothing to sweep: give --vary PATH=V1,V2, --scale-demand F1,F2, --scale-price, or --scenarios"
        )
    return expand(axes, fixed, args.zip)


def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "usd":
        return f"${value:,.0f}"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summary_table(result: SweepResult) -> Table:
    t = Table(
        title=f"{result.problem}: {len(result.records)} scenarios ({result.executor.name}, "
        f"{result.executor.workers} worker{'s' if result.executor.workers != 1 else ''}, "
        f"{result.wall_time_s:.1f} s)"
    )
    t.add_column("scenario")
    for p in result.parameters:
        t.add_column(p, justify="right")
    for name in ("status", "cost/month", "spend/month", "$/M tok", "met", "GPUs", "note"):
        t.add_column(name, justify="left" if name in ("status", "note") else "right")
    for r in result.records:
        gpus = ", ".join(f"{k[5:]} {v}" for k, v in r.items() if k.startswith("gpus.") and v)
        t.add_row(
            r["scenario"],
            *(_fmt(r.get(p)) for p in result.parameters),
            r["status"],
            _fmt(r.get("monthly_cost_usd"), "usd"),
            _fmt(r.get("monthly_spend_usd"), "usd"),
            "-" if r.get("usd_per_million_tokens") is None else f"{r['usd_per_million_tokens']:.3f}",
            _fmt(r.get("demand_met_share"), "pct"),
            gpus or "-",
            (r.get("error") or "")[:80],
        )
    return t


def run_sweep(args: argparse.Namespace) -> int:
    opts = _solve_options(args)
    formats = [f.strip() for f in args.chart_format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg")]
    if bad:
        raise InputError(f"--chart-format: unknown format {bad[0]!r}; use png and/or svg")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is a file; give a folder for the results")
    source = read_source(args.problem, args.catalog_dir)
    scenarios = _scenarios(args)
    err = Console(stderr=True)
    show_bar = not args.no_progress and err.is_terminal
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not show_bar,
    )
    task_id = progress.add_task(f"{args.kind} {source.filename}", total=len(scenarios))
    count = {"done": 0}

    def done(outcome: ScenarioOutcome) -> None:
        count["done"] += 1
        progress.advance(task_id)
        if not show_bar and not args.no_progress:
            cost = outcome.figures.get("monthly_cost_usd")
            shown = f" ${cost:,.0f}/month" if isinstance(cost, float) else ""
            print(
                f"[{count['done']}/{len(scenarios)}] {outcome.name}: {outcome.figures.get('status')}{shown} "
                f"({outcome.wall_s:.1f} s)",
                file=sys.stderr,
            )

    with progress:
        result = run_scenarios(
            source,
            scenarios,
            kind=args.kind,
            options=opts,
            executor=args.executor,
            jobs=args.jobs,
            scheduler=args.scheduler,
            keep_plans=args.plans,
            done=done,
        )
    written: list[Path] = []
    if args.out is not None:
        written = write_results(result, args.out)
        if not args.no_charts:
            from optimizer.whatif.charts import write_charts

            written += write_charts(result, args.out, formats)
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(result.document(), indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(results_csv(result))
    else:
        from optimizer.report import make_console

        make_console().print(summary_table(result))
    if args.format != "table":
        counts: dict[str, int] = {}
        for r in result.records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in counts.items())
        print(
            f"{len(result.records)} scenarios ({shown}) in {result.wall_time_s:.1f} s on "
            f"{result.executor.workers} {result.executor.name} worker(s)",
            file=sys.stderr,
        )
    if written:
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    ok = all(r["status"] == "optimal" for r in result.records)
    return int(ExitCode.OK if ok else ExitCode.NOT_PROVEN_OPTIMAL)
