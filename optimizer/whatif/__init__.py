"""What-if analysis: overrides on any problem, scenario sweeps, budget and latency frontiers, plan diffs.

The CLI (`optimizer solve --set`, `optimizer sweep`, `optimizer frontier`, `optimizer diff`) is a thin
layer over this package. Python API:

>>> import optimizer                                                          # doctest: +SKIP
>>> result = optimizer.sweep("problems/startup_budget.yaml", scale_demand=[0.5, 1, 2])  # doctest: +SKIP
>>> result.records[0]["monthly_cost_usd"], result.dataframe()                 # doctest: +SKIP
"""

from optimizer.whatif.api import SweepResult, frontier, sweep
from optimizer.whatif.overrides import (
    Override,
    OverrideError,
    ScaleDemand,
    ScalePrice,
    ScaleValue,
    SetValue,
    apply_overrides,
    parse_override,
    parse_scale,
    read_source,
)
from optimizer.whatif.scenarios import Scenario, load_scenarios

__all__ = [
    "Override",
    "OverrideError",
    "ScaleDemand",
    "ScalePrice",
    "ScaleValue",
    "Scenario",
    "SetValue",
    "SweepResult",
    "apply_overrides",
    "frontier",
    "load_scenarios",
    "parse_override",
    "parse_scale",
    "read_source",
    "sweep",
]
