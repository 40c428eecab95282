"""Command-line interface: thin. Parse, call the library, print, exit with a documented code.

Each command group lives in its own module and registers its sub-parsers; `main` turns every
`OptimizerError` into its message and exit code and any other exception into exit 4 with a short
message (never a traceback unless `OPTIMIZER_DEBUG=1`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from optimizer import __version__
from optimizer.errors import ExitCode, OptimizerError


def build_parser() -> argparse.ArgumentParser:
    from optimizer.cli import catalog_cmd, perf_cmd, solve_cmd, validate_cmd

    parser = argparse.ArgumentParser(
        prog="optimizer",
        description="LLM-inference fleet planner. Exit codes: 0 ok, 1 solved but not proven optimal, "
        "2 invalid input, 3 infeasible, 4 solver or internal error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (validate_cmd, catalog_cmd, perf_cmd, solve_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors are invalid input
        code = exc.code if isinstance(exc.code, int) else ExitCode.INVALID_INPUT
        return int(ExitCode.INVALID_INPUT) if code not in (0,) else 0
    try:
        return int(args.func(args))
    except OptimizerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)
    except Exception as exc:
        if os.environ.get("OPTIMIZER_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (set OPTIMIZER_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL_ERROR)
