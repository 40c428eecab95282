"""Sweeps and frontiers: many scenarios of one problem, solved in parallel, as a table of results.

    >>> from optimizer.whatif import sweep                                     # doctest: +SKIP
>>> result = sweep("problems/startup_budget.yaml", scale_demand=[0.5, 1, 2])  # doctest: +SKIP
>>> [r["monthly_cost_usd"] for r in result.records]                           # doctest: +SKIP
>>> result.dataframe()                                # a pandas DataFrame (pandas needed)  # doctest: +SKIP

Every scenario's overrides are applied to the problem document here, before anything runs, so an
unknown path or a wrong type stops the sweep with exit 2 naming the override; cross-reference checks
and the solve run per scenario, and their failures are reported in the scenario's row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer import __version__
from optimizer.outputs import atomic_write_text
from optimizer.pipeline import SolveOptions
from optimizer.schema.problem import Problem
from optimizer.whatif.overrides import (
    Override,
    ProblemSource,
    ScaleDemand,
    ScalePrice,
    SetValue,
    edit_document,
    parse_override,
    read_source,
    source_from_problem,
)
from optimizer.whatif.runner import (
    TIMING_COLUMNS,
    ExecutorInfo,
    ExecutorName,
    ScenarioOutcome,
    ScenarioTask,
    execute,
)
from optimizer.whatif.scenarios import (
    Axis,
    ParamValue,
    Scenario,
    budget_axis,
    expand,
    load_scenarios,
    safe_filename,
    scale_axis,
    vary_axis,
)

SWEEP_THREADS = 1
"""Solver threads per scenario by default: scenarios run in parallel, so each solve gets one thread
(several multi-threaded solves on the same cores slow each other down)."""
FIGURE_COLUMNS: tuple[str, ...] = (
    "status",
    "gap",
    "monthly_cost_usd",
    "monthly_spend_usd",
    "usd_per_million_tokens",
    "served_share",
    "serverless_share",
    "unmet_share",
    "demand_met_share",
    "gpus",
)
"""The fixed result columns, after `scenario` and the varied parameters."""
GROUP_PREFIXES: tuple[str, ...] = ("gpus.", "gpus_by_option.", "spend_usd.", "spend_usd_by_option.")
"""Per-type and per-option columns (one per GPU type / purchase option seen in any scenario)."""


@dataclass(frozen=True)
class SweepResult:
    """One row per scenario, in scenario order; plans (JSON data) when asked for."""

    problem: str
    kind: str
    """`sweep` or `frontier`."""
    parameters: list[str]
    """The varied parameters (result columns after `scenario`)."""
    columns: list[str]
    records: list[dict[str, Any]]
    executor: ExecutorInfo
    wall_time_s: float
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dataframe(self) -> Any:
        """The records as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SweepResult.dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.records, columns=self.columns)

    def reproducible_records(self) -> list[dict[str, Any]]:
        """The records without their timing columns: identical on every executor."""
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in self.records]

    def document(self) -> dict[str, Any]:
        """`results.json`: the results with what produced them."""
        return {
            "kind": f"{self.kind}_results",
            "problem": self.problem,
            "parameters": self.parameters,
            "columns": self.columns,
            "rows": self.records,
            "executor": {"name": self.executor.name, "workers": self.executor.workers},
            "wall_time_s": round(self.wall_time_s, 3),
            "library_version": __version__,
        }


# --------------------------------------------------------------------------------------------
# Building scenarios
# --------------------------------------------------------------------------------------------


def _as_overrides(items: Sequence[str | Override]) -> list[Override]:
    return [parse_override(i) if isinstance(i, str) else i for i in items]


def _numbers(values: Sequence[float] | float) -> str:
    seq = [values] if isinstance(values, int | float) else list(values)
    return ",".join(repr(float(v)) for v in seq)


def build_axes(
    vary: Sequence[str] | Mapping[str, Sequence[Any]] = (),
    scale_demand: Sequence[str] | Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    scale_price: Sequence[str] | Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    budgets: Sequence[float] | None = None,
) -> list[Axis]:
    """Axes from CLI spellings (`"PATH=V1,V2"`, `"0.5,1,2"`, `"h100_sxm=0.7,1"`) or Python values
    (`{"workloads.chat.slo.ttft_ms": [300, 500]}`, `[0.5, 1, 2]`, `{"h100_sxm": [0.7, 1]}`)."""
    axes: list[Axis] = []
    if isinstance(vary, Mapping):
        for path, values in vary.items():
            ax = vary_axis(
                f"{path}=" + ",".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values)
            )
            axes.append(ax)
    else:
        axes.extend(vary_axis(v) for v in vary)
    for kind, spec in (("scale-demand", scale_demand), ("scale-price", scale_price)):
        if spec is None:
            continue
        if isinstance(spec, Mapping):
            axes.extend(scale_axis(f"{name}={_numbers(vals)}", kind) for name, vals in spec.items())
        elif spec and all(isinstance(v, int | float) for v in spec):
            axes.append(scale_axis(_numbers([float(v) for v in spec]), kind))
        else:
            axes.extend(scale_axis(str(v), kind) for v in spec)
    if budgets:
        axes.append(budget_axis(budgets))
    return axes


def _source(problem: Path | str | Problem | ProblemSource) -> ProblemSource:
    if isinstance(problem, ProblemSource):
        return problem
    if isinstance(problem, Problem):
        return source_from_problem(problem)
    return read_source(problem)


def make_tasks(
    source: ProblemSource, scenarios: Sequence[Scenario], options: SolveOptions, keep_plans: bool
) -> list[ScenarioTask]:
    """Apply each scenario's overrides (raising `OverrideError` for a bad path or type)."""
    sweep_id = uuid.uuid4().hex
    tasks = []
    for i, s in enumerate(scenarios):
        edited = edit_document(source, s.overrides)
        tasks.append(
            ScenarioTask(
                index=i,
                name=s.name,
                data=edited.data,
                filename=source.filename,
                base_dir=str(source.base_dir),
                options=options,
                keep_plan=keep_plans,
                edited=bool(s.overrides),
                catalog_dirs=source.catalog_dirs,
                sweep_id=sweep_id,
            )
        )
    return tasks


def _columns(parameters: Sequence[str], outcomes: Sequence[ScenarioOutcome]) -> list[str]:
    grouped = {p: sorted({k for o in outcomes for k in o.figures if k.startswith(p)}) for p in GROUP_PREFIXES}
    return [
        "scenario",
        *parameters,
        *FIGURE_COLUMNS,
        *(c for p in GROUP_PREFIXES for c in grouped[p]),
        "error",
        *TIMING_COLUMNS,
    ]


def _record(
    scenario: Scenario, outcome: ScenarioOutcome, parameters: Sequence[str], columns: Sequence[str]
) -> dict[str, Any]:
    """One row: the scenario's parameters and figures; a solved scenario has 0 (not empty) for a GPU
    type or purchase option it does not use, a failed one has empty figures and its `error`."""
    rec: dict[str, Any] = {"scenario": scenario.name}
    for p in parameters:
        rec[p] = scenario.params.get(p)
    for c in columns:
        if c in rec or c in TIMING_COLUMNS:
            continue
        value = outcome.figures.get(c)
        counted = c == "gpus" or c.startswith(GROUP_PREFIXES)
        rec[c] = 0 if value is None and counted and outcome.ok else value
    rec["wall_s"] = outcome.wall_s
    return rec


def run_scenarios(
    source: ProblemSource,
    scenarios: Sequence[Scenario],
    *,
    kind: str = "sweep",
    options: SolveOptions | None = None,
    executor: ExecutorName = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
    keep_plans: bool = False,
    done: Callable[[ScenarioOutcome], None] | None = None,
) -> SweepResult:
    """Solve every scenario and collect the rows (see the module docstring)."""
    opts = options or SolveOptions(baselines=False, threads=SWEEP_THREADS)
    tasks = make_tasks(source, scenarios, opts, keep_plans)
    t0 = time.perf_counter()
    outcomes, info = execute(tasks, executor, jobs, scheduler, done)
    wall = time.perf_counter() - t0
    parameters = list(dict.fromkeys(p for s in scenarios for p in s.params))
    columns = _columns(parameters, outcomes)
    records = [_record(s, o, parameters, columns) for s, o in zip(scenarios, outcomes, strict=True)]
    plans = {s.name: o.plan for s, o in zip(scenarios, outcomes, strict=True) if o.plan is not None}
    problem = source.loaded.problem.name if source.loaded is not None else Path(source.filename).stem
    return SweepResult(problem, kind, parameters, columns, records, info, wall, plans)


def sweep(
    problem: Path | str | Problem | ProblemSource,
    *,
    vary: Sequence[str] | Mapping[str, Sequence[Any]] = (),
    scale_demand: Sequence[str] | Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    scale_price: Sequence[str] | Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    scenarios: Path | str | Sequence[Scenario] | None = None,
    overrides: Sequence[str | Override] = (),
    zip_axes: bool = False,
    options: SolveOptions | None = None,
    executor: ExecutorName = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
    keep_plans: bool = False,
    done: Callable[[ScenarioOutcome], None] | None = None,
) -> SweepResult:
    """Solve a problem under many what-ifs.

    `vary`, `scale_demand` and `scale_price` give axes (cartesian product, or paired with
    `zip_axes`); `scenarios` (a scenarios file or `Scenario` list) gives named scenarios instead;
    `overrides` apply to every scenario first. Default options: no baselines, `SWEEP_THREADS` solver
    threads per scenario.
    """
    source = _source(problem)
    fixed = _as_overrides(overrides)
    axes = build_axes(vary, scale_demand, scale_price)
    if scenarios is not None:
        if axes:
            from optimizer.errors import InputError

            raise InputError("give either scenarios or varied parameters (--vary/--scale-*), not both")
        scen = (
            load_scenarios(scenarios, fixed)
            if isinstance(scenarios, str | Path)
            else [Scenario(s.name, s.params, tuple(fixed) + s.overrides) for s in scenarios]
        )
    else:
        scen = expand(axes, fixed, zip_axes)
    return run_scenarios(
        source,
        scen,
        options=options,
        executor=executor,
        jobs=jobs,
        scheduler=scheduler,
        keep_plans=keep_plans,
        done=done,
    )


def frontier(
    problem: Path | str | Problem | ProblemSource,
    *,
    budgets: Sequence[float] = (),
    vary: Sequence[str] | Mapping[str, Sequence[Any]] = (),
    penalty_usd_per_million_tokens: float | None = None,
    overrides: Sequence[str | Override] = (),
    zip_axes: bool = False,
    options: SolveOptions | None = None,
    executor: ExecutorName = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
    keep_plans: bool = False,
    done: Callable[[ScenarioOutcome], None] | None = None,
) -> SweepResult:
    """Budget frontier (the share of demand served within each monthly budget, shortfall allowed at
    the problem's penalty or `penalty_usd_per_million_tokens`) and/or latency frontier (`vary` over
    TTFT or TPOT targets: cost against the target)."""
    from optimizer.errors import InputError

    if not budgets and not vary:
        raise InputError("a frontier needs --budgets B1,B2,... and/or --vary over a latency target")
    source = _source(problem)
    fixed = _as_overrides(overrides)
    if penalty_usd_per_million_tokens is not None:
        fixed.append(
            SetValue(
                "policy.shortfall.penalty_usd_per_million_tokens",
                penalty_usd_per_million_tokens,
                f"--penalty {penalty_usd_per_million_tokens:g}",
            )
        )
    axes = build_axes(vary, None, None, budgets)
    return run_scenarios(
        source,
        expand(axes, fixed, zip_axes),
        kind="frontier",
        options=options,
        executor=executor,
        jobs=jobs,
        scheduler=scheduler,
        keep_plans=keep_plans,
        done=done,
    )


# --------------------------------------------------------------------------------------------
# Writing results
# --------------------------------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return value


def write_results(result: SweepResult, out: Path) -> list[Path]:
    """`results.csv`, `results.json` and, when kept, `plans/<scenario>.yaml` under `out`."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    written = []
    csv_path = out / "results.csv"
    atomic_write_text(csv_path, results_csv(result))
    written.append(csv_path)
    json_path = out / "results.json"
    atomic_write_text(json_path, json.dumps(result.document(), indent=2) + "\n")
    written.append(json_path)
    if result.plans:
        plans_dir = out / "plans"
        plans_dir.mkdir(exist_ok=True)
        for name, plan in result.plans.items():
            path = plans_dir / f"{safe_filename(name)}.yaml"
            atomic_write_text(path, yaml.safe_dump(plan, sort_keys=False, width=120))
            written.append(path)
    return written


def results_csv(result: SweepResult) -> str:
    """The records as CSV text: one row per scenario, empty cells for missing values."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=result.columns, lineterminator="\n")
    writer.writeheader()
    for rec in result.records:
        writer.writerow({k: _csv_value(rec.get(k)) for k in result.columns})
    return buffer.getvalue()


def scenario_count(axes: Sequence[Axis], zip_axes: bool) -> int:
    if not axes:
        return 1
    sizes = [len(a.values) for a in axes]
    return sizes[0] if zip_axes else math.prod(sizes)


__all__ = [
    "ParamValue",
    "ScaleDemand",
    "ScalePrice",
    "SweepResult",
    "build_axes",
    "frontier",
    "run_scenarios",
    "sweep",
    "write_results",
]
