"""The one registry of constraint families: id -> the rule as a user reads it.

`build.CONSTRAINT_FAMILIES` adds exactly these families (a test checks both ways), and the
infeasibility diagnosis (`optimizer.diagnosis`, `model.diagnose`) names a binding rule by this text.
"""

from __future__ import annotations

RULE_FAMILIES: dict[str, str] = {
    "demand_coverage": "demand coverage (served + serverless + unmet, headroom on GPU capacity)",
    "daily_coverage": "daily coverage of batch work (the day's volume, any period)",
    "capacity": "routed traffic within the capacity of the replicas at the site",
    "model_routing": "model routing share",
    "serverless_share": "serverless max share",
    "spot_share": "spot share limit",
    "instance_packing": "replicas packed into whole instances",
    "supply": "GPU supply limit",
    "site_gpus": "site GPU limit",
    "site_power": "site power limit",
    "active_sites": "site activity (traffic or replicas make a site active)",
    "min_replicas": "minimum replicas per active site",
    "hybrid_placement": "hybrid placement (an active central and an active edge site)",
    "max_gpu_types": "maximum number of GPU types",
    "budget": "budget",
}
"""Every constraint family, in build order, with its readable rule."""

LIMIT_FAMILIES: tuple[str, ...] = (
    "budget",
    "supply",
    "site_gpus",
    "site_power",
    "max_gpu_types",
    "spot_share",
    "model_routing",
    "serverless_share",
    "min_replicas",
    "hybrid_placement",
)
"""Families that can force demand to go unmet (the diagnosis tries each out of the elastic model)."""


def rule_text(family: str) -> str:
    """The readable rule of `family` (the id itself for an unknown one).

    >>> rule_text("supply")
    'GPU supply limit'
    """
    return RULE_FAMILIES.get(family, family)
