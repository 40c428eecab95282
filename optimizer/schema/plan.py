"""The plan: the versioned output contract of `optimizer solve`.

Self-contained: everything needed to re-check each constraint (demand, capacities, latencies,
prices, limits) is in the plan, so `optimizer.plan.check_plan` can verify it without the problem
file, the catalog or the performance model. Other tools read the top-level keys
`schema_version`, `status`, `monthly_cost_usd`, `cost_breakdown`, `deployments`, `routing`,
`baselines` and `solve`; they are stable within a schema version.

Units: USD per month unless named otherwise; traffic in requests per second (`rps`) of the
workload's request shape; latency in ms.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from optimizer.schema.types import Frozen

PLAN_SCHEMA_VERSION = 3
"""Bumped on any incompatible change to the keys below (the Plan model pins it as a literal).

History: 2 recorded the solver fallback and dropped timings; 3 added each deployment's Hugging Face
repository (`hf_repo`), cloud and region, GPU memory and vendor, the engine's name and
`gpu_memory_utilization`, and replaced vLLM's removed `speculative_model` / `num_speculative_tokens`
arguments with `engine.speculative_config` (vLLM's `--speculative-config` JSON)."""


class PlanPeriod(Frozen):
    id: str
    hours_per_month: float
    """Hours of an average month in this period."""


class PlanRegion(Frozen):
    id: str
    jurisdiction: str | None = None


class PlanSite(Frozen):
    id: str
    kind: Literal["central", "edge"]
    jurisdiction: str | None = None
    utilization: float
    """Sustainable utilisation: usable capacity = nominal x this."""
    max_gpus: int | None = None
    power_limit_kw: float | None = None
    rtt_ms: dict[str, float]
    """Network round trip to each user region it can serve, ms."""


class PlanWorkload(Frozen):
    id: str
    model: str
    input_tokens: float
    """Mean prompt tokens per request."""
    output_tokens: float
    """Mean generated tokens per request."""
    requests_per_day: float
    ttft_target_ms: float | None
    tpot_target_ms: float | None
    headroom: float
    dedicated: bool
    placement: str
    residency: list[str] | Literal["user_region"] | None
    daily_coverage: bool
    """Batch work whose daily volume may be served in any period."""
    group_max_share: dict[str, float]
    """Model-routing groups (model ids) other than the primary, with their largest share."""
    serverless_allowed: bool
    serverless_max_share: float
    serverless_usd_per_request: float | None
    shortfall_usd_per_request: float | None
    monthly_cost_usd: float
    """Cost attributed to this workload (its replicas' share of instances, its traffic costs)."""
    tokens_per_month: float
    """Input + output tokens served per month (served + serverless)."""
    usd_per_million_tokens: float | None
    served_share: float
    """Fraction of monthly requests served by the fleet."""
    serverless_share: float
    unmet_share: float


class SpeculativeConfig(Frozen):
    """vLLM's `--speculative-config` JSON object for draft-model speculative decoding."""

    method: Literal["draft_model"] = "draft_model"
    """vLLM speculative method: a separate, smaller draft model."""
    model: str
    """Hugging Face repository of the draft model."""
    num_speculative_tokens: int = Field(ge=1)
    """Tokens drafted per verification step (the problem's `draft_tokens`, gamma)."""


class Engine(Frozen):
    """Serving-engine settings for each replica, named after vLLM's engine arguments (snake_case of the
    flags); SGLang, TensorRT-LLM and llama.cpp replicas map them to their own server's flags
    (`sglang.launch_server`, `trtllm-serve`, `llama-server`; see `docs/exports.md`)."""

    name: Literal["vllm", "sglang", "tensorrt_llm", "llama_cpp"] = "vllm"
    """Serving engine the settings are for: the engine the candidate was costed with (its limits
    bound `max_num_seqs`)."""
    tensor_parallel_size: int
    """`--tensor-parallel-size`: GPUs per replica."""
    max_num_seqs: int = Field(ge=1)
    """`--max-num-seqs` (llama.cpp `--parallel`): most concurrent sequences, the batch the plan's
    capacity assumes; never above the engine's own limit."""
    max_model_len: int
    """`--max-model-len`: context length, tokens (prompt + output)."""
    quantization: str | None
    """`--quantization` method for the chosen precision (None: unquantized BF16/FP16)."""
    kv_cache_dtype: str
    """`--kv-cache-dtype`: `auto` (the model's dtype) or `fp8`."""
    gpu_memory_utilization: float = Field(gt=0.0, le=1.0)
    """`--gpu-memory-utilization`: fraction of each GPU's memory vLLM may claim (weights, activations
    and KV cache): the plan's memory in use per GPU / GPU memory + 0.02 margin, within [0.90, 0.95]."""
    speculative_config: SpeculativeConfig | None = None
    """`--speculative-config` when speculative decoding is chosen; None otherwise."""


class OperatingPoint(Frozen):
    """The one operating point each replica of a deployment runs at, with every metric there.

    Each candidate is evaluated at the largest batch that meets the workload's latency targets at
    its TTFT budget (the most requests per replica, so the cheapest way to run that configuration);
    the MIP picks the cheapest configurations. `throughput_bound`: the batch is at its maximum
    (`bound_by` memory, the engine's `max_num_seqs`, or its per-step `token_budget`) and the targets
    have slack; `latency_bound`: the `ttft` or `tpot` target stops the batch below that maximum."""

    regime: Literal["throughput_bound", "latency_bound"]
    bound_by: Literal["memory", "max_num_seqs", "token_budget", "ttft", "tpot"]
    running_sequences: float
    """Steady-state running sequences (the exported max_num_seqs rounds it up)."""
    ttft_mean_ms: float
    """Server-side TTFT, mean, ms (p90 / p99 below; the targets use the workload's percentile)."""
    ttft_p90_ms: float
    ttft_p99_ms: float
    tpot_mean_ms: float
    """Time per output token per request, mean, ms."""
    tpot_p90_ms: float
    tpot_p99_ms: float
    e2e_ms: float
    """Mean server-side request latency (TTFT + (O - 1) x TPOT), ms."""
    prefill_share: float
    """Share of GPU time spent on prompt processing."""


class Predicted(Frozen):
    """Performance-model (or measured) figures for one replica at the planned load."""

    capacity_rps: float
    """Requests/s one replica sustains at the SLO (before site utilisation)."""
    output_tokens_per_s: float
    ttft_ms: float
    """Server-side time to first token, ms."""
    tpot_ms: float
    batch: int
    max_batch: int
    memory_gb_per_gpu: float
    measured: bool = False
    model_capacity_rps: float | None = None
    """Measured only: the performance model's own capacity at the same targets (None: the model
    says this configuration cannot meet them)."""
    model_ttft_ms: float | None = None
    """Measured only: the model's server-side TTFT, at its own operating point or, where it has
    none, at the measured load (None: it predicts an overloaded or non-fitting replica)."""
    model_tpot_ms: float | None = None
    """Measured only: the model's TPOT (as model_ttft_ms)."""
    model_note: str | None = None
    """Measured only: why the performance model alone would not admit this configuration."""
    operating_point: OperatingPoint | None = None
    """The performance model's operating point (None for measured figures)."""


class Deployment(Frozen):
    """Replicas of one configuration at one site under one purchase option."""

    workload: str
    site: str
    gpu: str
    model: str
    precision: str
    tensor_parallel: int
    purchase_option: str
    candidate: str
    gpus_per_replica: int
    replicas: int
    """Most replicas held in any period."""
    gpus: int
    """replicas x gpus_per_replica (peak over periods)."""
    replicas_by_period: dict[str, int]
    speculative: bool
    availability: float
    """Spot: fraction of capacity counted as usable; 1 otherwise."""
    predicted: Predicted
    engine: Engine
    hf_repo: str
    """Hugging Face repository the engine loads (`vllm serve <hf_repo>`)."""
    hf_repo_source: Literal["catalog", "workload_model", "workload_hf_repo"]
    """Where `hf_repo` comes from: the catalog's `hf_id`, the workload's `model` written as a repository
    id, or the workload's `hf_repo` override."""
    checkpoint_note: str | None = None
    """Set when `hf_repo` is not known to hold weights in the precision's format (e.g. the catalog's
    BF16 checkpoint for an AWQ precision): what to provide before deploying."""
    gpu_memory_gb: float
    """Memory of one GPU of this type, GB (1e9 bytes)."""
    gpu_vendor: str
    """Device vendor from the catalog (NVIDIA, AMD, Intel, ...): picks the Kubernetes device resource."""
    device_kind: Literal["gpu", "cpu"] = "gpu"
    """`cpu` for CPU inference (no accelerator resource)."""
    instance_type: str | None = None
    cloud: str | None = None
    """Cloud provider of the offer's catalog price list (`aws`, `gcp`, `azure`, `lambda`), if any."""
    cloud_region: str | None = None
    """Provider region of the offer's catalog price list, if any."""


class InstanceHolding(Frozen):
    """Whole instances bought at a site for one GPU type, option and tenant."""

    site: str
    gpu: str
    purchase_option: str
    tenant: str
    """`shared`, or the id of a dedicated workload."""
    gpus_per_instance: int
    instance_type: str | None
    instances_by_period: dict[str, int]
    usd_per_gpu_hour: float
    cost_terms_usd_per_gpu_hour: dict[str, float]
    fixed: bool
    """Committed or owned: the same count in every period, paid every hour."""
    supply_max_gpus: int | None = None
    gpu_power_kw: float


class Flow(Frozen):
    """Traffic from a user region to a deployment's configuration at a site, in one period."""

    workload: str
    region: str
    site: str
    candidate: str
    period: str
    rps: float
    rtt_ms: float
    ttft_ms: float
    """User-facing TTFT: rtt + server-side TTFT."""
    egress_usd_per_request: float
    """Egress USD per unit of `rps` (need units, demand x (1 + headroom)): the egress of one request
    / (1 + headroom), so headroom is not billed as traffic."""


class RegionPeriod(Frozen):
    workload: str
    region: str
    period: str
    rps: float


class Baseline(Frozen):
    name: str
    description: str
    monthly_cost_usd: float | None
    """None where the baseline is infeasible or not applicable."""
    savings_pct: float | None
    """(baseline - plan) / baseline x 100."""
    note: str = ""


class SolveFacts(Frozen):
    solver: str
    solver_version: str | None = None
    status: str
    fallback_reason: str | None = None
    """Why the requested solver was not the one that ran (e.g. HiGHS failed and CBC solved it)."""
    time_limit_s: float
    mip_gap_limit: float
    gap: float | None
    best_bound_usd: float | None
    variables: int
    constraints: int
    candidates_considered: int
    candidates_kept: int
    candidates_not_fitting: int
    library_version: str
    python_version: str


class Rules(Frozen):
    """Fleet-wide limits, restated so the checker can verify them."""

    spot_max_share: float
    max_gpu_types: int | None
    min_replicas_per_active_site: int
    budget_usd_per_month: float | None


class Alternative(Frozen):
    """A configuration the optimiser could have used instead, with its cost per unit capacity."""

    candidate: str
    gpu: str
    model: str
    precision: str
    tensor_parallel: int
    purchase_option: str
    usd_per_rps_hour: float
    """Price of one replica-hour / usable rps of one replica (capacity x utilisation x availability)."""
    capacity_rps: float
    ttft_ms: float
    serves_regions: list[str]
    """User regions this configuration at this site can serve within the TTFT target."""
    measured: bool = False
    """capacity_rps and ttft_ms come from the user's measurement, not the performance model."""
    model_capacity_rps: float | None = None
    """Measured only: the performance model's own capacity (None: it says the targets are missed)."""
    model_ttft_ms: float | None = None
    """Measured only: the performance model's own server-side TTFT, ms."""
    regime: Literal["throughput_bound", "latency_bound"] | None = None
    """The model's operating regime for this configuration (see `OperatingPoint`; None: measured)."""
    bound_by: Literal["memory", "max_num_seqs", "token_budget", "ttft", "tpot"] | None = None


class Explanation(Frozen):
    """Why a deployment uses this GPU, precision and purchase option: its cost per unit capacity
    against the best runner-up configurations at the same site."""

    workload: str
    site: str
    chosen: Alternative
    rank: int
    """Rank of the chosen configuration by cost per unit capacity among all at this site (1 = cheapest)."""
    runners_up: list[Alternative]
    note: str


class Plan(Frozen):
    schema_version: Literal[3] = 3
    """Version of the plan format (`PLAN_SCHEMA_VERSION`)."""
    kind: Literal["fleet_plan"] = "fleet_plan"
    problem: str
    status: Literal["optimal", "feasible"]
    """`optimal`: proven within the gap limit; `feasible`: stopped at a limit, see `gap`."""
    gap: float | None
    monthly_cost_usd: float
    cost_breakdown: dict[str, float]
    """Objective terms: on_demand, spot, committed, owned_capital, power, egress, serverless,
    shortfall_penalty (USD per month); they sum to monthly_cost_usd."""
    monthly_spend_usd: float
    """Money actually spent per month: monthly_cost_usd minus the (virtual) shortfall penalty; the
    budget caps this."""
    usd_per_million_tokens: float | None
    """Fleet-wide cost per million tokens (input + output) served."""
    periods: list[PlanPeriod]
    regions: list[PlanRegion]
    sites: list[PlanSite]
    workloads: list[PlanWorkload]
    deployments: list[Deployment]
    instances: list[InstanceHolding]
    routing: list[Flow]
    demand: list[RegionPeriod]
    serverless: list[RegionPeriod] = Field(default_factory=list)
    unmet: list[RegionPeriod] = Field(default_factory=list)
    rules: Rules
    baselines: list[Baseline] = Field(default_factory=list)
    explanations: list[Explanation] = Field(default_factory=list)
    solve: SolveFacts
