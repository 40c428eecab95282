"""Brute-force oracle for small fleet problems, written independently of optimizer.model.

Integer decisions (replicas per candidate, site, option and period; one count for all periods for
fixed options) are enumerated over a box; for each point the instances are the fewest that hold
the replicas, and the continuous part (routing, serverless, unmet) is an exact min-cost flow
(successive shortest paths). The cheapest feasible point is the optimum.

Why the box is enough. Take an optimal plan with the fewest replicas among optimal plans. Removing
any one replica (traffic unchanged) never raises cost, so each replica is held by a rule it would
break if removed:
- capacity at (c, s, t): n_k x usable_k <= capacity(c, s, t) < traffic + usable_k, so
  n_k <= ceil(reachable demand / usable_k);
- minimum replicas per active site: n_k <= min;
- spot share in GPUs (non-spot replicas only): g_k x n_k <= all GPUs < spot GPUs / share + g_k, and
  spot replicas are held by capacity or the minimum only, so spot GPUs <= sum_j g_j x box_j.
Pruning is exact too: points are visited in increasing instance cost (a lower bound of the total
cost), and the search stops at the first point whose instance cost alone reaches the best total.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from optimizer.model.data import FIXED_OPTIONS, FleetData

INF = float("inf")


@dataclass
class OracleResult:
    cost: float
    """Optimal monthly cost (inf: infeasible)."""
    point: dict[tuple[str, str, str, str | None], int] | None
    box_size: int
    evaluated: int


def _below(a: float, b: float) -> bool:
    """a is strictly cheaper than b (b may be inf), beyond a 1e-9 relative tolerance."""
    return a < b if math.isinf(b) else a < b - 1e-9 * max(1.0, abs(b))


def same_cost(a: float, b: float, rel: float = 1e-6) -> bool:
    """Equal within `rel` (relative, absolute below 1), or both infinite."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


class _Flow:
    """Min-cost flow by successive shortest paths (Bellman-Ford), exact for real capacities."""

    def __init__(self) -> None:
        self.graph: list[list[list[float]]] = []  # arcs: [to, cap, cost, rev_index]

    def node(self) -> int:
        self.graph.append([])
        return len(self.graph) - 1

    def arc(self, u: int, v: int, cap: float, cost: float) -> None:
        if cap <= 0:
            return
        self.graph[u].append([v, cap, cost, len(self.graph[v])])
        self.graph[v].append([u, 0.0, -cost, len(self.graph[u]) - 1])

    def run(self, s: int, t: int, want: float) -> tuple[float, float]:
        flow = cost = 0.0
        n = len(self.graph)
        while flow < want - 1e-12:
            dist = [INF] * n
            prev: list[tuple[int, int] | None] = [None] * n
            dist[s] = 0.0
            for _ in range(n):
                changed = False
                for u in range(n):
                    if dist[u] == INF:
                        continue
                    for i, (v, cap, c, _r) in enumerate(self.graph[u]):
                        if cap > 1e-12 and dist[u] + c < dist[int(v)] - 1e-12:
                            dist[int(v)] = dist[u] + c
                            prev[int(v)] = (u, i)
                            changed = True
                if not changed:
                    break
            if dist[t] == INF:
                break
            push = want - flow
            v = t
            while v != s:
                p = prev[v]
                assert p is not None
                push = min(push, self.graph[p[0]][p[1]][1])
                v = p[0]
            v = t
            while v != s:
                p = prev[v]
                assert p is not None
                a = self.graph[p[0]][p[1]]
                a[1] -= push
                self.graph[int(a[0])][int(a[3])][1] += push
                v = p[0]
            flow += push
            cost += push * dist[t]
        return flow, cost


class Oracle:
    """Exhaustive optimum of a single-workload FleetData (no hybrid placement)."""

    def __init__(self, data: FleetData) -> None:
        assert len(data.workloads) == 1
        self.d = data
        self.w = data.workloads[0]
        self.periods = [p.id for p in data.periods]
        self.hours = {p.id: p.hours_per_month for p in data.periods}
        self.month = sum(self.hours.values())
        self.cand = {c.id: c for c in data.candidates}
        self.site = {s.id: s for s in data.sites}
        self.offer = {(o.site, o.gpu, o.option): o for o in data.offers}
        w = self.w.id
        self.need = {
            (r, t): data.demand_rps.get((w, r, t), 0.0) * (1 + self.w.headroom)
            for r in data.regions
            for t in self.periods
        }
        self.regions = [r for r in data.regions if any(self.need[(r, t)] > 0 for t in self.periods)]
        self.routes = [x for x in data.routes if x.region in self.regions]
        routed = {(x.candidate, x.site) for x in self.routes}
        # Integer keys: (c, s, o, t | None) where an offer hosts a replica and a route uses (c, s).
        self.keys: list[tuple[str, str, str, str | None]] = []
        for c in data.candidates:
            for s in data.sites:
                if (c.id, s.id) not in routed:
                    continue
                for (os_, og, o), offer in self.offer.items():
                    if os_ == s.id and og == c.gpu and c.gpus_per_replica <= offer.gpus_per_instance:
                        for t in [None] if o in FIXED_OPTIONS else self.periods:
                            self.keys.append((c.id, s.id, o, t))
        self.eff = np.array([self._usable(k) for k in self.keys])

    def _usable(self, k: tuple[str, str, str, str | None]) -> float:
        c, s, o, _t = k
        cand = self.cand[c]
        return cand.capacity_rps * self.site[s].utilization * self.offer[(s, cand.gpu, o)].availability

    def _held(self, k: tuple[str, str, str, str | None], t: str) -> bool:
        return k[3] is None or k[3] == t

    # ---- the box

    def box(self) -> list[int]:
        w = self.w
        reach: dict[tuple[str, str], float] = defaultdict(float)  # (c, s) -> max over t of routed need
        for c, s, _o, _t in self.keys:
            regions = {x.region for x in self.routes if x.candidate == c and x.site == s}
            best = 0.0
            for t in self.periods:
                if w.daily_coverage:
                    vol = sum(self.hours[u] * self.need[(r, u)] for r in regions for u in self.periods)
                    best = max(best, vol / self.hours[t])
                else:
                    best = max(best, sum(self.need[(r, t)] for r in regions))
            reach[(c, s)] = best
        min_rep = self.d.min_replicas_per_active_site
        base = [
            max(math.ceil(reach[(k[0], k[1])] / e - 1e-12), min_rep)
            for k, e in zip(self.keys, self.eff, strict=True)
        ]
        share = self.d.spot_max_share
        if share < 1.0 and any(k[2] == "spot" for k in self.keys):
            g = [self.cand[k[0]].gpus_per_replica for k in self.keys]
            spot_max = max(
                sum(
                    gk * b
                    for k, gk, b in zip(self.keys, g, base, strict=True)
                    if k[2] == "spot" and self._held(k, t)
                )
                for t in self.periods
            )
            if share == 0.0:
                return [0 if k[2] == "spot" else b for k, b in zip(self.keys, base, strict=True)]
            return [
                b if k[2] == "spot" else max(b, math.floor(spot_max / share / gk) + 1)
                for k, gk, b in zip(self.keys, g, base, strict=True)
            ]
        return base

    # ---- evaluation

    def instance_cost(
        self, pts: np.ndarray
    ) -> tuple[np.ndarray, dict[tuple[str, str, str, str | None], np.ndarray]]:
        """Instance cost per point and instance counts per pool (site, gpu, option, period|None)."""
        pools: dict[tuple[str, str, str, str | None], np.ndarray] = {}
        gpus: dict[tuple[str, str, str, str | None], np.ndarray] = defaultdict(lambda: np.zeros(len(pts)))
        for j, (c, s, o, t) in enumerate(self.keys):
            gpus[(s, self.cand[c].gpu, o, t)] = (
                gpus[(s, self.cand[c].gpu, o, t)] + pts[:, j] * self.cand[c].gpus_per_replica
            )
        cost = np.zeros(len(pts))
        for (s, g, o, t), n_gpus in gpus.items():
            offer = self.offer[(s, g, o)]
            inst = np.ceil(n_gpus / offer.gpus_per_instance - 1e-9)
            pools[(s, g, o, t)] = inst
            hours = self.month if t is None else self.hours[t]
            cost = cost + inst * offer.gpus_per_instance * offer.usd_per_gpu_hour * hours
        return cost, pools

    def feasible_mask(
        self,
        pts: np.ndarray,
        pools: dict[tuple[str, str, str, str | None], np.ndarray],
        inst_cost: np.ndarray,
    ) -> np.ndarray:
        ok = np.ones(len(pts), dtype=bool)
        d = self.d
        for t in self.periods:
            held = np.array([self._held(k, t) for k in self.keys], dtype=bool)
            per_sg: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(len(pts)))
            per_s: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(pts)))
            power: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(pts)))
            for (s, g, o, pt), inst in pools.items():
                if pt is None or pt == t:
                    n = inst * self.offer[(s, g, o)].gpus_per_instance
                    per_sg[(s, g)] = per_sg[(s, g)] + n
                    per_s[s] = per_s[s] + n
                    power[s] = power[s] + n * d.gpu_power_kw.get(g, 0.0)
            for (s, g), n in per_sg.items():
                if (s, g) in d.supply_max_gpus:
                    ok &= n <= d.supply_max_gpus[(s, g)]
            for s, n in per_s.items():
                max_gpus, power_kw = self.site[s].max_gpus, self.site[s].power_limit_kw
                if max_gpus is not None:
                    ok &= n <= max_gpus
                if power_kw is not None:
                    ok &= power[s] <= power_kw + 1e-9
            gpu_w = np.array([self.cand[k[0]].gpus_per_replica for k in self.keys], dtype=float)
            used = pts * gpu_w * held
            spot = np.array([k[2] == "spot" for k in self.keys], dtype=bool)
            ok &= used[:, spot].sum(axis=1) <= d.spot_max_share * used.sum(axis=1) + 1e-9
            # minimum replicas: a site with replicas in any period holds >= min in every period
        if d.min_replicas_per_active_site > 0:
            for s in self.site:
                cols = [j for j, k in enumerate(self.keys) if k[1] == s]
                if not cols:
                    continue
                per_t = [
                    pts[:, [j for j in cols if self._held(self.keys[j], t)]].sum(axis=1) for t in self.periods
                ]
                anyrep = np.zeros(len(pts), dtype=bool)
                for x in per_t:
                    anyrep |= x > 0
                for x in per_t:
                    ok &= ~anyrep | (x >= d.min_replicas_per_active_site)
        if d.max_gpu_types is not None:
            used: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(pts), dtype=bool))
            for (_s, g, _o, _t), inst in pools.items():
                used[g] = used[g] | (inst > 0)
            ok &= sum(u.astype(int) for u in used.values()) <= d.max_gpu_types
        if d.budget_usd_per_month is not None:  # instances are all the spend (no egress/serverless)
            ok &= inst_cost <= d.budget_usd_per_month + 1e-6
        return ok

    def routing_cost(self, point: np.ndarray, cache: dict[tuple[object, ...], float]) -> float:
        """Exact least traffic cost (egress, serverless, shortfall) for these replicas; inf if infeasible."""
        w = self.w
        caps = {}
        for t in self.periods:
            for c, s in {(k[0], k[1]) for k in self.keys}:
                caps[(c, s, t)] = sum(
                    e * n
                    for k, e, n in zip(self.keys, self.eff, point, strict=True)
                    if k[0] == c and k[1] == s and self._held(k, t)
                )
        if w.daily_coverage:
            key: tuple[object, ...] = ("daily", tuple(sorted(caps.items())))
            if key not in cache:
                cache[key] = self._flow(self.periods, caps, daily=True)
            return cache[key]
        total = 0.0
        for t in self.periods:
            sub = tuple(sorted((k, v) for k, v in caps.items() if k[2] == t))
            key = (t, sub)
            if key not in cache:
                cache[key] = self._flow([t], caps, daily=False)
            total += cache[key]
        return total

    def _flow(self, periods: list[str], caps: dict[tuple[str, str, str], float], daily: bool) -> float:
        """Min-cost flow over `periods`. Units: rps (one period) or rps x hours (daily coverage)."""
        w = self.w
        f = _Flow()
        src, snk = f.node(), f.node()
        want = 0.0
        cs_node: dict[tuple[str, str, str], int] = {}
        for (c, s, t), cap in caps.items():
            if t in periods and cap > 0:
                cs_node[(c, s, t)] = f.node()
                f.arc(cs_node[(c, s, t)], snk, cap * (self.hours[t] if daily else 1.0), 0.0)
        for r in self.regions:
            rn = f.node()
            vol = sum(self.need[(r, t)] * (self.hours[t] if daily else 1.0) for t in periods)
            if vol <= 0:
                continue
            want += vol
            f.arc(src, rn, vol, 0.0)
            for t in periods:
                scale = self.hours[t] if daily else 1.0
                unit = 3600.0 if daily else 3600.0 * self.hours[t]  # USD per flow unit per USD/request
                if self.need[(r, t)] > 0:
                    if w.serverless_usd_per_request is not None:
                        f.arc(
                            rn,
                            snk,
                            w.serverless_max_share * self.need[(r, t)] * scale,
                            # serverless s (demand units) covers (1 + headroom) s of need
                            w.serverless_usd_per_request / (1 + w.headroom) * unit,
                        )
                    if w.unmet_usd_per_request is not None:
                        # unmet u (demand units) covers (1 + headroom) u of need at penalty x u
                        f.arc(
                            rn,
                            snk,
                            self.need[(r, t)] * scale,
                            w.unmet_usd_per_request / (1 + w.headroom) * unit,
                        )
                groups: dict[str, int] = {}
                for x in self.routes:
                    if x.region != r or (x.candidate, x.site, t) not in cs_node:
                        continue
                    g = self.cand[x.candidate].group
                    origin = rn
                    if g in w.group_max_share:
                        if g not in groups:
                            groups[g] = f.node()
                            f.arc(rn, groups[g], w.group_max_share[g] * self.need[(r, t)] * scale, 0.0)
                        origin = groups[g]
                    f.arc(origin, cs_node[(x.candidate, x.site, t)], INF, x.egress_usd_per_request * unit)
        flow, cost = f.run(src, snk, want)
        if flow < want - 1e-9 * max(1.0, want):
            return INF
        return cost

    def solve(
        self, incumbent: dict[tuple[str, str, str, str | None], int] | None = None, max_points: int = 400_000
    ) -> OracleResult:
        box = self.box()
        size = math.prod(b + 1 for b in box)
        if size > max_points:
            raise OverflowError(size)
        grids = np.meshgrid(*[np.arange(b + 1) for b in box], indexing="ij")
        pts = np.stack([g.ravel() for g in grids], axis=1) if box else np.zeros((1, 0), dtype=int)
        inst_cost, pools = self.instance_cost(pts)
        ok = self.feasible_mask(pts, pools, inst_cost)
        cache: dict[tuple[object, ...], float] = {}
        best, best_pt, evaluated = INF, None, 0
        if incumbent is not None:
            vec = np.array([[incumbent.get(k, 0) for k in self.keys]])
            if all(v <= b for v, b in zip(vec[0], box, strict=True)):
                ic, pl = self.instance_cost(vec)
                if self.feasible_mask(vec, pl, ic)[0]:
                    best = float(ic[0]) + self.routing_cost(vec[0], cache)
                    best_pt = vec[0]
        order = np.argsort(inst_cost, kind="stable")
        for i in order:
            if not _below(float(inst_cost[i]), best):
                break
            if not ok[i]:
                continue
            evaluated += 1
            total = float(inst_cost[i]) + self.routing_cost(pts[i], cache)
            if _below(total, best):
                best, best_pt = total, pts[i]
        point = None if best_pt is None else {k: int(v) for k, v in zip(self.keys, best_pt, strict=True) if v}
        return OracleResult(best, point, size, evaluated)
