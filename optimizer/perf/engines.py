"""Serving engines as an input of the performance model: default limits and precision.

An engine changes three things the physics depends on, each a documented default of that engine
(not fitted):

| engine | `max_num_seqs` | `max_num_tokens` (per step) | KV memory rule | default precision |
|---|---:|---:|---|---|
| `trtllm` (TensorRT-LLM, trtllm-bench / NIM) | 4096 | 8192 | 0.90 x (free after weights) | bf16 |
| `vllm` | 256 | 8192 | 0.90 x total - weights - reserve | bf16 |
| `sglang` | 4096 (memory-limited) | 8192 | 0.88 x total - weights - reserve | bf16 |
| `llama_cpp` | 1 (one stream per slot) | 512 (`n_ubatch`) | whole device | gguf_f16 |
| `optimum_habana` (static batching) | 4096 | 8192 | 0.90 x (free after weights) | bf16 |

Sources: vLLM `EngineArgs` (`max_num_seqs=256`, `gpu_memory_utilization=0.9`,
`max_num_batched_tokens` 8192 with chunked prefill on large GPUs); SGLang `ServerArgs`
(`mem_fraction_static` ~0.88 on 80 GB parts, `chunked_prefill_size` 8192); TensorRT-LLM
`KvCacheConfig.free_gpu_memory_fraction=0.9`, trtllm-bench `max_batch_size` up to 4096,
`max_num_tokens` 8192; llama.cpp `n_ubatch=512`. A row or workload whose engine is unknown uses
`trtllm`, the engine the calibration data was mostly measured with (the reference engine).

Efficiency per engine is not a separate physics: it is a multiplicative factor on the family's
latency-path (bandwidth, step overhead) and throughput-path (GEMM efficiency) parameters, fitted
only for engines with calibration rows (`CalibrationParams.engines`); others keep factor 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from optimizer.perf.params import CalibrationParams

KvRule = Literal["of_free", "of_total"]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Documented defaults of one serving engine."""

    id: str
    name: str
    max_num_seqs: int
    """Scheduler cap on running sequences."""
    max_num_tokens: int
    """Token budget of one step (prefill chunk size)."""
    kv_mem_fraction: float
    """Memory fraction given to the KV cache (see `kv_rule`)."""
    kv_rule: KvRule
    """`of_free`: fraction x (memory - weights - reserve) (TensorRT-LLM); `of_total`: fraction x memory
    - weights - reserve (vLLM `gpu_memory_utilization`, SGLang `mem_fraction_static`)."""
    default_precision: str
    """Precision used when a measurement does not state one (the model's native dtype)."""


ENGINES: dict[str, EngineSpec] = {
    "trtllm": EngineSpec("trtllm", "TensorRT-LLM", 4096, 8192, 0.90, "of_free", "bf16"),
    "vllm": EngineSpec("vllm", "vLLM", 256, 8192, 0.90, "of_total", "bf16"),
    "sglang": EngineSpec("sglang", "SGLang", 4096, 8192, 0.88, "of_total", "bf16"),
    "llama_cpp": EngineSpec("llama_cpp", "llama.cpp", 1, 512, 1.0, "of_free", "gguf_f16"),
    "optimum_habana": EngineSpec("optimum_habana", "Optimum Habana", 4096, 8192, 0.90, "of_free", "bf16"),
}
"""Known engines by id."""

REFERENCE_ENGINE = "trtllm"
"""Engine of most calibration rows; its efficiency factors are 1 by definition."""

_FRAMEWORK_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"tensorrt|trt-?llm|\bnim\b|triton|mlperf", "trtllm"),
    (r"vllm", "vllm"),
    (r"sglang", "sglang"),
    (r"llama\.?cpp|gguf|ollama", "llama_cpp"),
    (r"habana|gaudi|optimum", "optimum_habana"),
)


def engine_from_framework(text: str) -> EngineSpec | None:
    """The engine a free-text framework name refers to, or None when it names none we know.

    >>> engine_from_framework("TensorRT-LLM 0.17 (trtllm-bench)").id
    'trtllm'
    >>> engine_from_framework("vLLM 0.6.3 ROCm").id, engine_from_framework("NVIDIA NIM 1.8.0").id
    ('vllm', 'trtllm')
    >>> engine_from_framework("my own server") is None
    True
    """
    t = text.lower()
    for pattern, engine_id in _FRAMEWORK_PATTERNS:
        if re.search(pattern, t):
            return ENGINES[engine_id]
    return None


def get_engine(name: str | None) -> EngineSpec:
    """Engine by id or framework text; None or unknown text -> the reference engine (TensorRT-LLM)."""
    if name is None:
        return ENGINES[REFERENCE_ENGINE]
    if name in ENGINES:
        return ENGINES[name]
    found = engine_from_framework(name)
    return found if found is not None else ENGINES[REFERENCE_ENGINE]


def with_engine(params: CalibrationParams, engine: EngineSpec) -> CalibrationParams:
    """Parameters with the engine's limits, KV memory rule and efficiency factors applied."""
    return replace(
        params,
        max_num_seqs=engine.max_num_seqs,
        max_num_tokens=engine.max_num_tokens,
        kv_mem_fraction=engine.kv_mem_fraction,
        kv_rule=engine.kv_rule,
        engine=engine.id,
    )
