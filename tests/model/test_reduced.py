"""The reduced formulation (traffic per pool, one capacity row per nested latency band) has the
same optimum as the full one (traffic per candidate), and its plans pass the independent check."""

from __future__ import annotations

import math

import pytest
from fleet_check import violations
from fleet_factory import random_nested_fleet
from fleet_oracle import Oracle, same_cost

from optimizer.errors import InfeasibleError
from optimizer.model import FleetData, build_model
from optimizer.model.synthetic import synthetic_fleet
from optimizer.solve import SolveStatus, solve


def _optimum(data: FleetData, formulation: str) -> float:
    try:
        sol = solve(build_model(data, formulation=formulation))  # type: ignore[arg-type]
    except InfeasibleError:
        return math.inf
    assert sol.status is SolveStatus.OPTIMAL
    assert violations(data, sol) == [], formulation
    return sol.objective


@pytest.mark.parametrize("seed", range(80))
def test_reduced_equals_full_on_nested_random_fleets(seed: int) -> None:
    data = random_nested_fleet(seed)
    reduced, full = _optimum(data, "reduced"), _optimum(data, "full")
    assert same_cost(reduced, full), (reduced, full)
    if seed % 4 == 0 and math.prod(b + 1 for b in Oracle(data).box()) <= 50_000:
        assert same_cost(reduced, Oracle(data).solve(max_points=50_000).cost)


@pytest.mark.parametrize("seed", range(8))
def test_reduced_equals_full_on_multi_workload_fleets(seed: int) -> None:
    data = synthetic_fleet(candidates=10, periods=3, sites=3, regions=3, workloads=3, seed=seed)
    assert same_cost(_optimum(data, "reduced"), _optimum(data, "full"))


def test_nested_fleets_exercise_multi_band_pools() -> None:
    """Not vacuous: many instances have pools with several bands, and far fewer traffic variables."""
    multi = 0
    for seed in range(80):
        m = build_model(random_nested_fleet(seed))
        full = build_model(random_nested_fleet(seed), formulation="full")
        assert len(m.traffic) <= len(full.traffic)
        multi += any(len(p.levels) > 1 for p in m.index.pools)
    assert multi >= 30, multi
