"""The evaluation cache: a what-if that changes only prices or demand re-uses every search, and a
cached build is the same as a cold one."""

from __future__ import annotations

import dataclasses
import doctest
import importlib

import pytest
from helpers import DATA, PROBLEMS

from optimizer.candidates import CandidateSet, EvaluationCache, build_candidates
from optimizer.loading.problem_file import load_problem
from optimizer.schema.problem import Problem


def _same(a: CandidateSet, b: CandidateSet) -> None:
    assert a.fleet == b.fleet
    assert a.info == b.info
    assert (a.considered, a.not_fitting, a.pruned) == (b.considered, b.not_fitting, b.pruned)


def _cheaper_and_busier(p: Problem) -> Problem:
    """Every explicit price x 0.7, every workload's demand x 2."""
    sites = []
    for s in p.sites:
        offers = []
        for o in s.offers:
            prices = o.prices.model_copy(
                update={k: v * 0.7 for k, v in o.prices.model_dump().items() if isinstance(v, float)}
            )
            offers.append(o.model_copy(update={"prices": prices}))
        sites.append(s.model_copy(update={"offers": tuple(offers)}))
    workloads = []
    for w in p.workloads:
        d = w.demand
        update = {
            k: getattr(d, k) * 2
            for k in ("requests_per_day", "output_tokens_per_day", "audio_hours_per_day")
            if getattr(d, k) is not None
        }
        workloads.append(w.model_copy(update={"demand": d.model_copy(update=update)}))
    return p.model_copy(update={"sites": tuple(sites), "workloads": tuple(workloads)})


@pytest.mark.parametrize("name", ["edge_hybrid", "speculative_quantization", "batch_transcription"])
def test_price_and_demand_what_if_reuses_every_search(name: str) -> None:
    loaded = load_problem(PROBLEMS / f"{name}.yaml")
    cache = EvaluationCache()
    base = build_candidates(loaded.problem, loaded.catalog, cache=cache)
    assert cache.misses > 0
    misses = cache.misses
    what_if = _cheaper_and_busier(loaded.problem)
    reused = build_candidates(what_if, loaded.catalog, cache=cache)
    assert cache.misses == misses, "a price/demand what-if re-ran the performance model"
    _same(reused, build_candidates(what_if, loaded.catalog))
    # the what-if did change the MIP's numbers
    assert reused.fleet.demand_rps != base.fleet.demand_rps
    assert reused.fleet.offers != base.fleet.offers


def test_tighter_ttft_searches_only_new_budgets() -> None:
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    cache = EvaluationCache()
    build_candidates(p, loaded.catalog, cache=cache)
    before = cache.misses
    tighter = p.model_copy(
        update={
            "workloads": tuple(
                w.model_copy(update={"slo": w.slo.model_copy(update={"ttft_ms": 80.0})})
                if w.id == "chat_small"
                else w
                for w in p.workloads
            )
        }
    )
    cold = EvaluationCache()
    fresh = build_candidates(tighter, loaded.catalog, cache=cold)
    reused = build_candidates(tighter, loaded.catalog, cache=cache)
    _same(reused, fresh)
    assert 0 < cache.misses - before < cold.misses  # the other workload and shared budgets re-used


def test_cached_build_equals_cold_build_on_every_shipped_problem() -> None:
    cache = EvaluationCache()
    for path in sorted(PROBLEMS.glob("*.yaml")):
        loaded = load_problem(path)
        cold = build_candidates(loaded.problem, loaded.catalog)
        warm1 = build_candidates(loaded.problem, loaded.catalog, cache=cache)
        warm2 = build_candidates(loaded.problem, loaded.catalog, cache=cache)
        _same(cold, warm1)
        _same(cold, warm2)
    assert cache.hits > 0 and len(cache) > 0


def test_records_are_frozen() -> None:
    loaded = load_problem(DATA / "small.yaml")
    cs = build_candidates(loaded.problem, loaded.catalog)
    ci = next(iter(cs.info.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ci.capacity_rps = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "module", ["optimizer.candidates.costs", "optimizer.candidates.bands", "optimizer.candidates.routes"]
)
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
