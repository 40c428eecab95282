"""Scenarios: named sets of overrides, from a grid of varied parameters or from a scenarios file.

A grid is a list of axes; each axis is one varied parameter (a column of the results) with its
values, each value a list of overrides. `expand` takes their cartesian product (or, `zip=True`, pairs
the i-th values of every axis). A scenarios file names each scenario and its overrides:

```yaml
scenarios:
  - name: base
  - name: h100_cheaper
    scale_price: {h100_sxm: 0.7}
  - name: demand_x2
    scale_demand: 2              # or {assistant: 2}
  - name: tight_latency
    set:
      workloads.assistant.slo.ttft_ms: 300
      "sites.aws_us_east_1.offers.h100_sxm.max_gpus*": 0.5
```
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from optimizer.errors import InputError, InputIssue
from optimizer.loading.messages import validation_issues
from optimizer.loading.yaml_source import (
    LineMap,
    decode_bytes,
    format_path,
    parse_yaml,
    read_source,
    root_kind,
)
from optimizer.schema.types import Frozen
from optimizer.whatif.overrides import (
    Override,
    OverrideError,
    ScaleDemand,
    ScalePrice,
    ScaleValue,
    SetValue,
    nearest,
    parse_factor,
    parse_override,
    parse_scalar,
    split_path,
)

ParamValue = str | int | float | bool | None


@dataclass(frozen=True)
class Scenario:
    """One what-if: a name, the values of the varied parameters (results columns) and its overrides."""

    name: str
    params: dict[str, ParamValue] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Axis:
    """One varied parameter: a column label and, per value, the overrides that realise it."""

    label: str
    values: tuple[tuple[ParamValue, tuple[Override, ...]], ...]


def _split_values(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def vary_axis(text: str) -> Axis:
    """`PATH=V1,V2,...` (set) or `PATH*=F1,F2,...` (scale) as an axis."""
    if "=" not in text:
        raise OverrideError(text, "expected --vary PATH=V1,V2,... or 'PATH*=F1,F2,...'")
    left, right = text.split("=", 1)
    values = _split_values(right)
    if not values:
        raise OverrideError(text, "give at least one value after '='")
    entries: list[tuple[ParamValue, tuple[Override, ...]]] = []
    for v in values:
        ov = parse_override(f"{left.strip()}={v}")
        shown: ParamValue = ov.value if isinstance(ov, SetValue) else ov.factor
        if not isinstance(shown, str | int | float | bool) and shown is not None:
            shown = str(v)
        entries.append((shown, (ov,)))
    label = left.strip().replace(" ", "")
    return Axis(label=label, values=tuple(entries))


def scale_axis(text: str, kind: str) -> Axis:
    """`F1,F2` or `NAME=F1,F2` for --scale-demand / --scale-price with several values."""
    name = None
    values = text
    if "=" in text:
        name, values = (s.strip() for s in text.split("=", 1))
    parts = _split_values(values)
    if not parts:
        raise OverrideError(f"--{kind} {text}", "give at least one factor")
    prefix = f"{name}=" if name else ""
    entries: list[tuple[ParamValue, tuple[Override, ...]]] = []
    label = kind.replace("-", "_") + (f".{name}" if name else "")
    for v in parts:
        factor = parse_factor(v, f"--{kind} {text}")
        ov: Override
        if kind == "scale-demand":
            ov = ScaleDemand(factor=factor, workload=name, text=f"--scale-demand {prefix}{v}")
        else:
            ov = ScalePrice(factor=factor, gpu=name, text=f"--scale-price {prefix}{v}")
        entries.append((factor, (ov,)))
    return Axis(label=label, values=tuple(entries))


def budget_axis(budgets: Sequence[float]) -> Axis:
    """Monthly budgets, each with shortfall allowed (demand beyond the budget goes unmet at the
    problem's penalty): the `budget` column of a frontier."""
    entries: list[tuple[ParamValue, tuple[Override, ...]]] = []
    for b in budgets:
        if not b > 0:
            raise OverrideError(f"--budgets {b}", "budgets must be positive USD per month")
        entries.append(
            (
                float(b),
                (
                    SetValue("policy.budget_usd_per_month", float(b), f"budget {b:g}"),
                    SetValue("policy.shortfall.allowed", True, f"budget {b:g}"),
                ),
            )
        )
    return Axis(label="budget", values=tuple(entries))


def _short(label: str) -> str:
    return label.rstrip("*").split(".")[-1] + ("*" if label.endswith("*") else "")


def _fmt(value: ParamValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand(axes: Sequence[Axis], fixed: Sequence[Override] = (), zip_axes: bool = False) -> list[Scenario]:
    """Every combination of the axes' values (or the i-th of each, `zip_axes`), after `fixed`.

    >>> a = scale_axis("0.5,1", "scale-demand")
    >>> [s.name for s in expand([a])]
    ['scale_demand=0.5', 'scale_demand=1']
    """
    if not axes:
        return [Scenario(name="base", overrides=tuple(fixed))]
    labels = [a.label for a in axes]
    if len(set(labels)) != len(labels):
        dup = next(x for x in labels if labels.count(x) > 1)
        raise OverrideError(dup, "the same parameter is varied twice; give all its values in one option")
    if zip_axes:
        lengths = {len(a.values) for a in axes}
        if len(lengths) != 1:
            shown = ", ".join(f"{a.label}: {len(a.values)}" for a in axes)
            raise InputError(f"--zip needs the same number of values on every axis ({shown})")
        combos = list(zip(*(a.values for a in axes), strict=True))
    else:
        combos = list(itertools.product(*(a.values for a in axes)))
    shorts = [_short(a.label) for a in axes]
    if len(set(shorts)) != len(shorts):
        shorts = labels
    out: list[Scenario] = []
    seen: set[str] = set()
    for i, combo in enumerate(combos):
        name = ",".join(f"{s}={_fmt(v)}" for s, (v, _) in zip(shorts, combo, strict=True))
        if name in seen:
            name = f"{name}#{i + 1}"
        seen.add(name)
        overrides = tuple(fixed) + tuple(ov for _, ovs in combo for ov in ovs)
        out.append(
            Scenario(
                name=name,
                params={a.label: v for a, (v, _) in zip(axes, combo, strict=True)},
                overrides=overrides,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Scenarios file
# --------------------------------------------------------------------------------------------


class ScenarioSpec(Frozen):
    """One named scenario of a scenarios file."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.=,+\-]*$")
    """Scenario name (letters, digits, `_ . = , + -`): the `scenario` column and the plan file name."""
    description: str = ""
    """Free text."""
    set: dict[str, Any] = Field(default_factory=dict)
    """Overrides `PATH: VALUE`, or `PATH*: FACTOR` to scale the current value."""
    scale_demand: float | dict[str, float] | None = None
    """Every workload's demand x factor, or per workload id."""
    scale_price: float | dict[str, float] | None = None
    """Every GPU's effective price x factor, or per GPU name."""


class ScenariosFile(Frozen):
    """A scenarios file: named scenarios, each a set of overrides."""

    scenarios: tuple[ScenarioSpec, ...] = Field(min_length=1)
    """The scenarios, in the order they are reported."""


def _spec_overrides(spec: ScenarioSpec, where: str) -> tuple[tuple[Override, ...], dict[str, ParamValue]]:
    overrides: list[Override] = []
    params: dict[str, ParamValue] = {}
    for key, value in spec.set.items():
        text = f"{where}: {key}={value}"
        if key.endswith("*"):
            path = key[:-1].strip()
            split_path(path, text)
            overrides.append(ScaleValue(path=path, factor=parse_factor(str(value), text), text=text))
        else:
            split_path(key, text)
            overrides.append(SetValue(path=key, value=value, text=text))
        params[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
    for kind, value in (("scale_demand", spec.scale_demand), ("scale_price", spec.scale_price)):
        if value is None:
            continue
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for name, factor in items:
            text = f"{where}: {kind}" + (f".{name}" if name else "") + f"={factor:g}"
            if factor < 0:
                raise OverrideError(text, "factors must be >= 0")
            ov: Override = (
                ScaleDemand(factor=factor, workload=name, text=text)
                if kind == "scale_demand"
                else ScalePrice(factor=factor, gpu=name, text=text)
            )
            overrides.append(ov)
            params[ov.label()] = factor
    return tuple(overrides), params


def _file_issues(exc: ValidationError, data: Any, lines: LineMap, name: str) -> list[InputIssue]:
    """Schema errors of a scenarios file, an unknown key with the nearest allowed one."""
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            fields = list((ScenarioSpec if len(loc) == 3 else ScenariosFile).model_fields)
            close = nearest(key, fields)
            hint = f"; did you mean {close!r}?" if close else f"; allowed keys: {', '.join(fields)}"
            issues.append(
                InputIssue(format_path(loc), f"unknown key {key!r}{hint}", lines.line_of(loc), name)
            )
    if issues:
        return issues
    found = validation_issues(exc, data, ScenariosFile, lines=lines, filename=name)
    # pydantic also calls a list whose items all failed too short: keep the items' own errors only
    items = [i for i in found if i.path.startswith("scenarios[")]
    return [i for i in found if not (items and i.path == "scenarios")] if items else found


def load_scenarios(path: Path | str, fixed: Sequence[Override] = ()) -> list[Scenario]:
    """Read a scenarios file (safe YAML, schema-checked, every error with its line)."""
    name = str(path)
    raw = read_source(Path(path), name, "scenarios file")
    doc = parse_yaml(decode_bytes(raw, name, "scenarios file"), name, "scenarios file")
    if not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"{root_kind(doc.data)}, not a mapping"
        raise InputError(
            InputIssue(
                "",
                f"the file is {what}; a scenarios file holds `scenarios:`, a list of "
                "{name, set: {PATH: VALUE}, scale_demand, scale_price}",
                line=doc.lines.line_of(()),
                file=name,
            )
        )
    try:
        spec = ScenariosFile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(_file_issues(exc, doc.data, doc.lines, name)) from None
    names = [s.name for s in spec.scenarios]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(
            InputIssue(path="scenarios", message=f"duplicate scenario names: {', '.join(dups)}", file=name)
        )
    out = []
    for i, s in enumerate(spec.scenarios):
        line = doc.lines.line_of(("scenarios", i))
        overrides, params = _spec_overrides(s, f"{name}:{line} scenario {s.name!r}")
        out.append(Scenario(name=s.name, params=params, overrides=tuple(fixed) + overrides))
    return out


def safe_filename(name: str) -> str:
    """A scenario name as a file name (anything but letters, digits and `_.=,+-` becomes `_`).

    >>> safe_filename("ttft_ms=300,scale_demand=2")
    'ttft_ms=300,scale_demand=2'
    """
    return re.sub(r"[^A-Za-z0-9_.=,+\-]", "_", name)[:120] or "scenario"


__all__ = [
    "Axis",
    "Scenario",
    "ScenarioSpec",
    "ScenariosFile",
    "budget_axis",
    "expand",
    "load_scenarios",
    "parse_scalar",
    "safe_filename",
    "scale_axis",
    "vary_axis",
]
