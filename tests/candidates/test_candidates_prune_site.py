"""Per-site dominance pruning (`prune_per_site`): exact, and it drops candidates only where dominated."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from optimizer.candidates import build_candidates
from optimizer.candidates.prune import prune_per_site
from optimizer.loading.problem_file import parse_problem_text
from optimizer.model import build_model
from optimizer.model.index import index_fleet
from optimizer.solve import SolveStatus, solve

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from generator import SIZES, Shape, generate_yaml


@dataclass(frozen=True)
class _C:
    id: str
    model: str = "m"
    gpu: str = "g"
    tensor_parallel: int = 1
    capacity_rps: float = 1.0
    ttft_ms: float = 100.0


def test_a_tighter_band_is_dropped_only_at_the_site_where_a_looser_one_serves_its_regions() -> None:
    # tight: low capacity, reaches far and near at both sites; loose: more capacity, reaches only
    # the near region at site A and both regions at site B
    tight = _C("tight", capacity_rps=5.0, ttft_ms=50.0)
    loose = _C("loose", capacity_rps=8.0, ttft_ms=300.0)
    routes = {
        "tight": frozenset({("near", "A"), ("far", "A"), ("near", "B"), ("far", "B")}),
        "loose": frozenset({("near", "A"), ("near", "B"), ("far", "B")}),
    }
    kept = prune_per_site([tight, loose], routes)
    assert kept["loose"] == routes["loose"]
    # at B the loose band serves every region the tight one does, with more capacity: dropped there;
    # at A only the tight band reaches the far region: kept
    assert kept["tight"] == frozenset({("near", "A"), ("far", "A")})


def test_no_candidate_dominates_itself_or_an_equal_twin_twice() -> None:
    a, b = _C("a"), _C("b")
    routes = {"a": frozenset({("r", "S")}), "b": frozenset({("r", "S")})}
    kept = prune_per_site([a, b], routes)
    assert sorted(k for k, v in kept.items() if v) == ["a"]  # one twin survives, by id


def _problem(shape: Shape, seed: int) -> tuple[object, object]:
    loaded = parse_problem_text(generate_yaml(shape, seed, time_limit_s=60, mip_gap=1e-6), "<gen>")
    return loaded.problem, loaded.catalog


def _whole_candidate_pruning_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import optimizer.candidates.build as build_mod

    monkeypatch.setattr(
        build_mod, "prune_per_site", lambda cands, routes: {c.id: routes[c.id] for c in cands}
    )


MANY_SITES = Shape(workloads=2, regions=5, sites=12, gpu_types=5, periods=2, precisions=3)


@pytest.mark.parametrize(
    ("shape", "seed"), [(SIZES["tiny"], 0), (SIZES["tiny"], 1), (MANY_SITES, 0), (MANY_SITES, 3)]
)
def test_per_site_pruning_keeps_the_optimum_with_fewer_slots(
    shape: Shape, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem, catalog = _problem(shape, seed)
    pruned = build_candidates(problem, catalog)  # type: ignore[arg-type]
    with monkeypatch.context() as mp:
        _whole_candidate_pruning_only(mp)
        whole = build_candidates(problem, catalog)  # type: ignore[arg-type]
    slots = len(index_fleet(pruned.fleet, "reduced").slots), len(index_fleet(whole.fleet, "reduced").slots)
    assert slots[0] <= slots[1]
    if shape is MANY_SITES:
        assert slots[0] < slots[1] and len(pruned.fleet.routes) < len(whole.fleet.routes)
    used = {r.candidate for r in pruned.fleet.routes}
    assert used == {c.id for c in pruned.fleet.candidates}  # no route-less candidate is emitted
    a = solve(build_model(pruned.fleet), time_limit_s=120)
    b = solve(build_model(whole.fleet), time_limit_s=120)
    assert a.status is SolveStatus.OPTIMAL and b.status is SolveStatus.OPTIMAL
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
