"""Exit codes and the project's error types.

Exit codes (documented in the README, used by every command):

| code | meaning |
|---|---|
| 0 | success (a plan: proven optimal) |
| 1 | solved, but not proven optimal (time or gap limit) |
| 2 | invalid input (file, flag or catalog name) |
| 3 | infeasible problem (with a diagnosis) |
| 4 | solver or internal error, or a plan that failed its own re-check |
| 130 | interrupted (Ctrl-C); nothing partial is written |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOT_PROVEN_OPTIMAL = 1
    INVALID_INPUT = 2
    INFEASIBLE = 3
    INTERNAL_ERROR = 4
    INTERRUPTED = 130
    """Stopped by Ctrl-C (SIGINT), the shell's 128 + signal 2; nothing partial is written."""


@dataclass(frozen=True, slots=True)
class InputIssue:
    """One problem with an input: where, what, and how to fix it."""

    path: str
    """Location in the document, e.g. `workloads[2].slo.ttft_ms` (empty for the whole file)."""
    message: str
    line: int | None = None
    """1-based line in the source file, where known."""
    file: str | None = None

    def render(self) -> str:
        """`file:line: path: message`; a command-line problem (no file, line or path) is the message."""
        if self.file is None and self.line is None and not self.path:
            return self.message
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        loc = f" {self.path}:" if self.path else ""
        return f"{where}:{loc} {self.message}"


class OptimizerError(Exception):
    """Base class: every error the CLI turns into a message and an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class InputError(OptimizerError):
    """Invalid input; carries every issue found, not only the first."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, issues: list[InputIssue] | InputIssue | str, omitted: int = 0) -> None:
        if isinstance(issues, str):
            issues = [InputIssue(path="", message=issues)]
        elif isinstance(issues, InputIssue):
            issues = [issues]
        self.issues: list[InputIssue] = issues
        self.omitted = omitted
        """Further issues found but not listed (the loader caps how many one file reports)."""
        more = [f"... and {omitted} more (not shown; fix the ones above first)"] if omitted else []
        super().__init__("\n".join([*(i.render() for i in issues), *more]))


class UnknownNameError(InputError):
    """A catalog name that resolves to nothing; `suggestions` holds close matches."""

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(InputIssue(path="", message=f"unknown {kind} {name!r}{hint}"))


class InfeasibleError(OptimizerError):
    exit_code = ExitCode.INFEASIBLE


class SolverError(OptimizerError):
    exit_code = ExitCode.INTERNAL_ERROR


class PlanCheckError(OptimizerError):
    """A solved plan failed the independent re-check: never written as a success."""

    exit_code = ExitCode.INTERNAL_ERROR
