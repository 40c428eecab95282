"""`optimizer export PLAN --to FORMAT --out DIR`: provisioning files from a plan.

Formats: `vllm`, `skypilot`, `kubernetes`, `csv`, or `all` (each into its own sub-folder of DIR).
The written paths are listed on stdout, one per line (nothing else); notes go to stderr. Exit 0 on
success, 2 for an unreadable or invalid plan (one failing its independent re-check included: no
provisioning file is made from a plan that breaks its own rules) or an unwritable DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from optimizer.cli.plan_cmd import load_checked_plan
from optimizer.errors import ExitCode, InputError
from optimizer.export import FORMATS, export_plan


def register(sub: Any) -> None:
    """Add the `export` command to the top-level sub-parsers."""
    p = sub.add_parser(
        "export",
        help="write provisioning files from a plan (vllm, skypilot, kubernetes, csv)",
        description="Write provisioning files from a plan file: vLLM serve commands and --config YAML, "
        "SkyPilot SkyServe services, Kubernetes manifests (with a KEDA cron schedule), or the "
        "procurement CSV. Written paths are printed on stdout. Exit 0 ok, 2 invalid plan or output.",
    )
    p.add_argument("plan", type=Path, help="plan file written by `optimizer solve --output`")
    p.add_argument("--to", required=True, choices=(*FORMATS, "all"), help="export format")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created)")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    plan = load_checked_plan(args.plan)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; name a folder to write into")
    formats = FORMATS if args.to == "all" else (args.to,)
    written: list[Path] = []
    try:
        for fmt in formats:
            written += export_plan(plan, fmt, out / fmt if args.to == "all" else out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    for path in written:
        print(path)
    notes = sum(path.read_text(encoding="utf-8").count("ACTION NEEDED") for path in written)
    if notes:
        print(
            f"note: {notes} 'ACTION NEEDED' comment(s) in the written files; read them before applying",
            file=sys.stderr,
        )
    return int(ExitCode.OK)
