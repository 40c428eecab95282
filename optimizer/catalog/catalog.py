"""The catalog facade: typed, immutable, name-resolving access to GPUs, models, precisions and prices.

A `Catalog` holds four tables of frozen specs (see `optimizer.catalog.specs`). Names resolve through
a normalizer (lowercase, non-alphanumerics dropped, so `H100-SXM-80GB`, `h100 sxm 80gb` and
`H100_SXM_80GB` are one key) applied to each entry's id, display name and aliases (and, for models,
the Hugging Face id). Unknown names raise `UnknownNameError` with "did you mean" suggestions.

Catalogs never change: `extended()` returns a new catalog with user entries merged in, which is how
a problem file's `catalog:` block (and the catalog files it names, read by `optimizer.loading`)
overrides or extends the built-in data. The packaged data files are read by the same YAML reader as
every user file (`optimizer.loading.yaml_source`), and `catalog_sections` checks the layout of any
catalog document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec, PriceEntry, PurchaseKind
from optimizer.errors import InputError, InputIssue, UnknownNameError
from optimizer.loading.messages import MAX_ISSUES, close_matches, did_you_mean, validation_issues
from optimizer.loading.yaml_source import YamlDocument, parse_path, parse_yaml, root_kind

__all__ = ["SECTIONS", "Catalog", "Kind", "catalog_sections", "default_catalog", "normalize_name"]

Kind = Literal["gpu", "model", "precision"]
"""The three named tables (prices are rows, not named entries)."""

SECTIONS: tuple[str, ...] = ("gpus", "models", "precisions", "prices")
"""Top-level keys of a catalog file, and the keyword arguments of `Catalog.extended`."""

_DATA_FILES: tuple[str, ...] = ("gpus.yaml", "models.yaml", "precisions.yaml", "prices.yaml")
_KIND_OF_SECTION: Mapping[str, Kind] = MappingProxyType(
    {"gpus": "gpu", "models": "model", "precisions": "precision"}
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CAPABILITY_FIELDS: Mapping[str, str] = MappingProxyType(
    {"fp8": "fp8_dense_tflops", "fp4": "fp4_dense_tflops", "int8": "int8_dense_tops"}
)

SpecT = TypeVar("SpecT", GpuSpec, ModelSpec, PrecisionSpec)


def normalize_name(name: str) -> str:
    """Lookup key of a name: lowercase with every non-alphanumeric character removed.

    >>> normalize_name("H100-SXM-80GB") == normalize_name("h100 sxm 80gb")
    True
    >>> normalize_name("Q4_0 (GGUF 4-bit)")
    'q40gguf4bit'
    """
    return _NON_ALNUM.sub("", name.lower())


def _spec_keys(spec: GpuSpec | ModelSpec | PrecisionSpec) -> tuple[list[str], list[str]]:
    """(strong keys, alias keys) of an entry: id and display name first, then aliases."""
    strong = [spec.id, spec.name]
    weak = list(spec.aliases)
    if isinstance(spec, ModelSpec):
        weak.append(spec.hf_id)
    return strong, weak


def _ambiguous(kind: str, key: str, entry_id: str, owner: str) -> str:
    return f"{kind} name {key!r} of {entry_id!r} is ambiguous: it already names {owner!r}"


def _find(by_id: Mapping[str, SpecT], index: Mapping[str, str], kind: Kind, name: str) -> SpecT | None:
    """The entry `name` resolves to: an id, else a normalized name (models also without `org/`)."""
    if name in by_id:
        return by_id[name]
    entry_id = index.get(normalize_name(name))
    if entry_id is None and kind == "model" and "/" in name:
        entry_id = index.get(normalize_name(name.split("/", 1)[1]))
    return None if entry_id is None else by_id[entry_id]


class _Table(Generic[SpecT]):
    """Entries of one kind with a normalized-name index. Raises ValueError on ambiguous names."""

    def __init__(self, kind: Kind, entries: Iterable[SpecT]) -> None:
        self.kind: Kind = kind
        by_id: dict[str, SpecT] = {}
        for entry in entries:
            if entry.id in by_id:
                raise ValueError(f"duplicate {kind} id {entry.id!r}")
            by_id[entry.id] = entry
        self.by_id: Mapping[str, SpecT] = MappingProxyType(dict(sorted(by_id.items())))
        index: dict[str, str] = {}
        for strong_pass in (True, False):
            for entry in self.by_id.values():
                strong, weak = _spec_keys(entry)
                for key in strong if strong_pass else weak:
                    norm = normalize_name(key)
                    if not norm:
                        continue
                    owner = index.setdefault(norm, entry.id)
                    if owner != entry.id:
                        raise ValueError(_ambiguous(kind, key, entry.id, owner))
        self.index: Mapping[str, str] = MappingProxyType(index)

    def find(self, name: str) -> SpecT | None:
        return _find(self.by_id, self.index, self.kind, name)

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Ids of entries with a name close to `name` (e.g. "h100" -> h100_sxm, h100_pcie)."""
        ids: list[str] = []
        for key in close_matches(normalize_name(name), self.index, limit * 3):
            entry_id = self.index[key]
            if entry_id not in ids:
                ids.append(entry_id)
        return ids[:limit]

    def get(self, name: str) -> SpecT:
        found = self.find(name)
        if found is None:
            raise UnknownNameError(self.kind, name, self.suggest(name))
        return found


class _Draft(Generic[SpecT]):
    """A table being edited entry by entry under the same name rules as `_Table`, at a cost per edit
    proportional to the entry's names (rebuilding the table per entry is quadratic)."""

    def __init__(self, table: _Table[SpecT]) -> None:
        self.kind: Kind = table.kind
        self.by_id: dict[str, SpecT] = dict(table.by_id)
        self.index: dict[str, str] = dict(table.index)

    def find(self, name: str) -> SpecT | None:
        return _find(self.by_id, self.index, self.kind, name)

    def put(self, spec: SpecT) -> str | None:
        """Add `spec` (replacing the entry with its id); on a name clash change nothing, return why."""
        old = self.by_id.get(spec.id)
        removed = [n for n in self._norms(old) if self.index.get(n[1]) == spec.id] if old else []
        for _, norm in removed:
            del self.index[norm]
        for key, norm in self._norms(spec):
            owner = self.index.get(norm)
            if owner is not None and owner != spec.id:
                for _, back in removed:
                    self.index[back] = spec.id
                return _ambiguous(self.kind, key, spec.id, owner)
        for _, norm in self._norms(spec):
            self.index.setdefault(norm, spec.id)
        self.by_id[spec.id] = spec
        return None

    @staticmethod
    def _norms(spec: SpecT) -> list[tuple[str, str]]:
        keys: tuple[list[str], list[str]] = _spec_keys(spec)
        out: dict[str, str] = {}  # normalized name -> the first name giving it
        for key in (*keys[0], *keys[1]):
            norm = normalize_name(key)
            if norm:
                out.setdefault(norm, key)
        return [(key, norm) for norm, key in out.items()]


class Catalog:
    """Immutable GPU, model, precision and price tables with name resolution.

    Build one with `default_catalog()` (the packaged data) and derive others with `extended()` (or
    `optimizer.loading.catalog_files.extend_with_file`). Every accessor returns frozen pydantic specs.
    """

    __slots__ = ("_gpus", "_models", "_precisions", "_prices")

    _PRICE_KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "provider",
        "region",
        "instance_type",
        "purchase",
    )

    _gpus: _Table[GpuSpec]
    _models: _Table[ModelSpec]
    _precisions: _Table[PrecisionSpec]
    _prices: tuple[PriceEntry, ...]

    def __init__(
        self,
        gpus: Iterable[GpuSpec] = (),
        models: Iterable[ModelSpec] = (),
        precisions: Iterable[PrecisionSpec] = (),
        prices: Iterable[PriceEntry] = (),
    ) -> None:
        """Build a catalog from specs. Raises ValueError on duplicate ids, ambiguous names or prices
        that name an unknown GPU (use `extended()` for user input: it reports `InputError`s)."""
        gpu_table = _Table("gpu", gpus)
        price_rows = tuple(prices)
        for row in price_rows:
            if row.gpu not in gpu_table.by_id:
                raise ValueError(
                    f"price row {row.provider}/{row.instance_type} names unknown gpu {row.gpu!r}"
                )
        object.__setattr__(self, "_gpus", gpu_table)
        object.__setattr__(self, "_models", _Table("model", models))
        object.__setattr__(self, "_precisions", _Table("precision", precisions))
        object.__setattr__(self, "_prices", tuple(sorted(price_rows, key=_price_sort_key)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Catalog is immutable; use extended() to derive a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Catalog is immutable")

    def __repr__(self) -> str:
        return (
            f"Catalog({len(self._gpus.by_id)} gpus, {len(self._models.by_id)} models, "
            f"{len(self._precisions.by_id)} precisions, {len(self._prices)} prices)"
        )

    # --- lookup -------------------------------------------------------------------------------

    def gpu(self, name: str) -> GpuSpec:
        """The GPU named `name` (id, display name, alias or a spelling variant of one).

        Raises `UnknownNameError` with close matches when nothing resolves.
        """
        return self._gpus.get(name)

    def model(self, name: str) -> ModelSpec:
        """The model named `name` (id, name, alias or Hugging Face id; Instruct variants included)."""
        return self._models.get(name)

    def precision(self, name: str) -> PrecisionSpec:
        """The precision named `name` (e.g. `bf16`, `FP16`, `fp8`, `AWQ`, `Q4_0 (GGUF 4-bit)`)."""
        return self._precisions.get(name)

    def find_gpu(self, name: str) -> GpuSpec | None:
        """Like `gpu()` but returns None for unknown names."""
        return self._gpus.find(name)

    def find_model(self, name: str) -> ModelSpec | None:
        """Like `model()` but returns None for unknown names."""
        return self._models.find(name)

    def find_precision(self, name: str) -> PrecisionSpec | None:
        """Like `precision()` but returns None for unknown names."""
        return self._precisions.find(name)

    def suggest(self, kind: Kind | str, name: str) -> list[str]:
        """Ids of entries of `kind` (`gpu`, `model`, `precision`) whose names are close to `name`."""
        return self._table(kind).suggest(name)

    def _table(self, kind: str) -> _Table[Any]:
        tables: dict[str, _Table[Any]] = {
            "gpu": self._gpus,
            "model": self._models,
            "precision": self._precisions,
        }
        key = _KIND_OF_SECTION.get(kind, kind)
        if key not in tables:
            raise ValueError(f"unknown catalog kind {kind!r}; expected one of {sorted(tables)}")
        return tables[key]

    # --- listings -----------------------------------------------------------------------------

    def gpus(self) -> tuple[GpuSpec, ...]:
        """All GPUs, sorted by id."""
        return tuple(self._gpus.by_id.values())

    def models(self) -> tuple[ModelSpec, ...]:
        """All models, sorted by id."""
        return tuple(self._models.by_id.values())

    def precisions(self) -> tuple[PrecisionSpec, ...]:
        """All precisions, sorted by id."""
        return tuple(self._precisions.by_id.values())

    def prices(self) -> tuple[PriceEntry, ...]:
        """All price rows, sorted by (provider, region, gpu, instance type, purchase)."""
        return self._prices

    # --- queries ------------------------------------------------------------------------------

    def prices_for(
        self,
        provider: str,
        region: str,
        gpu: str,
        purchase: PurchaseKind | str,
        gpus_per_instance: int | None = None,
        instance_type: str | None = None,
    ) -> tuple[PriceEntry, ...]:
        """Price rows matching every given criterion, cheapest per GPU-hour first.

        `gpu` may be any name of a catalog GPU; provider and region match case-insensitively.
        Returns an empty tuple when no row matches (the caller decides whether that is an error).
        """
        gpu_id = self.gpu(gpu).id
        kind = _purchase_kind(purchase)
        rows = [
            row
            for row in self._prices
            if row.gpu == gpu_id
            and row.purchase == kind
            and row.provider.lower() == provider.strip().lower()
            and row.region.lower() == region.strip().lower()
            and (gpus_per_instance is None or row.gpus_per_instance == gpus_per_instance)
            and (instance_type is None or row.instance_type.lower() == instance_type.strip().lower())
        ]
        rows.sort(key=lambda r: (r.usd_per_gpu_hour, r.usd_per_instance_hour, r.instance_type))
        return tuple(rows)

    @staticmethod
    def supports(gpu: GpuSpec, precision: PrecisionSpec) -> bool:
        """Whether `gpu` runs `precision` natively: every capability in `precision.requires` has a
        peak on the GPU (`fp8` -> fp8_dense_tflops, `fp4` -> fp4_dense_tflops, `int8` ->
        int8_dense_tops). Weight-only schemes require nothing and run anywhere with FP16 compute.
        """
        for capability in precision.requires:
            field = _CAPABILITY_FIELDS.get(capability)
            if field is None or getattr(gpu, field) is None:
                return False
        return True

    # --- derivation ---------------------------------------------------------------------------

    def extended(
        self,
        gpus: Sequence[Mapping[str, Any]] = (),
        models: Sequence[Mapping[str, Any]] = (),
        precisions: Sequence[Mapping[str, Any]] = (),
        prices: Sequence[Mapping[str, Any]] = (),
        *,
        file: str | None = None,
        path_prefix: str = "",
    ) -> Catalog:
        """A new catalog with user entries merged in; `self` is unchanged.

        Each item is a dict. For gpus/models/precisions, an item whose `id` (or, without an id, `name`)
        resolves to an existing entry is a PARTIAL override: its fields replace that entry's, `aliases`
        are added to the existing ones, and the entry's `notes` record which fields were overridden.
        Any other item is a full new entry. For prices, an item with the same provider, region,
        instance type and purchase as an existing row overrides it; others are added. Price `gpu`
        fields may use any GPU name and are stored as canonical ids.

        All problems are collected and raised together as one `InputError` whose issue paths look like
        `gpus[0].memory_gb` (prefixed with `path_prefix`, e.g. `catalog.`), tagged with `file`.
        """
        issues: list[InputIssue] = []
        sections: dict[str, Sequence[Mapping[str, Any]]] = {
            "gpus": gpus,
            "models": models,
            "precisions": precisions,
            "prices": prices,
        }
        for section, items in sections.items():
            if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
                issues.append(InputIssue(f"{path_prefix}{section}", "must be a list of mappings", file=file))
                sections[section] = ()
        if issues:
            raise InputError(issues)

        gpu_specs = self._merge_named(
            self._gpus, GpuSpec, "gpus", sections["gpus"], issues, file, path_prefix
        )
        gpu_table = _try_table("gpu", gpu_specs, issues, f"{path_prefix}gpus", file)
        model_specs = self._merge_named(
            self._models, ModelSpec, "models", sections["models"], issues, file, path_prefix
        )
        model_table = _try_table("model", model_specs, issues, f"{path_prefix}models", file)
        precision_specs = self._merge_named(
            self._precisions, PrecisionSpec, "precisions", sections["precisions"], issues, file, path_prefix
        )
        precision_table = _try_table("precision", precision_specs, issues, f"{path_prefix}precisions", file)
        price_rows = self._merge_prices(gpu_table, sections["prices"], issues, file, path_prefix)
        if issues or gpu_table is None or model_table is None or precision_table is None:
            raise InputError(issues)
        return Catalog(
            gpu_table.by_id.values(), model_table.by_id.values(), precision_table.by_id.values(), price_rows
        )

    # --- internals ----------------------------------------------------------------------------

    @staticmethod
    def _merge_named(
        table: _Table[SpecT],
        spec_type: type[SpecT],
        section: str,
        items: Sequence[Mapping[str, Any]],
        issues: list[InputIssue],
        file: str | None,
        prefix: str,
    ) -> dict[str, SpecT]:
        """Apply items in order onto a copy of `table`; return specs by id (items with errors skipped)."""
        work = _Draft(table)
        for i, item in enumerate(items):
            where = f"{prefix}{section}[{i}]"
            if not isinstance(item, Mapping):
                issues.append(InputIssue(where, "must be a mapping of field names to values", file=file))
                continue
            ref = item.get("id", item.get("name"))
            target: SpecT | None = work.find(ref) if isinstance(ref, str) else None
            data: dict[str, Any]
            if target is not None:
                data = target.model_dump()
                overridden = sorted(k for k in item if k not in ("id", "aliases") and data.get(k) != item[k])
                data.update({k: v for k, v in item.items() if k != "id"})
                extra_aliases: object = item.get("aliases")
                if isinstance(extra_aliases, (list, tuple)):
                    merged: list[str] = list(target.aliases)
                    merged.extend(str(alias) for alias in extra_aliases)
                    data["aliases"] = tuple(dict.fromkeys(merged))
                if overridden and "notes" not in item:
                    note = f"User override of: {', '.join(overridden)}."
                    data["notes"] = f"{target.notes} {note}".strip()
            else:
                data = dict(item)
            spec = _validate(spec_type, data, where, issues, file)
            if spec is None:
                continue
            clash = work.put(spec)  # an override keeps its target's id, so it replaces the target
            if clash is not None:
                issues.append(InputIssue(f"{where}.aliases", clash, file=file))
        return work.by_id

    def _merge_prices(
        self,
        gpu_table: _Table[GpuSpec] | None,
        items: Sequence[Mapping[str, Any]],
        issues: list[InputIssue],
        file: str | None,
        prefix: str,
    ) -> list[PriceEntry]:
        rows: dict[tuple[str, ...], PriceEntry] = {_price_key(r): r for r in self._prices}
        for i, item in enumerate(items):
            where = f"{prefix}prices[{i}]"
            if not isinstance(item, Mapping):
                issues.append(InputIssue(where, "must be a mapping of field names to values", file=file))
                continue
            data = dict(item)
            gpu_name = data.get("gpu")
            if isinstance(gpu_name, str) and gpu_table is not None:
                gpu = gpu_table.find(gpu_name)
                if gpu is None:
                    # Past the issues one error shows, suggestions would only cost time.
                    hint = gpu_table.suggest(gpu_name) if len(issues) < MAX_ISSUES else []
                    tail = f"; did you mean {', '.join(repr(s) for s in hint)}?" if hint else ""
                    issues.append(
                        InputIssue(f"{where}.gpu", f"unknown gpu {gpu_name[:80]!r}{tail}", file=file)
                    )
                    continue
                data["gpu"] = gpu.id
            existing = _find_price(rows, data)
            if existing is not None:
                data = {**existing.model_dump(), **data}
            row = _validate(PriceEntry, data, where, issues, file)
            if row is not None:
                if existing is not None:
                    rows.pop(_price_key(existing))
                rows[_price_key(row)] = row
        return list(rows.values())


ModelT = TypeVar("ModelT", bound=BaseModel)


def _validate(
    spec_type: type[ModelT], data: Mapping[str, Any], where: str, issues: list[InputIssue], file: str | None
) -> ModelT | None:
    try:
        return spec_type.model_validate(data)
    except ValidationError as exc:
        for issue in validation_issues(exc, data, spec_type, filename=file, prefix=parse_path(where)):
            message = issue.message
            if message.startswith("missing required key") and spec_type is not PriceEntry:
                message += " (needed for a new entry; to override an existing one, give its id)"
            issues.append(InputIssue(issue.path, message, file=file))
        return None


def _try_table(
    kind: Kind, entries: Mapping[str, SpecT], issues: list[InputIssue], where: str, file: str | None
) -> _Table[SpecT] | None:
    try:
        return _Table(kind, entries.values())
    except ValueError as exc:
        issues.append(InputIssue(where, str(exc), file=file))
        return None


def _purchase_kind(purchase: PurchaseKind | str) -> PurchaseKind:
    if isinstance(purchase, PurchaseKind):
        return purchase
    key = normalize_name(purchase)
    for kind in PurchaseKind:
        if normalize_name(kind.value) == key:
            return kind
    raise InputError(
        InputIssue(
            "", f"unknown purchase kind {purchase!r}; expected one of {[k.value for k in PurchaseKind]}"
        )
    )


def _price_key(row: PriceEntry) -> tuple[str, ...]:
    return (row.provider.lower(), row.region.lower(), row.instance_type.lower(), row.purchase.value)


def _find_price(rows: Mapping[tuple[str, ...], PriceEntry], data: Mapping[str, Any]) -> PriceEntry | None:
    values = [data.get(f) for f in Catalog._PRICE_KEY_FIELDS]
    if not all(isinstance(v, str) for v in values):
        return None
    provider, region, instance_type, purchase = (str(v) for v in values)
    try:
        kind = _purchase_kind(purchase)
    except InputError:
        return None
    return rows.get((provider.lower(), region.lower(), instance_type.lower(), kind.value))


def _price_sort_key(row: PriceEntry) -> tuple[str, ...]:
    return (row.provider, row.region, row.gpu, row.instance_type, row.purchase.value)


def catalog_sections(doc: YamlDocument, file: str) -> dict[str, list[dict[str, Any]]]:
    """The sections of a catalog document (top-level keys `gpus`, `models`, `precisions`, `prices`,
    each a list of mappings; all optional), or an `InputError` with the line of every issue.

    A document that has none of the sections is not a catalog, and nothing of it is quoted: the
    file may be anything a path pointed at.
    """
    data = doc.data if doc.data is not None else {}
    expected = ", ".join(SECTIONS)
    if not isinstance(data, dict):
        raise InputError(
            InputIssue(
                "",
                f"not a catalog file: its top level is {root_kind(data)}; a catalog file is a mapping "
                f"with the sections {expected}",
                file=file,
            )
        )
    if data and not any(key in SECTIONS for key in data):
        raise InputError(
            InputIssue(
                "",
                f"not a catalog file: it has none of the sections {expected} (its keys are not shown)",
                file=file,
            )
        )
    issues: list[InputIssue] = []
    out: dict[str, list[dict[str, Any]]] = {section: [] for section in SECTIONS}
    for key, value in data.items():
        line = doc.lines.line_of((key,))
        if key not in SECTIONS:
            issues.append(
                InputIssue(
                    key,
                    f"unknown catalog section{did_you_mean(key, SECTIONS)} (a catalog file has {expected})",
                    line=line,
                    file=file,
                )
            )
            continue
        if value is None:
            continue
        if not isinstance(value, list):
            issues.append(InputIssue(key, "must be a list of mappings", line=line, file=file))
            continue
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                issues.append(
                    InputIssue(
                        f"{key}[{i}]",
                        "must be a mapping of field names to values",
                        line=doc.lines.line_of((key, i)),
                        file=file,
                    )
                )
            else:
                out[key].append(item)
    if issues:
        raise InputError(issues)
    return out


def _load_packaged(reader: Callable[[str], str]) -> Catalog:
    sections: dict[str, list[dict[str, Any]]] = {section: [] for section in SECTIONS}
    for name in _DATA_FILES:
        file = f"optimizer/catalog/data/{name}"
        parsed = catalog_sections(parse_yaml(reader(name), file, kind="catalog file"), file)
        for section, items in parsed.items():
            sections[section].extend(items)
    issues: list[InputIssue] = []
    gpus = [
        g for i, d in enumerate(sections["gpus"]) if (g := _validate(GpuSpec, d, f"gpus[{i}]", issues, None))
    ]
    models = [
        m
        for i, d in enumerate(sections["models"])
        if (m := _validate(ModelSpec, d, f"models[{i}]", issues, None))
    ]
    precisions = [
        p
        for i, d in enumerate(sections["precisions"])
        if (p := _validate(PrecisionSpec, d, f"precisions[{i}]", issues, None))
    ]
    prices = [
        r
        for i, d in enumerate(sections["prices"])
        if (r := _validate(PriceEntry, d, f"prices[{i}]", issues, None))
    ]
    if issues:
        raise InputError(issues)
    return Catalog(gpus, models, precisions, prices)


@cache
def default_catalog() -> Catalog:
    """The built-in catalog from the packaged YAML data (loaded once, then cached)."""
    data = resources.files("optimizer.catalog").joinpath("data")
    return _load_packaged(lambda name: data.joinpath(name).read_text(encoding="utf-8"))
