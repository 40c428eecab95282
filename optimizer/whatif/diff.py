"""What changed between two plans: headline figures, cost terms, GPUs by type, site and purchase option,
GPUs by workload and precision, and routing shares.

Pure functions of two `Plan`s. Each section is a list of `Change(key, a, b)`; `delta = b - a`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from optimizer.schema.plan import Plan
from optimizer.whatif.summary import SECONDS_PER_HOUR, fleet_shares, gpus_by

TOLERANCE = 1e-6
"""Relative difference below which two figures count as equal (solver round-off)."""
SECTIONS: tuple[str, ...] = (
    "headline",
    "cost_terms",
    "gpus_by_type",
    "gpus_by_site",
    "gpus_by_option",
    "gpus_by_precision",
    "routing_shares",
)


@dataclass(frozen=True)
class Change:
    key: str
    a: float | str | None
    b: float | str | None

    @property
    def delta(self) -> float | None:
        if isinstance(self.a, str) or isinstance(self.b, str):
            return None
        return (self.b or 0.0) - (self.a or 0.0)

    @property
    def changed(self) -> bool:
        if isinstance(self.a, str) or isinstance(self.b, str) or self.a is None or self.b is None:
            return self.a != self.b
        scale = max(abs(self.a), abs(self.b), 1.0)
        return abs(self.b - self.a) > TOLERANCE * scale

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "a": self.a, "b": self.b, "delta": self.delta}


def _headline(p: Plan) -> dict[str, float | str | None]:
    shares = fleet_shares(p)
    return {
        "status": p.status,
        "monthly_cost_usd": p.monthly_cost_usd,
        "monthly_spend_usd": p.monthly_spend_usd,
        "usd_per_million_tokens": p.usd_per_million_tokens,
        "served_share": shares["served_share"],
        "serverless_share": shares["serverless_share"],
        "unmet_share": shares["unmet_share"],
    }


def _by_precision(p: Plan) -> dict[str, float]:
    """Peak GPUs per workload / model / precision / tensor-parallel degree (sum of deployments' peaks)."""
    out: dict[str, float] = defaultdict(float)
    for d in p.deployments:
        out[f"{d.workload}/{d.model}/{d.precision}/tp{d.tensor_parallel}"] += d.gpus
    return dict(out)


def routing_shares(p: Plan) -> dict[str, float]:
    """Share of each (workload, region)'s monthly demand routed to each site, the serverless API or
    left unmet: sum over periods and configurations of rps x hours / sum over periods of demand rps x
    hours. Traffic routed to GPUs carries the headroom (routed rps = served demand x (1 + h)), so it
    counts / (1 + h): a region served wholly at one site shows 100%, as its served share does."""
    hours = {x.id: x.hours_per_month for x in p.periods}
    head = {w.id: w.headroom for w in p.workloads}
    demand: dict[tuple[str, str], float] = defaultdict(float)
    for d in p.demand:
        demand[(d.workload, d.region)] += d.rps * SECONDS_PER_HOUR * hours[d.period]
    routed: dict[tuple[str, str, str], float] = defaultdict(float)
    for f in p.routing:
        routed[(f.workload, f.region, f.site)] += (
            f.rps * SECONDS_PER_HOUR * hours[f.period] / (1.0 + head.get(f.workload, 0.0))
        )
    for s in p.serverless:
        routed[(s.workload, s.region, "serverless")] += s.rps * SECONDS_PER_HOUR * hours[s.period]
    for u in p.unmet:
        routed[(u.workload, u.region, "unmet")] += u.rps * SECONDS_PER_HOUR * hours[u.period]
    return {
        f"{w}/{r} -> {s}": v / demand[(w, r)]
        for (w, r, s), v in sorted(routed.items())
        if demand.get((w, r), 0.0) > 0 and v > 0
    }


def _section(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    keys = list(dict.fromkeys([*a, *b]))
    numeric = all(isinstance(v, int | float) or v is None for v in [*a.values(), *b.values()])
    return [Change(k, a.get(k, 0.0 if numeric else None), b.get(k, 0.0 if numeric else None)) for k in keys]


def diff_plans(a: Plan, b: Plan) -> dict[str, list[Change]]:
    """Every section's figures in both plans (use `Change.changed` to keep only what moved)."""
    return {
        "headline": [Change(k, v, _headline(b)[k]) for k, v in _headline(a).items()],
        "cost_terms": _section(dict(a.cost_breakdown), dict(b.cost_breakdown)),
        "gpus_by_type": _section(dict(gpus_by(a, "gpu")), dict(gpus_by(b, "gpu"))),
        "gpus_by_site": _section(dict(gpus_by(a, "site")), dict(gpus_by(b, "site"))),
        "gpus_by_option": _section(dict(gpus_by(a, "purchase_option")), dict(gpus_by(b, "purchase_option"))),
        "gpus_by_precision": _section(_by_precision(a), _by_precision(b)),
        "routing_shares": _section(routing_shares(a), routing_shares(b)),
    }


def diff_document(a: Plan, b: Plan, names: tuple[str, str], changed_only: bool = True) -> dict[str, Any]:
    """The diff as JSON data: per section, the changes (all entries with `changed_only=False`)."""
    sections = diff_plans(a, b)
    return {
        "kind": "plan_diff",
        "a": names[0],
        "b": names[1],
        "problems": [a.problem, b.problem],
        "identical": not any(c.changed for cs in sections.values() for c in cs),
        "sections": {
            name: [c.as_dict() for c in changes if c.changed or not changed_only]
            for name, changes in sections.items()
        },
    }
