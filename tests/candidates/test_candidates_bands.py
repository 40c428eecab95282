"""Latency bands keep their own ids and routes, also when two budgets round to the same integer."""

from __future__ import annotations

import yaml
from helpers import DATA

from optimizer.candidates import build_candidates
from optimizer.catalog import default_catalog
from optimizer.schema.problem import Problem


def test_budgets_rounding_alike_keep_both_bands_with_their_own_routes() -> None:
    doc = yaml.safe_load((DATA / "small.yaml").read_text(encoding="utf-8"))
    doc["sites"].append(  # 20.4 ms from us: budget 79.6 ms, next to us_central's 80 ms
        {
            "id": "us_east",
            "kind": "central",
            "jurisdiction": "us",
            "latency_ms": {"us": 20.4},
            "sustainable_utilization": 0.8,
            "offers": [{"gpu": "h100_sxm", "gpus_per_instance": 8, "prices": {"on_demand": 2.9}}],
        }
    )
    problem = Problem.model_validate(doc)
    cs = build_candidates(problem, default_catalog(), prune=False)
    twins = [c for c in cs.info.values() if c.id.endswith("__b80_2")]
    assert twins, "no two bands share a rounded budget: the test problem no longer exercises the case"
    for twin in twins:
        first = cs.info[twin.id.removesuffix("_2")]
        assert {first.ttft_budget_ms, twin.ttft_budget_ms} == {79.6, 80.0}
        assert first.capacity_rps != twin.capacity_rps
    routes: dict[str, set[tuple[str, str]]] = {}
    for r in cs.fleet.routes:
        routes.setdefault(r.candidate, set()).add((r.region, r.site))
    target = {w.id: w.slo.ttft_ms for w in problem.workloads}
    for cid, pairs in routes.items():
        ci = cs.info[cid]
        tgt = target[ci.workload]
        assert tgt is not None
        assert all(cs.rtt_ms[p] + ci.ttft_ms <= tgt + 1e-9 for p in pairs), cid
    assert len({c.id for c in cs.fleet.candidates}) == len(cs.fleet.candidates)
