"""Routes: which (region, site) pairs each candidate may serve, and their egress price."""

from __future__ import annotations

from typing import Protocol

from optimizer.candidates.grid import WorkloadGrid
from optimizer.candidates.offers import OfferTable
from optimizer.candidates.records import CandidateInfo
from optimizer.model.data import RouteData
from optimizer.schema.problem import Problem

EGRESS_BYTES_PER_OUTPUT_TOKEN = 150.0
"""Bytes leaving the site per generated token when streamed as server-sent-event JSON chunks
(an OpenAI-style `chat.completion.chunk` carrying one token is 150-250 bytes; plain text would be
about 4). Prompts are ingress, which clouds do not charge."""
TTFT_TOL_MS = 1e-9


def round_trips(problem: Problem) -> dict[tuple[str, str], float]:
    """(region, site) -> network round trip, ms, for every listed pair."""
    return {(r, s.id): float(ms) for s in problem.sites for r, ms in s.latency_ms.items()}


class Routable(Protocol):
    """What routing needs of a candidate."""

    @property
    def gpu(self) -> str: ...
    @property
    def tensor_parallel(self) -> int: ...
    @property
    def ttft_ms(self) -> float: ...


class RouteIndex:
    """A workload's route pairs by (GPU, TP), nearest first, for fast per-candidate route sets.

    Pairs (r, s) of the workload (placement, residency) where r has demand and s hosts the GPU in
    instances of >= TP GPUs; a candidate may use the prefix with rtt(r, s) + server TTFT <= target
    (sums are monotone in rtt, so the prefix is exact)."""

    def __init__(self, g: WorkloadGrid, offers: OfferTable, rtt: dict[tuple[str, str], float]) -> None:
        self._g = g
        self._offers = offers
        self._rtt = rtt
        self._has_demand = {k[1] for k in g.demand}
        self._pairs: dict[tuple[str, int], list[tuple[float, str, str]]] = {}
        self._prefix: dict[tuple[str, int, int], frozenset[tuple[str, str]]] = {}

    def _hosted(self, gpu: str, tp: int) -> list[tuple[float, str, str]]:
        key = (gpu, tp)
        pairs = self._pairs.get(key)
        if pairs is None:
            pairs = sorted(
                (self._rtt[(r, s.id)], r, s.id)
                for r, s in self._g.pairs
                if r in self._has_demand and self._offers.hosts(s.id, gpu, tp)
            )
            self._pairs[key] = pairs
        return pairs

    def routes(self, ci: Routable) -> frozenset[tuple[str, str]]:
        """Pairs the candidate may serve: hosted, with demand, rtt + server TTFT <= TTFT target."""
        pairs = self._hosted(ci.gpu, ci.tensor_parallel)
        target = self._g.workload.slo.ttft_ms
        n = len(pairs)
        if target is not None:
            n = 0
            for rtt, _, _ in pairs:
                if rtt + ci.ttft_ms > target + TTFT_TOL_MS:
                    break
                n += 1
        key = (ci.gpu, ci.tensor_parallel, n)
        hit = self._prefix.get(key)
        if hit is None:
            hit = frozenset((r, s) for _, r, s in pairs[:n])
            self._prefix[key] = hit
        return hit


def egress_usd_per_request(output_tokens: float, usd_per_gb: float) -> float:
    """O x 150 bytes / 1e9 x the site's USD per GB.

    >>> round(egress_usd_per_request(1000, 0.09) * 1e6, 2)  # 150 kB at $0.09/GB: 13.5 micro-USD
    13.5
    """
    return output_tokens * EGRESS_BYTES_PER_OUTPUT_TOKEN / 1e9 * usd_per_gb


def route_rows(
    problem: Problem,
    workload: str,
    ci: CandidateInfo,
    pairs: frozenset[tuple[str, str]],
    output_tokens: float,
) -> list[RouteData]:
    """One `RouteData` per allowed pair, sorted.

    Egress is per unit of routed traffic x, which is in need units (demand x (1 + headroom)); headroom
    is spare capacity, not bytes sent, so the per-request egress is divided by (1 + headroom).
    """
    price = {s.id: s.egress_usd_per_gb for s in problem.sites}
    per_need = 1.0 / (1.0 + problem.policy.headroom)
    return [
        RouteData(
            workload, r_id, site_id, ci.id, egress_usd_per_request(output_tokens, price[site_id]) * per_need
        )
        for r_id, site_id in sorted(pairs)
    ]
