"""`optimizer plan validate PLAN...`, the plan's JSON Schema, and the plan-file loader other commands use.

`plan validate` checks each plan file in two steps: its structure against the plan schema of this
version (every error with its location), then the independent re-check of every constraint
(`optimizer.check.check_plan`) from the numbers the plan states. Exit 0 when every file passes, 2 when
any does not. `optimizer schema --plan` prints the JSON Schema (Draft 2020-12) of plan files.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from optimizer.check import check_plan
from optimizer.errors import ExitCode, InputError, InputIssue
from optimizer.schema.plan import PLAN_SCHEMA_VERSION, Plan

PLAN_SCHEMA_ID = f"https://fleet-optimizer.dev/schema/plan-v{PLAN_SCHEMA_VERSION}.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_ISSUES = 20
"""Most structural errors listed per file (the rest are counted)."""
MAX_PLAN_BYTES = 512 * 1024 * 1024
"""Largest plan file read, bytes (a plan of thousands of deployments and hourly routes is tens of MB)."""
_PLAN_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WRITE_ONE = "write one with `optimizer solve PROBLEM -o plan.yaml`"


def register(sub: Any) -> None:
    """Add the `plan` command group (`plan validate`) to the top-level sub-parsers."""
    p = sub.add_parser(
        "plan",
        help="work with plan files (validate)",
        description="Commands on plan files written by `optimizer solve --output`.",
    )
    plan_sub = p.add_subparsers(dest="plan_command", required=True, metavar="SUBCOMMAND")
    v = plan_sub.add_parser(
        "validate",
        help="check plan files against the plan schema and re-check every constraint",
        description="Validate plan files: structure against the plan schema (version "
        f"{PLAN_SCHEMA_VERSION}), then an independent re-check of every constraint. Exit 0 if all "
        "files pass, 2 otherwise.",
    )
    v.add_argument("plans", nargs="+", type=Path, metavar="PLAN", help="plan YAML or JSON files")
    v.add_argument("--json", action="store_true", help="print a JSON report on stdout instead of text")
    v.set_defaults(func=run_plan_validate)


def plan_json_schema() -> dict[str, Any]:
    """The plan file's JSON Schema (Draft 2020-12), with `$schema`, `$id` and `title`."""
    schema = Plan.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": PLAN_SCHEMA_ID,
        "title": f"Fleet optimizer plan (schema_version {PLAN_SCHEMA_VERSION})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_plan_file(path: Path) -> Plan:
    """Read and validate a plan file (YAML or JSON).

    Raises InputError naming the file and every structural error (up to MAX_ISSUES) with its location;
    a plan of another schema version gets one message saying which version and how to fix it.
    """
    name = str(path)
    text = _read_plan_text(path, name)
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_PLAN_LOADER)
    except (yaml.YAMLError, ValueError) as exc:
        raise InputError(InputIssue("", f"not a YAML or JSON plan: {exc}", file=name)) from None
    except RecursionError:
        raise InputError(InputIssue("", "not a plan file: nested too deeply", file=name)) from None
    if not isinstance(data, dict) or data.get("kind") != "fleet_plan":
        raise InputError(
            InputIssue(
                "",
                "not a plan file (no `kind: fleet_plan`); write one with "
                "`optimizer solve PROBLEM -o plan.yaml`",
                file=name,
            )
        )
    version = data.get("schema_version")
    if version != PLAN_SCHEMA_VERSION:
        raise InputError(
            InputIssue(
                "schema_version",
                f"plan schema_version {version!r}, this optimizer reads version {PLAN_SCHEMA_VERSION}; "
                "solve the problem again to write a current plan",
                file=name,
            )
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        issues = [InputIssue(_loc(tuple(e["loc"])), e["msg"], file=name) for e in errors[:MAX_ISSUES]]
        if len(errors) > MAX_ISSUES:
            issues.append(InputIssue("", f"... and {len(errors) - MAX_ISSUES} more errors", file=name))
        raise InputError(issues) from None
    problems = reference_issues(plan)
    if problems:
        issues = [InputIssue(path, message, file=name) for path, message in problems[:MAX_ISSUES]]
        if len(problems) > MAX_ISSUES:
            issues.append(InputIssue("", f"... and {len(problems) - MAX_ISSUES} more errors", file=name))
        raise InputError(issues)
    return plan


def reference_issues(plan: Plan) -> list[tuple[str, str]]:
    """(path, message) for every id a plan uses but does not define, and every negative or non-finite
    count or rate: a hand-edited plan the schema alone accepts, and that no command can read sensibly.

    Checked: periods non-empty; the workload, region, site, period and deployment (candidate) each
    flow, demand, serverless and unmet row names; deployments' and instances' sites, workloads and
    periods; rps >= 0 and replica and instance counts >= 0."""
    out: list[tuple[str, str]] = []
    periods = {p.id for p in plan.periods}
    known = {
        "workload": {w.id for w in plan.workloads},
        "region": {r.id for r in plan.regions},
        "site": {x.id for x in plan.sites},
        "period": periods,
        "candidate": {d.candidate for d in plan.deployments},
    }
    if not periods:
        out.append(("periods", "a plan lists at least one period"))

    def refs(path: str, item: Any, fields: tuple[str, ...]) -> None:
        for f in fields:
            value = getattr(item, f)
            if value not in known[f]:
                listed = ", ".join(sorted(known[f])[:8]) or "none"
                out.append((f"{path}.{f}", f"unknown {f} {value!r} (the plan's: {listed})"))

    def rate(path: str, value: float) -> None:
        if not math.isfinite(value) or value < 0:
            out.append((path, f"must be a finite number >= 0 (got {value!r})"))

    def counts(path: str, by_period: dict[str, int]) -> None:
        for t, n in by_period.items():
            if t not in periods:
                out.append((f"{path}.{t}", f"unknown period {t!r}"))
            elif n < 0:
                out.append((f"{path}.{t}", f"must be >= 0 (got {n})"))

    for i, f in enumerate(plan.routing):
        refs(f"routing[{i}]", f, ("workload", "region", "site", "period", "candidate"))
        rate(f"routing[{i}].rps", f.rps)
    for section, rows in (("demand", plan.demand), ("serverless", plan.serverless), ("unmet", plan.unmet)):
        for i, r in enumerate(rows):
            refs(f"{section}[{i}]", r, ("workload", "region", "period"))
            rate(f"{section}[{i}].rps", r.rps)
    for i, d in enumerate(plan.deployments):
        refs(f"deployments[{i}]", d, ("workload", "site"))
        counts(f"deployments[{i}].replicas_by_period", d.replicas_by_period)
        rate(f"deployments[{i}].predicted.capacity_rps", d.predicted.capacity_rps)
    for i, h in enumerate(plan.instances):
        refs(f"instances[{i}]", h, ("site",))
        counts(f"instances[{i}].instances_by_period", h.instances_by_period)
    return out


def load_checked_plan(path: Path) -> Plan:
    """`load_plan_file`, then the independent re-check: a plan that breaks any of its own rules (a
    hand-edited one, say) is refused with the first violations (exit 2), so no provisioning file or
    report is made from it."""
    plan = load_plan_file(path)
    violations = check_plan(plan)
    if violations:
        shown = [InputIssue("", f"re-check: {v}", file=str(path)) for v in violations[:5]]
        more = len(violations) - len(shown)
        tail = f"... and {more} more; " if more else ""
        shown.append(
            InputIssue(
                "",
                f"{tail}the plan fails its independent re-check, so it is not used; solve the problem "
                f"again (`optimizer plan validate {path}` lists every violation)",
                file=str(path),
            )
        )
        raise InputError(shown)
    return plan


def _read_plan_text(path: Path, name: str) -> str:
    """The text of a plan file, or an `InputError` saying plainly what is wrong with the path."""

    def fail(message: str) -> InputError:
        return InputError(InputIssue("", message, file=name))

    try:
        if not path.exists():
            raise fail(f"file not found; {_WRITE_ONE}")
        if not path.is_file():
            raise fail(f"not a regular file (a folder?); give a plan file, or {_WRITE_ONE}")
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise fail(f"the file is {size / 1e6:,.0f} MB, larger than the {MAX_PLAN_BYTES >> 20} MB limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(f"not a text file (not UTF-8); plan files are YAML or JSON text; {_WRITE_ONE}") from None


def run_plan_validate(args: argparse.Namespace) -> int:
    """Validate every plan file; print all issues; exit 2 if any file is invalid."""
    report: list[dict[str, Any]] = []
    invalid = 0
    for path in args.plans:
        errors: list[str] = []
        plan: Plan | None = None
        try:
            plan = load_plan_file(path)
        except InputError as exc:
            errors = [i.render() for i in exc.issues]
        if plan is not None:
            errors = [f"{path}: re-check: {msg}" for msg in check_plan(plan)]
        invalid += bool(errors)
        if args.json:
            report.append({"file": str(path), "valid": not errors, "errors": errors})
            continue
        for line in errors:
            print(line, file=sys.stderr)
        if errors:
            print(f"invalid: {path} ({len(errors)} error{'s' if len(errors) != 1 else ''})", file=sys.stderr)
        elif plan is not None:
            print(
                f"ok: {path} (plan schema_version {plan.schema_version}, "
                f"{len(plan.deployments)} deployments; every constraint re-checked)"
            )
    if args.json:
        print(json.dumps({"valid": invalid == 0, "files": report}, indent=2))
    return int(ExitCode.INVALID_INPUT if invalid else ExitCode.OK)


def print_plan_schema() -> None:
    print(json.dumps(plan_json_schema(), indent=2))
