"""Golden results of the shipped problems, the README table, and the plan re-check on each.

A change that moves a golden objective, status or baseline cost fails here with a message naming what moved;
re-pin deliberately with `python -m optimizer.shipped --update`.
"""

from __future__ import annotations

import pytest

from optimizer import shipped
from optimizer.check import check_plan


@pytest.fixture(scope="module")
def solved() -> list[shipped.Solved]:
    return shipped.solve_all()


def test_every_shipped_problem_is_proven_optimal_and_checks(solved: list[shipped.Solved]) -> None:
    assert len(solved) >= 7
    for s in solved:
        assert s.plan.status == "optimal", f"{s.name}: {s.plan.status}"
        assert check_plan(s.plan) == [], s.name


def test_goldens_have_not_moved(solved: list[shipped.Solved]) -> None:
    golden = shipped.load_golden()
    moved = [
        m for s in solved for m in shipped.compare(s.name, golden.get(s.name), shipped.summarize(s.plan))
    ]
    assert not moved, (
        "golden results moved (re-pin with `python -m optimizer.shipped --update` if deliberate):\n"
        + "\n".join(moved)
    )
    assert set(golden) == {s.name for s in solved}, "golden file lists problems that are not shipped"


def test_readme_table_matches_fresh_solves(solved: list[shipped.Solved]) -> None:
    records = {s.name: shipped.summarize(s.plan) for s in solved}
    readme = shipped.README.read_text(encoding="utf-8")
    assert shipped.readme_with_table(readme, shipped.render_table(records)) == readme, (
        "README problems table is stale: run `python -m optimizer.shipped --update`"
    )


def test_compare_names_what_moved() -> None:
    g = {"status": "optimal", "monthly_cost_usd": 100.0, "baselines_usd": {"x": 200.0}, "decisions": ["a"]}
    n = {"status": "optimal", "monthly_cost_usd": 110.0, "baselines_usd": {"x": 250.0}, "decisions": ["b"]}
    moved = shipped.compare("p", g, n)
    assert any("monthly cost" in m for m in moved)
    assert any("baseline x" in m for m in moved)


def test_compare_ignores_tie_broken_decisions() -> None:
    """Equal-cost plans may differ in which configuration breaks a tie: not a moved golden."""
    g = {"status": "optimal", "monthly_cost_usd": 100.0, "baselines_usd": {}, "decisions": ["a = 2 GPUs"]}
    n = {"status": "optimal", "monthly_cost_usd": 100.0, "baselines_usd": {}, "decisions": ["b = 2 GPUs"]}
    assert shipped.compare("p", g, n) == []


def test_no_shipped_plan_costs_more_than_a_feasible_baseline(solved: list[shipped.Solved]) -> None:
    for s in solved:
        for b in s.plan.baselines:
            if b.monthly_cost_usd is not None:
                assert s.plan.monthly_cost_usd <= b.monthly_cost_usd * (1 + 1e-6) + 0.01, (s.name, b)
