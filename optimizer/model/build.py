"""Build the fleet MIP from `FleetData`: variables, named cost terms, one function per constraint family."""

from __future__ import annotations

from collections.abc import Callable

import pulp

from optimizer.gc_pause import gc_paused
from optimizer.model.capacity import add_capacity, add_instance_packing, add_spot_share
from optimizer.model.coverage import (
    add_daily_coverage,
    add_demand_coverage,
    add_model_routing,
    add_serverless_share,
)
from optimizer.model.data import FleetData
from optimizer.model.fleet_model import FleetModel
from optimizer.model.index import Formulation, index_fleet
from optimizer.model.limits import add_budget, add_max_gpu_types, add_site_gpus, add_site_power, add_supply
from optimizer.model.objective import add_cost_terms, add_violation, set_objective
from optimizer.model.placement import add_active_sites, add_hybrid_placement, add_min_replicas
from optimizer.model.rules import RULE_FAMILIES
from optimizer.model.variables import (
    add_budget_slack,
    add_gpu_type_use,
    add_instances,
    add_replicas,
    add_serverless_and_unmet,
    add_site_activity,
    add_traffic,
)

CONSTRAINT_FAMILIES: tuple[tuple[str, Callable[[FleetModel], None]], ...] = (
    ("demand_coverage", add_demand_coverage),
    ("daily_coverage", add_daily_coverage),
    ("capacity", add_capacity),
    ("model_routing", add_model_routing),
    ("serverless_share", add_serverless_share),
    ("spot_share", add_spot_share),
    ("instance_packing", add_instance_packing),
    ("supply", add_supply),
    ("site_gpus", add_site_gpus),
    ("site_power", add_site_power),
    ("active_sites", add_active_sites),
    ("min_replicas", add_min_replicas),
    ("hybrid_placement", add_hybrid_placement),
    ("max_gpu_types", add_max_gpu_types),
    ("budget", add_budget),
)
"""Every constraint family, in build order; names usable in `build_model(omit=...)`. The names are
exactly the ids of `rules.RULE_FAMILIES` (the registry the diagnosis reads its rule text from)."""
if tuple(name for name, _ in CONSTRAINT_FAMILIES) != tuple(RULE_FAMILIES):  # pragma: no cover
    raise RuntimeError("build.CONSTRAINT_FAMILIES and rules.RULE_FAMILIES must list the same families")


def build_model(
    data: FleetData,
    *,
    elastic: bool = False,
    omit: frozenset[str] = frozenset(),
    formulation: Formulation = "reduced",
) -> FleetModel:
    """The fleet MIP for `data`: minimise monthly cost subject to every constraint family.

    `formulation`: `reduced` (default) routes traffic per (workload, region, site, pool) with one
    capacity row per nested latency band; `full` routes it per candidate. Both have the same
    optimum (docs/formulation.md; tested on random instances); `full` is kept for that test.

    `elastic` and `omit` serve infeasibility diagnosis only: `elastic` allows unmet demand
    everywhere (measured by `FleetModel.violation`, not priced) and relaxes the budget by a slack;
    `omit` leaves out the named constraint families.
    """
    unknown = omit - {name for name, _ in CONSTRAINT_FAMILIES}
    if unknown:
        raise ValueError(f"unknown constraint families {sorted(unknown)}")
    with gc_paused():  # millions of live objects, no garbage: the collector would only rescan them
        return _build(data, elastic, omit, formulation)


def _build(data: FleetData, elastic: bool, omit: frozenset[str], formulation: Formulation) -> FleetModel:
    """`build_model` with its arguments checked."""
    m = FleetModel(
        data=data,
        index=index_fleet(data, formulation),
        problem=pulp.LpProblem("fleet", pulp.LpMinimize),
        elastic=elastic,
        omitted=omit,
    )

    # Variables
    add_replicas(m)
    add_instances(m)
    add_traffic(m)
    add_serverless_and_unmet(m)
    add_site_activity(m)
    add_gpu_type_use(m)
    add_budget_slack(m)

    # Objective terms (USD per month), each kept on the model
    add_cost_terms(m)
    add_violation(m)

    # Constraints, one family at a time
    for name, add_family in CONSTRAINT_FAMILIES:
        if name not in omit:
            rows = m.problem.numConstraints()
            add_family(m)
            m.family_rows[name] = m.problem.numConstraints() - rows

    set_objective(m)
    m.names.seal()  # every name is handed out and checked; the registry is memory only from here
    return m
