"""Shared pieces of the provisioning exports: names, grouping of deployments, schedules.

Every export reads the plan document alone (no problem file, catalog or solver).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import yaml

from optimizer.schema.plan import Deployment, Plan

DNS_LABEL_MAX = 63
"""Kubernetes object names used as labels and Service names: RFC 1123 labels of at most 63 chars."""


def dns_label(*parts: str, max_len: int = DNS_LABEL_MAX) -> str:
    """A lowercase RFC 1123 label from `parts` joined by '-'; shortened with a stable hash suffix.

    >>> dns_label("chat_assistant", "aws_us_east_1")
    'chat-assistant-aws-us-east-1'
    >>> len(dns_label("x" * 80))
    63
    """
    raw = "-".join(parts).lower()
    label = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    label = re.sub(r"-{2,}", "-", label) or "x"
    if len(label) <= max_len:
        return label
    digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
    return f"{label[: max_len - 9].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class ServingGroup:
    """Deployments of one workload at one site with the same engine configuration (same GPU,
    precision, tensor parallelism, checkpoint and engine settings), over all purchase options."""

    workload: str
    site: str
    deployments: tuple[Deployment, ...]
    name: str
    """Unique file/service name: workload-site-gpu-precision-tpN, plus `-seqsN` where two
    configurations at a site differ only in their engine settings."""

    @property
    def first(self) -> Deployment:
        return self.deployments[0]

    def replicas_by_period(self, periods: list[str], *, spot: bool | None = None) -> dict[str, int]:
        """Engine replicas per period (all options; spot only; or non-spot only)."""
        return {
            t: sum(
                d.replicas_by_period.get(t, 0)
                for d in self.deployments
                if spot is None or (d.purchase_option == "spot") == spot
            )
            for t in periods
        }


def engine_key(d: Deployment) -> tuple[str, ...]:
    """What makes two deployments runnable by the same engine command."""
    return (d.gpu, d.precision, str(d.tensor_parallel), d.hf_repo, d.engine.model_dump_json())


def serving_groups(plan: Plan) -> list[ServingGroup]:
    """Deployments grouped by (workload, site, engine configuration), in plan order."""
    groups: dict[tuple[str, ...], list[Deployment]] = defaultdict(list)
    for d in plan.deployments:
        groups[(d.workload, d.site, *engine_key(d))].append(d)
    out: list[ServingGroup] = []
    used: set[str] = set()
    for key, members in groups.items():
        d = members[0]
        name = dns_label(d.workload, d.site, d.gpu, d.precision, f"tp{d.tensor_parallel}")
        if name in used:
            name = dns_label(name, f"seqs{d.engine.max_num_seqs}")
        while name in used:
            name = dns_label(name, str(len(out)))
        used.add(name)
        out.append(ServingGroup(key[0], key[1], tuple(members), name))
    return out


def period_ids(plan: Plan) -> list[str]:
    return [p.id for p in plan.periods]


def period_start_minutes(plan: Plan) -> dict[str, int]:
    """Start of each period in minutes after 00:00 UTC: periods follow each other in plan order from
    midnight, each lasting hours_per_month x 24 / 730 hours of the day (hourly periods: h00 at 0).

    >>> from types import SimpleNamespace as N
    >>> night, day = N(id="night", hours_per_month=243.3333), N(id="day", hours_per_month=486.6667)
    >>> period_start_minutes(N(periods=[night, day]))
    {'night': 0, 'day': 480}
    """
    out: dict[str, int] = {}
    start = 0.0
    for p in plan.periods:
        out[p.id] = round(start * 60)
        start += p.hours_per_month * 24.0 / 730.0
    return out


def instances_for(replicas: int, gpus_per_replica: int, gpus_per_instance: int) -> int:
    """Whole instances holding `replicas` replicas: ceil(replicas x gpus_per_replica / gpus_per_instance).

    >>> instances_for(3, 2, 8)
    1
    >>> instances_for(5, 2, 8)
    2
    """
    if replicas <= 0:
        return 0
    return math.ceil(replicas * gpus_per_replica / max(gpus_per_instance, 1))


class _Dumper(yaml.SafeDumper):
    """Safe YAML without anchors/aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: Any) -> str:
    """One YAML document: keys in insertion order, no aliases, long lines kept whole."""
    return str(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True))
