"""TensorRT-LLM `trtllm-serve` commands for deployments the plan costed with TensorRT-LLM.

The plan's engine settings carry vLLM's names; for TensorRT-LLM they map to `trtllm-serve` options,
checked against NVIDIA/TensorRT-LLM `tensorrt_llm/commands/serve.py` (commit 00209af1, the click
command `serve`): the positional MODEL (the checkpoint), `--host`, `--port`, `--backend pytorch`
(the default, named so the command does not depend on it), `--tp_size` = `tensor_parallel_size`,
`--max_batch_size` = `max_num_seqs` (the batch the plan assumes; costed with at most 4096, the
trtllm-bench ceiling), `--max_num_tokens 8192` (the per-step token budget the plan was costed
with), `--max_seq_len` = `max_model_len`, `--kv_cache_free_gpu_memory_fraction 0.9` (the KV rule
the plan was costed with: 0.9 of the memory free after weights and buffers; trtllm-serve's default,
written out). `trtllm-serve` has no quantization or KV-dtype flag: the PyTorch backend reads both
from the checkpoint's quantization config (a ModelOpt checkpoint's `hf_quant_config.json`), so a
quantized precision needs a pre-quantized checkpoint (the export header says so), and there is no
served-model-name option (clients send the checkpoint name as `model`). One server runs one replica
(no data-parallel option for dense models). Image: `nvcr.io/nvidia/tensorrt-llm/release`.
"""

from __future__ import annotations

import shlex
from typing import Any

from optimizer.export.vllm import DEFAULT_PORT
from optimizer.schema.plan import Deployment

TRTLLM_COMMIT = "00209af149e7774406881a37283dce303571eb11"
"""NVIDIA/TensorRT-LLM commit whose `trtllm-serve` options the flags were checked against."""
TRTLLM_SERVE = "trtllm-serve"
MAX_NUM_TOKENS = 8192
"""`--max_num_tokens`: the per-step token budget the plan was costed with
(`optimizer.perf.engines.ENGINES["trtllm"].max_num_tokens`; a test keeps them equal)."""
KV_FREE_FRACTION = 0.9
"""`--kv_cache_free_gpu_memory_fraction`: the costed KV rule (`ENGINES["trtllm"].kv_mem_fraction`)."""
IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:latest"
"""NVIDIA's TensorRT-LLM release image on NGC (pin a release tag before deploying)."""


def trtllm_args(d: Deployment, *, port: int = DEFAULT_PORT) -> dict[str, Any]:
    """`trtllm-serve` options for one deployment, keyed by option name (module docstring)."""
    e = d.engine
    return {
        "host": "0.0.0.0",
        "port": port,
        "backend": "pytorch",
        "tp_size": e.tensor_parallel_size,
        "max_batch_size": e.max_num_seqs,
        "max_num_tokens": MAX_NUM_TOKENS,
        "max_seq_len": e.max_model_len,
        "kv_cache_free_gpu_memory_fraction": KV_FREE_FRACTION,
    }


def trtllm_argv(d: Deployment, *, port: int = DEFAULT_PORT) -> list[str]:
    """`trtllm-serve <checkpoint> --option value ...` as an argument vector."""
    argv = [TRTLLM_SERVE, d.hf_repo]
    for key, value in trtllm_args(d, port=port).items():
        argv += [f"--{key}", str(value)]
    return argv


def trtllm_command(d: Deployment, *, port: int = DEFAULT_PORT) -> str:
    """The serving command as one shell-quoted line."""
    return shlex.join(trtllm_argv(d, port=port))
