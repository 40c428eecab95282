"""The serving command of a deployment, in the engine the plan costed it with (`engine.name`).

Every export launches exactly the candidate's engine with exactly its batch: vLLM (`vllm serve`,
`optimizer.export.vllm`) or llama.cpp (`llama-server`, `optimizer.export.llama_cpp`).
"""

from __future__ import annotations

import shlex

from optimizer.export.llama_cpp import llama_server_argv
from optimizer.export.vllm import DEFAULT_PORT, vllm_argv
from optimizer.schema.plan import Deployment

ENGINE_NAMES = {"vllm": "vLLM", "llama_cpp": "llama.cpp"}
"""Display name of each planning engine."""


def serve_argv(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> list[str]:
    """The deployment's engine command as an argument vector. `data_parallel` (several replicas in
    one server) is a vLLM option: a llama.cpp server always runs one replica."""
    if d.engine.name == "llama_cpp":
        return llama_server_argv(d, port=port)
    return vllm_argv(d, data_parallel=data_parallel, port=port)


def serve_command(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> str:
    """`serve_argv` as one shell-quoted line."""
    return shlex.join(serve_argv(d, data_parallel=data_parallel, port=port))


def replicas_per_server(d: Deployment, gpus_per_instance: int) -> int:
    """Engine replicas one server process on an instance runs: GPUs per instance / GPUs per replica
    for vLLM (`--data-parallel-size`); 1 for llama.cpp.

    >>> from types import SimpleNamespace as N
    >>> replicas_per_server(N(engine=N(name="vllm"), gpus_per_replica=2), 8)
    4
    >>> replicas_per_server(N(engine=N(name="llama_cpp"), gpus_per_replica=1), 8)
    1
    """
    if d.engine.name == "llama_cpp":
        return 1
    return max(1, gpus_per_instance // d.gpus_per_replica)
