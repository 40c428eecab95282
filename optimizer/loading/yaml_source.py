"""Bytes to plain data with a line for every path: the one YAML reader of the project.

Problem files, catalog files (the user's and the packaged ones) all go through `read_source` (a
regular file of at most `MAX_FILE_BYTES`), `decode_bytes` (UTF-8, a BOM allowed, the line of the
first bad byte otherwise) and `parse_yaml`, a safe composer with YAML 1.2 core scalars (`yes`/`no`/
`on`/`off` and dates stay strings, `1e9` is a number, `1:30` is a string, `2_000_000` is an integer)
which rejects duplicate keys, tags other than the plain YAML ones (`!!python/object`, `!custom`,
...), non-finite numbers, nesting deeper than `MAX_DEPTH` and documents that expand (through aliases)
to more than `MAX_NODES` nodes. Every failure is an `InputError` naming the file, and a line
wherever the failure is at a place in the file.

This module depends only on `optimizer.errors` and PyYAML, so every layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from optimizer.errors import InputError, InputIssue

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest input file accepted, bytes (real problem files are a few kB, catalog files tens of kB)."""
MAX_DEPTH = 48
"""Deepest nesting of mappings and sequences accepted (the problem schema needs 6, catalogs 3)."""
MAX_NODES = 100_000
"""Most YAML nodes a document may expand to, aliases counted at every use (stops alias bombs)."""
MAX_INT_DIGITS = 24
"""Longest integer literal accepted, digits (anything longer is no count of anything)."""

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
        """Line of `path`, or of its nearest ancestor present in the file (None for an empty map).

        A path given as text that does not parse is cited at its first section (or not at all).
        """
        if isinstance(path, str):
            try:
                key = parse_path(path)
            except ValueError:
                head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", path)
                key = (head.group(0),) if head else ()
        else:
            key = tuple(path)
        while True:
            line = self.lines.get(key)
            if line is not None:
                return line
            if not key:
                return None
            key = key[:-1]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document: plain data (None for an empty document) and the line of every path."""

    data: Any
    lines: LineMap


# --------------------------------------------------------------------------------------------
# Reading and decoding
# --------------------------------------------------------------------------------------------


def too_large(size: int, kind: str) -> str:
    """The message for a file over `MAX_FILE_BYTES`."""
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return f"the file is {size / 1e6:.1f} MB, larger than the {limit} MB limit for a {kind}"


def read_source(path: Path, shown_as: str, kind: str) -> bytes:
    """The bytes of a regular file of at most `MAX_FILE_BYTES` (never more is read), else `InputError`.

    `shown_as` is the name messages cite; `kind` (e.g. `problem file`) is what the file should be.
    """

    def fail(message: str) -> InputError:
        return InputError(InputIssue(path="", message=message, file=shown_as))

    try:
        if not path.is_file():
            if not path.exists():
                raise fail("file not found")
            raise fail(f"not a regular file; a {kind} is a YAML text file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise fail(too_large(size, kind))
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:  # it grew while we looked
        raise fail(too_large(len(raw), kind))
    return raw


def decode_bytes(raw: bytes, filename: str, kind: str = "problem file") -> str:
    """UTF-8 (optionally with BOM) bytes to text, or an `InputError` naming the line of the first bad byte."""
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(InputIssue(path="", message=too_large(len(raw), kind), file=filename))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            InputIssue(
                path="",
                message=f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}, "
                "perhaps Latin-1 or Windows-1252); save it as UTF-8",
                line=line,
                file=filename,
            )
        ) from None


# --------------------------------------------------------------------------------------------
# YAML: a safe composer with YAML 1.2 core scalars and limits
# --------------------------------------------------------------------------------------------


class _LimitExceeded(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_FAST = bool(getattr(yaml, "__with_libyaml__", False))
"""Whether PyYAML has its libyaml (C) parser: about 40 times faster than the pure-Python one."""
_EventParser: type[Any] = yaml.CSafeLoader if _FAST else yaml.SafeLoader


class _SafeComposer(_EventParser):  # type: ignore[misc]
    """A safe YAML parser used only for its events (never to construct Python objects), with the implicit
    scalar types of the YAML 1.2 core schema (plus `_` digit separators), not YAML 1.1: `no`, `on`,
    `off`, `y` and dates stay strings; `1e9` is a float.

    `compose` builds the node tree from the events without recursion, counting depth and nodes as it
    goes, so no input can exhaust the stack or memory before a limit stops it.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - replaced wholesale, never mutated

    def compose(self, kind: str) -> Node | None:
        """The single document's root node (None for an empty stream)."""
        self.get_event()  # stream start
        if self.check_event(StreamEndEvent):
            return None
        self.get_event()  # document start
        root = self._compose_root(kind)
        self.get_event()  # document end
        if not self.check_event(StreamEndEvent):
            second: Any = self.get_event().start_mark
            raise ComposerError(
                "expected a single document in the stream", root.start_mark, "but found another one", second
            )
        return root

    def _compose_root(self, kind: str) -> Node:
        anchors: dict[str, Node] = {}
        stack: list[SequenceNode | MappingNode] = []
        keys: list[Node | None] = []  # per open collection: a mapping's key awaiting its value
        count = 0
        while True:
            event: Any = self.get_event()
            if isinstance(event, SequenceEndEvent | MappingEndEvent):
                done = stack.pop()
                keys.pop()
                done.end_mark = event.end_mark
                if not stack:
                    return done
                continue
            node: Node
            count += 1
            if count > MAX_NODES:
                raise _LimitExceeded(
                    f"the document has more than {MAX_NODES} nodes; a {kind} is far smaller",
                    event.start_mark.line + 1,
                )
            mark: Any = event.start_mark
            if isinstance(event, AliasEvent):
                if event.anchor not in anchors:
                    raise ComposerError(None, None, f"found undefined alias {short_repr(event.anchor)}", mark)
                node = anchors[event.anchor]
            else:
                anchor = event.anchor
                if anchor is not None and anchor in anchors:
                    raise ComposerError(
                        f"found duplicate anchor {short_repr(anchor)}; first occurrence",
                        anchors[anchor].start_mark,
                        "second occurrence",
                        event.start_mark,
                    )
                node = self._node(event)
                if anchor is not None:
                    anchors[anchor] = node
            if not stack:
                if not isinstance(node, SequenceNode | MappingNode):
                    return node
            else:
                parent = stack[-1]
                if isinstance(parent, SequenceNode):
                    parent.value.append(node)
                elif keys[-1] is None:
                    keys[-1] = node
                else:
                    parent.value.append((keys[-1], node))
                    keys[-1] = None
            if isinstance(node, SequenceNode | MappingNode) and not isinstance(event, AliasEvent):
                stack.append(node)
                keys.append(None)
                if len(stack) > MAX_DEPTH:
                    raise _LimitExceeded(
                        f"nesting deeper than {MAX_DEPTH} levels; a {kind} needs far fewer",
                        event.start_mark.line + 1,
                    )

    def _node(self, event: Any) -> Node:
        tag = event.tag
        start: Any = event.start_mark  # a C or a Python mark, alike in use
        end: Any = event.end_mark
        if isinstance(event, ScalarEvent):
            if tag is None or tag == "!":
                tag = self.resolve(ScalarNode, event.value, event.implicit)
            return ScalarNode(tag, event.value, start, end, style=event.style)
        if isinstance(event, SequenceStartEvent):
            if tag is None or tag == "!":
                tag = self.resolve(SequenceNode, None, event.implicit)
            return SequenceNode(tag, [], start, None, flow_style=event.flow_style)
        if isinstance(event, MappingStartEvent):
            if tag is None or tag == "!":
                tag = self.resolve(MappingNode, None, event.implicit)
            return MappingNode(tag, [], start, None, flow_style=event.flow_style)
        raise ComposerError(None, None, f"unexpected {type(event).__name__}", start)


_SafeComposer.add_implicit_resolver(
    _TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_SafeComposer.add_implicit_resolver(
    _TAG + "int",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_SafeComposer.add_implicit_resolver(
    _TAG + "float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_SafeComposer.add_implicit_resolver(
    _TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_SafeComposer.add_implicit_resolver(_TAG + "merge", re.compile(r"^(?:<<)$"), ["<"])


def _code_point(character: Any) -> str:
    """PyYAML gives the offending character as a code point (int) or a string."""
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def _yaml_message(exc: yaml.MarkedYAMLError, kind: str, text: str = "") -> str:
    """PyYAML's error in plain words, with the column and a hint for the usual causes (`text`, the
    document, lets a tab before the error be named: libyaml does not say it was a tab)."""
    what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
    if "maximum nesting depth" in what:  # libyaml's own limit (1000), met before ours when scanning ahead
        return f"nesting deeper than {MAX_DEPTH} levels; a {kind} needs far fewer"
    mark = exc.problem_mark or exc.context_mark
    column = f" (column {mark.column + 1})" if mark is not None else ""
    hint = ""
    if any(
        s in what for s in ("<block end>", "mapping values are not allowed", "could not find expected ':'")
    ):
        hint = "; check the indentation, and that each 'key: value' has a space after the colon"
    elif "'\\t'" in what or "tab character" in what or _tab_before(text, mark):
        hint = "; YAML does not allow tabs for indentation, use spaces"
    elif "found undefined alias" in what:
        hint = "; define the anchor (&name) before using the alias (*name)"
    return f"invalid YAML{column}: {what}{hint}"


def _tab_before(text: str, mark: Any) -> bool:
    """Whether the line of `mark` has a tab at or before its column."""
    if not text or mark is None:
        return False
    lines = text.splitlines()
    return 0 <= mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def short_repr(value: Any, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Builder:
    """Turns a composed node tree into plain dicts/lists/scalars, recording the line of every path."""

    def __init__(self, filename: str, kind: str) -> None:
        self.filename = filename
        self.kind = kind
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
                f"at {format_path(self._alias_use if self._alias_depth else path) or 'the top'}; a "
                f"{self.kind} is far smaller (an alias bomb? write the values out instead of nesting "
                "aliases)",
                self._use_line(node),
            )
        if depth > MAX_DEPTH:
            raise _LimitExceeded(
                f"nesting deeper than {MAX_DEPTH} levels (a recursive alias?); a {self.kind} needs far fewer",
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
            f"YAML tag {short_repr(shown)} is not allowed; a {self.kind} holds plain mappings, lists, "
            "strings, numbers and booleans (remove the tag)",
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
                    f"duplicate key {short_repr(key)}: first at line {seen[key]}, again at line "
                    f"{_line(key_node)}; keep only one",
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
                self.issue(path, _line(node), f"{short_repr(text)} is not a boolean; write true or false")
                return text
            return text.lower() == "true"
        if tag == _TAG + "int":
            digits = text.replace("_", "")
            if len(digits.lstrip("+-")) > MAX_INT_DIGITS:
                self.issue(path, _line(node), f"the number {short_repr(text)} is too large")
                return text
            try:
                value = int(digits, 0) if digits[:2].lower() in ("0x", "0o") else int(digits, 10)
            except ValueError:
                self.issue(path, _line(node), f"{short_repr(text)} is not a valid integer")
                return text
            if abs(value) > 2**63:
                self.issue(path, _line(node), f"the number {short_repr(text)} is too large")
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
                self.issue(path, _line(node), f"{short_repr(text)} is not a valid number")
                return text
            if not math.isfinite(number):
                self.issue(
                    path, _line(node), f"{short_repr(text)} is not a finite number; give a finite value"
                )
                return text
            return number
        self.bad_tag(node, path)
        return text


def parse_yaml(text: str, filename: str = "<text>", kind: str = "problem file") -> YamlDocument:
    """Parse YAML text safely (see the module docstring); raise `InputError` with every issue found.

    An empty document (or one holding only comments) gives `data=None`; the caller says what it needs.
    """

    def fail(message: str, line: int | None = None) -> InputError:
        return InputError(InputIssue(path="", message=message, line=line, file=filename))

    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise fail(too_large(size, kind))
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        message = "the text holds an invalid character (a lone surrogate); save the file as UTF-8"
        raise fail(message, line) from None
    loader: _SafeComposer | None = None
    try:
        loader = _SafeComposer(text)  # the pure-Python parser checks for unprintable characters here
        root = loader.compose(kind)
    except _LimitExceeded as exc:
        raise fail(exc.message, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise fail(_yaml_message(exc, kind, text), mark.line + 1 if mark is not None else None) from None
    except yaml.reader.ReaderError as exc:
        position = max(0, int(exc.position))
        line = (encoded.count(b"\n", 0, position) if _FAST else text.count("\n", 0, position)) + 1
        raise fail(
            f"invalid YAML: the control character {_code_point(exc.character)} is not allowed in a YAML "
            "file; remove it",
            line,
        ) from None
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return YamlDocument(data=None, lines=LineMap())
    builder = _Builder(filename, kind)
    try:
        data = builder.build(root, (), 0)
    except _LimitExceeded as exc:
        raise fail(exc.message, exc.line) from None
    except RecursionError:
        raise fail(f"the document is nested too deeply for a {kind}") from None
    if builder.issues:
        raise InputError(builder.issues)
    return YamlDocument(data=data, lines=LineMap(MappingProxyType(builder.lines)))


def root_kind(data: Any) -> str:
    """What a document's top level is, in words that never quote its content."""
    if isinstance(data, list):
        return "a list"
    if isinstance(data, dict):
        return "a mapping"
    if isinstance(data, str):
        return "plain text"
    return "a single value"
