"""Overrides: changes to a problem document that always go back through the schema.

An override edits the raw problem document (the plain data parsed from the YAML file), never a
validated `Problem`; the edited document is validated again by the same loader path as a file, so an
override can never produce an unvalidated problem.

Kinds (each an immutable value; `parse_override` reads the command-line spelling):

- `SetValue`   `PATH=VALUE`      set a value (VALUE is read as a YAML scalar or flow list/mapping);
- `ScaleValue` `PATH*=FACTOR`    multiply the current (effective, defaults included) number by FACTOR;
- `ScaleDemand` `--scale-demand F` or `WORKLOAD=F`: every workload's daily volume x F;
- `ScalePrice`  `--scale-price F` or `GPU=F`: that GPU's effective price x F at every site and purchase
  option, wherever the price comes from (explicit, or the built-in reference price list), and its
  purchase price for owned capacity.

Paths are dotted; list items are addressed by their `id` (`workloads.assistant`), offers by their
`gpu` (`sites.aws_us_east_1.offers.h100_sxm`), or any item by position (`workloads[0]`).

>>> parse_override("workloads.assistant.slo.ttft_ms=300")
SetValue(path='workloads.assistant.slo.ttft_ms', value=300, text='workloads.assistant.slo.ttft_ms=300')
>>> parse_override("workloads.assistant.demand.output_tokens_per_day*=2").factor
2.0
"""

from __future__ import annotations

import copy
import json
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from optimizer.catalog import Catalog
from optimizer.errors import InputError, InputIssue
from optimizer.loading.messages import annotation_alternatives, close_matches, validation_issues
from optimizer.loading.problem_file import LoadedProblem, load_problem, parse_problem_text
from optimizer.loading.yaml_source import LineMap, decode_bytes, parse_yaml
from optimizer.loading.yaml_source import read_source as read_file_bytes
from optimizer.schema.problem import Problem

VOLUME_KEYS: tuple[str, ...] = ("requests_per_day", "output_tokens_per_day", "audio_hours_per_day")
"""The demand keys a workload states its daily volume in (exactly one is given)."""

_SEGMENT = re.compile(r"([A-Za-z0-9_\-]+)|\[(-?\d+)\]")


class OverrideError(InputError):
    """An override that names no place in the schema, or gives a value of the wrong type (exit 2)."""

    def __init__(self, override: str, message: str) -> None:
        self.override = override
        super().__init__(InputIssue(path="", message=f"override {override!r}: {message}"))
        Exception.__init__(self, f"override {override!r}: {message}")


# --------------------------------------------------------------------------------------------
# The override values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetValue:
    """`PATH=VALUE`: replace (or add) the value at PATH."""

    path: str
    value: Any
    text: str = ""

    def label(self) -> str:
        return self.path


@dataclass(frozen=True)
class ScaleValue:
    """`PATH*=FACTOR`: the current number at PATH (its default where the file omits it) x FACTOR.
    Whole-number fields are rounded to the nearest whole number."""

    path: str
    factor: float
    text: str = ""

    def label(self) -> str:
        return f"{self.path}*"


@dataclass(frozen=True)
class ScaleDemand:
    """Daily volume (`requests_per_day`, `output_tokens_per_day` or `audio_hours_per_day`, whichever
    the workload gives) x factor, for one workload or (workload None) all of them."""

    factor: float
    workload: str | None = None
    text: str = ""

    def label(self) -> str:
        return "scale_demand" + (f".{self.workload}" if self.workload else "")


@dataclass(frozen=True)
class ScalePrice:
    """Effective price x factor for one GPU type (gpu None: every GPU type) at every offer: on-demand,
    spot and committed USD per GPU-hour (explicit or from the reference price list; committed prices
    derived from on-demand by a discount follow on-demand), and the purchase price of owned GPUs."""

    factor: float
    gpu: str | None = None
    text: str = ""

    def label(self) -> str:
        return "scale_price" + (f".{self.gpu}" if self.gpu else "")


Override = SetValue | ScaleValue | ScaleDemand | ScalePrice


def parse_scalar(text: str) -> Any:
    """A command-line value read as YAML 1.2 core (the problem file's rules): `300` int, `1e9` float,
    `true` bool, `null` None, `[fp8, int8]` list, `no` stays a string.

    >>> parse_scalar("2_000_000"), parse_scalar("0.5"), parse_scalar("no"), parse_scalar("[fp8, int8]")
    (2000000, 0.5, 'no', ['fp8', 'int8'])
    """
    try:
        return parse_yaml("v: " + text, "<override>").data["v"]
    except InputError:
        return text


def parse_factor(text: str, override: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OverrideError(override, f"factor {text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise OverrideError(override, f"factor {text!r} must be a finite number >= 0")
    return value


def parse_override(text: str) -> SetValue | ScaleValue:
    """`PATH=VALUE` or `PATH*=FACTOR` as typed on the command line."""
    if "=" not in text:
        raise OverrideError(text, "expected PATH=VALUE or 'PATH*=FACTOR'")
    left, right = text.split("=", 1)
    left = left.strip()
    if left.endswith("*"):
        path = left[:-1].strip()
        split_path(path, text)
        return ScaleValue(path=path, factor=parse_factor(right.strip(), text), text=text)
    split_path(left, text)
    return SetValue(path=left, value=parse_scalar(right.strip()), text=text)


def parse_scale(text: str, kind: str) -> ScaleDemand | ScalePrice:
    """`F` or `NAME=F` for `--scale-demand` (NAME a workload id) and `--scale-price` (NAME a GPU)."""
    name: str | None = None
    value = text
    if "=" in text:
        name, value = (s.strip() for s in text.split("=", 1))
        if not name:
            raise OverrideError(f"--{kind} {text}", "give NAME=FACTOR or a bare FACTOR")
    factor = parse_factor(value.strip(), f"--{kind} {text}")
    if kind == "scale-demand":
        return ScaleDemand(factor=factor, workload=name, text=f"--scale-demand {text}")
    return ScalePrice(factor=factor, gpu=name, text=f"--scale-price {text}")


def split_path(path: str, override: str) -> list[str | int]:
    """'workloads.assistant.slo' -> ['workloads', 'assistant', 'slo']; 'workloads[0]' -> ['workloads', 0]."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        if not chunk:
            raise OverrideError(override, f"path {path!r} has an empty part; write a.b.c")
        pos = 0
        while pos < len(chunk):
            m = _SEGMENT.match(chunk, pos)
            if m is None or m.end() == pos:
                raise OverrideError(
                    override, f"cannot read path {path!r} at {chunk[pos:]!r}; write a.b.c, items by id or [N]"
                )
            parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            pos = m.end()
    return parts


# --------------------------------------------------------------------------------------------
# Walking the document and the schema together
# --------------------------------------------------------------------------------------------


def nearest(name: str, options: Iterable[str]) -> str | None:
    """The closest option to a mistyped name (the project's one did-you-mean matcher), or None.

    >>> nearest("ttf_ms", ["ttft_ms", "tpot_ms", "deadline_hours"])
    'ttft_ms'
    """
    close = close_matches(name, options, limit=1)
    return close[0] if close else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for alt in annotation_alternatives(annotation):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            return alt
    return None


def _sequence_item(annotation: Any) -> Any | None:
    for alt in annotation_alternatives(annotation):
        if typing.get_origin(alt) in (tuple, list) and typing.get_args(alt):
            return typing.get_args(alt)[0]
    return None


def _mapping_value(annotation: Any) -> Any | None:
    for alt in annotation_alternatives(annotation):
        if typing.get_origin(alt) is dict and len(typing.get_args(alt)) == 2:
            return typing.get_args(alt)[1]
    return None


def _render(parts: Sequence[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _item_names(items: list[Any]) -> list[str]:
    names: list[str] = []
    for item in items:
        if isinstance(item, dict):
            for key in ("id", "gpu"):
                if isinstance(item.get(key), str):
                    names.append(item[key])
                    break
    return names


def _gpu_key(name: str, catalog: Catalog | None) -> str:
    if catalog is not None:
        spec = catalog.find_gpu(name)
        if spec is not None:
            return spec.id
    return name


def _find_item(items: list[Any], name: str, catalog: Catalog | None) -> int | None:
    """Index of the item whose `id` is name, or (offers) whose `gpu` names the same GPU."""
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == name:
            return i
    for i, item in enumerate(items):
        if (
            isinstance(item, dict)
            and isinstance(item.get("gpu"), str)
            and _gpu_key(item["gpu"], catalog) == _gpu_key(name, catalog)
        ):
            return i
    return None


@dataclass(frozen=True)
class Target:
    """Where an override lands: the concrete path (list items by index) and the leaf's annotation."""

    keys: tuple[str | int, ...]
    annotation: Any


def resolve(data: Mapping[str, Any], path: str, override: str, catalog: Catalog | None = None) -> Target:
    """Check `path` against the schema and the document; return the concrete location.

    Raises `OverrideError` naming the override and the nearest valid path for an unknown key or item.
    """
    parts = split_path(path, override)
    annotation: Any = Problem
    node: Any = data
    keys: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        shown = parts[:depth]
        here = _render(shown) or "the problem"
        item_ann = _sequence_item(annotation)
        model = _model_of(annotation)
        value_ann = _mapping_value(annotation)
        if isinstance(node, list) and item_ann is not None:
            kind = "list"
        elif isinstance(node, dict) and model is not None:
            kind = "model"
        elif isinstance(node, dict) and value_ann is not None:
            kind = "mapping"
        elif node is None and model is not None:
            kind = "model"
        elif node is None and value_ann is not None and isinstance(part, str):
            kind = "mapping"
        elif node is None and item_ann is not None:
            kind = "list"
        else:
            raise OverrideError(
                override,
                f"{here} is a single value, not a section; {_render([*shown, part])!r} does not exist",
            )
        if kind == "list":
            items = node if isinstance(node, list) else []
            if isinstance(part, int):
                if not -len(items) <= part < len(items):
                    raise OverrideError(override, f"{here} has {len(items)} items; [{part}] is out of range")
                index = part % len(items)
            else:
                found = _find_item(items, part, catalog)
                if found is None:
                    names = _item_names(items)
                    close = nearest(part, names)
                    hint = (
                        f"; did you mean {_render([*shown, close, *parts[depth + 1 :]])!r}?" if close else ""
                    )
                    listed = f" (items: {', '.join(names)})" if names else ""
                    raise OverrideError(override, f"{here} has no item {part!r}{listed}{hint}")
                index = found
            keys.append(index)
            node = items[index]
            annotation = item_ann
        elif kind == "model":
            assert model is not None
            if not isinstance(part, str) or part not in model.model_fields:
                fields = list(model.model_fields)
                close = nearest(str(part), fields)
                hint = f"; did you mean {_render([*shown, close, *parts[depth + 1 :]])!r}?" if close else ""
                raise OverrideError(override, f"{here} has no key {part!r}{hint} (keys: {', '.join(fields)})")
            keys.append(part)
            annotation = model.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
        else:
            present = [str(k) for k in node] if isinstance(node, dict) else []
            if not isinstance(part, str):
                raise OverrideError(
                    override, f"{here} is a mapping; address its entries by key, not [{part}]"
                )
            if part not in present and not last:
                close = nearest(part, present)
                hint = f"; did you mean {_render([*shown, close, *parts[depth + 1 :]])!r}?" if close else ""
                raise OverrideError(override, f"{here} has no key {part!r}{hint}")
            keys.append(part)
            annotation = value_ann
            node = node.get(part) if isinstance(node, dict) else None
    return Target(keys=tuple(keys), annotation=annotation)


def _set(data: dict[str, Any], keys: Sequence[str | int], value: Any) -> None:
    node: Any = data
    for key in keys[:-1]:
        if isinstance(key, int):
            node = node[key]
        else:
            if not isinstance(node.get(key), dict | list):
                node[key] = {}
            node = node[key]
    node[keys[-1]] = value


def _effective(problem: Problem, keys: Sequence[str | int]) -> Any:
    """The validated problem's value at a concrete path (schema defaults included)."""
    node: Any = problem
    for key in keys:
        if node is None:
            return None
        if isinstance(key, int):
            node = node[key]
        elif isinstance(node, BaseModel):
            node = getattr(node, key)
        elif isinstance(node, Mapping):
            node = node.get(key)
        else:
            return None
    return node


# --------------------------------------------------------------------------------------------
# Applying overrides to a document
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemSource:
    """A problem file's raw document, with what is needed to validate edited copies of it."""

    data: Mapping[str, Any]
    """The document as parsed from YAML (plain dicts, lists and scalars); never mutated."""
    filename: str
    base_dir: Path
    """Directory `catalog.files` are relative to."""
    lines: LineMap = field(default_factory=LineMap)
    loaded: LoadedProblem | None = None
    """The validated unedited problem."""
    catalog_dirs: tuple[str, ...] = ()
    """Extra folders `catalog.files` may lie in (besides `base_dir`)."""

    def base(self) -> LoadedProblem:
        return self.loaded if self.loaded is not None else validate_document(self, self.data)


def read_source(path: Path | str, catalog_dirs: Sequence[Path | str] = ()) -> ProblemSource:
    """Load and validate a problem file (every loader check), keeping its raw document for overrides."""
    loaded = load_problem(path, catalog_dirs=catalog_dirs)
    file = Path(path)
    doc = parse_yaml(decode_bytes(read_file_bytes(file, str(path), "problem file"), str(path)), str(path))
    return ProblemSource(
        data=doc.data,
        filename=str(path),
        base_dir=file.resolve().parent,
        lines=doc.lines,
        loaded=loaded,
        catalog_dirs=tuple(str(d) for d in catalog_dirs),
    )


def source_from_problem(problem: Problem, base_dir: Path | str | None = None) -> ProblemSource:
    """A source from an already validated problem (its fields dumped back to a document)."""
    data = problem.model_dump(mode="json", exclude_unset=True)
    src = ProblemSource(data=data, filename=f"<{problem.name}>", base_dir=Path(base_dir or Path.cwd()))
    return ProblemSource(data, src.filename, src.base_dir, loaded=validate_document(src, data))


def validate_document(
    source: ProblemSource, data: Mapping[str, Any], *, check: bool = True, edited: bool | None = None
) -> LoadedProblem:
    """Validate an (edited) document through the loader, exactly as a problem file is validated.

    Issues cite the source file, with the line of the nearest part of the path present in it, and say
    when the document was edited by overrides."""
    try:
        loaded = parse_problem_text(
            json.dumps(data),
            source.filename,
            base_dir=source.base_dir,
            check=check,
            catalog_dirs=source.catalog_dirs,
        )
    except InputError as exc:
        after = " (after the overrides)" if (data != source.data if edited is None else edited) else ""
        issues = [
            i
            if i.file not in (source.filename, None)
            else InputIssue(
                path=i.path, message=i.message + after, line=_line(source, i.path), file=source.filename
            )
            for i in exc.issues
        ]
        raise InputError(issues) from None
    # The edited document was parsed from one line of JSON: cite the source file's lines instead.
    warnings = tuple(
        w if w.file not in (source.filename, None) else replace(w, line=_line(source, w.path))
        for w in loaded.warnings
    )
    return replace(loaded, lines=source.lines, warnings=warnings)


def _line(source: ProblemSource, path: str) -> int | None:
    try:
        return source.lines.line_of(path)
    except ValueError:
        return None


def _structure(data: dict[str, Any], override: str, source: ProblemSource) -> Problem:
    """Schema validation (types, ranges) of the edited document; errors name the override."""
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        issues = validation_issues(exc, data, Problem, lines=source.lines, filename=source.filename)
        text = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues[:3])
        raise OverrideError(override, text) from None


def _scale_number(current: Any, factor: float, override: str, path: str) -> int | float:
    if isinstance(current, bool) or not isinstance(current, int | float):
        shown = "no value (not set and no default)" if current is None else f"{current!r}"
        raise OverrideError(
            override, f"{path} holds {shown}, not a number to scale; set it with {path}=VALUE"
        )
    scaled = current * factor
    return round(scaled) if isinstance(current, int) else float(scaled)


def _scale_demand(data: dict[str, Any], ov: ScaleDemand) -> list[str]:
    workloads = data.get("workloads") or []
    ids = _item_names(workloads)
    if ov.workload is not None and ov.workload not in ids:
        close = nearest(ov.workload, ids)
        hint = f"; did you mean {close!r}?" if close else ""
        raise OverrideError(ov.text, f"no workload {ov.workload!r} (workloads: {', '.join(ids)}){hint}")
    notes = []
    for w in workloads:
        if ov.workload is not None and w.get("id") != ov.workload:
            continue
        demand = w.get("demand") or {}
        for key in VOLUME_KEYS:
            if isinstance(demand.get(key), int | float) and not isinstance(demand.get(key), bool):
                before = demand[key]
                demand[key] = before * ov.factor
                notes.append(f"{w.get('id')}: demand.{key} {before:,.6g} -> {demand[key]:,.6g}")
    return notes


def effective_offer_prices(offer: Mapping[str, Any], gpu_id: str, catalog: Catalog) -> dict[str, float]:
    """USD per GPU-hour an offer charges per price kind: the explicit price where given, else the
    reference price list row for `catalog_prices` (same lookup as the candidate builder: provider,
    region, GPU, instance size, optional instance type; cheapest row)."""
    explicit = offer.get("prices") or {}
    ref = offer.get("catalog_prices")
    out: dict[str, float] = {}
    for kind in ("on_demand", "spot", "committed_1y", "committed_3y"):
        value = explicit.get(kind)
        if value is None and ref is not None and kind in ("on_demand", "spot"):
            rows = catalog.prices_for(
                ref["provider"],
                ref["region"],
                gpu_id,
                kind,
                gpus_per_instance=int(offer.get("gpus_per_instance", 1)),
                instance_type=ref.get("instance_type"),
            )
            value = rows[0].usd_per_gpu_hour if rows else None
        if value is not None:
            out[kind] = float(value)
    return out


def _scale_price(data: dict[str, Any], ov: ScalePrice, catalog: Catalog) -> list[str]:
    """Write every affected offer's effective prices, x factor, as explicit prices (which win over
    the reference list), and its owned capital cost x factor."""
    target: str | None = None
    if ov.gpu is not None:
        spec = catalog.find_gpu(ov.gpu)
        if spec is None:
            suggestions = catalog.suggest("gpu", ov.gpu)
            hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
            raise OverrideError(ov.text, f"unknown GPU {ov.gpu!r}{hint}")
        target = spec.id
    offered: list[str] = []
    notes: list[str] = []
    for site in data.get("sites") or []:
        for offer in site.get("offers") or []:
            gpu = catalog.find_gpu(str(offer.get("gpu")))
            if gpu is None:
                continue
            offered.append(gpu.id)
            if target is not None and gpu.id != target:
                continue
            where = f"{site.get('id')}/{gpu.id}"
            prices = effective_offer_prices(offer, gpu.id, catalog)
            if prices:
                offer["prices"] = {
                    **(offer.get("prices") or {}),
                    **{k: v * ov.factor for k, v in prices.items()},
                }
                changed = ", ".join(f"{k} ${v:.4g} -> ${v * ov.factor:.4g}" for k, v in prices.items())
                notes.append(f"{where}: {changed} per GPU-hour")
            if offer.get("owned"):
                capex = offer.get("capital_usd_per_gpu", gpu.purchase_price_usd)
                if capex is not None:
                    offer["capital_usd_per_gpu"] = float(capex) * ov.factor
                    notes.append(f"{where}: owned capital ${capex:,.0f} -> ${capex * ov.factor:,.0f} per GPU")
    if target is not None and target not in offered:
        listed = ", ".join(sorted(set(offered))) or "none"
        raise OverrideError(
            ov.text, f"{target} is not offered at any site of this problem (offered: {listed})"
        )
    if not notes:
        raise OverrideError(ov.text, "no offer has a price to scale")
    return notes


@dataclass(frozen=True)
class Edited:
    """An edited document (schema-valid in structure) and what each override changed."""

    data: dict[str, Any]
    notes: tuple[str, ...]


def edit_document(source: ProblemSource, overrides: Sequence[Override]) -> Edited:
    """Apply overrides in order to a copy of the document; check paths and types after each.

    Raises `OverrideError` (exit 2) for an unknown path, a wrong type or a value out of range. The result
    still needs `validate_document` for the cross-reference checks."""
    data: dict[str, Any] = copy.deepcopy(dict(source.data))
    notes: list[str] = []
    problem: Problem | None = source.loaded.problem if source.loaded is not None else None
    catalog: Catalog | None = source.loaded.catalog if source.loaded is not None else None
    catalog_doc = copy.deepcopy(data.get("catalog"))
    for ov in overrides:
        text = ov.text or ov.label()
        if isinstance(ov, SetValue | ScaleValue):
            target = resolve(data, ov.path, text, catalog)
            if isinstance(ov, SetValue):
                value = ov.value
                notes.append(f"{ov.path} = {value!r}")
            else:
                if problem is None:
                    problem = _structure(data, text, source)
                current = _effective(problem, target.keys)
                value = _scale_number(current, ov.factor, text, ov.path)
                notes.append(f"{ov.path} {current!r} x {ov.factor:g} = {value!r}")
            _set(data, target.keys, value)
        elif isinstance(ov, ScaleDemand):
            notes.extend(_scale_demand(data, ov))
        else:
            if catalog is None or data.get("catalog") != catalog_doc:
                catalog = validate_document(source, data, check=False).catalog
                catalog_doc = copy.deepcopy(data.get("catalog"))
            notes.extend(_scale_price(data, ov, catalog))
        problem = _structure(data, text, source)
    return Edited(data=data, notes=tuple(notes))


def apply_overrides(
    source: ProblemSource, overrides: Sequence[Override]
) -> tuple[LoadedProblem, tuple[str, ...]]:
    """The problem with overrides applied, validated like a file; and a note per change."""
    if not overrides:
        return source.base(), ()
    edited = edit_document(source, overrides)
    return validate_document(source, edited.data), edited.notes


_PRICE_KEYS = frozenset({"prices", "catalog_prices", "capital_usd_per_gpu"})


def priced_gpus(
    data: Mapping[str, Any], overrides: Sequence[Override], catalog: Catalog
) -> list[tuple[str, str, str | None]]:
    """(override text, GPU id, site id or None for every site) for every override that changes the
    price of one GPU type: `--scale-price GPU=F`, and `--set`/`*=` on an offer's `prices`,
    `catalog_prices` or `capital_usd_per_gpu` (`sites.S.offers.GPU.prices.on_demand=1.5`). `data` is
    the edited document (paths resolve against it); an override whose path no longer resolves is
    skipped."""
    out: list[tuple[str, str, str | None]] = []
    for ov in overrides:
        text = ov.text or ov.label()
        if isinstance(ov, ScalePrice):
            spec = catalog.find_gpu(ov.gpu) if ov.gpu is not None else None
            if spec is not None:
                out.append((text, spec.id, None))
        elif isinstance(ov, SetValue | ScaleValue):
            try:
                keys = resolve(data, ov.path, text, catalog).keys
            except OverrideError:
                continue
            if len(keys) < 5 or keys[0] != "sites" or keys[2] != "offers" or keys[4] not in _PRICE_KEYS:
                continue
            try:
                site = data["sites"][keys[1]]
                offer = site["offers"][keys[3]]
            except (KeyError, IndexError, TypeError):
                continue
            spec = catalog.find_gpu(str(offer.get("gpu"))) if isinstance(offer, Mapping) else None
            if spec is not None:
                out.append((text, spec.id, str(site.get("id"))))
    return out
