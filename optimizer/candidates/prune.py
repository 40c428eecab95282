"""Exact dominance pruning of a workload's candidates.

Candidate a dominates b (same workload, same model group, same GPU type) when a can serve every
(region, site) pair b can, and floor(g_b / g_a) replicas of a, which use no more GPUs than one
replica of b, have at least b's capacity. Any plan using b can swap each b replica for those a
replicas at no more cost and no less capacity on the same or more routes, so pruning never
changes the optimum (tested).
"""

from __future__ import annotations

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
