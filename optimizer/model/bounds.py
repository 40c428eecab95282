"""Big-M values for the few constraints that link binaries to counts, from demand and limits."""

from __future__ import annotations

import math
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
    def _site_slots(self) -> dict[tuple[str, str], list[Slot]]:
        """(workload, site) -> its slots."""
        out: dict[tuple[str, str], list[Slot]] = defaultdict(list)
        for slot in self.ix.slots:
            out[(self.ix.candidates[slot[0]].workload, slot[1])].append(slot)
        return out

    @cache  # noqa: B019
    def _has_spot(self, workload: str) -> bool:
        """Whether workload w has a spot slot."""
        return any(k[2] == "spot" for k in self._workload_slots()[workload])

    @cache  # noqa: B019
    def _gpus_range(self, workload: str) -> tuple[int, int]:
        """(least, largest) GPUs per replica over workload w's slots."""
        gpus = [self._gpus(k) for k in self._workload_slots()[workload]]
        return min(gpus), max(gpus)

    @cache  # noqa: B019
    def _pool_counts(self) -> dict[tuple[str, str], int]:
        """(workload, site) -> the number of latency pools there."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for p in self.ix.pools:
            out[(p.workload, p.site)] += 1
        return dict(out)

    @cache  # noqa: B019
    def _routed_regions(self) -> dict[tuple[str, str], frozenset[str]]:
        """(workload, site) -> the user regions with a route to the site."""
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for route in self.ix.routes:
            out[(route.workload, route.site)].add(route.region)
        return {key: frozenset(regions) for key, regions in out.items()}

    @cache  # noqa: B019
    def site_traffic_max(self, workload: str, site: str) -> float:
        """Most rps workload w routes to site s in any period of some optimal plan:
        max_t sum_(r routed to s) traffic_max(w, r, t)."""
        regions = self._routed_regions().get((workload, site), frozenset())
        return max(
            (sum(self.traffic_max(workload, r, t) for r in regions) for t in self.ix.periods), default=0.0
        )

    @cache  # noqa: B019
    def spot_gpus_max(self, workload: str) -> float:
        """Most spot GPUs workload w holds in a period of a minimal optimal plan.

        Spot replicas the capacity rows need hold, per site, usable rps < traffic there + the
        largest usable rps; the traffic over all sites is at most served_max (a minimal plan routes
        no more than it must). With u the least usable rps per GPU of the spot slots, L the largest
        usable rps, k the sites with spot slots and g the largest replica's GPUs:
        S <= (max_t served_max + k x L) / u + k x min x g.
        """
        spot = [k for k in self._workload_slots()[workload] if k[2] == "spot" and self.usable(k) > 0]
        if not spot:
            return 0.0
        per_gpu = min(self.usable(k) / self._gpus(k) for k in spot)
        sites = len({k[1] for k in spot})
        served = max((self.served_max(workload, t) for t in self.ix.periods), default=0.0)
        largest = max(self.usable(k) for k in spot)
        least = self.ix.data.min_replicas_per_active_site
        return (served + sites * largest) / per_gpu + sites * least * max(self._gpus(k) for k in spot)

    @cache  # noqa: B019
    def replicas(self, slot: Slot) -> int:
        """Most replicas `slot` needs in any period (see `replica_bound`), capped by hard GPU limits."""
        c, s, _o = slot
        cand = self.ix.candidates[c]
        least = self.ix.data.min_replicas_per_active_site
        n = replica_bound(self.site_traffic_max(cand.workload, s), self.usable(slot), least)
        share = self.ix.data.spot_max_share
        if 0.0 < share < 1.0 and self._has_spot(cand.workload):
            n = max(
                n,
                spot_gpu_replica_bound(
                    self.spot_gpus_max(cand.workload),
                    self._gpus_range(cand.workload)[1],
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

    @cache  # noqa: B019
    def site_replicas(self, workload: str, site: str) -> int:
        """Most replicas workload w holds at site s in one period of a minimal optimal plan (the
        big-M of `active_replicas`): min(sum of the slots' `replicas`, the aggregate below).

        Every replica is held for capacity, the spot share or the minimum per active site. Per
        latency pool, the replicas the capacity rows need satisfy sum usable x n < T + largest
        usable (the binding band rows are nested, so the loosest one holds them all), once for the
        per-period options and once for the fixed ones (present in every period): 2 x pools x
        ((T + largest) / least usable + 1). Replicas held for the spot share number at most
        (S / share + largest GPUs) / least GPUs + 1. With more than the minimum, no replica is
        held for it; so the total is at most max(min, capacity part + spot part).
        """
        slots = self._site_slots().get((workload, site), [])
        if not slots:
            return 0
        per_slot = sum(self.replicas(k) for k in slots)
        usable = [self.usable(k) for k in slots]
        if min(usable) <= 0:
            return per_slot
        pools = self._pool_counts().get((workload, site), 1)
        held = (self.site_traffic_max(workload, site) + max(usable)) / min(usable) + 1
        total = 2 * pools * math.floor(held + 1e-9)
        share = self.ix.data.spot_max_share
        if 0.0 < share < 1.0 and self._has_spot(workload):
            least_gpus, largest_gpus = self._gpus_range(workload)
            total += math.floor((self.spot_gpus_max(workload) / share + largest_gpus) / least_gpus + 1e-9) + 1
        return min(per_slot, max(self.ix.data.min_replicas_per_active_site, total))
