"""Typed records of the candidate stage: configurations, their evaluations, and the finished table.

A `Config` is one replica configuration of one workload. Evaluating it at one server-side TTFT
budget gives a `BandOutcome`: an `Admitted` operating point, or a `Rejected` one naming the rule
that removed it (with its numbers). Admitted bands become `CandidateInfo` records (what the plan
shows) and `CandidateData` rows (what the MIP sees), collected in a `CandidateSet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from optimizer.candidates.checkpoints import CheckpointSource
from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.model.data import FleetData
from optimizer.perf import Capacity, Draft
from optimizer.perf.capacity import BoundBy, Regime
from optimizer.perf.engines import ENGINES, EngineSpec, PlanningEngine


class Rule(StrEnum):
    """The rules that can remove a configuration or a route, as a user reads them."""

    OFFERS = "GPU offers"
    """No site prices a GPU (under an allowed purchase option) or hosts the replica's GPUs."""
    QUALITY = "precision/quality floor"
    """No precision meets min_quality (or the listed precisions) and runs on the offered GPU."""
    PARALLELISM = "tensor-parallel degree"
    """No allowed tensor-parallel degree fits the GPU's scale-up domain and the instance size."""
    FIT = "memory fit"
    """Weights, reserve and one sequence's KV do not fit (or the model cannot be split that way)."""
    TPOT = "TPOT target"
    """No operating point meets the time per output token (even an idle replica)."""
    TTFT = "TTFT target (incl. network RTT)"
    """Server-side TTFT plus the network round trip exceeds the target."""
    MEASUREMENT = "measurement"
    """A measured entry lacks a latency the model cannot supply either."""
    NETWORK = "network latency"
    """No site lists a round trip to the user region."""
    PLACEMENT = "placement"
    """The placement policy (centralized / edge) excludes every reachable site."""
    RESIDENCY = "residency"
    """Data residency excludes every reachable site."""


@dataclass(frozen=True, slots=True)
class Config:
    """One replica configuration of one workload: model, GPU, precision, TP degree, speculation,
    and the serving engine it is costed with (and exported as)."""

    workload: str
    model: ModelSpec
    primary: bool
    """The workload's own model (False: a model-routing alternative)."""
    gpu: GpuSpec
    precision: PrecisionSpec
    tp: int
    draft: Draft | None = None
    engine: EngineSpec = ENGINES["vllm"]
    """Serving engine: its limits (max_num_seqs, token budget, KV memory rule) bound the batch."""

    @property
    def label(self) -> str:
        """Readable name: `llama_3_1_8b on l4 fp8 tp1 (+spec)`."""
        spec = " +spec" if self.draft is not None else ""
        return f"{self.model.id} on {self.gpu.id} {self.precision.id} tp{self.tp}{spec}"

    @property
    def base_id(self) -> str:
        """Candidate id before the band suffix: `w__model__gpu__precision__tpN[__spec]`."""
        cid = f"{self.workload}__{self.model.id}__{self.gpu.id}__{self.precision.id}__tp{self.tp}"
        return cid + ("__spec" if self.draft is not None else "")


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """The performance model's own figures for a configuration whose values were measured.

    Where the model admits the configuration at this band: its operating point (capacity, TTFT,
    TPOT). Where it does not: no capacity, its latencies at the measured load, and why."""

    capacity_rps: float | None
    """Model capacity at this band's TTFT budget and the TPOT target (None: the model says the
    configuration cannot meet them)."""
    ttft_ms: float | None
    """Model server-side TTFT (None: the model predicts an overloaded or non-fitting replica at
    the measured load)."""
    tpot_ms: float | None
    """Model TPOT (None: the model says the configuration does not fit)."""
    note: str | None = None
    """Why the model does not admit the configuration (e.g. its idle TTFT exceeds the budget)."""


@dataclass(frozen=True, slots=True)
class PointMetrics:
    """The one operating point a candidate runs at, with every metric there.

    Each candidate band is the largest batch meeting the SLO at its TTFT budget (the cheapest way to
    run that configuration per request); the MIP then picks the cheapest configurations. The point
    is throughput-bound (at the largest batch: memory, engine cap or token budget stop it) or
    latency-bound (a TTFT or TPOT target stops it). Histogram workloads: the worst bin's latencies,
    latency-bound if any bin is."""

    regime: Regime
    bound_by: BoundBy
    running: float
    """Steady-state running sequences (first bin)."""
    ttft_mean_ms: float
    ttft_p90_ms: float
    ttft_p99_ms: float
    tpot_mean_ms: float
    tpot_p90_ms: float
    tpot_p99_ms: float
    e2e_ms: float
    """Mean end-to-end latency of a request, server side."""
    prefill_share: float
    """Share of GPU time spent on prompt processing (first bin)."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A configuration at one TTFT budget that meets every target."""

    capacity_rps: float
    output_tokens_per_s: float
    ttft_ms: float
    tpot_ms: float
    capacity: Capacity
    """The model's per-replica picture (memory, batch) for the first request shape."""
    measured: bool = False
    model: ModelEstimate | None = None
    """Set when the values come from a measurement: the model's figures beside them."""
    batch: int | None = None
    """Running sequences at the operating point when it differs from `capacity.batch`
    (measured: Little's law, rate x (TTFT + (O - 1) TPOT), at most the KV-fit maximum)."""
    point: PointMetrics | None = None
    """The model's operating point (None for measured figures)."""
    max_batch: int | None = None
    """Most running sequences when it differs from `capacity.max_batch` (measured, where the model
    finds no KV room: the measured operating point)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A configuration at one TTFT budget that some rule removes."""

    rule: Rule
    reason: str
    """The rule's numbers, e.g. `idle-replica TTFT 1090 ms > server budget 250 ms`."""
    best_ttft_ms: float | None = None
    """Lowest server-side TTFT the configuration can give (idle replica; measured value)."""
    best_tpot_ms: float | None = None
    measured: bool = False
    """The figures compared are measured ones."""


BandOutcome = Admitted | Rejected


@dataclass(frozen=True, slots=True)
class ConfigOutcome:
    """A configuration evaluated at each of its workload's TTFT budgets (tightest first)."""

    config: Config
    budgets: tuple[float | None, ...]
    bands: tuple[BandOutcome, ...]
    """One per budget. Consecutive budgets answered by the same search share one object (`is`)."""


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    id: str
    workload: str
    model: str
    gpu: str
    precision: str
    tensor_parallel: int
    speculative: bool
    capacity_rps: float
    output_tokens_per_s: float
    batch: int
    """Running sequences at the operating point (<= the engine's max_num_seqs)."""
    max_batch: int
    ttft_ms: float
    tpot_ms: float
    ttft_budget_ms: float | None
    """Server-side TTFT budget this band was computed at (None: batch work, no target)."""
    memory_gb_per_gpu: float
    weights_gb_per_gpu: float
    kv_gb_per_gpu: float
    max_model_len: int
    vllm_quantization: str | None
    kv_cache_dtype: str
    measured: bool
    """Capacity and latencies come from the user's measurement, not the model."""
    hf_repo: str
    """Hugging Face repository the engine loads (see `checkpoint_for`)."""
    hf_repo_source: CheckpointSource
    checkpoint_note: str | None
    gpu_memory_gb: float
    gpu_vendor: str
    """Catalog vendor of the device (NVIDIA, AMD, Intel, ...)."""
    device_kind: str
    """`gpu` or `cpu` (catalog device kind)."""
    engine: PlanningEngine = "vllm"
    """Serving engine the candidate was costed with (`optimizer.perf.engines` planning engine id)."""
    engine_max_num_seqs: int = 256
    """The engine's cap on running sequences (its default `max_num_seqs`)."""
    point: PointMetrics | None = None
    """The model's operating point with every metric (None for measured figures)."""
    model_capacity_rps: float | None = None
    """The performance model's capacity at this band: equal to capacity_rps unless measured; for a
    measured candidate the model's own (None: the model says it cannot meet the targets)."""
    model_ttft_ms: float | None = None
    """The model's server-side TTFT: equal to ttft_ms unless measured; for a measured candidate the
    model's at its own operating point, or where it has none at the measured load (None: the model
    predicts an overloaded or non-fitting replica there)."""
    model_tpot_ms: float | None = None
    """The model's TPOT (as model_ttft_ms)."""
    model_note: str | None = None
    """Measured only: why the model itself would not admit the configuration."""


@dataclass(frozen=True)
class WorkloadFacts:
    id: str
    input_tokens: float
    output_tokens: float
    requests_per_day: float
    ttft_target_ms: float | None
    tpot_target_ms: float | None


@dataclass(frozen=True)
class CandidateSet:
    fleet: FleetData
    info: dict[str, CandidateInfo]
    workloads: dict[str, WorkloadFacts]
    rtt_ms: dict[tuple[str, str], float]
    """(region, site) -> network round trip, ms."""
    considered: int
    """Configurations evaluated (all bands), before pruning."""
    not_fitting: int
    pruned: int
    gpu_ids_by_offer: dict[tuple[str, int], str] = field(default_factory=dict)
    """(site id, offer index in the problem file) -> catalog GPU id."""
    primary_model: dict[str, str] = field(default_factory=dict)
    """workload -> catalog id of its primary model."""
    draft_hf_ids: dict[str, str] = field(default_factory=dict)
    """workload -> Hugging Face id of its speculative draft model."""
    notes: list[str] = field(default_factory=list)
