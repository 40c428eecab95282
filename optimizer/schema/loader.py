"""Loading a problem file: loading that never lies.

`load_problem(path)` reads a YAML problem file and returns a `LoadedProblem` (the frozen `Problem`, the
catalog it refers to, and a map from document paths to source lines), or raises one `InputError`
carrying every issue found, each with a dotted path (`workloads[2].slo.ttft_ms`) and a line number.

The stages, each of which reports everything it finds before the next one runs:

1. bytes: at most `MAX_FILE_BYTES`, UTF-8 (a BOM is allowed), not empty;
2. YAML, through a safe composer with YAML 1.2 core scalars (`yes`/`no`/`on`/`off` stay strings,
   `1e9` is a number, `1:30` is a string, `2_000_000` is an integer), which rejects duplicate keys,
   tags other than the plain YAML ones (`!!python/object`, `!custom`, ...), nesting deeper than
   `MAX_DEPTH` and documents that expand (through aliases) to more than `MAX_NODES` nodes;
3. structure: `Problem.model_validate`, every pydantic error rewritten as a short message with the
   path and line of the offending key;
4. catalog: the built-in catalog extended by the problem's `catalog` section (files are relative to
   the problem file);
5. meaning: cross-references and feasibility checks in `optimizer.schema.semantic`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Union

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from optimizer.errors import InputError, InputIssue
from optimizer.schema.problem import Problem

if TYPE_CHECKING:
    from optimizer.catalog import Catalog

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest problem file accepted, bytes (real problem files are a few kB)."""
MAX_DEPTH = 48
"""Deepest nesting of mappings and sequences accepted (the schema needs 6)."""
MAX_NODES = 100_000
"""Most YAML nodes a document may expand to, aliases counted at every use (stops alias bombs)."""

PathKey = tuple[str | int, ...]
"""A location in the document: mapping keys and sequence indexes from the root."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null"))
_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(?:inf|nan)$", re.IGNORECASE)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")


# --------------------------------------------------------------------------------------------
# Paths and lines
# --------------------------------------------------------------------------------------------


def format_path(path: Iterable[str | int]) -> str:
    """Render a path the way messages cite it.

    >>> format_path(("workloads", 2, "slo", "ttft_ms"))
    'workloads[2].slo.ttft_ms'
    >>> format_path(("sites", 0, "latency_ms", "US East"))
    'sites[0].latency_ms["US East"]'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def parse_path(text: str) -> PathKey:
    """Inverse of `format_path`.

    >>> parse_path('workloads[2].slo.ttft_ms')
    ('workloads', 2, 'slo', 'ttft_ms')
    >>> parse_path('')
    ()
    """
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"not a document path: {text!r}")
        name, index, quoted = m.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(str(json.loads(quoted)))
        pos = m.end()
    return tuple(parts)


@dataclass(frozen=True)
class LineMap:
    """Source line (1-based) of every mapping key and sequence item in a document."""

    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey | str) -> int | None:
        """Line of `path`, or of its nearest ancestor present in the file (None for an empty map)."""
        key = parse_path(path) if isinstance(path, str) else tuple(path)
        while True:
            line = self.lines.get(key)
            if line is not None:
                return line
            if not key:
                return None
            key = key[:-1]


# --------------------------------------------------------------------------------------------
# YAML: a safe composer with YAML 1.2 core scalars and limits
# --------------------------------------------------------------------------------------------


class _LimitExceeded(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _ProblemYamlLoader(yaml.SafeLoader):
    """SafeLoader used only to compose a node tree (never to construct Python objects).

    Implicit scalar types follow the YAML 1.2 core schema (plus `_` digit separators), not YAML 1.1:
    `no`, `on`, `off`, `y` and dates stay strings; `1e9` is a float.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - replaced wholesale, never mutated

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _LimitExceeded(
                    f"nesting deeper than {MAX_DEPTH} levels; a problem file needs far fewer",
                    mark.line + 1 if mark else None,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_ProblemYamlLoader.add_implicit_resolver(
    _TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ProblemYamlLoader.add_implicit_resolver(
    _TAG + "int",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_ProblemYamlLoader.add_implicit_resolver(
    _TAG + "float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_ProblemYamlLoader.add_implicit_resolver(
    _TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_ProblemYamlLoader.add_implicit_resolver(_TAG + "merge", re.compile(r"^(?:<<)$"), ["<"])


def _too_large(size: int) -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return f"the file is {size / 1e6:.1f} MB, larger than the {limit} MB limit; a problem file is a few kB"


def _code_point(character: Any) -> str:
    """PyYAML gives the offending character as a code point (int) or a string."""
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def _has(container: Any, part: str | int) -> bool:
    """Whether `part` indexes into `container` (a key of a dict, an index of a list)."""
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return False


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's error in plain words, with the column and a hint for the usual causes."""
    what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
    mark = exc.problem_mark or exc.context_mark
    column = f" (column {mark.column + 1})" if mark is not None else ""
    hint = ""
    if any(
        s in what for s in ("<block end>", "mapping values are not allowed", "could not find expected ':'")
    ):
        hint = "; check the indentation, and that each 'key: value' has a space after the colon"
    elif "'\\t'" in what:
        hint = "; YAML does not allow tabs for indentation, use spaces"
    elif "found undefined alias" in what:
        hint = "; define the anchor (&name) before using the alias (*name)"
    return f"invalid YAML{column}: {what}{hint}"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Builder:
    """Turns a composed node tree into plain dicts/lists/scalars, recording the line of every path."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[PathKey, int] = {}
        self.issues: list[InputIssue] = []
        self.count = 0
        self._built: set[int] = set()
        """Nodes already built once: meeting one again means an alias is being expanded."""
        self._alias_depth = 0
        self._alias_use: PathKey = ()
        """Where the outermost alias being expanded is used (for the alias-bomb message)."""

    def issue(self, path: PathKey, line: int | None, message: str) -> None:
        self.issues.append(InputIssue(path=format_path(path), message=message, line=line, file=self.filename))

    def build(self, node: Node, path: PathKey, depth: int) -> Any:
        reused = id(node) in self._built
        if reused:
            if self._alias_depth == 0:
                self._alias_use = path
            self._alias_depth += 1
        self._built.add(id(node))
        try:
            return self._build(node, path, depth)
        finally:
            if reused:
                self._alias_depth -= 1

    def _use_line(self, node: Node) -> int | None:
        """Line to cite for `node`: where the outermost alias is used, when inside an expansion."""
        if self._alias_depth == 0:
            return _line(node)
        use = self._alias_use
        return self.lines.get(use if use and isinstance(use[-1], str) else use[:-1], _line(node))

    def _build(self, node: Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _LimitExceeded(
                f"the document expands to more than {MAX_NODES} nodes (aliases counted at every use) "
                f"at {format_path(self._alias_use if self._alias_depth else path) or 'the top'}; this "
                "looks like an alias bomb. Write the values out instead of nesting aliases",
                self._use_line(node),
            )
        if depth > MAX_DEPTH:
            raise _LimitExceeded(
                f"nesting deeper than {MAX_DEPTH} levels (a recursive alias?); "
                "a problem file needs far fewer",
                self._use_line(node),
            )
        self.lines.setdefault(path, _line(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self.bad_tag(node, path)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _TAG + "map":
                self.bad_tag(node, path)
            out: dict[str, Any] = {}
            for key, key_node, value_node in self.pairs(node, path, depth):
                child = (*path, key)
                self.lines[child] = _line(key_node)
                out[key] = self.build(value_node, child, depth + 1)
            return out
        raise _LimitExceeded(f"unsupported YAML node {type(node).__name__}", _line(node))  # pragma: no cover

    def bad_tag(self, node: Node, path: PathKey) -> None:
        tag = str(node.tag)
        shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
        self.issue(
            path,
            _line(node),
            f"YAML tag {shown!r} is not allowed; problem files hold plain mappings, lists, strings, numbers "
            "and booleans (remove the tag)",
        )

    def pairs(self, node: MappingNode, path: PathKey, depth: int) -> Iterator[tuple[str, Node, Node]]:
        """Key/value pairs of a mapping: explicit keys (duplicates reported), then `<<` merges."""
        seen: dict[str, int] = {}
        merges: list[Node] = []
        explicit: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(path, _line(key_node), "mapping keys must be plain names, not lists or mappings")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.bad_tag(key_node, path)
            key = str(key_node.value)
            if key in seen:
                self.issue(
                    (*path, key),
                    _line(key_node),
                    f"duplicate key {key!r}: first at line {seen[key]}, again at line {_line(key_node)}; "
                    "keep only one",
                )
                continue
            seen[key] = _line(key_node)
            explicit.append((key, key_node, value_node))
        yield from explicit
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.issue(
                        path, _line(source), "a '<<' merge key needs a mapping (or a list of mappings)"
                    )
                    continue
                if depth > MAX_DEPTH:
                    raise _LimitExceeded(f"merge keys nested deeper than {MAX_DEPTH} levels", _line(source))
                for key, key_node, value_node in self.pairs(source, path, depth + 1):
                    if key not in seen:
                        seen[key] = _line(key_node)
                        yield key, key_node, value_node

    def scalar(self, node: ScalarNode, path: PathKey) -> Any:
        tag, text = node.tag, str(node.value)
        if tag == _TAG + "str":
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            if text.lower() not in ("true", "false"):
                self.issue(path, _line(node), f"{text!r} is not a boolean; write true or false")
                return text
            return text.lower() == "true"
        if tag == _TAG + "int":
            digits = text.replace("_", "")
            if len(digits.lstrip("+-")) > 24:
                self.issue(path, _line(node), f"the number {_short(text)} is too large")
                return text
            try:
                value = int(digits, 0) if digits[:2].lower() in ("0x", "0o") else int(digits, 10)
            except ValueError:
                self.issue(path, _line(node), f"{text!r} is not a valid integer")
                return text
            if abs(value) > 2**63:
                self.issue(path, _line(node), f"the number {_short(text)} is too large")
                return text
            return value
        if tag == _TAG + "float":
            try:
                number = float(
                    text.replace("_", "").replace(".", "", 1)
                    if _SPECIAL_FLOAT.match(text)
                    else text.replace("_", "")
                )
            except ValueError:
                self.issue(path, _line(node), f"{text!r} is not a valid number")
                return text
            if not math.isfinite(number):
                self.issue(path, _line(node), f"{text!r} is not a finite number; give a finite value")
                return text
            return number
        self.bad_tag(node, path)
        return text


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document: plain data and the line of every path in it."""

    data: Any
    lines: LineMap


def parse_yaml(text: str, filename: str = "<text>") -> YamlDocument:
    """Parse YAML text safely (see the module docstring); raise `InputError` with every issue found."""

    def fail(message: str, line: int | None = None) -> InputError:
        return InputError(InputIssue(path="", message=message, line=line, file=filename))

    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise fail(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; a problem file is a few kB"
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    loader: _ProblemYamlLoader | None = None
    try:
        loader = _ProblemYamlLoader(text)  # checks for unprintable characters first
        root = loader.get_single_node()
    except _LimitExceeded as exc:
        raise fail(exc.message, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise fail(_yaml_message(exc), mark.line + 1 if mark is not None else None) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(0, int(exc.position))) + 1
        raise fail(
            f"invalid YAML: the control character {_code_point(exc.character)} is not allowed in a YAML "
            "file; remove it",
            line,
        ) from None
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise fail("the document is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise fail(
            "the file is empty (or holds only comments); a problem needs at least name, user_regions, "
            "sites and workloads"
        )
    builder = _Builder(filename)
    try:
        data = builder.build(root, (), 0)
    except _LimitExceeded as exc:
        raise fail(exc.message, exc.line) from None
    except RecursionError:
        raise fail("the document is nested too deeply") from None
    if builder.issues:
        raise InputError(builder.issues)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({_short(data)})"
        raise fail(
            "the file must be a mapping of sections (name:, user_regions:, sites:, workloads:, ...), "
            f"not {kind}",
            _line(root),
        )
    return YamlDocument(data=data, lines=LineMap(MappingProxyType(builder.lines)))


def decode_bytes(raw: bytes, filename: str) -> str:
    """UTF-8 (optionally with BOM) bytes to text, or an `InputError` naming the line of the first bad byte."""
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(
            InputIssue(
                path="",
                message=_too_large(len(raw)),
                file=filename,
            )
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            InputIssue(
                path="",
                message=f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                "save it as UTF-8",
                line=line,
                file=filename,
            )
        ) from None


# --------------------------------------------------------------------------------------------
# Structure: pydantic errors rewritten
# --------------------------------------------------------------------------------------------


def _flatten(annotation: Any) -> list[Any]:
    """The alternatives of a (possibly Optional/Annotated/union) annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [alt for arg in typing.get_args(annotation) for alt in _flatten(arg)]
    return [annotation]


def _children(annotation: Any, part: str | int) -> list[Any]:
    out: list[Any] = []
    for alt in _flatten(annotation):
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


def model_fields_at(path: PathKey, root: type[BaseModel] = Problem) -> list[str]:
    """Field names of the model(s) found at `path` in the schema (empty where there is none).

    >>> model_fields_at(("workloads", 0, "slo"))
    ['ttft_ms', 'tpot_ms', 'deadline_hours']
    """
    annotations: list[Any] = [root]
    for part in path:
        annotations = [child for a in annotations for child in _children(a, part)]
    names: list[str] = []
    for a in annotations:
        for alt in _flatten(a):
            if isinstance(alt, type) and issubclass(alt, BaseModel):
                names.extend(n for n in alt.model_fields if n not in names)
    return names


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    options = list(choices)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5 if len(name) <= 4 else 0.6)
    if not close:
        close = [c for c in options if name.lower() in c.lower() or c.lower() in name.lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


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
    ("a finite number", "a finite number"),
)


def _tidy(err: Mapping[str, Any], path: PathKey, is_key: bool) -> str:
    kind: str = err["type"]
    msg: str = err["msg"]
    value = err.get("input")
    if kind == "missing":
        return f"missing required key {path[-1]!r}" if path else "missing required value"
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        fields = model_fields_at(path[:-1])
        hint = did_you_mean(key, fields)
        if not hint and fields:
            hint = "; allowed keys: " + ", ".join(fields)
        return f"unknown key {key!r}{hint}"
    if kind in ("value_error", "assertion_error"):
        ctx_error = (err.get("ctx") or {}).get("error")
        return (
            str(ctx_error) if ctx_error is not None else re.sub(r"^(Value error|Assertion failed), ", "", msg)
        )
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == _ID_PATTERN:
        text = "must be a snake_case id (lower-case letters, digits and _, starting with a letter)"
    else:
        text = _SHOULD.sub("must be ", msg)
        text = re.sub(r"^String should", "must", text)
        text = re.sub(r"^(Tuple|List|Dictionary) should", "must", text)
        for old, new in _TYPE_WORDS:
            if old in text:
                text = text.replace(old, new)
                break
    if is_key:
        return f"key {str(path[-1])!r} {text}" if path else text
    if value is not None and not isinstance(value, dict | list | tuple) and kind != "literal_error":
        text += f" (got {_short(value)})"
    elif kind == "literal_error":
        text += f" (got {_short(value)})" if not isinstance(value, dict | list) else ""
    return text


@dataclass
class _Located:
    path: PathKey
    union_at: int | None
    """Position in `path` of the first union alternative the error came from (None: not from a union)."""
    message: str


def _locate(err: Mapping[str, Any], data: Any) -> _Located:
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
    return _Located(path=key, union_at=union_at, message=_tidy(err, key, is_key))


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


def validation_issues(exc: ValidationError, data: Any, lines: LineMap, filename: str) -> list[InputIssue]:
    """Every pydantic error as an `InputIssue` with a dotted path, a tidy message and the YAML line."""
    located = _union_merge([_locate(err, data) for err in exc.errors(include_url=False)])
    issues: list[InputIssue] = []
    seen: set[tuple[str, str]] = set()
    for e in located:
        path = format_path(e.path)
        if (path, e.message) in seen:
            continue
        seen.add((path, e.message))
        issues.append(InputIssue(path=path, message=e.message, line=lines.line_of(e.path), file=filename))
    return sort_issues(issues)


def sort_issues(issues: Iterable[InputIssue]) -> list[InputIssue]:
    return sorted(issues, key=lambda i: (i.line if i.line is not None else 0, i.path))


# --------------------------------------------------------------------------------------------
# The whole pipeline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedProblem:
    """A validated problem with its catalog and source locations."""

    problem: Problem
    catalog: Catalog
    """The built-in catalog extended by the problem's `catalog` section."""
    source: str
    """File name as given (or `<text>`)."""
    lines: LineMap
    warnings: tuple[InputIssue, ...] = ()
    """Issues that do not stop the problem from being solved (each says what is assumed)."""

    def line_of(self, path: PathKey | str) -> int | None:
        """Line of `path` (or of its nearest ancestor written in the file)."""
        return self.lines.line_of(path)

    def where(self, path: PathKey | str) -> str:
        """`file:line` of a path, for messages."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line is not None else self.source


def _placed(issues: Iterable[InputIssue], lines: LineMap, filename: str) -> list[InputIssue]:
    """Issues with paths into this document, given the document's file name and lines."""
    out: list[InputIssue] = []
    for issue in issues:
        try:
            line = lines.line_of(issue.path)
        except ValueError:  # a path we cannot parse: cite the nearest section we can
            line = lines.line_of(issue.path.split(".")[0].split("[")[0])
        out.append(InputIssue(path=issue.path, message=issue.message, line=line, file=filename))
    return sort_issues(out)


def build_catalog(
    problem: Problem, base_dir: Path, lines: LineMap, filename: str, base: Catalog | None = None
) -> Catalog:
    """The built-in catalog (or `base`) extended by the problem's `catalog` section."""
    from optimizer.catalog import default_catalog

    catalog = base if base is not None else default_catalog()
    ext = problem.catalog
    issues: list[InputIssue] = []
    for i, name in enumerate(ext.files):
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        where = f"catalog.files[{i}]"
        if not path.is_file():
            issues.append(
                InputIssue(
                    path=where,
                    message=f"catalog file {name!r} not found (looked for {path}); "
                    "paths are relative to the problem file",
                    line=lines.line_of(where),
                    file=filename,
                )
            )
            continue
        try:
            catalog = catalog.with_file(path)
        except InputError as exc:
            # Issues inside a catalog file cite that file; anything without a file is placed here.
            issues.extend(
                i_
                if i_.file
                else InputIssue(path=where, message=i_.message, line=lines.line_of(where), file=filename)
                for i_ in exc.issues
            )
    if ext.gpus or ext.models or ext.precisions:
        try:
            catalog = catalog.extended(
                gpus=list(ext.gpus),
                models=list(ext.models),
                precisions=list(ext.precisions),
                file=filename,
                path_prefix="catalog.",
            )
        except InputError as exc:
            issues.extend(_placed(exc.issues, lines, filename))
    if issues:
        raise InputError(sort_issues(issues))
    return catalog


def _validate(
    doc: YamlDocument, filename: str, base_dir: Path, catalog: Catalog | None, check: bool
) -> LoadedProblem:
    try:
        problem = Problem.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(validation_issues(exc, doc.data, doc.lines, filename)) from None
    cat = build_catalog(problem, base_dir, doc.lines, filename, base=catalog)
    warnings: list[InputIssue] = []
    if check:
        from optimizer.schema.semantic import check_problem

        report = check_problem(problem, cat)

        if report.errors:
            raise InputError(_placed(report.errors, doc.lines, filename))
        warnings = _placed(report.warnings, doc.lines, filename)
    return LoadedProblem(
        problem=problem, catalog=cat, source=filename, lines=doc.lines, warnings=tuple(warnings)
    )


def parse_problem_text(
    text: str | bytes,
    filename: str = "<text>",
    *,
    base_dir: Path | str | None = None,
    catalog: Catalog | None = None,
    check: bool = True,
) -> LoadedProblem:
    """Parse and validate a problem from text (or bytes).

    `base_dir` resolves `catalog.files` (default: the current directory); `catalog` replaces the
    built-in catalog as the base; `check=False` skips the semantic checks. Raises `InputError` only.
    """
    if isinstance(text, bytes):
        text = decode_bytes(text, filename)
    doc = parse_yaml(text, filename)
    return _validate(doc, filename, Path(base_dir) if base_dir is not None else Path.cwd(), catalog, check)


def load_problem(path: Path | str, *, catalog: Catalog | None = None, check: bool = True) -> LoadedProblem:
    """Read, parse and validate a problem file; raise one `InputError` with every issue found."""
    file = Path(path)
    name = str(path)
    try:
        size = file.stat().st_size
        if not file.is_file():
            raise InputError(InputIssue(path="", message="not a regular file", file=name))
        if size > MAX_FILE_BYTES:
            raise InputError(
                InputIssue(
                    path="",
                    message=_too_large(size),
                    file=name,
                )
            )
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError(InputIssue(path="", message="file not found", file=name)) from None
    except OSError as exc:
        raise InputError(
            InputIssue(path="", message=f"cannot read the file: {exc.strerror or exc}", file=name)
        ) from None
    if not raw.strip():
        raise InputError(
            InputIssue(
                path="",
                message="the file is empty; a problem needs at least name, user_regions, sites and workloads",
                file=name,
            )
        )
    text = decode_bytes(raw, name)
    doc = parse_yaml(text, name)
    return _validate(doc, name, file.resolve().parent, catalog, check)
