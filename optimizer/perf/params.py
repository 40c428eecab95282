"""Calibration parameters: a handful of efficiencies per hardware family, plus fixed engine constants.

Fitted (per family, by `python -m optimizer.perf.calibrate`, stored in `data/calibration.yaml`):

| parameter | meaning | unit |
|---|---|---|
| `bw_eff` | latency path: achieved / peak memory bandwidth streaming weights | fraction |
| `step_overhead_ms` | latency path: fixed time per engine step (scheduling, launches, sampling) | ms |
| `compute_eff` | throughput path: achieved / peak dense matrix throughput (GEMM dtype) | fraction |
| `kv_bw_eff` | throughput path: achieved / peak bandwidth of attention reading the KV cache | fraction |

Per engine (`EngineParams`, factors on the family values, 1 for the reference TensorRT-LLM and for
engines without calibration rows): `bw_scale`, `compute_scale`, `overhead_scale`.

Global (fitted once, all families): `attn_eff`, the efficiency of attention FLOPs relative to GEMM
FLOPs (flash-attention kernels run below GEMM peak), and `roofline_sharpness` p, the knee of the
roofline t = (t_mem^p + t_compute^p)^(1/p) (p = inf is the textbook max), `link_eff`, the
achieved fraction of the scale-up link bandwidth in all-reduce, and `moe_eff`, the efficiency of
routed-expert grouped GEMMs relative to dense GEMMs.

Fixed constants (documented engine defaults, not fitted): `allreduce_hop_us` per family (per-hop
latency of a ring all-reduce over the scale-up link), `kv_mem_fraction` (fraction of the memory the
engine may give the KV cache after weights and activations are placed: TensorRT-LLM
`kv_cache_free_gpu_mem_fraction`, default 0.90), `runtime_reserve_gb` (CUDA/ROCm
context, workspaces, graphs), `max_num_tokens` (prefill chunk / token budget per step, the
TensorRT-LLM and vLLM default 8192), `max_num_seqs` (scheduler cap on running sequences), and
`kv_block_tokens` (paged-attention block size, 16).

Families without calibration rows use `FALLBACK_FAMILY_PARAMS`, physically motivated defaults
(datasheet peaks derated by typical achieved fractions reported in vendor and third-party
measurements); see docs/performance-model.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CALIBRATION_FILE = "calibration.yaml"


@dataclass(frozen=True, slots=True)
class FamilyParams:
    """Achievable fractions of datasheet peaks for one hardware family."""

    bw_eff: float
    """Achieved / peak memory bandwidth (weights and KV streaming)."""
    compute_eff: float
    """Achieved / peak dense matrix FLOPS (GEMMs in the precision's compute dtype)."""
    step_overhead_ms: float
    """Fixed time per engine step: scheduling, launches, sampling (ms)."""
    allreduce_hop_us: float = 8.0
    """Per-hop latency of a ring all-reduce over the scale-up link (us); not fitted."""
    source: str = "default"
    """`fitted` (from calibration rows) or `default` (physically-motivated fallback)."""
    kv_bw_eff: float | None = None
    """Throughput path: achieved / peak bandwidth of attention reading the KV cache at large batch
    (paged, scattered blocks); None = bw_eff. `bw_eff` is then the latency path (weight streaming,
    which dominates batch-1 decode)."""

    @property
    def kv_bandwidth_eff(self) -> float:
        return self.bw_eff if self.kv_bw_eff is None else self.kv_bw_eff


FALLBACK_FAMILY_PARAMS: Mapping[str, FamilyParams] = {
    # NVLink/NVSwitch parts: NCCL / custom all-reduce small-message latency ~5-8 us per hop.
    "nvidia_hopper": FamilyParams(0.80, 0.55, 2.0, 6.0),
    "nvidia_blackwell": FamilyParams(0.80, 0.50, 2.0, 5.0),
    "nvidia_ampere": FamilyParams(0.80, 0.65, 2.0, 8.0),
    # Ada parts have no NVLink: all-reduce runs over PCIe through the host.
    "nvidia_ada": FamilyParams(0.80, 0.60, 2.0, 15.0),
    # MI300X: ~80% of HBM peak in STREAM-like tests but less in inference kernels; hipBLASLt reaches
    # ~40-50% of the (high) dense peak; RCCL small-message latency is higher than NCCL.
    "amd_cdna3": FamilyParams(0.65, 0.40, 3.0, 10.0),
    "intel_gaudi": FamilyParams(0.70, 0.55, 3.0, 10.0),
    "apple_silicon": FamilyParams(0.70, 0.50, 1.0, 20.0),
    "cpu_arm": FamilyParams(0.60, 0.30, 1.0, 20.0),
}
"""Defaults used when a family has no calibration rows (documented in docs/performance-model.md)."""

GENERIC_FAMILY_PARAMS = FamilyParams(0.65, 0.40, 3.0, 15.0)
"""For a family name the model has never heard of."""


@dataclass(frozen=True, slots=True)
class EngineParams:
    """Efficiency of one serving engine relative to the reference engine (TensorRT-LLM), as factors.

    Latency path: `bw_scale` multiplies the family's `bw_eff`, `overhead_scale` its step overhead.
    Throughput path: `compute_scale` multiplies its `compute_eff`. All 1 for the reference engine
    and for engines without calibration rows."""

    bw_scale: float = 1.0
    compute_scale: float = 1.0
    overhead_scale: float = 1.0
    source: str = "default"
    """`fitted` or `default` (factor 1)."""


def scaled_family(fam: FamilyParams, eng: EngineParams) -> FamilyParams:
    """Family parameters as achieved by an engine: bw x bw_scale (capped at 0.98), compute x
    compute_scale (capped at 0.98), overhead x overhead_scale."""
    if eng.bw_scale == 1.0 and eng.compute_scale == 1.0 and eng.overhead_scale == 1.0:
        return fam
    return replace(
        fam,
        bw_eff=min(fam.bw_eff * eng.bw_scale, 0.98),
        kv_bw_eff=None if fam.kv_bw_eff is None else min(fam.kv_bw_eff * eng.bw_scale, 0.98),
        compute_eff=min(fam.compute_eff * eng.compute_scale, 0.98),
        step_overhead_ms=fam.step_overhead_ms * eng.overhead_scale,
    )


@dataclass(frozen=True)
class CalibrationParams:
    """Everything the performance model needs beyond datasheets and architectures."""

    families: Mapping[str, FamilyParams] = field(default_factory=lambda: dict(FALLBACK_FAMILY_PARAMS))
    attn_eff: float = 0.6
    """Attention FLOP efficiency relative to GEMM efficiency (global)."""
    link_eff: float = 0.7
    """Achieved / peak scale-up link bandwidth in all-reduce (NCCL bus bandwidth; global)."""
    moe_eff: float = 0.7
    """Grouped-GEMM (routed expert) efficiency relative to dense GEMMs (global)."""
    roofline_sharpness: float = 4.0
    """p in (m^p + c^p)^(1/p): how sharply kernels switch from memory- to compute-bound (global)."""
    kv_mem_fraction: float = 0.90
    """Fraction of the memory left after weights and reserve that the KV cache may take."""
    runtime_reserve_gb: float = 1.5
    """Per-device memory for contexts, workspaces and graphs (GB)."""
    max_num_tokens: int = 8192
    """Token budget of one engine step: prefills are processed in chunks of this many tokens."""
    max_num_seqs: int = 4096
    """Scheduler cap on concurrently running sequences."""
    kv_block_tokens: int = 16
    """Paged KV-cache block size (tokens)."""
    kv_rule: str = "of_free"
    """`of_free`: KV budget = kv_mem_fraction x (memory - weights - reserve) (TensorRT-LLM);
    `of_total`: kv_mem_fraction x memory - weights - reserve (vLLM, SGLang)."""
    engine: str = "trtllm"
    """Serving engine these limits belong to (see `optimizer.perf.engines`)."""
    engines: Mapping[str, EngineParams] = field(default_factory=dict)
    """Fitted efficiency factors per engine (missing: factor 1)."""
    scale_out_gb_s: float = 50.0
    """Per-GPU scale-out bandwidth between nodes, GB/s per direction (one 400 Gb/s NIC per GPU, the
    HGX / MI300X platform norm); used by expert-parallel all-to-all beyond one scale-up domain."""
    act_bytes: float = 2.0
    """Bytes per activation element (all-reduce payload, activation buffers)."""
    fit_info: Mapping[str, Any] = field(default_factory=dict)
    """Provenance of the fitted values (date, data hash, residuals); informative."""

    def family(self, name: str) -> FamilyParams:
        """Parameters of `name`, falling back to defaults for unknown or uncalibrated families."""
        if name in self.families:
            return self.families[name]
        return FALLBACK_FAMILY_PARAMS.get(name, GENERIC_FAMILY_PARAMS)

    def engine_params(self, name: str | None = None) -> EngineParams:
        """Efficiency factors of an engine (default: this parameter set's engine); 1 when unfitted."""
        return self.engines.get(name or self.engine, EngineParams())

    def achieved(self, family: str) -> FamilyParams:
        """The family's parameters as achieved by this parameter set's engine."""
        return scaled_family(self.family(family), self.engine_params())

    def with_engine_params(self, name: str, eng: EngineParams) -> CalibrationParams:
        engs = dict(self.engines)
        engs[name] = eng
        return replace(self, engines=engs)

    def with_family(self, name: str, fam: FamilyParams) -> CalibrationParams:
        fams = dict(self.families)
        fams[name] = fam
        return replace(self, families=fams)


def params_from_mapping(doc: Mapping[str, Any]) -> CalibrationParams:
    """Build parameters from a parsed calibration.yaml document."""
    fams: dict[str, FamilyParams] = dict(FALLBACK_FAMILY_PARAMS)
    for name, raw in (doc.get("families") or {}).items():
        base = FALLBACK_FAMILY_PARAMS.get(name, GENERIC_FAMILY_PARAMS)
        fams[str(name)] = FamilyParams(
            bw_eff=float(raw.get("bw_eff", base.bw_eff)),
            compute_eff=float(raw.get("compute_eff", base.compute_eff)),
            step_overhead_ms=float(raw.get("step_overhead_ms", base.step_overhead_ms)),
            allreduce_hop_us=float(raw.get("allreduce_hop_us", base.allreduce_hop_us)),
            source=str(raw.get("source", "fitted")),
            kv_bw_eff=None if raw.get("kv_bw_eff") is None else float(raw["kv_bw_eff"]),
        )
    engines: dict[str, EngineParams] = {}
    for name, raw in (doc.get("engines") or {}).items():
        engines[str(name)] = EngineParams(
            bw_scale=float(raw.get("bw_scale", 1.0)),
            compute_scale=float(raw.get("compute_scale", 1.0)),
            overhead_scale=float(raw.get("overhead_scale", 1.0)),
            source=str(raw.get("source", "fitted")),
        )
    glob = doc.get("global") or {}
    defaults = CalibrationParams()
    return CalibrationParams(
        families=fams,
        attn_eff=float(glob.get("attn_eff", defaults.attn_eff)),
        roofline_sharpness=float(glob.get("roofline_sharpness", defaults.roofline_sharpness)),
        link_eff=float(glob.get("link_eff", defaults.link_eff)),
        moe_eff=float(glob.get("moe_eff", defaults.moe_eff)),
        kv_mem_fraction=float(glob.get("kv_mem_fraction", defaults.kv_mem_fraction)),
        runtime_reserve_gb=float(glob.get("runtime_reserve_gb", defaults.runtime_reserve_gb)),
        max_num_tokens=int(glob.get("max_num_tokens", defaults.max_num_tokens)),
        max_num_seqs=int(glob.get("max_num_seqs", defaults.max_num_seqs)),
        kv_block_tokens=int(glob.get("kv_block_tokens", defaults.kv_block_tokens)),
        engines=engines,
        fit_info={k: v for k, v in doc.items() if k not in ("families", "global", "engines")},
    )


def load_params(path: str | Path) -> CalibrationParams:
    """Parameters from a calibration YAML file (InputError if unreadable or not a mapping)."""
    from optimizer.errors import InputError, InputIssue

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            InputIssue(path="", message=f"cannot read calibration file: {exc}", file=str(p))
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("families", {}), dict):
        raise InputError(
            InputIssue(
                path="", message="not a calibration file (expected a mapping with families:)", file=str(p)
            )
        )
    try:
        return params_from_mapping(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            InputIssue(path="", message=f"malformed calibration file: {exc}", file=str(p))
        ) from None


@functools.lru_cache(maxsize=1)
def default_params() -> CalibrationParams:
    """The shipped calibration (`optimizer/perf/data/calibration.yaml`), or the fallbacks if absent."""
    try:
        text = resources.files("optimizer.perf").joinpath("data", CALIBRATION_FILE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return CalibrationParams()
    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict):
        return CalibrationParams()
    return params_from_mapping(doc)
