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

Which hardware and precisions an engine runs (`EngineSpec.vendors`, `cpu`, `precisions`,
`max_tp`, `speech`), from each engine's documentation: vLLM runs on NVIDIA (CUDA), AMD (ROCm),
Intel Gaudi (the vllm-gaudi / HPU plugin) and CPUs, every catalog precision (GGUF through its GGUF
loader), no Apple GPU; llama.cpp runs on NVIDIA (CUDA), AMD (HIP), Apple (Metal) and CPUs, GGUF
precisions only, one device per server in the plan (its multi-GPU split is by layers, which the
tensor-parallel physics does not describe), no encoder-decoder speech model; TensorRT-LLM runs on
NVIDIA only, at the precisions of its PyTorch backend (`_TRTLLM_PYTORCH`); SGLang on NVIDIA and AMD
(ROCm), every precision but GGUF; Optimum Habana on Gaudi at BF16/FP8. The serving flags each
planning engine is exported with, and their sources, are in `optimizer.export` and docs/exports.md.

**Planning engines** (`PLANNING_ENGINES`): the engines a plan can be costed with and exported for,
`vllm`, `sglang`, `tensorrt_llm` (the problem-file name of engine id `trtllm`) and `llama_cpp`
(`planning_spec` maps a name to its spec). `default_engine(gpu)` is the documented rule when a
workload names none: llama.cpp on Apple silicon (vLLM has no Metal backend), vLLM everywhere else
(datacenter and consumer GPUs, Gaudi, CPU); SGLang and TensorRT-LLM are used only when a workload
names them. Optimum Habana describes calibration rows only. Draft-model speculative decoding
(`EngineSpec.draft_model`) and encoder-decoder speech models (Whisper) are not planned for SGLang
and TensorRT-LLM: their candidates are costed without speculation (the exports carry no
draft-model flags), and their OpenAI servers (`sglang.launch_server`, `trtllm-serve`) are not
documented here to serve Whisper.

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
    vendors: frozenset[str] = frozenset()
    """Accelerator vendors (catalog `vendor`, lower case) whose GPUs the engine runs."""
    cpu: bool = False
    """Runs on CPUs (catalog device kind `cpu`)."""
    precisions: frozenset[str] | None = None
    """Catalog precision ids the engine serves (None: every catalog precision)."""
    max_tp: int = 64
    """Largest tensor-parallel degree the engine runs one replica with."""
    speech: bool = True
    """Serves encoder-decoder speech models (Whisper)."""
    draft_model: bool = True
    """Candidates with draft-model speculative decoding are built for this engine (False for SGLang
    and TensorRT-LLM, whose exports carry no draft-model flags)."""


_GGUF = frozenset({"gguf_f16", "gguf_q4_0"})
_NOT_GGUF = frozenset({"fp32", "bf16", "fp8", "int8_w8a8", "int8_w8a16", "int4_awq", "int4_gptq", "fp4"})
_TRTLLM_PYTORCH = frozenset({"fp32", "bf16", "fp8", "int4_awq", "int4_gptq", "fp4"})
"""TensorRT-LLM's PyTorch backend (the one `trtllm-serve --backend pytorch` runs): FP8, NVFP4 and
W4A16 AWQ / GPTQ checkpoints besides FP32/BF16 (nvidia.github.io/TensorRT-LLM/features/quantization.html:
"The default PyTorch backend supports FP4 and FP8 quantization"; INT8 SmoothQuant and INT8
weight-only are recipes of the legacy TensorRT backend, not planned)."""

ENGINES: dict[str, EngineSpec] = {
    "trtllm": EngineSpec(
        "trtllm", "TensorRT-LLM", 4096, 8192, 0.90, "of_free", "bf16",
        vendors=frozenset({"nvidia"}), precisions=_TRTLLM_PYTORCH, speech=False, draft_model=False,
    ),
    "vllm": EngineSpec(
        "vllm", "vLLM", 256, 8192, 0.90, "of_total", "bf16",
        vendors=frozenset({"nvidia", "amd", "intel"}), cpu=True,
    ),
    "sglang": EngineSpec(
        "sglang", "SGLang", 4096, 8192, 0.88, "of_total", "bf16",
        vendors=frozenset({"nvidia", "amd"}), precisions=_NOT_GGUF, speech=False, draft_model=False,
    ),
    "llama_cpp": EngineSpec(
        "llama_cpp", "llama.cpp", 1, 512, 1.0, "of_free", "gguf_f16",
        vendors=frozenset({"nvidia", "amd", "apple"}), cpu=True, precisions=_GGUF, max_tp=1, speech=False,
    ),
    "optimum_habana": EngineSpec(
        "optimum_habana", "Optimum Habana", 4096, 8192, 0.90, "of_free", "bf16",
        vendors=frozenset({"intel"}), precisions=frozenset({"bf16", "fp8"}),
    ),
}
"""Known engines by id."""

PlanningEngine = Literal["vllm", "sglang", "tensorrt_llm", "llama_cpp"]
"""Engines a plan can be costed with and exported for, by their problem-file names."""
PLANNING_ENGINES: tuple[PlanningEngine, ...] = ("vllm", "sglang", "tensorrt_llm", "llama_cpp")
PLANNING_ENGINE_IDS: dict[PlanningEngine, str] = {
    "vllm": "vllm",
    "sglang": "sglang",
    "tensorrt_llm": "trtllm",
    "llama_cpp": "llama_cpp",
}
"""Problem-file engine name -> `ENGINES` id (TensorRT-LLM's id `trtllm` predates the planning name)."""


def planning_spec(name: PlanningEngine) -> EngineSpec:
    """The engine spec of a planning-engine name.

    >>> planning_spec("tensorrt_llm").name
    'TensorRT-LLM'
    """
    return ENGINES[PLANNING_ENGINE_IDS[name]]


def planning_engine(engine: EngineSpec) -> PlanningEngine:
    """The planning-engine name of an engine; ValueError for an engine plans cannot use.

    >>> planning_engine(ENGINES["llama_cpp"]), planning_engine(ENGINES["trtllm"])
    ('llama_cpp', 'tensorrt_llm')
    """
    for name, engine_id in PLANNING_ENGINE_IDS.items():
        if engine.id == engine_id:
            return name
    raise ValueError(f"engine {engine.id} is not a planning engine ({', '.join(PLANNING_ENGINES)})")


def display_id(engine: EngineSpec) -> str:
    """The name a user writes for the engine: its planning name, else its id."""
    try:
        return planning_engine(engine)
    except ValueError:
        return engine.id


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


def default_engine(vendor: str, kind: str) -> EngineSpec:
    """The planning engine of a device when the workload names none: llama.cpp on Apple silicon
    (vLLM has no Metal backend), vLLM on everything else.

    >>> default_engine("Apple", "gpu").id, default_engine("NVIDIA", "gpu").id, default_engine("AWS", "cpu").id
    ('llama_cpp', 'vllm', 'vllm')
    """
    return ENGINES["llama_cpp" if vendor.lower() == "apple" and kind != "cpu" else "vllm"]


def runs_on(engine: EngineSpec, vendor: str, kind: str) -> bool:
    """Whether the engine runs on a device of this catalog vendor and kind (`gpu` / `cpu`).

    >>> runs_on(ENGINES["vllm"], "Apple", "gpu"), runs_on(ENGINES["llama_cpp"], "Apple", "gpu")
    (False, True)
    """
    return engine.cpu if kind == "cpu" else vendor.lower() in engine.vendors


def serves_precision(engine: EngineSpec, precision_id: str) -> bool:
    """Whether the engine serves this catalog precision.

    >>> serves_precision(ENGINES["llama_cpp"], "fp8"), serves_precision(ENGINES["vllm"], "fp8")
    (False, True)
    """
    return engine.precisions is None or precision_id in engine.precisions


def engine_conflicts(
    engine: EngineSpec,
    precision_ids: list[str | None] | None,
    models: list[tuple[str, bool]],
    devices: list[tuple[str, str, str]],
) -> list[tuple[str, str]]:
    """Why a workload cannot run on the engine it names, as (key under the workload, message) pairs:
    a listed precision the engine does not serve (`precisions[j]`), an encoder-decoder model it does
    not serve, or no offered device it runs on (`engine`). Precision ids may be None (unknown names,
    reported elsewhere; skipped). `models` are (id, is encoder-decoder),
    `devices` (id, vendor, kind) of the offered devices; empty lists are not checked.

    >>> engine_conflicts(ENGINES["llama_cpp"], ["gguf_q4_0", "fp8"], [], [])[0][0]
    'precisions[1]'
    """
    out: list[tuple[str, str]] = []
    served = ", ".join(sorted(engine.precisions)) if engine.precisions is not None else "all"
    who = f"engine {display_id(engine)} ({engine.name})"
    for j, pid in enumerate(precision_ids or ()):
        if pid is not None and not serves_precision(engine, pid):
            out.append(
                (
                    f"precisions[{j}]",
                    f"{who} does not serve precision {pid} (it serves {served}); "
                    "remove the precision or choose another engine",
                )
            )
    for mid, enc_dec in models:
        if enc_dec and not engine.speech:
            out.append(("engine", f"{who} does not serve the encoder-decoder model {mid}; use vllm"))
    if devices and not any(runs_on(engine, vendor, kind) for _, vendor, kind in devices):
        offered = ", ".join(sorted(f"{d} ({vendor})" for d, vendor, _ in devices))
        out.append(
            (
                "engine",
                f"{who} runs on none of the offered devices ({offered}); "
                "offer a device it runs on or choose another engine",
            )
        )
    return out


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
