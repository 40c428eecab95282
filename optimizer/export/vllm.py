"""vLLM serving commands and `--config` YAML files, one per (workload, site, engine configuration).

Flags follow vLLM's current engine arguments, checked against vllm-project/vllm
`vllm/engine/arg_utils.py` (commit 99d7eb5d, the v0.11 line: `--tensor-parallel-size`,
`--quantization`, `--kv-cache-dtype`, `--max-model-len`, `--max-num-seqs`,
`--gpu-memory-utilization`, `--speculative-config` as JSON, `--data-parallel-size`) and the docs of
vLLM v0.25.0 (features/speculative_decoding/draft_model: `{"method": "draft_model", "model": ...,
"num_speculative_tokens": ...}`) and v0.30.0 (configuration/serve_args: `vllm serve --config
config.yaml` with long-form argument names as keys). The removed `--speculative-model` /
`--num-speculative-tokens` flags are never emitted.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from optimizer.export.common import dump_yaml
from optimizer.schema.plan import Deployment

VLLM_VERSION_CHECKED = "0.30.0"
"""Newest vLLM release whose documented arguments these exports were checked against (see above)."""
VLLM_MIN_VERSION = "0.25.0"
"""Oldest vLLM release documented to accept `{"method": "draft_model"}` in --speculative-config."""
DEFAULT_PORT = 8000
"""vLLM's OpenAI-compatible server port."""


def served_model_name(d: Deployment) -> str:
    """The name clients send in `model`: the workload id (the same at every site and configuration)."""
    return d.workload


def vllm_args(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> dict[str, Any]:
    """vLLM engine arguments for one deployment, keyed by long-form flag name (as in `--config` YAML).

    Values: TP from the plan, quantization and KV dtype from the precision, max-num-seqs = the batch the
    plan's capacity assumes, max-model-len and gpu-memory-utilization from the plan's memory model,
    speculative-config when speculation is chosen, data-parallel-size when one server runs several
    replicas (SkyPilot: one per GPU group of the instance).
    """
    e = d.engine
    args: dict[str, Any] = {
        "model": d.hf_repo,
        "served-model-name": served_model_name(d),
        "host": "0.0.0.0",
        "port": port,
        "tensor-parallel-size": e.tensor_parallel_size,
    }
    if data_parallel > 1:
        args["data-parallel-size"] = data_parallel
    if e.quantization is not None:
        args["quantization"] = e.quantization
    if e.kv_cache_dtype != "auto":
        args["kv-cache-dtype"] = e.kv_cache_dtype
    args["max-model-len"] = e.max_model_len
    args["max-num-seqs"] = e.max_num_seqs
    args["gpu-memory-utilization"] = e.gpu_memory_utilization
    if e.speculative_config is not None:
        args["speculative-config"] = e.speculative_config.model_dump(mode="json")
    return args


def vllm_argv(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> list[str]:
    """`vllm serve <hf-repo> --flag value ...` as an argument vector (JSON for object values)."""
    args = vllm_args(d, data_parallel=data_parallel, port=port)
    argv = ["vllm", "serve", str(args.pop("model"))]
    for key, value in args.items():
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else str(value)
        argv += [f"--{key}", text]
    return argv


def vllm_command(d: Deployment, *, data_parallel: int = 1, port: int = DEFAULT_PORT) -> str:
    """The serving command as one shell-quoted line."""
    return shlex.join(vllm_argv(d, data_parallel=data_parallel, port=port))


def vllm_config_yaml(d: Deployment) -> str:
    """The same arguments as a `vllm serve --config FILE` YAML document."""
    return dump_yaml(vllm_args(d))


def header_lines(d: Deployment) -> list[str]:
    """Comment lines describing what a deployment runs and what to check before applying it."""
    lines = [
        f"{d.workload} at {d.site}: {d.model} {d.precision} on {d.gpu} x{d.tensor_parallel} "
        f"({d.instance_type or 'instance type not given'}), checkpoint {d.hf_repo} ({d.hf_repo_source})",
        f"planned per replica: {d.predicted.capacity_rps:.3g} req/s, TTFT {d.predicted.ttft_ms:.0f} ms, "
        f"TPOT {d.predicted.tpot_ms:.1f} ms at batch {d.predicted.batch}",
    ]
    name = d.engine.name
    if name == "llama_cpp":
        lines.append(
            f"engine: llama.cpp llama-server (costed with it: {d.engine.max_num_seqs} slot(s), "
            "one device per server, GGUF weights)"
        )
    elif name == "sglang":
        lines.append(
            f"engine: SGLang (costed with it: at most {d.engine.max_num_seqs} running requests); "
            "flags checked against sgl-project/sglang server_args.py @001067ff"
        )
    elif name == "tensorrt_llm":
        lines.append(
            f"engine: TensorRT-LLM trtllm-serve (costed with it: max batch {d.engine.max_num_seqs}, "
            "one replica per server); options checked against NVIDIA/TensorRT-LLM commands/serve.py @00209af1"
        )
        if d.engine.quantization is not None or d.engine.kv_cache_dtype != "auto":
            lines.append(
                f"ACTION NEEDED: trtllm-serve reads {d.precision} weights and the KV-cache dtype "
                f"({d.engine.kv_cache_dtype}) from the checkpoint's quantization config: {d.hf_repo} "
                "must be a ModelOpt-quantized checkpoint of that precision"
            )
        lines.append("clients name the model by its checkpoint (trtllm-serve has no served-model-name)")
    else:
        lines.append(
            f"engine: vLLM (costed with it: at most {d.engine.max_num_seqs} running sequences); "
            f"flags checked against vLLM {VLLM_VERSION_CHECKED} "
            f"(needs >= {VLLM_MIN_VERSION} for draft-model speculation)"
        )
    if d.checkpoint_note:
        lines.append(f"ACTION NEEDED: {d.checkpoint_note}")
    return lines
