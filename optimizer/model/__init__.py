"""The fleet MIP: `FleetData` (plain numbers) in, a PuLP model with named variables, constraint
families and cost terms out. Imports nothing from the catalog, the performance model or the schema.

Modules:
    data          the input contract (FleetData and its rows)
    index         validated lookups: replica slots, usable routes, demand keys
    names         every variable and constraint name (`family__id__id...`, collision-checked)
    coefficients  small pure cost, capacity and bound formulas
    bounds        big-M values from demand and hard limits
    variables     replicas, instances, traffic, serverless/unmet, binaries
    objective     the named cost terms (data.COST_TERMS) and the objective
    coverage      demand coverage (hourly, daily), model-routing and serverless shares
    capacity      capacity, instance packing, spot share
    limits        supply, site GPUs, site power, GPU types, budget
    placement     active sites, minimum replicas, hybrid placement
    build         `build_model`: the table of contents
    diagnose      infeasibility pre-check and reading an elastic re-solve
    synthetic     random FleetData of any size (benchmarks, solver tests)
"""

from optimizer.model.build import CONSTRAINT_FAMILIES, build_model
from optimizer.model.data import FleetData
from optimizer.model.fleet_model import FleetModel

__all__ = ["CONSTRAINT_FAMILIES", "FleetData", "FleetModel", "build_model"]
