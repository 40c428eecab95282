"""Command-line interface: thin. Parse, call the library, print, exit with a documented code.

Each command group lives in its own module and registers its sub-parsers; `main` turns every
`OptimizerError` into its message and exit code and any other exception into exit 4 with a short
message (never a traceback unless `OPTIMIZER_DEBUG=1`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence

from optimizer import __version__
from optimizer.errors import ExitCode, OptimizerError
from optimizer.outputs import remove_partial_outputs


def build_parser() -> argparse.ArgumentParser:
    from optimizer.cli import (
        catalog_cmd,
        diff_cmd,
        export_cmd,
        perf_cmd,
        plan_cmd,
        report_cmd,
        solve_cmd,
        sweep_cmd,
        validate_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="optimizer",
        description="LLM-inference fleet planner. Exit codes: 0 ok, 1 solved but not proven optimal, "
        "2 invalid input, 3 infeasible, 4 solver or internal error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        validate_cmd,
        catalog_cmd,
        perf_cmd,
        solve_cmd,
        plan_cmd,
        export_cmd,
        report_cmd,
        sweep_cmd,
        diff_cmd,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            _refuse_extras(parser, args, extras)
    except SystemExit as exc:  # argparse: usage errors are invalid input
        code = exc.code if isinstance(exc.code, int) else ExitCode.INVALID_INPUT
        return int(ExitCode.INVALID_INPUT) if code not in (0,) else 0
    _log_to_stderr()
    try:
        return _run_interruptibly(lambda: int(args.func(args)))
    except OptimizerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        remove_partial_outputs()
        print("interrupted: nothing was written", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader closed stdout early (`optimizer schema | head`): not an error of the command.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as exc:
        if os.environ.get("OPTIMIZER_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (set OPTIMIZER_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL_ERROR)


def _refuse_extras(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> None:
    """Unknown arguments: the usage of the command they were given to (not the top-level one), with a
    close flag where there is one (`validate --format json` -> `--json`). Exits 2 through argparse."""
    from optimizer.loading.messages import close_matches

    command = parser
    while True:
        subs = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if not subs or name not in subs[0].choices:
            break
        command = subs[0].choices[name]
    flags = [o for a in command._actions for o in a.option_strings if o.startswith("--")]
    hints = []
    for extra in extras:
        flag = extra.split("=", 1)[0]
        if not flag.startswith("--"):
            continue
        names = [f[2:] for f in flags]
        close = ["json"] if flag == "--format" and "json" in names else close_matches(flag[2:], names)
        if close:
            hints.append(f"{flag}: did you mean --{close[0]}?")
    command.error(f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else ""))


class _StderrHandler(logging.Handler):
    """Writes each record to whatever `sys.stderr` is at the time (never to stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _log_to_stderr() -> None:
    """Library warnings (e.g. a solver fallback) go to stderr as `WARNING: ...` lines; the
    environment variable OPTIMIZER_LOG=debug|info also shows the solver's phases."""
    log = logging.getLogger("optimizer")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
        wanted = os.environ.get("OPTIMIZER_LOG", "warning").upper()  # e.g. OPTIMIZER_LOG=debug
        log.setLevel(wanted if wanted in ("DEBUG", "INFO", "WARNING", "ERROR") else logging.WARNING)
        log.propagate = False


def _run_interruptibly(command: Callable[[], int]) -> int:
    """Run `command` in a worker thread so that Ctrl-C is honoured within a fraction of a second.

    Solvers run native code for minutes; Python only sees SIGINT between bytecodes of the main
    thread, so the main thread waits here in short joins instead. On Ctrl-C the partial outputs
    are removed and the process exits 130 at once (the solver thread is abandoned: no plan was
    written, and outputs are only ever written by atomic rename). Outside the main thread (tests
    calling `main` from a thread) the command runs directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return command()
    result: list[int] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(command())
        except BaseException as exc:  # re-raised in the main thread below
            error.append(exc)

    worker = threading.Thread(target=work, name="optimizer-command", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        remove_partial_outputs()
        try:
            print("interrupted: nothing was written", file=sys.stderr, flush=True)
            sys.stdout.flush()
        finally:
            os._exit(int(ExitCode.INTERRUPTED))
    if error:
        raise error[0]
    return result[0]
