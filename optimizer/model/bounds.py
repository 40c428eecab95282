"""Big-M values for the few constraints that link binaries to counts, from demand and limits."""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from optimizer.model.coefficients import replica_bound, served_bound_rps, spot_gpu_replica_bound, usable_rps
from optimizer.model.index import FleetIndex, Slot


class Bounds:
    """Upper bounds that some optimal plan respects; computed lazily, cached per model."""

    def __init__(self, index: FleetIndex, omitted: frozenset[str] = frozenset()) -> None:
        self.ix = index
        self.omitted = omitted
        """Families left out of the model: their limits must not cap the bounds either."""
        self._demand_by_wt: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for (w, _r, t), rps in index.demand.items():
            self._demand_by_wt[w][t] += rps

    @cache  # noqa: B019 - one Bounds per model, lives as long as the model
    def served_max(self, workload: str, period: str) -> float:
        """Most rps workload `w` serves in `period`, all regions (see `served_bound_rps`)."""
        wd = self.ix.workloads[workload]
        return served_bound_rps(
            dict(self._demand_by_wt[workload]), wd.headroom, self.ix.hours, period, wd.daily_coverage
        )

    def traffic_max(self, workload: str, region: str, period: str) -> float:
        """Most rps region r sends to workload w in `period` in some optimal plan: demand x
        (1 + headroom), or for daily coverage the day's volume / hours[period]."""
        wd = self.ix.workloads[workload]
        if not wd.daily_coverage:
            return self.ix.need(workload, region, period)
        volume = sum(self.ix.hours[t] * self.ix.need(workload, region, t) for t in self.ix.periods)
        return volume / self.ix.hours[period] if self.ix.hours[period] > 0 else 0.0

    def usable(self, slot: Slot) -> float:
        """Usable rps of one replica in `slot`: capacity x utilisation x availability."""
        c, s, o = slot
        cand = self.ix.candidates[c]
        avail = self.ix.offers[(s, cand.gpu, o)].availability
        return usable_rps(cand.capacity_rps, self.ix.sites[s].utilization, avail)

    def _gpus(self, slot: Slot) -> int:
        return self.ix.candidates[slot[0]].gpus_per_replica

    @cache  # noqa: B019
    def _workload_slots(self) -> dict[str, list[Slot]]:
        out: dict[str, list[Slot]] = defaultdict(list)
        for slot in self.ix.slots:
            out[self.ix.candidates[slot[0]].workload].append(slot)
        return out

    @cache  # noqa: B019
    def replicas(self, slot: Slot) -> int:
        """Most replicas `slot` needs in any period (see `replica_bound`), capped by hard GPU limits."""
        c, s, _o = slot
        cand = self.ix.candidates[c]
        slots = self._workload_slots()[cand.workload]
        served = max((self.served_max(cand.workload, t) for t in self.ix.periods), default=0.0)
        largest = max(self.usable(k) for k in slots)
        least = self.ix.data.min_replicas_per_active_site
        n = replica_bound(served, self.usable(slot), largest, len(slots), 1.0, least)
        share = self.ix.data.spot_max_share
        if 0.0 < share < 1.0 and any(k[2] == "spot" for k in slots):
            n = max(
                n,
                spot_gpu_replica_bound(
                    served,
                    largest,
                    len(slots),
                    min(self.usable(k) / self._gpus(k) for k in slots),
                    max(self._gpus(k) for k in slots),
                    self._gpus(slot),
                    share,
                    least,
                ),
            )
        limits = [
            None if "supply" in self.omitted else self.ix.data.supply_max_gpus.get((s, cand.gpu)),
            None if "site_gpus" in self.omitted else self.ix.sites[s].max_gpus,
        ]
        hard = [lim // cand.gpus_per_replica for lim in limits if lim is not None]
        return min([n, *hard])
