"""SGLang `python -m sglang.launch_server` commands for deployments the plan costed with SGLang.

The plan's engine settings carry vLLM's names; for SGLang they map to `ServerArgs` flags, checked
against sgl-project/sglang `python/sglang/srt/server_args.py` (commit 001067ff, the annotated
`ServerArgs` dataclass whose field `x_y` is the flag `--x-y`): `--model-path` (the checkpoint),
`--served-model-name`, `--host`, `--port` (SGLang's default is 30000; the exports use 8000 like the
other engines), `--tp-size` = `tensor_parallel_size`, `--dp-size` when one server runs several
replicas, `--quantization` (the precision's method; SGLang's `QUANTIZATION_CHOICES` hold every
method the catalog names except GGUF, which SGLang does not serve here), `--kv-cache-dtype fp8_e4m3`
for an FP8 KV cache (SGLang's choices have no bare `fp8`), `--context-length` = `max_model_len`,
`--max-running-requests` = `max_num_seqs` (the batch the plan assumes; SGLang's own default is
memory-derived, costed as 4096), `--mem-fraction-static` = `gpu_memory_utilization` (SGLang's
fraction for weights + KV pool, the same memory the plan's figure covers; costed with SGLang's
0.88 of total, so the exported value is never below it), `--chunked-prefill-size 8192` (the
per-step token budget the plan was costed with). Images: `lmsysorg/sglang` (CUDA) and its ROCm
tags.
"""

from __future__ import annotations

import shlex
from typing import Any

from optimizer.export.vllm import DEFAULT_PORT, served_model_name
from optimizer.schema.plan import Deployment

SGLANG_COMMIT = "001067fffe33427bee0ed2f007fb7551a1d76b44"
"""sgl-project/sglang commit whose `server_args.py` the flags were checked against."""
LAUNCH = ["python3", "-m", "sglang.launch_server"]
CHUNKED_PREFILL_TOKENS = 8192
"""`--chunked-prefill-size`: the per-step token budget the plan was costed with
(`optimizer.perf.engines.ENGINES["sglang"].max_num_tokens`; a test keeps them equal)."""
KV_CACHE_DTYPES = {"auto": "auto", "fp8": "fp8_e4m3"}
"""Plan KV dtype (vLLM's names) -> SGLang `--kv-cache-dtype` choice."""
IMAGES = {"nvidia": "lmsysorg/sglang:latest", "amd": "lmsysorg/sglang:latest-rocm"}
"""SGLang's published images by GPU vendor (pin a release tag before deploying)."""


def sglang_args(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> dict[str, Any]:
    """SGLang server arguments for one deployment, keyed by long flag name (module docstring)."""
    e = d.engine
    args: dict[str, Any] = {
        "model-path": d.hf_repo,
        "served-model-name": served_model_name(d),
        "host": "0.0.0.0",
        "port": port,
        "tp-size": e.tensor_parallel_size,
    }
    if data_parallel > 1:
        args["dp-size"] = data_parallel
    if e.quantization is not None:
        args["quantization"] = e.quantization
    if e.kv_cache_dtype != "auto":
        args["kv-cache-dtype"] = KV_CACHE_DTYPES.get(e.kv_cache_dtype, e.kv_cache_dtype)
    args["context-length"] = e.max_model_len
    args["max-running-requests"] = e.max_num_seqs
    args["mem-fraction-static"] = e.gpu_memory_utilization
    args["chunked-prefill-size"] = CHUNKED_PREFILL_TOKENS
    return args


def sglang_argv(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> list[str]:
    """`python3 -m sglang.launch_server --flag value ...` as an argument vector."""
    argv = list(LAUNCH)
    for key, value in sglang_args(d, data_parallel=data_parallel, port=port).items():
        argv += [f"--{key}", str(value)]
    return argv


def sglang_command(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> str:
    """The serving command as one shell-quoted line."""
    return shlex.join(sglang_argv(d, data_parallel=data_parallel, port=port))


def image(d: Deployment) -> str:
    """Container image for the deployment's GPU vendor (CUDA image otherwise)."""
    return IMAGES.get(d.gpu_vendor.lower(), IMAGES["nvidia"])
