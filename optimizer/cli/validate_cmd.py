"""`optimizer validate FILE...` and `optimizer schema`.

`validate` loads each problem file (YAML, structure, catalog names, cross-references) and reports
every issue as `file:line: path: message` (the first 50 per file; the rest are counted). Exit 0 when
every file is valid, 2 when any is not. `--catalog-dir DIR` allows catalog files from DIR besides the
problem file's folder.
Warnings (things that will be assumed or ignored) are printed but do not fail validation.

`schema` prints the JSON Schema (Draft 2020-12) of the problem file, or with `--markdown` the field
reference table used in `problems/README.md`, or with `--plan` the JSON Schema of plan files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from optimizer.errors import ExitCode, InputError, InputIssue
from optimizer.loading.catalog_files import CATALOG_DIR_HELP
from optimizer.loading.messages import format_number
from optimizer.loading.problem_file import load_problem
from optimizer.schema.problem import SCHEMA_VERSION, Problem

SCHEMA_ID = f"https://fleet-optimizer.dev/schema/problem-v{SCHEMA_VERSION}.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def register(sub: Any) -> None:
    """Add the `validate` and `schema` commands to the top-level sub-parsers."""
    p = sub.add_parser(
        "validate",
        help="check problem files and report every issue with its line",
        description="Validate problem files: YAML, structure, catalog names and cross-references. "
        "Every issue is printed as FILE:LINE: PATH: MESSAGE. Exit 0 if all files are valid, 2 otherwise.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="problem YAML files")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout instead of text")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print warnings or 'ok' lines")
    add_catalog_dir_option(p)
    p.set_defaults(func=run_validate)

    s = sub.add_parser(
        "schema",
        help="print the JSON Schema of problem files (or of plan files with --plan)",
        description="Print the JSON Schema (Draft 2020-12) of the problem file, for editors and other tools; "
        "--markdown prints the field reference instead.",
    )
    s.add_argument("--markdown", action="store_true", help="print the field reference as Markdown tables")
    s.add_argument("--plan", action="store_true", help="print the JSON Schema of plan files instead")
    s.set_defaults(func=run_schema)


def _existing_dir(text: str) -> Path:
    """An existing folder (a mistyped --catalog-dir used to be accepted and allow nothing)."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: {'not a folder' if path.exists() else 'folder not found'}; give the folder that "
            "holds the catalog files"
        )
    return path


def add_catalog_dir_option(parser: argparse.ArgumentParser) -> None:
    """`--catalog-dir DIR` (repeatable): also allow the problem's catalog files from DIR.

    Commands that load problem files (`validate`, `solve`) pass `args.catalog_dir` to `load_problem`.
    """
    parser.add_argument(
        "--catalog-dir", action="append", type=_existing_dir, default=[], metavar="DIR", help=CATALOG_DIR_HELP
    )


def _issue_json(issue: InputIssue) -> dict[str, Any]:
    return {"file": issue.file, "line": issue.line, "path": issue.path, "message": issue.message}


def warning_text(issue: InputIssue) -> str:
    """`file:line: path: warning: message`."""
    return InputIssue(issue.path, f"warning: {issue.message}", issue.line, issue.file).render()


def run_validate(args: argparse.Namespace) -> int:
    """Validate every file; print all issues; exit 2 if any file is invalid."""
    report: list[dict[str, Any]] = []
    invalid = 0
    for name in args.files:
        errors: list[InputIssue] = []
        warnings: list[InputIssue] = []
        omitted = 0
        try:
            loaded = load_problem(name, catalog_dirs=args.catalog_dir)
            warnings = list(loaded.warnings)
        except InputError as exc:
            errors = [i if i.file else InputIssue(i.path, i.message, i.line, name) for i in exc.issues]
            omitted = exc.omitted
        invalid += bool(errors)
        if args.json:
            report.append(
                {
                    "file": name,
                    "valid": not errors,
                    "errors": [_issue_json(i) for i in errors],
                    "omitted_errors": omitted,
                    "warnings": [_issue_json(i) for i in warnings],
                }
            )
            continue
        for issue in errors:
            print(issue.render(), file=sys.stderr)
        if omitted:
            print(f"... and {omitted} more errors (not shown; fix the ones above first)", file=sys.stderr)
        if not args.quiet:
            for issue in warnings:
                print(warning_text(issue), file=sys.stderr)
        if errors:
            total = len(errors) + omitted
            shown = f", {len(errors)} shown" if omitted else ""
            print(f"invalid: {name} ({total} error{'s' if total != 1 else ''}{shown})", file=sys.stderr)
        elif not args.quiet:
            print(f"ok: {name}")
    if args.json:
        print(json.dumps({"valid": invalid == 0, "files": report}, indent=2))
    return int(ExitCode.INVALID_INPUT if invalid else ExitCode.OK)


def problem_json_schema() -> dict[str, Any]:
    """The problem file's JSON Schema (Draft 2020-12), with `$schema`, `$id` and `title`."""
    schema = Problem.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"Fleet optimizer problem file (schema_version {SCHEMA_VERSION})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def run_schema(args: argparse.Namespace) -> int:
    if args.plan:
        from optimizer.cli.plan_cmd import print_plan_schema

        if args.markdown:
            raise InputError("--plan and --markdown cannot be combined: the field reference is for problems")
        print_plan_schema()
        return int(ExitCode.OK)
    if args.markdown:
        print(field_reference_markdown(), end="")
    else:
        print(json.dumps(problem_json_schema(), indent=2))
    return int(ExitCode.OK)


# --------------------------------------------------------------------------------------------
# Field reference (Markdown), generated from the JSON Schema
# --------------------------------------------------------------------------------------------

_ID_PATTERN = "^[a-z][a-z0-9_]*$"


def _fmt_number(value: float) -> str:
    return format_number(value)


def _type_text(s: dict[str, Any]) -> str:
    """A short human type for one JSON-Schema property."""
    if "$ref" in s:
        name = str(s["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in s:
        parts = [_type_text(alt) for alt in s["anyOf"] if alt.get("type") != "null"]
        return " or ".join(parts)
    if "const" in s:
        return f"`{json.dumps(s['const'])}`"
    if "enum" in s:
        return " or ".join(f"`{v}`" for v in s["enum"])
    kind = s.get("type")
    if kind == "array":
        items = s.get("items")
        return f"list of {_type_text(items)}" if isinstance(items, dict) and items else "list"
    if kind == "object":
        values = s.get("additionalProperties")
        key = "name"
        patterns = s.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            pattern, values = next(iter(patterns.items()))
            key = "id" if pattern == _ID_PATTERN else "name"
        if isinstance(values, dict) and values:
            return f"mapping {key} → {_type_text(values)}"
        return "mapping"
    if kind in ("number", "integer"):
        word = "number" if kind == "number" else "integer"
        low = s.get("minimum")
        xlow = s.get("exclusiveMinimum")
        high = s.get("maximum")
        xhigh = s.get("exclusiveMaximum")
        bounds: list[str] = []
        if low is not None and high is not None:
            return f"{word} in [{_fmt_number(low)}, {_fmt_number(high)}]"
        if xlow is not None and xhigh is not None:
            return f"{word} in ({_fmt_number(xlow)}, {_fmt_number(xhigh)})"
        if xlow is not None and high is not None:
            return f"{word} in ({_fmt_number(xlow)}, {_fmt_number(high)}]"
        if low is not None and xhigh is not None:
            return f"{word} in [{_fmt_number(low)}, {_fmt_number(xhigh)})"
        if low is not None:
            bounds.append(f"≥ {_fmt_number(low)}")
        if xlow is not None:
            bounds.append(f"> {_fmt_number(xlow)}")
        if high is not None:
            bounds.append(f"≤ {_fmt_number(high)}")
        if xhigh is not None:
            bounds.append(f"< {_fmt_number(xhigh)}")
        return f"{word} {', '.join(bounds)}" if bounds else word
    if kind == "string":
        return "id" if s.get("pattern") == _ID_PATTERN else "string"
    if kind == "boolean":
        return "boolean"
    return str(kind or "any")


def _default_text(s: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in s:
        return ""
    value = s["default"]
    if value is None:
        return "omitted"
    if isinstance(value, dict):
        return "defaults" if value else "`{}`"
    if isinstance(value, list) and not value:
        return "`[]`"
    text = json.dumps(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _ref_description(prop: dict[str, Any], models: dict[str, dict[str, Any]]) -> str:
    """pydantic leaves out a field's description when it repeats the referenced model's docstring."""
    ref = prop.get("$ref")
    if ref is None:
        return ""
    return str(models.get(str(ref).rsplit("/", 1)[-1], {}).get("description", ""))


def field_reference_markdown() -> str:
    """One Markdown table per section of the problem file (fields, types, defaults, descriptions)."""
    schema = Problem.model_json_schema()
    defs: dict[str, dict[str, Any]] = schema.get("$defs", {})
    order: list[str] = ["Problem"]
    models: dict[str, dict[str, Any]] = {"Problem": schema, **defs}

    def refs(node: Any) -> list[str]:
        found: list[str] = []
        if isinstance(node, dict):
            if "$ref" in node:
                found.append(str(node["$ref"]).rsplit("/", 1)[-1])
            for key, value in node.items():
                if key != "$defs":
                    found.extend(refs(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(refs(value))
        return found

    i = 0
    while i < len(order):
        for name in refs(models[order[i]].get("properties", {})):
            if name not in order and name in models:
                order.append(name)
        i += 1
    out: list[str] = []
    for name in order:
        model = models[name]
        out.append(f"### {name}\n")
        if model.get("description"):
            out.append(_cell(str(model["description"])) + "\n")
        required = set(model.get("required", []))
        out.append("| field | type | default | description |")
        out.append("|---|---|---|---|")
        for field, prop in model.get("properties", {}).items():
            default = _default_text(prop, field in required)
            description = str(prop.get("description") or _ref_description(prop, models))
            out.append(f"| `{field}` | {_cell(_type_text(prop))} | {_cell(default)} | {_cell(description)} |")
        out.append("")
    return "\n".join(out)
