"""`optimizer solve` and `optimizer explain`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from optimizer.cli.sweep_cmd import add_override_arguments, load_with_overrides, overrides_from_args
from optimizer.cli.validate_cmd import add_catalog_dir_option, warning_text
from optimizer.errors import ExitCode, InputError
from optimizer.loading.problem_file import LoadedProblem
from optimizer.outputs import check_output_path
from optimizer.pipeline import SolveOptions, solve_loaded
from optimizer.report import dump_plan, print_explanations, print_summary, write_plan
from optimizer.schema.plan import Plan
from optimizer.schema.types import MAX_THREADS, MAX_TIME_LIMIT_S


def register(sub: Any) -> None:
    p = sub.add_parser(
        "solve",
        help="solve a problem file and print or write the plan",
        description="Solve a fleet-planning problem. Exit 0 proven optimal, 1 feasible but not "
        "proven optimal, 2 invalid input, 3 infeasible (with a diagnosis), 4 solver/internal error.",
    )
    p.add_argument("problem", type=Path, help="problem YAML file")
    add_catalog_dir_option(p)
    p.add_argument("--output", "-o", type=Path, help="write the plan here (.yaml or .json)")
    p.add_argument(
        "--format",
        choices=("table", "yaml", "json"),
        default="table",
        help="what to print on stdout (default: summary table)",
    )
    p.add_argument("--solver", choices=("highs", "cbc"), help="override the problem's solver")
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit, seconds")
    p.add_argument("--mip-gap", type=float, metavar="G", help="relative MIP gap at which to stop")
    p.add_argument("--threads", type=int)
    p.add_argument("--no-baselines", action="store_true", help="skip the baseline comparisons")
    p.add_argument("--explain", action="store_true", help="also print why each deployment was chosen")
    p.add_argument(
        "--quiet", "-q", action="store_true", help="no summary on stdout (scripts: use the exit code and -o)"
    )
    p.add_argument("--solver-log", action="store_true", help="show the solver's log (on stderr)")
    p.add_argument(
        "--timings", action="store_true", help="print wall time per phase on stderr (never in the plan)"
    )
    add_override_arguments(p)
    p.set_defaults(func=run_solve)

    e = sub.add_parser("explain", help="explain the choices in a plan file")
    e.add_argument("plan", type=Path, help="plan file written by `optimizer solve --output`")
    e.set_defaults(func=run_explain)


def run_solve(args: argparse.Namespace) -> int:
    if args.time_limit is not None and not 0 < args.time_limit <= MAX_TIME_LIMIT_S:
        raise InputError(f"--time-limit must be a number of seconds in (0, {MAX_TIME_LIMIT_S:,.0f}] (7 days)")
    if args.mip_gap is not None and not 0 <= args.mip_gap <= 1:
        raise InputError("--mip-gap must be between 0 and 1")
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise InputError(f"--threads must be between 1 and {MAX_THREADS}")
    if args.output is not None:  # refuse a bad output path before any work is done
        check_output_path(args.output, [args.problem], what="--output")
        if args.output.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise InputError(
                f"--output {args.output}: name the plan file .yaml, .yml or .json "
                "(its format follows the name)"
            )
    opts = SolveOptions(
        solver=args.solver,
        time_limit_s=args.time_limit,
        mip_gap=args.mip_gap,
        threads=args.threads,
        baselines=not args.no_baselines,
        msg=args.solver_log,
    )
    loaded = load_with_overrides(args.problem, args)
    for issue in loaded.warnings:  # what `validate` warns about, so a solve never hides it
        print(warning_text(issue), file=sys.stderr)
    result = solve_loaded(loaded, opts)
    plan = result.plan
    for note in unused_price_notes(loaded, plan, args):
        print(note, file=sys.stderr)
    if args.output is not None:
        write_plan(plan, args.output)
    if args.format == "table" and args.quiet:
        if args.explain:
            print_explanations(plan, Console(file=sys.stderr, width=160))
    elif args.format == "table":
        print_summary(plan)
        if args.output is not None:
            print(f"plan written to {args.output}")
        print(next_steps(args.output))
        if args.explain:
            print_explanations(plan)
    else:  # stdout carries the document alone; everything else goes to stderr
        sys.stdout.write(dump_plan(plan, args.format))
        sys.stdout.flush()
        if args.explain:
            print_explanations(plan, Console(file=sys.stderr, width=160))
    if args.timings:
        t = result.timings
        print(
            f"timings: candidates {t.candidates_s:.3f} s, build {t.build_s:.3f} s, solve {t.solve_s:.3f} s, "
            f"baselines {t.baselines_s:.3f} s, check {t.check_s:.3f} s, total {t.total_s:.3f} s",
            file=sys.stderr,
        )
    return int(ExitCode.OK if plan.status == "optimal" else ExitCode.NOT_PROVEN_OPTIMAL)


def unused_price_notes(loaded: LoadedProblem, plan: Plan, args: argparse.Namespace) -> list[str]:
    """A note for each price override (`--scale-price GPU=F`, `--set ...offers.GPU.prices...`) on a GPU
    type the plan does not use: the change left the plan's fleet and cost as they would be without it.
    """
    overrides = overrides_from_args(args)
    if not overrides:
        return []
    from optimizer.whatif.overrides import priced_gpus

    used = {(d.site, d.gpu) for d in plan.deployments}
    gpus = sorted({g for _, g in used})
    data = loaded.problem.model_dump(mode="json")
    notes: list[str] = []
    for text, gpu, site in dict.fromkeys(priced_gpus(data, overrides, loaded.catalog)):
        if site is None and gpu not in gpus:
            where = ""
        elif site is not None and (site, gpu) not in used:
            where = f" at {site}"
        else:
            continue
        notes.append(
            f"note: override {text!r}: the plan uses no {gpu} GPUs{where}, so this price change does not "
            f"affect its fleet or cost (GPU types in the plan: {', '.join(gpus) or 'none'})"
        )
    return notes


def next_steps(output: Path | None) -> str:
    """One line telling the user how to turn the plan into deployment files and a report."""
    if output is None:
        return (
            "next steps: solve again with -o plan.yaml, then `optimizer export plan.yaml --to "
            "vllm|skypilot|kubernetes|csv --out DIR` and `optimizer report plan.yaml --out report.html`"
        )
    return (
        f"next steps: optimizer export {output} --to kubernetes --out deploy/ (or vllm, skypilot, csv, all); "
        f"optimizer report {output} --out report.html"
    )


def load_plan(path: Path) -> Plan:
    """Read a plan file for `explain` and `diff`: the same reader and messages as `plan validate`,
    `export` and `report` (a problem file given by mistake is named as such, with the fix)."""
    from optimizer.cli.plan_cmd import load_plan_file

    return load_plan_file(path)


def run_explain(args: argparse.Namespace) -> int:
    print_explanations(load_plan(args.plan))
    return int(ExitCode.OK)
