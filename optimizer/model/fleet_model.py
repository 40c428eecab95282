"""`FleetModel`: the PuLP problem plus its variables, constraints and cost terms, keyed by ids.

Keys (None stands for "every period" in variables of fixed purchase options):

- replicas   (candidate, site, option, period | None)                   integer
- instances  (site, gpu, option, period | None, tenant)                 integer
- traffic    (workload, region, site, candidate, period)                continuous, rps
- serverless (workload, region, period)                                 continuous, rps
- unmet      (workload, region, period)                                 continuous, rps
- active     (workload, site)                                           binary
- gpu_used   (gpu,)                                                     binary
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pulp

from optimizer.model.bounds import Bounds
from optimizer.model.data import COST_TERMS, FleetData
from optimizer.model.index import FleetIndex
from optimizer.model.names import Names

ReplicaKey = tuple[str, str, str, str | None]
InstanceKey = tuple[str, str, str, str | None, str]
TrafficKey = tuple[str, str, str, str, str]
DemandKey = tuple[str, str, str]
Key = tuple[str | None, ...]

SPENDING_TERMS = tuple(t for t in COST_TERMS if t != "shortfall_penalty")
"""Cost terms that are money spent (the budget caps these); the shortfall penalty is not spent."""


LP_RELAXABLE_FAMILIES: tuple[str, ...] = (
    "active_replicas",
    "min_instances",
    "active_traffic",
    "min_replicas",
    "hybrid_central",
    "hybrid_edge",
    "hybrid_in_use",
)
"""Row families (`FleetModel.add` names) a quick LP bound may leave out; see `relaxation_rows`."""


@dataclass(frozen=True, slots=True)
class WorkloadBlocks:
    """Columns by workload, and the shared columns a per-workload relaxation substitutes."""

    blocks: tuple[tuple[str, ...], ...] = ()
    """Column names of each workload."""
    linked: tuple[tuple[str, str], ...] = ()
    """(instance column, its packing row): gpus_per_instance x inst >= GPUs of the replicas in it."""


@dataclass(eq=False)
class FleetModel:
    """A built MIP. Variables and constraints are reachable by key; cost terms by name."""

    data: FleetData
    index: FleetIndex
    problem: Any
    """The `pulp.LpProblem` (minimise)."""
    names: Names = field(default_factory=Names)
    elastic: bool = False
    """Diagnosis variant: unmet demand allowed everywhere and the budget relaxed by a priced slack."""
    omitted: frozenset[str] = frozenset()
    """Constraint families left out (diagnosis only)."""

    replicas: dict[ReplicaKey, pulp.LpVariable] = field(default_factory=dict)
    instances: dict[InstanceKey, pulp.LpVariable] = field(default_factory=dict)
    traffic: dict[TrafficKey, pulp.LpVariable] = field(default_factory=dict)
    serverless: dict[DemandKey, pulp.LpVariable] = field(default_factory=dict)
    unmet: dict[DemandKey, pulp.LpVariable] = field(default_factory=dict)
    active: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    gpu_used: dict[str, pulp.LpVariable] = field(default_factory=dict)
    budget_slack: pulp.LpVariable | None = None

    cost_terms: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    """One expression per data.COST_TERMS entry, USD per month; the objective is their sum."""
    violation: pulp.LpAffineExpression | None = None
    """Elastic models only: unmet demand that the input does not allow, as a share of demand."""
    constraints: dict[str, dict[Key, pulp.LpConstraint]] = field(default_factory=lambda: defaultdict(dict))
    """family -> key -> constraint."""
    family_rows: dict[str, int] = field(default_factory=dict)
    """Build family (build.CONSTRAINT_FAMILIES name) -> rows it added."""
    rows_released: bool = False
    """The rows' terms were dropped once the solver had them as a matrix (`release_row_terms`)."""

    # ---- construction helpers (used by the add_* functions) ----

    def new_var(
        self, family: str, key: Key, *, integer: bool = False, low: float = 0.0, up: float | None = None
    ) -> pulp.LpVariable:
        """A variable named `family__key...` (None entries of the key are left out of the name)."""
        name = self.names.var(family, *(k for k in key if k is not None))
        return self._variable(name, low, up, pulp.LpInteger if integer else pulp.LpContinuous)

    def new_binary(self, family: str, key: Key) -> pulp.LpVariable:
        name = self.names.var(family, *(k for k in key if k is not None))
        return self._variable(name, 0, 1, pulp.LpBinary)

    def _variable(self, name: str, low: float | None, up: float | None, cat: str) -> pulp.LpVariable:
        """PuLP >= 3.3 creates variables through the problem (4.0 style); older PuLP directly."""
        add_variable = getattr(self.problem, "add_variable", None)
        if add_variable is not None:
            return add_variable(name, lowBound=low, upBound=up, cat=cat)
        return pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)

    def add(self, family: str, key: Key, constraint: pulp.LpConstraint) -> None:
        """Add `constraint` as `family__key...` and keep it under constraints[family][key]."""
        name = self.names.con(family, *(k for k in key if k is not None))
        self.problem.addConstraint(constraint, name)
        self.constraints[family][key] = constraint

    def relaxation_rows(self) -> tuple[frozenset[str], ...]:
        """Row names a quick LP bound may leave out, one set per level (each a superset of the
        last): the LP without them is a relaxation, so its optimum is still a valid lower bound.

        Level 1, `active_replicas` (replicas make a site active): with the binaries relaxed these
        rows only push `active` up, which no cost or rule penalises, so the bound is unchanged;
        they are big-M rows that slow the simplex most. Level 2 also drops `min_instances` (a
        whole instance per active site and period): a weaker bound, the LP relaxation before those
        rows existed, for models where the extra rows make the tightest LP miss its time share
        (synthetic large). Level 3 also drops the other site-activity families (traffic makes a
        site active, the minimum replicas per active site, hybrid placement): a weaker bound
        still, for models whose LP does not solve in its time share.
        """
        levels = (LP_RELAXABLE_FAMILIES[:1], LP_RELAXABLE_FAMILIES[:2], LP_RELAXABLE_FAMILIES)
        return tuple(
            frozenset(c.name for f in fams for c in self.constraints.get(f, {}).values()) for fams in levels
        )

    def column_groups(self) -> tuple[tuple[str, ...], ...]:
        """Names of integer columns that a neighbourhood frees together: the per-period replica
        counts of one (candidate, site, option) slot and the per-period instance counts of one
        (site, GPU, option, tenant) pool. A plan that keeps a slot but moves its replicas to
        other hours is then inside the neighbourhood of an LP that used the slot in any hour."""
        groups: dict[tuple[str | None, ...], list[str]] = defaultdict(list)
        for (c, s, o, t), n in self.replicas.items():
            if t is not None:
                groups[("replicas", c, s, o)].append(n.name)
        for (s, g, o, t, tenant), inst in self.instances.items():
            if t is not None:
                groups[("instances", s, g, o, tenant)].append(inst.name)
        return tuple(tuple(names) for names in groups.values() if len(names) > 1)

    def gpu_type_dive(self, lp: Mapping[Any, float]) -> list[pulp.LpVariable]:
        """GPU-type binaries to fix at 0 when the relaxation `lp` spreads instances over more GPU
        types than `max_gpu_types` allows: every type but the `limit` with the most GPU-hours in
        `lp` (ties by name). Empty when the limit does not bind in `lp`. Rounding such a relaxation
        keeps every type it uses, so it breaks the limit; the relaxation re-solved with these fixed
        rounds to a plan that can meet it."""
        limit = self.index.data.max_gpu_types
        if limit is None or not self.gpu_used:
            return []
        ix = self.index
        usage: dict[str, float] = defaultdict(float)
        for (s, g, o, t, _ten), inst in self.instances.items():
            hours = ix.month_hours if t is None else ix.hours[t]
            usage[g] += float(lp.get(inst, 0.0)) * ix.offers[(s, g, o)].gpus_per_instance * hours
        ranked = sorted(self.gpu_used, key=lambda g: (-usage[g], g))
        if sum(1 for g in ranked if usage[g] > 1e-9) <= limit:
            return []
        return [self.gpu_used[g] for g in ranked[limit:]]

    def workload_blocks(self) -> WorkloadBlocks:
        """Column names of each workload (its replicas, traffic, serverless, unmet and site
        activity), and every instance count with its packing row: what a solver needs to split the
        model into one relaxed problem per workload (`highs_matrix.block_relaxation`). Instance
        counts, GPU-type binaries and the budget slack belong to no workload."""
        ix = self.index
        names: dict[str, list[str]] = {w: [] for w in ix.workloads}
        for (c, _s, _o, _t), n in self.replicas.items():
            names[ix.candidates[c].workload].append(n.name)
        for fam in (self.traffic, self.serverless, self.unmet, self.active):
            for key, var in fam.items():
                names[str(key[0])].append(var.name)
        packing = self.constraints.get("packing", {})
        linked = tuple(
            (inst.name, packing[key].name) for key, inst in self.instances.items() if key in packing
        )
        return WorkloadBlocks(tuple(tuple(v) for v in names.values() if v), linked)

    # ---- lookups ----

    @cached_property
    def bounds(self) -> Bounds:
        """Big-M values from demand and the limits this model enforces."""
        return Bounds(self.index, self.omitted)

    def replica(self, candidate: str, site: str, option: str, period: str) -> pulp.LpVariable | None:
        """The replica count of (candidate, site, option) held in `period` (fixed options: any)."""
        fixed = self.replicas.get((candidate, site, option, None))
        return fixed if fixed is not None else self.replicas.get((candidate, site, option, period))

    def instance(self, site: str, gpu: str, option: str, period: str, tenant: str) -> pulp.LpVariable | None:
        """The instance count of (site, gpu, option, tenant) held in `period` (fixed options: any)."""
        fixed = self.instances.get((site, gpu, option, None, tenant))
        return fixed if fixed is not None else self.instances.get((site, gpu, option, period, tenant))

    @property
    def total_cost(self) -> pulp.LpAffineExpression:
        """Sum of all cost terms, USD per month (the objective of a normal model)."""
        return pulp.lpSum(self.cost_terms[t] for t in COST_TERMS)

    @property
    def spending(self) -> pulp.LpAffineExpression:
        """Money spent per month: every cost term except the shortfall penalty."""
        return pulp.lpSum(self.cost_terms[t] for t in SPENDING_TERMS)

    @cached_property
    def columns(self) -> list[pulp.LpVariable]:
        """`problem.variables()` (PuLP's column order, by name), listed once: PuLP re-scans every
        row on each call. A built model gains no variables afterwards."""
        return list(self.problem.variables())

    def stats(self) -> dict[str, int]:
        """Counts of variables (all, integer, binary) and constraints."""
        variables = self.columns
        return {
            "variables": len(variables),
            "integer": sum(1 for v in variables if v.cat == pulp.LpInteger),
            "binary": len(self.active) + len(self.gpu_used),
            "constraints": int(self.problem.numConstraints()),
        }

    def release_row_terms(self) -> None:
        """Drop the terms of every row (names, bounds and counts stay): the solver reads the rows
        once, as a matrix (`highs_matrix`), and the terms are most of a large model's memory
        (synthetic huge: 15.9 million nonzeros, about 1 GB of the PuLP model's 2 GB). Variables,
        their values and the cost terms are kept, so the plan is extracted as usual; the model
        can no longer be written or solved again (`write_lp` refuses)."""
        listed = self.problem.constraints
        for con in listed() if callable(listed) else listed.values():  # PuLP >= 3.3: a call
            getattr(con, "expr", con).clear()
        self.rows_released = True

    def write_lp(self, path: str | Path) -> None:
        """Write the model as an LP file (names up to 255 characters)."""
        if self.rows_released:
            raise ValueError(
                "the model's rows were released after the solve (release_row_terms); build it again"
            )
        self.problem.writeLP(str(path), max_length=255)
