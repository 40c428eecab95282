"""`optimizer diff PLAN_A PLAN_B`: what changed between two plans, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from optimizer.errors import ExitCode
from optimizer.whatif.diff import SECTIONS, diff_document


def register(sub: Any) -> None:
    d = sub.add_parser(
        "diff",
        help="what changed between two plans (cost terms, GPUs, precisions, routing)",
        description="Compare two plan files written by `optimizer solve --output` (or `sweep --plans`): "
        "headline figures, cost terms, GPUs by type, site and purchase option, GPUs by workload and "
        "precision, and routing shares. Exit 0 (also when they differ), 2 if a file is not a plan.",
    )
    d.add_argument("plan_a", type=Path, help="the first plan (before)")
    d.add_argument("plan_b", type=Path, help="the second plan (after)")
    d.add_argument("--format", choices=("table", "json"), default="table", help="what to print on stdout")
    d.add_argument("--all", action="store_true", help="also list figures that did not change")
    d.set_defaults(func=run_diff)


def _cell(value: Any, key: str, section: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if section == "routing_shares" or key.endswith("_share"):
        return f"{100 * value:.1f}%"
    if section == "cost_terms" or key.endswith("_usd"):
        return f"${value:,.0f}"
    if key == "usd_per_million_tokens":
        return f"${value:.3f}"
    return f"{value:g}"


def _delta(value: Any, key: str, section: str) -> str:
    if value is None:
        return ""
    if section == "routing_shares" or key.endswith("_share"):
        return f"{100 * value:+.1f} pp"
    if section == "cost_terms" or key.endswith("_usd"):
        return f"{'+' if value >= 0 else '-'}${abs(value):,.0f}"
    if key == "usd_per_million_tokens":
        return f"{value:+.3f}"
    return f"{value:+g}"


def run_diff(args: argparse.Namespace) -> int:
    from optimizer.cli.solve_cmd import load_plan
    from optimizer.report import make_console

    a, b = load_plan(args.plan_a), load_plan(args.plan_b)
    doc = diff_document(a, b, (str(args.plan_a), str(args.plan_b)), changed_only=not args.all)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return int(ExitCode.OK)
    con = make_console()
    if doc["identical"]:
        con.print(f"The plans are identical in every compared figure ({args.plan_a} vs {args.plan_b}).")
        if not args.all:
            return int(ExitCode.OK)
    table = Table(title=f"{args.plan_a} -> {args.plan_b}")
    for col, justify in (
        ("section", "left"),
        ("item", "left"),
        ("a", "right"),
        ("b", "right"),
        ("change", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for section in SECTIONS:
        for c in doc["sections"][section]:
            table.add_row(
                section.replace("_", " "),
                c["key"],
                _cell(c["a"], c["key"], section),
                _cell(c["b"], c["key"], section),
                _delta(c["delta"], c["key"], section),
            )
    con.print(table)
    return int(ExitCode.OK)
