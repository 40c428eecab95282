"""Small pure functions for the MIP's coefficients: costs, usable capacity and big-M bounds.

Units: money in USD per month, traffic in requests per second (rps), time in hours of an average
month (730 h in all).
"""

from __future__ import annotations

import math

SECONDS_PER_HOUR = 3600.0


def hours_charged(fixed: bool, period_hours: float, month_hours: float) -> float:
    """Hours a GPU is paid for: fixed options (committed, owned) every hour of the month, others only
    the hours of the period in which they are held.

    >>> hours_charged(True, 243.3, 730.0), hours_charged(False, 243.3, 730.0)
    (730.0, 243.3)
    """
    return month_hours if fixed else period_hours


def gpu_cost_per_month(usd_per_gpu_hour: float, gpus: int, hours: float) -> float:
    """USD per month of holding `gpus` GPUs for `hours` hours: cost = price x gpus x hours.

    >>> gpu_cost_per_month(2.5, 8, 730.0)  # one 8-GPU instance at $2.50/GPU-h, all month
    14600.0
    """
    return usd_per_gpu_hour * gpus * hours


def traffic_cost_per_rps_month(usd_per_request: float, hours: float) -> float:
    """USD per month of serving 1 rps for `hours` hours: cost = price x 3600 x hours.

    >>> round(traffic_cost_per_rps_month(1e-4, 730.0), 9)  # 1 rps all month at $0.0001/request
    262.8
    """
    return usd_per_request * SECONDS_PER_HOUR * hours


def usable_rps(capacity_rps: float, utilization: float, availability: float = 1.0) -> float:
    """Requests/s one replica contributes: capacity x site utilisation x availability (spot).

    >>> usable_rps(10.0, 0.8, 0.5)
    4.0
    """
    return capacity_rps * utilization * availability


def served_bound_rps(
    demand_by_period: dict[str, float], headroom: float, hours: dict[str, float], period: str, daily: bool
) -> float:
    """Most traffic a workload ever needs to serve in `period`, summed over regions (a big-M).

    Hourly coverage: demand[t] x (1 + headroom). Daily coverage (batch): the whole day's volume may
    be served in `period`: sum_t' hours[t'] x demand[t'] x (1 + headroom) / hours[t].

    >>> served_bound_rps({"day": 2.0, "night": 1.0}, 0.5, {"day": 365.0, "night": 365.0}, "night", False)
    1.5
    >>> served_bound_rps({"day": 2.0, "night": 1.0}, 0.5, {"day": 365.0, "night": 365.0}, "night", True)
    4.5
    """
    if not daily:
        return demand_by_period.get(period, 0.0) * (1.0 + headroom)
    volume = sum(hours[t] * d for t, d in demand_by_period.items()) * (1.0 + headroom)
    return volume / hours[period] if hours[period] > 0 else 0.0


def replica_bound(site_traffic_max_rps: float, usable_rps_per_replica: float, min_replicas: int) -> int:
    """Most replicas of one (candidate, site, option) that some optimal plan holds in a period for
    capacity or the minimum per active site (a big-M).

    A minimal optimal plan (no replica can be removed without breaking a rule) routes at most T
    (the most traffic the regions routed to the site send) to the site, and a replica k the
    capacity rows do not need could be removed: so the smallest latency band holding k has
    capacity < T + usable[k], and n[k] x usable[k] <= that. A replica kept only for the minimum
    per active site adds at most `min_replicas`:
    n <= floor(T / usable) + 1 + min.

    >>> replica_bound(10.0, 2.0, 0)  # 10 / 2 + 1
    6
    """
    if usable_rps_per_replica <= 0:
        return min_replicas + 1
    return math.floor(site_traffic_max_rps / usable_rps_per_replica + 1e-9) + 1 + min_replicas


def spot_gpu_replica_bound(
    spot_gpus_max: float, largest_gpus: int, gpus_per_replica: int, spot_max_share: float, min_replicas: int
) -> int:
    """Most replicas of one slot a minimal optimal plan holds for the GPU-based spot share rule.

    Spot replicas are held by capacity or the minimum, so the workload's spot GPUs are at most
    S (`Bounds.spot_gpus_max`). A replica held only to keep spot GPUs <= share x all GPUs means all
    GPUs < S / share + the largest replica's GPUs, so
    n <= (S / share + largest_gpus) / gpus_per_replica + min + 1.

    >>> spot_gpu_replica_bound(12.0, 2, 1, 0.5, 0)  # (24 + 2) / 1 + 1
    27
    """
    held = (spot_gpus_max / spot_max_share + largest_gpus) / gpus_per_replica
    return math.floor(held + 1e-9) + min_replicas + 1


def instances_for(gpus: float, gpus_per_instance: int) -> int:
    """Whole instances that hold `gpus` GPUs: ceil(gpus / gpus_per_instance).

    >>> instances_for(9, 8), instances_for(16, 8), instances_for(0, 8)
    (2, 2, 0)
    """
    return math.ceil(gpus / gpus_per_instance - 1e-9) if gpus > 0 else 0
