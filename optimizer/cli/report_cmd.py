"""`optimizer report PLAN --out report.html` (or `--format md`): the plan report for people.

HTML (default) is one self-contained page: inline CSS and SVG charts, no scripts, no network. With
`--format md` the same sections are written as Markdown tables. Without `--out` the report goes to
stdout (the document alone). Exit 0 ok, 2 for an unreadable or invalid plan (one failing its
independent re-check included) or output path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from optimizer.cli.plan_cmd import load_checked_plan
from optimizer.errors import ExitCode, InputError
from optimizer.outputs import atomic_write_text, check_output_path
from optimizer.report_doc import render_html, render_markdown


def register(sub: Any) -> None:
    """Add the `report` command to the top-level sub-parsers."""
    p = sub.add_parser(
        "report",
        help="write the plan report (self-contained HTML, or Markdown)",
        description="Write a report of a plan file: headline cost, cost per million tokens, savings, "
        "cost breakdown, capacity against demand, sites, latency margins, assumptions and caveats. "
        "Exit 0 ok, 2 invalid plan or output path.",
    )
    p.add_argument("plan", type=Path, help="plan file written by `optimizer solve --output`")
    p.add_argument("--out", "-o", type=Path, help="write here (default: stdout)")
    p.add_argument("--format", choices=("html", "md"), help="default: from --out's suffix, else html")
    p.set_defaults(func=run_report)


_SUFFIX_FORMAT = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def run_report(args: argparse.Namespace) -> int:
    if args.out is not None:  # refuse a bad output name before reading the plan
        if args.out.is_dir():
            raise InputError(f"--out {args.out}: is a folder; name a file such as {args.out / 'report.html'}")
        by_suffix = _SUFFIX_FORMAT.get(args.out.suffix.lower())
        if by_suffix is None:
            raise InputError(
                f"--out {args.out}: name the report .html or .md (its format follows the name; "
                "--format html|md without --out writes to stdout)"
            )
        if args.format is not None and args.format != by_suffix:
            raise InputError(f"--out {args.out} is a {by_suffix} name but --format is {args.format}")
        check_output_path(args.out, [args.plan], what="--out")
    plan = load_checked_plan(args.plan)
    fmt = args.format or (_SUFFIX_FORMAT[args.out.suffix.lower()] if args.out is not None else "html")
    text = render_markdown(plan) if fmt == "md" else render_html(plan)
    if args.out is None:
        sys.stdout.write(text)
        return int(ExitCode.OK)
    try:
        atomic_write_text(args.out, text)
    except OSError as exc:
        raise InputError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    print(f"report written to {args.out}", file=sys.stderr)
    return int(ExitCode.OK)
