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

    _restore_min_replicas(m, count, lp, spot_last=False)
    if _restore_spot_share(m, count):  # on-demand replicas added: a site may have become active
        _restore_min_replicas(m, count, lp, spot_last=True)

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


def _restore_min_replicas(
    m: FleetModel,
    count: dict[tuple[str, str, str, str | None], int],
    lp: Mapping[Any, float],
    spot_last: bool,
) -> None:
    """At every site where a workload holds a replica in some period, raise its replicas to the
    minimum per active site in every period, adding them to the slot the LP used most; on ties a
    slot the counts hold in another period, then one of a GPU type already held (a GPU-type limit
    counts types), then a per-period one. With `spot_last`, any non-spot slot before a spot one,
    so the spot share just restored stays restored."""
    ix = m.index
    least = ix.data.min_replicas_per_active_site
    if least <= 0:
        return
    by_ws: dict[tuple[str, str], list[tuple[str, str, str, str | None]]] = defaultdict(list)
    for key in m.replicas:
        by_ws[(ix.candidates[key[0]].workload, key[1])].append(key)
    in_use = _gpus_in_use(m, count)
    for keys in by_ws.values():
        if not any(count[k] for k in keys):
            continue
        slots = {k[:3] for k in keys if count[k]}
        for held in by_period(keys, ix.periods).values():
            short = least - sum(count[k] for k in held)
            if short > 0 and held:
                best = max(
                    held,
                    key=lambda k: (
                        not (spot_last and k[2] == "spot"),
                        lp.get(m.replicas[k], 0.0),
                        k[:3] in slots,
                        ix.candidates[k[0]].gpu in in_use,
                        k[3] is not None,
                    ),
                )
                count[best] += short
                in_use.add(ix.candidates[best[0]].gpu)


def _gpus_in_use(m: FleetModel, count: dict[tuple[str, str, str, str | None], int]) -> set[str]:
    """GPU types the counts hold a replica of (what a GPU-type limit counts)."""
    return {m.index.candidates[k[0]].gpu for k, n in count.items() if n > 0}


def _restore_spot_share(m: FleetModel, count: dict[tuple[str, str, str, str | None], int]) -> bool:
    """Where rounding left spot GPUs above spot_max_share x all GPUs of a workload in a period, turn
    spot replicas into on-demand replicas of the same candidate and site (no less capacity: on-demand
    availability is 1), or failing that add on-demand replicas (preferably at a site the workload
    already holds replicas at, of a GPU type already held), until the share holds. True when
    replicas were added."""
    ix = m.index
    share = ix.data.spot_max_share
    added = False
    if share >= 1.0 or not any(k[2] == "spot" for k in count):
        return added
    by_w: dict[str, list[tuple[str, str, str, str | None]]] = defaultdict(list)
    for key in count:
        by_w[ix.candidates[key[0]].workload].append(key)
    in_use = _gpus_in_use(m, count)
    for keys in by_w.values():
        holding = {k[1] for k in keys if count[k]}
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
                    k = max(
                        extra, key=lambda k: (k[1] in holding, ix.candidates[k[0]].gpu in in_use, gpus[k])
                    )
                    need = (spot / share - total) if share > 0 else 0.0
                    more = max(0, math.ceil(need / gpus[k] - 1e-9))
                    count[k] += more
                    added = added or more > 0
    return added
