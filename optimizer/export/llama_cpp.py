"""llama.cpp `llama-server` commands for deployments the plan costed with llama.cpp.

The plan's engine settings carry vLLM's names; for llama.cpp they map to `llama-server` flags
(llama.cpp `tools/server/README.md`): `--hf-repo` (the GGUF repository), `--alias` (the served
model name), `--parallel` = `max_num_seqs` (slots, one running sequence each), `--ctx-size` =
`max_model_len x parallel` (the KV cache is shared by the slots, each gets ctx-size / parallel),
`--ubatch-size 512` (the engine's token budget per step, as costed), `--n-gpu-layers 999` (every
layer on the device; 0 on a CPU), `--host`, `--port`. The official images
`ghcr.io/ggml-org/llama.cpp:server-cuda` / `:server-rocm` / `:server` have `llama-server` as their
entrypoint.
"""

from __future__ import annotations

import shlex
from typing import Any

from optimizer.export.vllm import DEFAULT_PORT, served_model_name
from optimizer.schema.plan import Deployment

LLAMA_SERVER = "llama-server"
UBATCH_TOKENS = 512
"""`--ubatch-size`: the per-step token budget the plan was costed with (llama.cpp's default 512,
`optimizer.perf.engines.ENGINES["llama_cpp"].max_num_tokens`; a test keeps them equal)."""
ALL_LAYERS = 999
"""`--n-gpu-layers` value that offloads every layer of any model."""
IMAGES = {
    "nvidia": "ghcr.io/ggml-org/llama.cpp:server-cuda",
    "amd": "ghcr.io/ggml-org/llama.cpp:server-rocm",
    "cpu": "ghcr.io/ggml-org/llama.cpp:server",
}
"""Official llama.cpp server images by device (pin a release tag before deploying)."""


def llama_server_args(d: Deployment, *, port: int = DEFAULT_PORT) -> dict[str, Any]:
    """`llama-server` arguments for one deployment, keyed by long flag name (see the module docstring)."""
    e = d.engine
    return {
        "hf-repo": d.hf_repo,
        "alias": served_model_name(d),
        "host": "0.0.0.0",
        "port": port,
        "parallel": e.max_num_seqs,
        "ctx-size": e.max_model_len * e.max_num_seqs,
        "ubatch-size": UBATCH_TOKENS,
        "n-gpu-layers": 0 if d.device_kind == "cpu" else ALL_LAYERS,
    }


def llama_server_argv(d: Deployment, *, port: int = DEFAULT_PORT) -> list[str]:
    """`llama-server --flag value ...` as an argument vector."""
    argv = [LLAMA_SERVER]
    for key, value in llama_server_args(d, port=port).items():
        argv += [f"--{key}", str(value)]
    return argv


def llama_server_command(d: Deployment, *, port: int = DEFAULT_PORT) -> str:
    """The serving command as one shell-quoted line."""
    return shlex.join(llama_server_argv(d, port=port))


def image(d: Deployment) -> str:
    """Container image for the deployment's device (CPU image for CPUs and unknown vendors)."""
    if d.device_kind == "cpu":
        return IMAGES["cpu"]
    return IMAGES.get(d.gpu_vendor.lower(), IMAGES["cpu"])
