"""The MIP's input: a table of numbers, built by `optimizer.candidates` from a problem.

This module is the contract between the physics side (catalog, performance model, candidates) and
the optimisation side (model, solve). Nothing here knows what a GPU or a transformer is: a candidate
is an id with a capacity, a latency and a GPU count; an offer is a price per GPU-hour split into named
cost terms. Tests build these by hand.

Traffic unit: requests per second of the workload's request shape ("rps"). Money: USD. Time: a
period lasts `hours_per_month` hours in an average month (730 h in all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FIXED_OPTIONS = frozenset({"committed_1y", "committed_3y", "owned"})
"""Purchase options whose count is the same in every period (paid every hour)."""
ALL_OPTIONS = ("on_demand", "spot", "committed_1y", "committed_3y", "owned")
COST_TERMS = (
    "on_demand",
    "spot",
    "committed",
    "owned_capital",
    "power",
    "egress",
    "serverless",
    "shortfall_penalty",
)
"""Named terms of the objective; every USD in the objective belongs to exactly one."""


@dataclass(frozen=True, slots=True)
class PeriodData:
    id: str
    hours_per_month: float
    """Hours of an average month this period covers (hours_per_day x 730 / 24)."""


@dataclass(frozen=True, slots=True)
class WorkloadData:
    id: str
    headroom: float = 0.0
    """Demand is covered with this margin: served >= demand x (1 + headroom)."""
    dedicated: bool = False
    """Its replicas run on instances of their own (no packing with other workloads)."""
    serverless_usd_per_request: float | None = None
    """None: serverless not allowed."""
    serverless_max_share: float = 1.0
    unmet_usd_per_request: float | None = None
    """None: all demand must be served."""
    daily_coverage: bool = False
    """Batch work: the day's volume may be served in any period (coverage summed over periods)."""
    group_max_share: dict[str, float] = field(default_factory=dict)
    """Model-routing groups (candidate.group) with the largest share of demand each may serve;
    groups not listed may serve everything."""
    placement: Literal["centralized", "edge", "hybrid", "auto"] = "auto"
    """`hybrid` requires at least one central and one edge site in use; the others are enforced by
    the routes the candidate builder emits (it only emits allowed sites)."""


@dataclass(frozen=True, slots=True)
class CandidateData:
    """One replica configuration of one workload (model, GPU, precision, TP, batch, speculation)."""

    id: str
    workload: str
    group: str
    """Model-routing group: the model id this candidate serves."""
    gpu: str
    gpus_per_replica: int
    capacity_rps: float
    """Requests/s one replica sustains while meeting the workload's TTFT and TPOT targets (before
    the site's sustainable utilisation)."""
    ttft_ms: float = 0.0
    """Server-side TTFT at that load, ms (informative here; latency filtering is done in `routes`)."""
    tpot_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class SiteData:
    id: str
    kind: Literal["central", "edge"] = "central"
    utilization: float = 1.0
    """Sustainable utilisation: usable capacity = replicas x capacity_rps x utilization."""
    max_gpus: int | None = None
    power_limit_kw: float | None = None


@dataclass(frozen=True, slots=True)
class OfferData:
    """A GPU type buyable at a site under one purchase option."""

    site: str
    gpu: str
    option: str
    """One of ALL_OPTIONS."""
    cost_terms_usd_per_gpu_hour: dict[str, float]
    """Price per GPU-hour split into objective terms, e.g. {"on_demand": 3.9} or
    {"owned_capital": 1.1, "power": 0.09}. Fixed options are charged 730 h a month; others per hour
    of the periods in which they are held."""
    gpus_per_instance: int = 1
    availability: float = 1.0
    """Spot: fraction of bought capacity that counts as usable."""

    @property
    def usd_per_gpu_hour(self) -> float:
        return sum(self.cost_terms_usd_per_gpu_hour.values())

    @property
    def fixed(self) -> bool:
        return self.option in FIXED_OPTIONS


@dataclass(frozen=True, slots=True)
class RouteData:
    """Traffic of `workload` from user `region` may be served by `candidate` at `site`: the
    candidate builder has checked network latency + TTFT <= target, residency and placement."""

    workload: str
    region: str
    site: str
    candidate: str
    egress_usd_per_request: float = 0.0
    """Egress per unit of routed traffic x, USD: per request / (1 + headroom), since x is in need
    units and headroom is spare capacity, not traffic that leaves the site."""


@dataclass(frozen=True)
class FleetData:
    """Everything the MIP needs, as numbers."""

    periods: tuple[PeriodData, ...]
    workloads: tuple[WorkloadData, ...]
    regions: tuple[str, ...]
    sites: tuple[SiteData, ...]
    candidates: tuple[CandidateData, ...]
    offers: tuple[OfferData, ...]
    routes: tuple[RouteData, ...]
    demand_rps: dict[tuple[str, str, str], float]
    """(workload, region, period) -> requests/s."""
    gpu_power_kw: dict[str, float] = field(default_factory=dict)
    """GPU id -> board power, kW (for site power limits)."""
    supply_max_gpus: dict[tuple[str, str], int] = field(default_factory=dict)
    """(site, gpu) -> most GPUs obtainable across options."""
    spot_max_share: float = 1.0
    """Per workload and period: spot GPUs <= share x all of the workload's GPUs."""
    max_gpu_types: int | None = None
    min_replicas_per_active_site: int = 0
    budget_usd_per_month: float | None = None
