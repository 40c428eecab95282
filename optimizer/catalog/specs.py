"""Typed catalog entries: accelerators, model architectures, precisions, reference prices.

Every entry carries `source` (where the numbers were read) and `as_of` (date of the data or of the
reading, ISO `YYYY-MM` or `YYYY-MM-DD`, or "unknown" with a reason in `notes`). Units are decimal
(GB = 1e9 bytes, TB/s = 1e12 bytes/s) and appear in every field name.

These models are the contract between the catalog (data files + facade) and the performance model:
perf functions take these specs and plain numbers, never raw dicts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_ALIASES = 64
"""Most aliases one entry may have (the packaged entries have at most 11)."""

Aliases = Annotated[
    tuple[Annotated[str, StringConstraints(max_length=128)], ...],
    Field(max_length=MAX_ALIASES, description="Other names that resolve to this entry."),
]
"""Other names of an entry: at most `MAX_ALIASES`, each at most 128 characters."""


class Frozen(BaseModel):
    """Base for every immutable, strictly-keyed catalog model: finite numbers only (user catalog
    files are input like any other; each numeric field also has a range wide enough for any real
    part and narrow enough that the performance model cannot overflow)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class DeviceKind(StrEnum):
    GPU = "gpu"
    """A discrete accelerator with HBM/GDDR (NVIDIA, AMD, Intel Gaudi)."""
    CPU = "cpu"
    """A CPU socket serving small models from DRAM (bandwidth-bound decode)."""


class GpuSpec(Frozen):
    """One accelerator (or CPU socket), per device."""

    id: str = Field(description="Canonical snake_case id, e.g. `h100_sxm`.")
    name: str = Field(description="Display name, e.g. `H100 SXM 80GB`.")
    vendor: str
    kind: DeviceKind = DeviceKind.GPU
    family: str = Field(
        description="Hardware family used to select calibrated efficiencies: "
        "`nvidia_hopper`, `nvidia_ampere`, `nvidia_ada`, `nvidia_blackwell`, `amd_cdna3`, "
        "`intel_gaudi`, `cpu_arm`."
    )
    memory_gb: float = Field(gt=0, le=100_000, description="Device memory, GB (1e9 bytes).")
    mem_bandwidth_tb_s: float = Field(
        ge=0.001, le=1_000, description="Peak memory bandwidth, TB/s (1e12 B/s)."
    )
    fp16_dense_tflops: float = Field(ge=0.01, le=1e6, description="Dense FP16/BF16 matrix peak, TFLOPS.")
    fp8_dense_tflops: float | None = Field(
        default=None,
        ge=0.01,
        le=1e6,
        description="Dense FP8 matrix peak, TFLOPS; None where FP8 is not supported natively.",
    )
    fp16_acc16_dense_tflops: float | None = Field(
        default=None,
        ge=0.01,
        le=1e6,
        description="Dense FP16 matrix peak with FP16 accumulation, TFLOPS (GeForce parts run it at twice "
        "their FP32-accumulate rate; llama.cpp uses it). None: same as fp16_dense_tflops.",
    )
    int8_dense_tops: float | None = Field(
        default=None, ge=0.01, le=1e6, description="Dense INT8 matrix peak, TOPS."
    )
    fp4_dense_tflops: float | None = Field(
        default=None, ge=0.01, le=1e6, description="Dense FP4 matrix peak, TFLOPS."
    )
    interconnect: str = Field(description="Scale-up link, e.g. `NVLink 4 via NVSwitch`.")
    interconnect_bw_gb_s: float = Field(
        ge=0.1,
        le=1e6,
        description="Scale-up bandwidth per device per direction, GB/s (half the vendor's bidirectional).",
    )
    max_tensor_parallel: int = Field(
        default=8, ge=1, le=72, description="Largest tensor-parallel group over the scale-up link (devices)."
    )
    tdp_w: float = Field(gt=0, le=100_000, description="Board power at full load, W.")
    purchase_price_usd: float | None = Field(
        default=None, ge=0, le=1e8, description="Indicative price per device, USD."
    )
    aliases: Aliases = ()
    source: str = Field(description="Where the numbers were read (URLs, files, commits).")
    as_of: str = Field(description="Date of the data, ISO date or `unknown`.")
    notes: str = ""


class ModelSpec(Frozen):
    """A model architecture, from its config.json (decoder-only unless `encoder_layers` > 0)."""

    id: str = Field(description="Canonical snake_case id, e.g. `llama_3_1_70b`.")
    name: str
    hf_id: str = Field(description="Hugging Face repository id.")
    total_params_b: float = Field(gt=0, le=100_000, description="All parameters, billions.")
    active_params_b: float = Field(
        gt=0, le=100_000, description="Parameters used per token (MoE: active experts), billions."
    )
    num_layers: int = Field(
        gt=0, le=10_000, description="Decoder layers (transformer blocks on the generation path)."
    )
    hidden_size: int = Field(gt=0, le=1_000_000)
    num_attention_heads: int = Field(gt=0, le=100_000)
    num_kv_heads: int = Field(
        gt=0, le=100_000, description="KV heads (GQA/MQA); equal to attention heads for MHA."
    )
    head_dim: int = Field(gt=0, le=100_000)
    intermediate_size: int = Field(
        gt=0, le=10_000_000, description="Dense MLP width (per expert for MoE unless noted)."
    )
    vocab_size: int = Field(gt=0, le=100_000_000)
    max_context_tokens: int = Field(gt=0, le=1_000_000_000)
    num_experts: int = Field(
        default=0, ge=0, le=100_000, description="Routed experts per MoE layer; 0 for dense models."
    )
    experts_per_token: int = Field(
        default=0, ge=0, le=100_000, description="Routed experts active per token."
    )
    num_shared_experts: int = Field(
        default=0, ge=0, le=100_000, description="Always-active shared experts per MoE layer."
    )
    moe_intermediate_size: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Expert MLP width where it differs."
    )
    num_dense_layers: int = Field(
        default=0, ge=0, le=10_000, description="Leading dense (non-MoE) layers in an MoE model."
    )
    expert_params_b: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Parameters in all routed experts together, billions (MoE only).",
    )
    mla_kv_lora_rank: int | None = Field(
        default=None, ge=1, le=1_000_000, description="MLA latent width cached per token per layer."
    )
    mla_rope_head_dim: int | None = Field(
        default=None, ge=0, le=100_000, description="MLA decoupled RoPE key width cached per layer."
    )
    encoder_layers: int = Field(
        default=0, ge=0, le=10_000, description="Encoder layers (encoder-decoder models only)."
    )
    encoder_frames_per_30s: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Encoder positions per 30 s audio window (Whisper: 1500).",
    )
    modality: str = Field(default="text", description="`text` or `speech` (audio in, text out).")
    quality_score: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="Relative quality on a 0-100 scale (documented benchmark average); informative.",
    )
    aliases: Aliases = ()
    source: str
    as_of: str
    notes: str = ""

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.mla_kv_lora_rank is not None


class PrecisionSpec(Frozen):
    """A weight/activation precision (quantization scheme)."""

    id: str = Field(description="Canonical id, e.g. `bf16`, `fp8`, `int4_awq`.")
    name: str
    bytes_per_weight: float = Field(ge=0.01, le=8, description="Storage bytes per weight, excluding scales.")
    scale_overhead_frac: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="Extra weight bytes for scales/zero points, as a fraction of weight bytes.",
    )
    kv_bytes: float = Field(
        ge=0.01, le=8, description="Default KV-cache bytes per element with this precision."
    )
    compute_dtype: str = Field(
        description="Matrix dtype the GEMMs run in: `fp32`, `fp16`, `fp8`, `int8`, `fp4`."
    )
    relative_accuracy: float = Field(
        gt=0,
        le=1.0,
        description="Typical task accuracy relative to BF16 (1.0 = no loss), from the cited study.",
    )
    vllm_quantization: str | None = Field(
        default=None, description="vLLM `--quantization` value (None for unquantized)."
    )
    requires: tuple[str, ...] = Field(
        default=(), description="Hardware capabilities needed natively, e.g. `fp8`, `fp4`."
    )
    aliases: Aliases = ()
    source: str
    as_of: str
    notes: str = ""


class PurchaseKind(StrEnum):
    ON_DEMAND = "on_demand"
    SPOT = "spot"
    COMMITTED_1Y = "committed_1y"
    COMMITTED_3Y = "committed_3y"
    OWNED = "owned"


class PriceEntry(Frozen):
    """A reference instance price from a public price list."""

    provider: str = Field(description="`aws`, `gcp`, `azure`, `lambda`, or a reference list name.")
    region: str = Field(description="Provider region, e.g. `us-east-1`.")
    instance_type: str
    gpu: str = Field(description="Catalog GPU id.")
    gpus_per_instance: int = Field(gt=0, le=72)
    purchase: PurchaseKind
    usd_per_instance_hour: float = Field(ge=0, le=1e8)
    source: str
    as_of: str
    notes: str = ""

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_instance_hour / self.gpus_per_instance
