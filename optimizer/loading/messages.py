"""The wording of input errors: pydantic errors rewritten with paths and lines, "did you mean",
and a cap on how many issues one file reports.

`validation_issues` turns a pydantic `ValidationError` on plain data into `InputIssue`s with dotted
paths (`workloads[2].slo.ttft_ms`), short messages (`must be a number (got 'many')`) and the source
line of each; `close_matches` / `did_you_mean` are the one fuzzy matcher every message uses (the
catalog's name suggestions included); `capped` keeps the first `MAX_ISSUES` issues of an error and
counts the rest.

Depends only on `optimizer.errors`, `optimizer.loading.yaml_source` and pydantic, so the catalog may
use it too.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from optimizer.errors import InputError, InputIssue
from optimizer.loading.yaml_source import LineMap, PathKey, format_path, short_repr

MAX_ISSUES = 50
"""Most issues one error reports; the rest are counted ("... and 12 more")."""
MAX_SUGGESTION_CHOICES = 5_000
"""Choices beyond this many are not searched for suggestions (keeps hostile inputs fast)."""


# --------------------------------------------------------------------------------------------
# Did you mean
# --------------------------------------------------------------------------------------------


def close_matches(name: str, choices: Iterable[str], limit: int = 1) -> list[str]:
    """Up to `limit` choices close to `name`: by similarity (difflib ratio >= 0.6, 0.5 for names of 4
    characters or fewer), then choices that contain `name` or that `name` contains (case-insensitive).

    >>> close_matches("h100_sxn", ["h100_sxm", "h200_sxm", "l4"])
    ['h100_sxm']
    >>> close_matches("h100", ["h100_sxm", "h100_pcie", "a100"], limit=3)
    ['a100', 'h100_sxm', 'h100_pcie']
    >>> close_matches("zzz", ["gpus", "models"])
    []
    """
    options = list(dict.fromkeys(choices))[:MAX_SUGGESTION_CHOICES]
    if not name or limit < 1:
        return []
    name = name[:128]
    found = difflib.get_close_matches(name, options, n=limit, cutoff=0.5 if len(name) <= 4 else 0.6)
    low = name.lower()
    for option in options:
        if len(found) >= limit:
            break
        if option not in found and option and (low in option.lower() or option.lower() in low):
            found.append(option)
    return found


def did_you_mean(name: str, choices: Iterable[str], limit: int = 1) -> str:
    """`"; did you mean 'x'?"` (or `'x', 'y'`) for the closest choices, or `""`.

    >>> did_you_mean("gpu", ["gpus", "models", "precisions", "prices"])
    "; did you mean 'gpus'?"
    """
    close = close_matches(name, choices, limit)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


# --------------------------------------------------------------------------------------------
# Pydantic errors rewritten
# --------------------------------------------------------------------------------------------


def annotation_alternatives(annotation: Any) -> list[Any]:
    """The alternatives of a (possibly Optional/Annotated/union) annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return annotation_alternatives(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [alt for arg in typing.get_args(annotation) for alt in annotation_alternatives(arg)]
    return [annotation]


def _children(annotation: Any, part: str | int) -> list[Any]:
    out: list[Any] = []
    for alt in annotation_alternatives(annotation):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            if isinstance(part, str) and part in alt.model_fields:
                out.append(alt.model_fields[part].annotation)
            continue
        origin, args = typing.get_origin(alt), typing.get_args(alt)
        if origin in (tuple, list) and isinstance(part, int) and args:
            out.append(args[0])
        elif origin is dict and isinstance(part, str) and len(args) == 2:
            out.append(args[1])
    return out


def model_fields_at(path: PathKey, root: type[BaseModel]) -> list[str]:
    """Field names of the model(s) found at `path` below `root` (empty where there is none).

    >>> from optimizer.schema.problem import Problem
    >>> model_fields_at(("workloads", 0, "slo"), Problem)
    ['ttft_ms', 'tpot_ms', 'percentile', 'deadline_hours']
    """
    annotations: list[Any] = [root]
    for part in path:
        annotations = [child for a in annotations for child in _children(a, part)]
    names: list[str] = []
    for a in annotations:
        for alt in annotation_alternatives(a):
            if isinstance(alt, type) and issubclass(alt, BaseModel):
                names.extend(n for n in alt.model_fields if n not in names)
    return names


_SHOULD = re.compile(r"^Input should be ")
_ID_PATTERN = "^[a-z][a-z0-9_]*$"
_TYPE_WORDS = (
    ("a valid dictionary or instance of", "a mapping (key: value) of"),
    ("a valid dictionary", "a mapping (key: value)"),
    ("a valid tuple", "a list"),
    ("a valid list", "a list"),
    ("a valid string", "a string"),
    ("a valid number, unable to parse string as a number", "a number"),
    ("a valid number", "a number"),
    ("a valid integer, unable to parse string as an integer", "a whole number"),
    ("a valid integer, got a number with a fractional part", "a whole number"),
    ("a valid integer", "a whole number"),
    ("a valid boolean, unable to interpret input", "true or false"),
    ("a valid boolean", "true or false"),
    ("a finite number", "a finite number (no inf or nan)"),
)
_BOUND_WORDS = {
    "greater_than": "greater than",
    "greater_than_equal": "greater than or equal to",
    "less_than": "less than",
    "less_than_equal": "at most",
}
_BOUND_KEYS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def format_number(value: float) -> str:
    """A bound as people write it: `10,000,000`, `0.5`, `1e12`.

    >>> [format_number(v) for v in (1e7, 0.5, 1e12, 604800, 256)]
    ['10,000,000', '0.5', '1e12', '604,800', '256']
    """
    if float(value).is_integer() and abs(value) < 1e9:
        return f"{int(value):,}"
    text = f"{value:g}"
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)


def _tidy(err: Mapping[str, Any], path: PathKey, is_key: bool, root: type[BaseModel]) -> str:
    kind: str = err["type"]
    msg: str = err["msg"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"missing required key {path[-1]!r}" if path else "missing required value"
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        fields = model_fields_at(path[:-1], root)
        hint = did_you_mean(key, fields)
        if not hint and fields:
            hint = "; allowed keys: " + ", ".join(fields)
        return f"unknown key {short_repr(key)}{hint}"
    if kind in ("value_error", "assertion_error"):
        ctx_error = ctx.get("error")
        return (
            str(ctx_error) if ctx_error is not None else re.sub(r"^(Value error|Assertion failed), ", "", msg)
        )
    if kind in _BOUND_WORDS and isinstance(ctx.get(_BOUND_KEYS[kind]), int | float):
        text = f"must be {_BOUND_WORDS[kind]} {format_number(ctx[_BOUND_KEYS[kind]])}"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == _ID_PATTERN:
        text = "must be a snake_case id (lower-case letters, digits and _, starting with a letter)"
    else:
        text = _SHOULD.sub("must be ", msg)
        text = re.sub(r"^String should", "must", text)
        text = re.sub(r"^(Tuple|List|Dictionary) should", "must", text).replace(" after validation", "")
        for old, new in _TYPE_WORDS:
            if old in text:
                text = text.replace(old, new)
                break
    if is_key:
        return f"key {short_repr(str(path[-1]))} {text}" if path else text
    if value is not None and not isinstance(value, dict | list | tuple) and kind != "literal_error":
        text += f" (got {short_repr(value)})"
    elif kind == "literal_error":
        text += f" (got {short_repr(value)})" if not isinstance(value, dict | list) else ""
        if isinstance(value, str):
            text += did_you_mean(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    return text


def _has(container: Any, part: str | int) -> bool:
    """Whether `part` indexes into `container` (a key of a dict, an index of a list)."""
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    if isinstance(container, list | tuple):
        return isinstance(part, int) and 0 <= part < len(container)
    return False


@dataclass
class _Located:
    path: PathKey
    union_at: int | None
    """Position in `path` of the first union alternative the error came from (None: not from a union)."""
    message: str


def _locate(err: Mapping[str, Any], data: Any, root: type[BaseModel]) -> _Located:
    """Strip pydantic's union-branch labels from an error's loc by walking the actual data."""
    loc = tuple(err["loc"])
    path: list[str | int] = []
    union_at: int | None = None
    is_key = False
    current: Any = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]" and last:
            is_key = True
        elif _has(current, part):
            path.append(part)
            current = current[part]
        elif last and err["type"] == "missing":
            path.append(part)
        elif isinstance(part, str):
            if union_at is None:
                union_at = len(path)
        else:
            path.append(part)
            current = None
    key = tuple(path)
    return _Located(path=key, union_at=union_at, message=_tidy(err, key, is_key, root))


def _union_merge(located: list[_Located]) -> list[_Located]:
    """Where several union alternatives failed: keep the errors of the alternatives that matched the data's
    shape (errors deeper than the union point); if none did, one message listing what was accepted."""
    plain = [e for e in located if e.union_at is None]
    groups: dict[PathKey, list[_Located]] = {}
    for e in located:
        if e.union_at is not None:
            groups.setdefault(e.path[: e.union_at], []).append(e)
    for point, errors in groups.items():
        deep = [e for e in errors if len(e.path) > len(point)]
        if deep:
            plain.extend(deep)
            continue
        options: list[str] = []
        for e in errors:
            option = re.sub(r" \(got .*\)$", "", e.message)
            option = option.removeprefix("must be ")
            if option not in options:
                options.append(option)
        got = re.search(r" \(got .*\)$", errors[0].message)
        message = "must be " + " or ".join(options) + (got.group(0) if got else "")
        plain.append(_Located(path=point, union_at=None, message=message))
    return plain


def validation_issues(
    exc: ValidationError,
    data: Any,
    root: type[BaseModel],
    *,
    lines: LineMap | None = None,
    filename: str | None = None,
    prefix: PathKey = (),
) -> list[InputIssue]:
    """Every pydantic error of validating `data` as `root`, as an `InputIssue` with a dotted path (under
    `prefix`), a tidy message and, given the document's `lines`, its source line."""
    located = _union_merge([_locate(err, data, root) for err in exc.errors(include_url=False)])
    issues: list[InputIssue] = []
    seen: set[tuple[str, str]] = set()
    for e in located:
        full = (*prefix, *e.path)
        path = format_path(full)
        if (path, e.message) in seen:
            continue
        seen.add((path, e.message))
        line = lines.line_of(full) if lines is not None else None
        issues.append(InputIssue(path=path, message=e.message, line=line, file=filename))
    return sort_issues(issues)


# --------------------------------------------------------------------------------------------
# Placing and capping
# --------------------------------------------------------------------------------------------


def sort_issues(issues: Iterable[InputIssue]) -> list[InputIssue]:
    """Issues in file order: files in the order they first appear, then by line, then by path."""
    items = list(issues)
    first: dict[str | None, int] = {}
    for issue in items:
        first.setdefault(issue.file, len(first))
    return sorted(items, key=lambda i: (first[i.file], i.line if i.line is not None else 0, i.path))


def placed(issues: Iterable[InputIssue], lines: LineMap, filename: str) -> list[InputIssue]:
    """Issues with paths into one document, given that document's file name and lines (an issue that
    already names another file keeps its own)."""
    out: list[InputIssue] = []
    for issue in issues:
        if issue.file is not None and issue.file != filename:
            out.append(issue)
            continue
        line = issue.line if issue.line is not None else lines.line_of(issue.path)
        out.append(InputIssue(path=issue.path, message=issue.message, line=line, file=filename))
    return out


def capped(issues: Iterable[InputIssue], limit: int = MAX_ISSUES) -> InputError:
    """One `InputError` with the first `limit` issues (in file order) and a count of the others."""
    ordered = sort_issues(issues)
    return InputError(ordered[:limit], omitted=max(0, len(ordered) - limit))
