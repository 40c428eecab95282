"""An optimal plan never costs more than any feasible baseline (the baselines are restrictions of
the plan's own problem), on random instances; the shipped problems are checked in test_golden."""

from __future__ import annotations

import pytest
from fleet_factory import random_small_fleet

from optimizer.errors import InfeasibleError
from optimizer.model import FleetData, build_model
from optimizer.model.restrict import serverless_only_usd
from optimizer.model.synthetic import synthetic_fleet
from optimizer.pipeline import SolveOptions, cheapest_single_gpu
from optimizer.solve import SolveStatus, solve


def _fleets() -> list[FleetData]:
    return [random_small_fleet(s) for s in range(40)] + [
        synthetic_fleet(candidates=8, periods=3, sites=3, regions=2, workloads=2, seed=s) for s in range(6)
    ]


@pytest.mark.parametrize("index", range(46))
def test_optimal_plan_is_never_dearer_than_a_feasible_baseline(index: int) -> None:
    data = _fleets()[index]
    try:
        plan = solve(build_model(data))
    except InfeasibleError:
        return
    assert plan.status is SolveStatus.OPTIMAL
    best, _ = cheapest_single_gpu(data, SolveOptions(), 30.0)
    serverless = serverless_only_usd(data)
    if serverless is not None:
        assert plan.objective <= serverless * (1 + 1e-6) + 1e-6, (plan.objective, serverless)
    if best is not None:
        assert plan.objective <= best.cost * (1 + 1e-6) + 1e-6, (plan.objective, best)
