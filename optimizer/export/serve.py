"""The serving command of a deployment, in the engine the plan costed it with (`engine.name`).

Every export launches exactly the candidate's engine with exactly its batch: vLLM (`vllm serve`,
`optimizer.export.vllm`), SGLang (`python3 -m sglang.launch_server`, `optimizer.export.sglang`),
TensorRT-LLM (`trtllm-serve`, `optimizer.export.tensorrt_llm`) or llama.cpp (`llama-server`,
`optimizer.export.llama_cpp`).
"""

from __future__ import annotations

import shlex

from optimizer.export.llama_cpp import llama_server_argv
from optimizer.export.sglang import sglang_argv
from optimizer.export.tensorrt_llm import trtllm_argv
from optimizer.export.vllm import DEFAULT_PORT, vllm_argv
from optimizer.schema.plan import Deployment

ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "tensorrt_llm": "TensorRT-LLM", "llama_cpp": "llama.cpp"}
"""Display name of each planning engine."""
DATA_PARALLEL_ENGINES = frozenset({"vllm", "sglang"})
"""Engines whose one server runs several replicas (vLLM `--data-parallel-size`, SGLang `--dp-size`)."""


def serve_argv(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> list[str]:
    """The deployment's engine command as an argument vector. `data_parallel` (several replicas in
    one server) applies to vLLM and SGLang: llama.cpp and TensorRT-LLM servers run one replica."""
    name = d.engine.name
    if name == "llama_cpp":
        return llama_server_argv(d, port=port)
    if name == "tensorrt_llm":
        return trtllm_argv(d, port=port)
    if name == "sglang":
        return sglang_argv(d, data_parallel=data_parallel, port=port)
    return vllm_argv(d, data_parallel=data_parallel, port=port)


def serve_command(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> str:
    """`serve_argv` as one shell-quoted line."""
    return shlex.join(serve_argv(d, data_parallel=data_parallel, port=port))


def replicas_per_server(d: Deployment, gpus_per_instance: int) -> int:
    """Engine replicas one server process on an instance runs: GPUs per instance / GPUs per replica
    for vLLM and SGLang (data parallelism); 1 for llama.cpp and TensorRT-LLM.

    >>> from types import SimpleNamespace as N
    >>> replicas_per_server(N(engine=N(name="vllm"), gpus_per_replica=2), 8)
    4
    >>> replicas_per_server(N(engine=N(name="llama_cpp"), gpus_per_replica=1), 8)
    1
    """
    if d.engine.name not in DATA_PARALLEL_ENGINES:
        return 1
    return max(1, gpus_per_instance // d.gpus_per_replica)
