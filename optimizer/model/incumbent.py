"""A feasible starting plan from the LP relaxation: round replica counts up, then derive the rest.

Rounding every replica count of the relaxation up keeps every capacity row satisfied with the LP's
own traffic, so coverage, routing shares and latency still hold. Instances, site activity and GPU
types are then derived exactly (fewest instances that pack the replicas; active where replicas are;
a GPU type used where instances are), and the minimum replicas per active site is restored by
raising the slot the LP used most. Rules rounding can break (supply, site GPUs and power, spot
share, GPU-type limit, budget) are left to the solver: it checks the start, completes the
continuous part, and discards a start that breaks a rule. The solver only ever gains from it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from optimizer.model.fleet_model import FleetModel

EPS = 1e-6
"""LP values within EPS of an integer count as that integer (solver round-off)."""


def round_up(value: float) -> int:
    """The integer count a relaxed value rounds to: ceil, tolerant to round-off.

    >>> round_up(2.0000001), round_up(2.3), round_up(-1e-9)
    (2, 3, 0)
    """
    return max(0, math.ceil(value - EPS))


def by_period(
    keys: list[tuple[str, str, str, str | None]], periods: tuple[str, ...]
) -> dict[str, list[tuple[str, str, str, str | None]]]:
    """Period -> the replica keys held in it (fixed options, period None, in every period), each
    list in the order of `keys`: one pass over the keys instead of one per period.

    >>> fixed, hourly = ("c", "s", "committed_1y", None), ("c", "s", "on_demand", "h1")
    >>> by_period([fixed, hourly], ("h0", "h1")) == {"h0": [fixed], "h1": [fixed, hourly]}
    True
    """
    out: dict[str, list[tuple[str, str, str, str | None]]] = {t: [] for t in periods}
    for k in keys:
        if k[3] is None:
            for held in out.values():
                held.append(k)
        elif k[3] in out:
            out[k[3]].append(k)
    return out


def rounded_start(m: FleetModel, lp: Mapping[Any, float]) -> dict[Any, float]:
    """Variable -> value of a starting plan built from the LP relaxation's values `lp`.

    Replicas: ceil(lp), raised to the minimum per active site in every period; instances:
    ceil(sum gpus x replicas / gpus_per_instance) per pool; active[w, s] = 1 where (w, s) holds a
    replica; gpu_used[g] = 1 where g has an instance; traffic, serverless and unmet keep the LP's
    values (capacity only grew).
    """
    ix = m.index
    start: dict[Any, float] = {
        v: float(lp.get(v, 0.0)) for v in (*m.traffic.values(), *m.serverless.values())
    }
    start.update({v: float(lp.get(v, 0.0)) for v in m.unmet.values()})
    count = {key: round_up(lp.get(var, 0.0)) for key, var in m.replicas.items()}

    least = ix.data.min_replicas_per_active_site
    if least > 0:
        by_ws: dict[tuple[str, str], list[tuple[str, str, str, str | None]]] = defaultdict(list)
        for key in m.replicas:
            by_ws[(ix.candidates[key[0]].workload, key[1])].append(key)
        for (_w, _s), keys in by_ws.items():
            if not any(count[k] for k in keys):
                continue
            for held in by_period(keys, ix.periods).values():
                short = least - sum(count[k] for k in held)
                if short > 0 and held:
                    best = max(held, key=lambda k: (lp.get(m.replicas[k], 0.0), k[3] is not None))
                    count[best] += short

    _restore_spot_share(m, count)

    gpus: dict[tuple[str, str, str, str | None, str], float] = defaultdict(float)
    for (c, site, o, when), n in count.items():
        cand = ix.candidates[c]
        gpus[(site, cand.gpu, o, when, ix.tenant(cand.workload))] += n * cand.gpus_per_replica
    for pool, inst in m.instances.items():
        site, gpu, o = pool[0], pool[1], pool[2]
        per_instance = ix.offers[(site, gpu, o)].gpus_per_instance
        start[inst] = float(math.ceil(gpus.get(pool, 0.0) / per_instance - 1e-9))
    start.update({m.replicas[k]: float(n) for k, n in count.items()})
    active = {(ix.candidates[k[0]].workload, k[1]) for k, n in count.items() if n > 0}
    for ws, act in m.active.items():
        start[act] = 1.0 if ws in active else 0.0
    used = {g for (_s, g, _o, _t, _ten), inst in m.instances.items() if start[inst] > 0}
    for g, var in m.gpu_used.items():
        start[var] = 1.0 if g in used else 0.0
    if m.budget_slack is not None:
        start[m.budget_slack] = float(lp.get(m.budget_slack, 0.0))
    return start


def _restore_spot_share(m: FleetModel, count: dict[tuple[str, str, str, str | None], int]) -> None:
    """Where rounding left spot GPUs above spot_max_share x all GPUs of a workload in a period, turn
    spot replicas into on-demand replicas of the same candidate and site (no less capacity: on-demand
    availability is 1), or failing that add on-demand replicas, until the share holds."""
    ix = m.index
    share = ix.data.spot_max_share
    if share >= 1.0 or not any(k[2] == "spot" for k in count):
        return
    by_w: dict[str, list[tuple[str, str, str, str | None]]] = defaultdict(list)
    for key in count:
        by_w[ix.candidates[key[0]].workload].append(key)
    for keys in by_w.values():
        for t, held in by_period(keys, ix.periods).items():
            gpus = {k: ix.candidates[k[0]].gpus_per_replica for k in held}
            spot = sum(count[k] * gpus[k] for k in held if k[2] == "spot")
            total = sum(count[k] * gpus[k] for k in held)
            for k in sorted((k for k in held if k[2] == "spot" and count[k]), key=lambda k: -count[k]):
                od = (k[0], k[1], "on_demand", t)
                while spot > share * total + 1e-9 and count[k] > 0 and od in count:
                    count[k] -= 1
                    count[od] += 1
                    spot -= gpus[k]
            if spot > share * total + 1e-9:
                extra = [k for k in held if k[2] == "on_demand"]
                if extra:
                    k = max(extra, key=lambda k: gpus[k])
                    need = (spot / share - total) if share > 0 else 0.0
                    count[k] += max(0, math.ceil(need / gpus[k] - 1e-9))
