"""Problem + catalog + performance model -> the MIP's number table (`FleetData`).

For every workload (and each of its routing alternatives) this enumerates replica configurations:
GPU type offered somewhere x precision allowed by the quality floor and supported by the GPU x
tensor-parallel degree x (with and without speculative decoding), and asks the performance model
for the capacity of one replica at the workload's TTFT and TPOT targets: all configurations of the
problem at once, vectorised (`optimizer.perf.batched`), through a cache keyed by the physics inputs
(`EvaluationCache`) so that related builds (what-ifs, baselines) re-use the table. A user's
measurement replaces the model's figures for its configuration (the model's stay beside them).

Latency bands. The TTFT a user sees is network round trip + server-side TTFT, so the server-side
budget depends on the (region, site) pair. A configuration is therefore evaluated at each distinct
budget `ttft_target - rtt(region, site)`; tighter budgets mean lower capacity. The configuration at
budget B may serve exactly the pairs whose round trip is <= target - B. Bands whose capacity is not
strictly above the next tighter band's are dropped (same capacity, fewer routes: dominated).

Dominance pruning is exact: candidate a dominates b (same workload, same model group, same GPU
type) when a uses no more GPUs per replica, has at least b's capacity, and a server-side TTFT no
worse than b's. Any plan using b can swap each b replica for an a replica at no more cost and no
less capacity on the same or more routes, so pruning never changes the optimum (tested).

A (workload, region) with demand that ends with no route, and that serverless or shortfall cannot
absorb, raises `InfeasibleError` naming the rule that removed the last option, with its numbers.

Modules, in pipeline order: `costs` (prices), `demand` (traffic), `offers` (sites and offers),
`grid` (configurations, budgets, shapes, route pairs), `evaluate` (performance model, cache,
measurements), `bands` (bands -> candidates), `routes`, `prune`, `diagnose`, `build`
(`build_candidates`, the table of contents), `records` (the typed records).
"""

from __future__ import annotations

from optimizer.candidates.build import build_candidates
from optimizer.candidates.checkpoints import ONLINE_QUANTIZATION, Checkpoint, CheckpointSource, checkpoint_for
from optimizer.candidates.costs import (
    annuity_factor,
    hours_per_month,
    offer_prices,
    owned_capital_usd_per_gpu_hour,
    owned_power_usd_per_gpu_hour,
)
from optimizer.candidates.demand import (
    SECONDS_PER_DAY,
    daily_requests,
    profile_factors,
    region_shift,
    tokens_per_request,
)
from optimizer.candidates.evaluate import EvaluationCache
from optimizer.candidates.grid import DEFAULT_TP, tpot_limit_ms
from optimizer.candidates.records import (
    Admitted,
    CandidateInfo,
    CandidateSet,
    Config,
    ConfigOutcome,
    ModelEstimate,
    Rejected,
    Rule,
    WorkloadFacts,
)
from optimizer.candidates.routes import EGRESS_BYTES_PER_OUTPUT_TOKEN

__all__ = [
    "DEFAULT_TP",
    "EGRESS_BYTES_PER_OUTPUT_TOKEN",
    "ONLINE_QUANTIZATION",
    "SECONDS_PER_DAY",
    "Admitted",
    "CandidateInfo",
    "CandidateSet",
    "Checkpoint",
    "CheckpointSource",
    "Config",
    "ConfigOutcome",
    "EvaluationCache",
    "ModelEstimate",
    "Rejected",
    "Rule",
    "WorkloadFacts",
    "annuity_factor",
    "build_candidates",
    "checkpoint_for",
    "daily_requests",
    "hours_per_month",
    "offer_prices",
    "owned_capital_usd_per_gpu_hour",
    "owned_power_usd_per_gpu_hour",
    "profile_factors",
    "region_shift",
    "tokens_per_request",
    "tpot_limit_ms",
]
