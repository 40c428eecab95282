"""Exact dominance pruning of a workload's candidates.

Candidate a dominates b (same workload, same model group, same GPU type) when a can serve every
(region, site) pair b can, and floor(g_b / g_a) replicas of a, which use no more GPUs than one
replica of b, have at least b's capacity. Any plan using b can swap each b replica for those a
replicas at no more cost and no less capacity on the same or more routes, so pruning never
changes the optimum (tested).

The same argument holds site by site (`prune_per_site`): every rule that involves a replica of b at
site s either concerns that site only (capacity, packing, supply, site limits, minimum replicas per
active site) or counts GPUs of the workload (spot share, which the swap does not raise). So b may
be dropped at s when a kept candidate dominates it on the routes through s alone, even where b is
still needed at other sites. Latency bands make this common: the tightest band a site's nearest
region needs dominates, at that site, every tighter band of the configuration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar


class Prunable(Protocol):
    """What dominance compares (a `CandidateInfo`, or a band before its record is made)."""

    @property
    def id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def gpu(self) -> str: ...
    @property
    def tensor_parallel(self) -> int: ...
    @property
    def capacity_rps(self) -> float: ...
    @property
    def ttft_ms(self) -> float: ...


C = TypeVar("C", bound=Prunable)


def dominates(a: Prunable, b: Prunable, routes: Mapping[str, frozenset[tuple[str, str]]]) -> bool:
    """a dominates b: same model and GPU, TP_a <= TP_b, floor(TP_b / TP_a) x cap_a >= cap_b and
    routes_a >= routes_b."""
    return (
        a.model == b.model
        and a.gpu == b.gpu
        and a.tensor_parallel <= b.tensor_parallel
        and (b.tensor_parallel // a.tensor_parallel) * a.capacity_rps >= b.capacity_rps
        and routes[a.id] >= routes[b.id]
    )


def prune(cands: Sequence[C], routes: Mapping[str, frozenset[tuple[str, str]]]) -> list[C]:
    """Drop exactly dominated candidates; deterministic tie-breaking by id. Sorted by id.

    Candidates are visited by (TP, -capacity, TTFT, id) and kept unless a kept one dominates them;
    only candidates of the same model and GPU can dominate each other, so each is compared within
    its (model, GPU) group."""
    kept: dict[tuple[str, str], list[C]] = {}
    ordered = sorted(cands, key=lambda c: (c.tensor_parallel, -c.capacity_rps, c.ttft_ms, c.id))
    for c in ordered:
        group = kept.setdefault((c.model, c.gpu), [])
        if not any(dominates(k, c, routes) for k in group):
            group.append(c)
    return sorted((c for group in kept.values() for c in group), key=lambda c: c.id)


def prune_per_site(
    cands: Sequence[C], routes: Mapping[str, frozenset[tuple[str, str]]]
) -> dict[str, frozenset[tuple[str, str]]]:
    """Routes of each candidate after dropping it at every site where a candidate kept there
    dominates it on that site's routes (`prune` applied to each site's routes). Candidate id ->
    its remaining (region, site) pairs, possibly empty.

    Candidates are visited per site in `prune`'s order, so the result is deterministic."""
    by_site: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    for c in cands:
        for r, s in routes[c.id]:
            by_site[s][c.id].add((r, s))
    kept: dict[str, set[tuple[str, str]]] = {c.id: set() for c in cands}
    for s in sorted(by_site):
        here = {cid: frozenset(pairs) for cid, pairs in by_site[s].items()}
        for c in prune([c for c in cands if c.id in here], here):
            kept[c.id] |= here[c.id]
    return {cid: frozenset(pairs) for cid, pairs in kept.items()}
