"""The MIP's optimum equals brute-force enumeration on 200 small random instances."""

from __future__ import annotations

import math

import pytest
from fleet_check import violations
from fleet_factory import random_small_fleet
from fleet_oracle import Oracle, same_cost

from optimizer.diagnosis import solve_diagnosed
from optimizer.errors import InfeasibleError
from optimizer.model import build_model
from optimizer.model.data import FIXED_OPTIONS
from optimizer.solve import SolveStatus

N_INSTANCES = 200
MAX_BOX = 200_000
"""Largest enumeration box accepted; seeds with larger boxes are skipped (deterministically)."""


def _seeds() -> list[int]:
    seeds: list[int] = []
    seed = 0
    while len(seeds) < N_INSTANCES:
        if math.prod(b + 1 for b in Oracle(random_small_fleet(seed)).box()) <= MAX_BOX:
            seeds.append(seed)
        seed += 1
    return seeds


SEEDS = _seeds()


@pytest.mark.parametrize("seed", SEEDS)
def test_mip_matches_brute_force(seed: int) -> None:
    data = random_small_fleet(seed)
    oracle = Oracle(data)
    try:
        sol = solve_diagnosed(build_model(data))
    except InfeasibleError as exc:
        assert oracle.solve(max_points=MAX_BOX).cost == math.inf
        message = str(exc)  # the diagnosis names workload, region and a rule
        assert "workload 'w', region" in message, message
        assert "numerical trouble" not in message and "combined limits" not in message, message
        return
    assert sol.status is SolveStatus.OPTIMAL
    assert violations(data, sol) == []
    # The MIP's own point, valued by the oracle, starts the search (exact: any cheaper point is
    # still found); it also checks the MIP's accounting of its own plan.
    point = {(c, s, o, None if o in FIXED_OPTIONS else t): n for (c, s, o, t), n in sol.replicas.items()}
    result = oracle.solve(point, max_points=MAX_BOX)
    assert same_cost(sol.objective, result.cost), (sol.objective, result.cost, result.point)


def test_oracle_sample_is_varied() -> None:
    """The 200 instances exercise the rules (each feature appears in a good share of them)."""
    fleets = [random_small_fleet(s) for s in SEEDS]
    features = {
        "spot share < 1": sum(f.spot_max_share < 1 for f in fleets),
        "min replicas": sum(f.min_replicas_per_active_site > 0 for f in fleets),
        "daily coverage": sum(f.workloads[0].daily_coverage for f in fleets),
        "model routing": sum(bool(f.workloads[0].group_max_share) for f in fleets),
        "supply": sum(bool(f.supply_max_gpus) for f in fleets),
        "max gpu types": sum(f.max_gpu_types is not None for f in fleets),
        "budget": sum(f.budget_usd_per_month is not None for f in fleets),
        "serverless": sum(f.workloads[0].serverless_usd_per_request is not None for f in fleets),
        "two regions": sum(len(f.regions) == 2 for f in fleets),
        "fixed options": sum(any(o.fixed for o in f.offers) for f in fleets),
    }
    assert all(n >= 15 for n in features.values()), features
