"""The fleet-planning problem file (`problems/*.yaml`), as frozen pydantic models.

Structural rules live here (types, ranges, one-of choices). Cross-references (a region with no site,
a GPU the catalog does not know, shares that do not sum to 1) are checked after parsing, in
`optimizer.loading.semantic`, so that every error in a file is reported together.

Units appear in field names: `_ms` milliseconds, `_usd_per_gpu_hour` US dollars per GPU-hour,
`_per_day` per calendar day, `_kw` kilowatts, `_gb` decimal gigabytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from optimizer.schema.types import (
    MAX_AUDIO_HOURS_PER_DAY,
    MAX_AUDIO_SECONDS,
    MAX_DEADLINE_HOURS,
    MAX_REPLICAS,
    MAX_REQUESTS_PER_DAY,
    MAX_THREADS,
    MAX_TIME_LIMIT_S,
    MAX_TOKENS_PER_DAY,
    MAX_TOKENS_PER_S,
    MAX_USD_PER_GPU,
    MAX_USD_PER_MONTH,
    CatalogRef,
    Fraction,
    Frozen,
    GpuCount,
    Id,
    NetworkMs,
    TokensPerRequest,
    TpotMs,
    TtftMs,
    UsdPerGpuHour,
    UsdPerMillionTokens,
    Weight,
)

SCHEMA_VERSION = 1
HOURS_PER_MONTH = 730.0
"""Hours in an average month (8760 / 12); every monthly cost in the project uses it."""


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


class Period(Frozen):
    """A named slice of the day; all periods together must cover 24 hours."""

    id: Id
    """Period id, e.g. `peak` or `h13`."""
    hours_per_day: float = Field(gt=0.0, le=24.0)
    """Hours of each day this period lasts."""


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------


class LengthBin(Frozen):
    """One bin of a request-length histogram."""

    input_tokens: TokensPerRequest
    """Prompt tokens per request in this bin."""
    output_tokens: TokensPerRequest
    """Generated tokens per request in this bin."""
    share: Fraction
    """Fraction of requests in this bin; the bins' shares sum to 1."""


class RequestShape(Frozen):
    """Size of one request: mean lengths, or a histogram, or an audio clip."""

    input_tokens: TokensPerRequest | None = None
    """Mean prompt tokens per request (text models)."""
    output_tokens: TokensPerRequest | None = None
    """Mean generated tokens per request."""
    histogram: tuple[LengthBin, ...] | None = None
    """Request-length histogram; replaces the means when given (capacity is computed per bin)."""
    audio_seconds: float | None = Field(default=None, ge=0.1, le=MAX_AUDIO_SECONDS)
    """Audio per request, seconds (speech models); encoder work grows with it."""

    @model_validator(mode="after")
    def _one_shape(self) -> RequestShape:
        if self.histogram is not None:
            if self.input_tokens is not None or self.output_tokens is not None:
                raise ValueError("give either histogram or input_tokens/output_tokens, not both")
            if abs(sum(b.share for b in self.histogram) - 1.0) > 1e-6:
                raise ValueError("histogram shares must sum to 1")
        elif self.output_tokens is None:
            raise ValueError("output_tokens is required (or give a histogram)")
        elif self.input_tokens is None and self.audio_seconds is None:
            raise ValueError("input_tokens is required for text models (audio_seconds for speech models)")
        return self

    @property
    def mean_input_tokens(self) -> float:
        if self.histogram is not None:
            return sum(b.input_tokens * b.share for b in self.histogram)
        return float(self.input_tokens or 0.0)

    @property
    def mean_output_tokens(self) -> float:
        if self.histogram is not None:
            return sum(b.output_tokens * b.share for b in self.histogram)
        return float(self.output_tokens or 0.0)


class Demand(Frozen):
    """How much traffic a workload has, where it comes from and when."""

    requests_per_day: float | None = Field(default=None, gt=0.0, le=MAX_REQUESTS_PER_DAY)
    """Requests per day, all regions together."""
    output_tokens_per_day: float | None = Field(default=None, gt=0.0, le=MAX_TOKENS_PER_DAY)
    """Generated tokens per day, all regions together (converted with the request shape)."""
    audio_hours_per_day: float | None = Field(default=None, gt=0.0, le=MAX_AUDIO_HOURS_PER_DAY)
    """Audio hours per day (speech models; converted with `request.audio_seconds`)."""
    region_split: dict[Id, Fraction]
    """Share of the demand from each user region; shares sum to 1."""
    profile: dict[Id, Weight] | tuple[Weight, ...] | None = None
    """Relative load per period (mapping period id -> weight, or a list in period order). Normalised so
    the hour-weighted mean is 1; omitted means flat."""

    @model_validator(mode="after")
    def _one_volume(self) -> Demand:
        volumes = (self.requests_per_day, self.output_tokens_per_day, self.audio_hours_per_day)
        given = [v for v in volumes if v is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of requests_per_day, output_tokens_per_day, audio_hours_per_day"
            )
        return self


class Slo(Frozen):
    """Latency targets. Interactive workloads set TTFT and TPOT; batch workloads set a deadline."""

    ttft_ms: TtftMs | None = None
    """Time to first token as seen by the user, ms, network round trip included."""
    tpot_ms: TpotMs | None = None
    """Time per output token after the first, ms."""
    percentile: Literal["mean", "p90", "p99"] = "mean"
    """Statistic the TTFT and TPOT targets are stated for: `mean` (default), `p90` or `p99` (the
    share of requests that must meet them). Candidates are sized with the matching prediction."""
    deadline_hours: float | None = Field(default=None, gt=0.0, le=MAX_DEADLINE_HOURS)
    """Batch work: each day's requests must be finished within this many hours. At 24 or more the
    day's volume may be served in any period (cheapest hours); below 24 it is served as it arrives."""

    @model_validator(mode="after")
    def _some_target(self) -> Slo:
        if self.ttft_ms is None and self.tpot_ms is None and self.deadline_hours is None:
            raise ValueError("give ttft_ms and/or tpot_ms (interactive) or deadline_hours (batch)")
        return self

    @property
    def is_batch(self) -> bool:
        return self.ttft_ms is None and self.tpot_ms is None


class Serverless(Frozen):
    """A serverless API that may absorb part of the traffic at a per-token price."""

    allowed: bool = False
    """Whether traffic may go to the serverless API."""
    usd_per_million_input_tokens: UsdPerMillionTokens = 0.0
    """Price per million prompt tokens, USD."""
    usd_per_million_output_tokens: UsdPerMillionTokens = 0.0
    """Price per million generated tokens, USD."""
    max_share: Fraction = 1.0
    """Largest fraction of each region's demand (without headroom) the API may take in any period."""


class Speculative(Frozen):
    """Speculative decoding with a draft model."""

    draft_model: CatalogRef
    """Draft model (catalog name), run on the same GPUs as the target."""
    acceptance_rate: float = Field(gt=0.0, lt=1.0)
    """Probability that the target accepts each drafted token (alpha)."""
    draft_tokens: int = Field(default=4, ge=1, le=16)
    """Tokens drafted per verification step (gamma)."""


class Alternative(Frozen):
    """Model routing: another model that may take part of this workload's traffic."""

    model: CatalogRef
    """The alternative model (catalog name), e.g. a smaller model for simple queries."""
    max_share: Fraction
    """Largest fraction of each region's demand it may serve."""


class MeasuredThroughput(Frozen):
    """A user's own measurement for one configuration; replaces the model's estimate."""

    gpu: CatalogRef
    """GPU measured (catalog name)."""
    precision: CatalogRef
    """Precision measured (catalog name)."""
    tensor_parallel: int = Field(ge=1, le=72)
    """Tensor-parallel degree measured (GPUs per replica)."""
    model: CatalogRef | None = None
    """Model measured (default: the workload's model)."""
    output_tokens_per_s_per_replica: float = Field(gt=0.0, le=MAX_TOKENS_PER_S)
    """Sustained generated tokens per second per replica while meeting this workload's SLO."""
    ttft_ms: TtftMs | None = None
    """Measured TTFT at that load (server side), ms; default: the model's estimate."""
    tpot_ms: TpotMs | None = None
    """Measured TPOT at that load, ms; default: the model's estimate."""


HF_REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$"
HfRepo = Annotated[str, Field(pattern=HF_REPO_PATTERN, max_length=200)]
"""A Hugging Face repository id, `owner/name`."""


class Workload(Frozen):
    """One serving workload: a model, its traffic, its targets and its rules."""

    id: Id
    """Workload id, e.g. `chat`."""
    model: CatalogRef
    """Model to serve (catalog name)."""
    demand: Demand
    """Traffic volume, its split over user regions and its daily profile."""
    request: RequestShape
    """Request size (mean lengths, a histogram, or audio)."""
    slo: Slo
    """Latency targets (interactive) or a deadline (batch)."""
    min_quality: Fraction = 0.0
    """Lowest acceptable relative accuracy of a precision against BF16 (e.g. 0.99 rules out INT4)."""
    precisions: tuple[CatalogRef, ...] | None = None
    """Precisions to consider (default: every catalog precision meeting `min_quality`)."""
    tensor_parallel: tuple[Annotated[int, Field(ge=1, le=72)], ...] | None = None
    """Tensor-parallel degrees to consider (default: 1, 2, 4, 8 up to the GPU's limit)."""
    engine: Literal["vllm", "sglang", "tensorrt_llm", "llama_cpp"] | None = None
    """Serving engine every replica of this workload runs, costed with its limits (vLLM: at most
    256 running sequences; SGLang and TensorRT-LLM: 4096, NVIDIA (SGLang also AMD) GPUs, no GGUF,
    no draft-model speculation; llama.cpp: one stream, one device, GGUF precisions) and exported as
    that engine's command. Omitted: llama.cpp on Apple silicon, vLLM on every other device."""
    residency: Literal["user_region"] | tuple[Id, ...] | None = None
    """Data residency: `user_region` keeps each region's traffic in sites of that region's jurisdiction;
    a list of jurisdictions restricts all of it; omitted means anywhere."""
    dedicated: bool = False
    """Dedicated capacity: this workload's replicas run on instances no other workload uses."""
    serverless: Serverless = Serverless()
    """Whether and at what price a serverless API may absorb traffic."""
    speculative: Speculative | None = None
    """Speculative decoding with a draft model; omitted: none."""
    alternatives: tuple[Alternative, ...] = ()
    """Other models that may serve part of the traffic (model routing)."""
    measured: tuple[MeasuredThroughput, ...] = ()
    """Measured throughputs that replace the performance model's estimates."""
    placement: Literal["centralized", "edge", "hybrid", "auto"] | None = None
    """Per-workload placement override (default: the policy's)."""
    hf_repo: dict[str, HfRepo] = Field(default_factory=dict)
    """Hugging Face repository the serving engine loads for this workload's model, per precision
    (catalog precision name -> repository), with key `default` for precisions not listed. Replaces the
    catalog's `hf_id` (the BF16 checkpoint) in the plan and exports: name an instruct variant, or the
    pre-quantized checkpoint a precision needs (AWQ, GPTQ, NVFP4, GGUF), e.g. `{default:
    meta-llama/Llama-3.1-70B-Instruct, int4_awq: hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4}`.
    Model-routing alternatives and draft models use the catalog's `hf_id`."""


# --------------------------------------------------------------------------------------------
# Regions, sites, purchase options
# --------------------------------------------------------------------------------------------


class UserRegion(Frozen):
    """Where users are."""

    id: Id
    """Region id, e.g. `us_east`."""
    name: str | None = None
    """Display name."""
    jurisdiction: Id | None = None
    """Legal area for data residency, e.g. `eu` or `us`."""
    utc_offset_hours: float = Field(default=0.0, ge=-12, le=14)
    """Shifts an hourly demand profile (periods: hourly) to this region's local time."""


class OptionPrices(Frozen):
    """Prices per GPU-hour by purchase option; an omitted option is not offered."""

    on_demand: UsdPerGpuHour | None = None
    """On-demand, USD per GPU-hour."""
    spot: UsdPerGpuHour | None = None
    """Spot, USD per GPU-hour."""
    committed_1y: UsdPerGpuHour | None = None
    """One-year commitment, USD per GPU-hour, paid every hour of the month."""
    committed_3y: UsdPerGpuHour | None = None
    """Three-year commitment, USD per GPU-hour, paid every hour of the month."""


class CatalogPriceRef(Frozen):
    """Use the built-in reference price list for a provider and region."""

    provider: Id
    """Price-list provider: `aws`, `gcp`, `azure`, `lambda` (see `optimizer catalog prices`)."""
    region: str
    """Provider region as the price list names it, e.g. `us-east-1`."""
    instance_type: str | None = None
    """Which instance type's price to use (default: the cheapest matching this GPU and instance size)."""


class GpuOffer(Frozen):
    """A GPU type offered at a site."""

    gpu: CatalogRef
    """GPU (catalog name)."""
    instance_type: str | None = None
    """Instance name for provisioning, e.g. `p5.48xlarge`."""
    gpus_per_instance: int = Field(default=1, ge=1, le=72)
    """GPUs per instance: capacity is bought in whole instances."""
    prices: OptionPrices = OptionPrices()
    """Explicit prices; they win over `catalog_prices`."""
    catalog_prices: CatalogPriceRef | None = None
    """Fill prices not given explicitly from the built-in price list."""
    owned: bool = False
    """Whether GPUs of this type may be bought and hosted here (purchase option `owned`)."""
    capital_usd_per_gpu: float | None = Field(default=None, ge=0.0, le=MAX_USD_PER_GPU)
    """Purchase price per GPU including its share of the server, USD (default: catalog price)."""
    max_gpus: GpuCount | None = None
    """Supply limit: GPUs of this type obtainable here across all purchase options."""


class Site(Frozen):
    """A place replicas can run: a central cloud region or an edge location."""

    id: Id
    """Site id, e.g. `aws_us_east_1`."""
    kind: Literal["central", "edge"] = "central"
    """`central` (a large cloud region) or `edge` (a small site near users)."""
    jurisdiction: Id | None = None
    """Legal area for data residency."""
    latency_ms: dict[Id, NetworkMs]
    """Network round-trip time from each user region it can serve, ms; regions not listed cannot use it."""
    offers: tuple[GpuOffer, ...]
    """GPU types obtainable here, with prices."""
    sustainable_utilization: float = Field(default=0.8, gt=0.0, le=1.0)
    """Fraction of nominal replica capacity this site can keep busy (pool multiplexing)."""
    egress_usd_per_gb: float = Field(default=0.0, ge=0.0, le=1_000.0)
    """Price of traffic leaving the site, USD per GB."""
    power_limit_kw: float | None = Field(default=None, gt=0.0, le=1e7)
    """Most GPU board power the site can host, kW (all purchase options)."""
    max_gpus: GpuCount | None = None
    """Most GPUs of any type at this site."""


class SpotOption(Frozen):
    availability: float = Field(default=0.9, gt=0.0, le=1.0)
    """Average fraction of spot capacity actually available (preemptions); spot capacity counts at it."""
    max_share: Fraction = 0.5
    """Largest fraction of a workload's GPUs in any period that may be spot (what one preemption wave
    can take away)."""


class CommittedOption(Frozen):
    discount_vs_on_demand: Fraction | None = None
    """Where an offer has no explicit committed price: on-demand price x (1 - discount)."""


class OwnedOption(Frozen):
    lifetime_years: float = Field(default=4.0, ge=0.25, le=50.0)
    """Depreciation period, years."""
    annual_interest_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Cost of capital; the monthly capital charge is an annuity at this rate."""
    power_usd_per_kwh: float = Field(default=0.10, ge=0.0, le=100.0)
    """Electricity price, USD per kWh."""
    pue: float = Field(default=1.3, ge=1.0, le=3.0)
    """Power usage effectiveness: facility power / IT power."""
    average_power_fraction: Fraction = 0.7
    """Average board power as a fraction of TDP over the month."""
    hosting_usd_per_gpu_month: float = Field(default=0.0, ge=0.0, le=MAX_USD_PER_GPU)
    """Space, network and operations per GPU, USD per month."""


class PurchaseOptions(Frozen):
    """Which purchase options are allowed, and their terms. Omit an option to disallow it."""

    on_demand: bool = True
    """Whether on-demand capacity (paid per hour, per period) is allowed."""
    spot: SpotOption | None = None
    """Spot terms; omitted: spot is not allowed."""
    committed_1y: CommittedOption | None = None
    """One-year commitment terms; omitted: not allowed."""
    committed_3y: CommittedOption | None = None
    """Three-year commitment terms; omitted: not allowed."""
    owned: OwnedOption | None = None
    """Terms of buying and hosting GPUs; omitted: not allowed."""


# --------------------------------------------------------------------------------------------
# Policy and solver
# --------------------------------------------------------------------------------------------


class Shortfall(Frozen):
    """Whether demand may go unmet, at a penalty."""

    allowed: bool = False
    """Whether demand may go unmet (charged at the penalty)."""
    penalty_usd_per_million_tokens: UsdPerMillionTokens = 100.0
    """Cost charged per million unserved tokens (input + output). Unserved demand also drops its
    headroom; the penalty is in the objective but not in the spend the budget caps."""


class Policy(Frozen):
    placement: Literal["centralized", "edge", "hybrid", "auto"] = "auto"
    """centralized: central sites only; edge: edge sites only; hybrid: at least one of each in use;
    auto: the optimizer decides."""
    headroom: float = Field(default=0.0, ge=0.0, le=5.0)
    """GPU capacity above predicted demand (0.2 = 20%). It protects owned and rented capacity only:
    traffic sent to the serverless API carries no headroom (it is charged at demand, never more)."""
    max_gpu_types: int | None = Field(default=None, ge=1, le=1_000)
    """Most distinct GPU types across the fleet."""
    min_replicas_per_active_site: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    """A workload present at a site runs at least this many replicas there in every period."""
    budget_usd_per_month: float | None = Field(default=None, gt=0.0, le=MAX_USD_PER_MONTH)
    """Cap on total monthly cost."""
    shortfall: Shortfall = Shortfall()
    """Whether demand may go unmet, at a penalty."""
    objective: Literal["min_cost"] = "min_cost"
    """What to optimise: total monthly cost."""


class SolverSettings(Frozen):
    name: Literal["highs", "cbc"] = "highs"
    """MIP solver: `highs` (default) or `cbc`."""
    time_limit_s: float = Field(default=60.0, gt=0.0, le=MAX_TIME_LIMIT_S)
    """Wall-clock limit for the solve, seconds."""
    mip_gap: float = Field(default=1e-6, ge=0.0, le=1.0)
    """Relative gap at which the solver stops and calls the plan optimal."""
    threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    """Solver threads (default: the solver's choice)."""


class CatalogExtension(Frozen):
    """Additions to or overrides of the built-in catalog (partial entries merge by id or alias)."""

    files: tuple[str, ...] = Field(default=(), max_length=64)
    """YAML catalog files, relative to the problem file; they must be inside its folder unless their
    directory is allowed with `--catalog-dir`."""
    gpus: tuple[dict[str, Any], ...] = ()
    """GPU entries: new GPUs, or partial overrides of catalog GPUs by id or alias."""
    models: tuple[dict[str, Any], ...] = ()
    """Model entries: new models, or partial overrides by id or alias."""
    precisions: tuple[dict[str, Any], ...] = ()
    """Precision entries: new precisions, or partial overrides by id or alias."""


class Problem(Frozen):
    """A fleet-planning problem."""

    schema_version: Literal[1] = 1
    """Version of this file format; only 1 exists."""
    name: Id
    """Problem id (snake_case), used in plan and report names."""
    description: str = ""
    """Free text: the scenario and where its numbers come from."""
    periods: Literal["hourly"] | tuple[Period, ...] | None = None
    """Named periods covering the day, or `hourly` (24 one-hour periods h00..h23); omitted: one flat day."""
    user_regions: tuple[UserRegion, ...]
    """Where demand comes from; ids are referenced by `region_split` and `latency_ms`."""
    sites: tuple[Site, ...]
    """Where replicas can run, with their GPU offers and prices."""
    purchase_options: PurchaseOptions = PurchaseOptions()
    """Which purchase options are allowed, and their terms."""
    workloads: tuple[Workload, ...]
    """The serving workloads to plan for."""
    policy: Policy = Policy()
    """Fleet-wide rules: placement, headroom, GPU-type limit, budget, shortfall."""
    solver: SolverSettings = SolverSettings()
    """MIP solver settings."""
    catalog: CatalogExtension = CatalogExtension()
    """Additions to or overrides of the built-in catalog."""

    def period_list(self) -> tuple[Period, ...]:
        """The periods as a tuple (expands `hourly`, defaults to one 24-hour period `day`)."""
        if self.periods is None:
            return (Period(id="day", hours_per_day=24.0),)
        if self.periods == "hourly":
            return tuple(Period(id=f"h{h:02d}", hours_per_day=1.0) for h in range(24))
        return self.periods


class PurchaseOption(StrEnum):
    ON_DEMAND = "on_demand"
    SPOT = "spot"
    COMMITTED_1Y = "committed_1y"
    COMMITTED_3Y = "committed_3y"
    OWNED = "owned"

    @property
    def fixed_over_periods(self) -> bool:
        """Committed and owned capacity is paid every hour, so its count is the same in every period."""
        return self in (PurchaseOption.COMMITTED_1Y, PurchaseOption.COMMITTED_3Y, PurchaseOption.OWNED)
