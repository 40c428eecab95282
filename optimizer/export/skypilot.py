"""SkyPilot SkyServe service YAML, one per (workload, site, engine configuration).

Checked against SkyPilot's task, resources and service JSON Schemas (`sky/utils/schemas.py`,
skypilot-org/skypilot commit aa1f97ba). One SkyServe replica is one whole instance (`H100:8`): its
vLLM server runs `data-parallel-size = GPUs per instance / tensor-parallel` engine replicas, so the
replica counts are the plan's instance counts for this configuration. `min_replicas`/`max_replicas`
are the fewest and most instances over the day; `target_qps_per_replica` is the usable capacity of
one instance (replicas per instance x capacity per replica x the site's sustainable utilisation), so
SkyServe's request-rate autoscaler follows the plan's schedule. With spot in the plan, `use_spot` is
set, `base_ondemand_fallback_replicas` keeps the plan's always-on non-spot instances, and
`dynamic_ondemand_fallback` replaces preempted spot capacity with on-demand. Committed and owned
capacity has no SkyPilot field: it is launched as on-demand (use your reservations through SkyPilot's
`aws.prioritize_reservations` / `gcp.specific_reservations` config), and owned sites without a cloud
must be set to your own infrastructure (`cloud: kubernetes` or `ssh`) before launching.
"""

from __future__ import annotations

from typing import Any

from optimizer.export.common import ServingGroup, dump_yaml, instances_for, period_ids
from optimizer.export.serve import replicas_per_server, serve_command
from optimizer.export.sglang import image as sglang_image
from optimizer.export.tensorrt_llm import IMAGE as TRTLLM_IMAGE
from optimizer.export.vllm import DEFAULT_PORT, VLLM_MIN_VERSION, header_lines
from optimizer.schema.plan import Deployment, Plan

ACCELERATOR_NAMES = {
    "h100_sxm": "H100",
    "h100_pcie": "H100",
    "h200_sxm": "H200",
    "gh200": "GH200",
    "a100_40gb": "A100",
    "a100_80gb": "A100-80GB",
    "l4": "L4",
    "l40s": "L40S",
    "b200": "B200",
    "gb200": "GB200",
    "mi300x": "MI300X",
    "mi325x": "MI325X",
    "gaudi2": "Gaudi2",
    "gaudi3": "Gaudi3",
    "rtx_4090": "RTX4090",
    "rtx_3090": "RTX3090",
}
"""Catalog GPU id -> SkyPilot accelerator name (as in SkyPilot's catalogs, `sky show-gpus`)."""
SKYPILOT_CLOUDS = {"aws": "aws", "gcp": "gcp", "azure": "azure", "lambda": "lambda"}
"""Price-list provider -> SkyPilot cloud name."""
LLAMA_CPP_BACKEND = {"nvidia": " -DGGML_CUDA=ON", "amd": " -DGGML_HIP=ON"}
"""llama.cpp CMake backend flag by GPU vendor (CPU build otherwise)."""


def llama_cpp_setup(d: Deployment) -> str:
    """Build `llama-server` from source (llama.cpp `docs/build.md`) with the device's backend."""
    backend = "" if d.device_kind == "cpu" else LLAMA_CPP_BACKEND.get(d.gpu_vendor.lower(), "")
    return (
        "git clone --depth 1 https://github.com/ggml-org/llama.cpp && cd llama.cpp && "
        f"cmake -B build{backend} && cmake --build build --config Release -j --target llama-server && "
        "sudo cp build/bin/llama-server /usr/local/bin/"
    )


def engine_image_id(d: Deployment) -> str | None:
    """SkyPilot `resources.image_id` (`docker:<image>`) for engines launched from their published
    container image (SGLang `lmsysorg/sglang`, TensorRT-LLM `nvcr.io/nvidia/tensorrt-llm/release`);
    None for vLLM and llama.cpp, which `setup` installs on the VM image."""
    if d.engine.name == "sglang":
        return f"docker:{sglang_image(d)}"
    if d.engine.name == "tensorrt_llm":
        return f"docker:{TRTLLM_IMAGE}"
    return None


def engine_setup(d: Deployment) -> str | None:
    """The SkyPilot `setup` that installs the deployment's engine (None: it is in the image)."""
    if d.engine.name == "llama_cpp":
        return llama_cpp_setup(d)
    if d.engine.name == "vllm":
        return f"pip install 'vllm>={VLLM_MIN_VERSION}'"
    return None


READINESS_PATH = "/v1/models"
"""OpenAI-compatible endpoint that answers once the model is loaded."""
READINESS_DELAY_S = 1800
"""Large checkpoints take minutes to download and load."""


def accelerator_name(gpu: str) -> str:
    """SkyPilot accelerator name for a catalog GPU id (upper-cased id when not in the table)."""
    return ACCELERATOR_NAMES.get(gpu, gpu.upper())


def gpus_per_instance(plan: Plan, d: Deployment) -> int:
    """GPUs per instance of this deployment's offer (from the plan's instance holdings)."""
    for h in plan.instances:
        if (h.site, h.gpu, h.purchase_option) == (d.site, d.gpu, d.purchase_option):
            return h.gpus_per_instance
    return d.gpus_per_replica


def service_document(plan: Plan, group: ServingGroup) -> dict[str, Any]:
    """The SkyServe service task for one serving group (see the module docstring for the mapping)."""
    d = group.first
    periods = period_ids(plan)
    gpi = max(gpus_per_instance(plan, d), d.gpus_per_replica)
    dp = replicas_per_server(d, gpi)
    total = group.replicas_by_period(periods)
    non_spot = group.replicas_by_period(periods, spot=False)
    inst = {t: instances_for(total[t], d.gpus_per_replica, gpi) for t in periods}
    util = next((s.utilization for s in plan.sites if s.id == group.site), 1.0)
    resources: dict[str, Any] = {"accelerators": f"{accelerator_name(d.gpu)}:{gpi}"}
    if d.cloud in SKYPILOT_CLOUDS:
        resources["cloud"] = SKYPILOT_CLOUDS[d.cloud]
        if d.cloud_region:
            resources["region"] = d.cloud_region
        if d.instance_type:
            resources["instance_type"] = d.instance_type
    uses_spot = any(x.purchase_option == "spot" for x in group.deployments)
    resources["use_spot"] = uses_spot
    resources["ports"] = DEFAULT_PORT
    resources["labels"] = {"fleet-optimizer/workload": group.workload, "fleet-optimizer/site": group.site}
    policy: dict[str, Any] = {
        "min_replicas": min(inst.values()),
        "max_replicas": max(max(inst.values()), 1),
        "target_qps_per_replica": round(dp * d.predicted.capacity_rps * util, 4),
    }
    if uses_spot:
        policy["base_ondemand_fallback_replicas"] = min(
            instances_for(non_spot[t], d.gpus_per_replica, gpi) for t in periods
        )
        policy["dynamic_ondemand_fallback"] = True
    envs: dict[str, Any] = {"HF_TOKEN": None}
    image_id = engine_image_id(d)
    if image_id is not None:
        resources["image_id"] = image_id
    setup = engine_setup(d)
    return {
        "name": group.name,
        "resources": resources,
        "envs": envs,
        "service": {
            "readiness_probe": {"path": READINESS_PATH, "initial_delay_seconds": READINESS_DELAY_S},
            "replica_policy": policy,
        },
        **({"setup": setup} if setup is not None else {}),
        "run": serve_command(d, data_parallel=dp) + "\n",
    }


def service_yaml(plan: Plan, group: ServingGroup) -> str:
    """The service YAML with a comment header (what it runs, the schedule, actions needed)."""
    d = group.first
    doc = service_document(plan, group)
    periods = period_ids(plan)
    total = group.replicas_by_period(periods)
    lines = [*header_lines(d)]
    gpi = max(gpus_per_instance(plan, d), d.gpus_per_replica)
    idle = gpi - replicas_per_server(d, gpi) * d.gpus_per_replica
    if d.engine.name in ("llama_cpp", "tensorrt_llm") and idle > 0:
        engine = "llama.cpp" if d.engine.name == "llama_cpp" else "TensorRT-LLM (trtllm-serve)"
        lines.append(
            f"ACTION NEEDED: {engine} runs one replica per server, so {idle} of this "
            f"instance's {gpi} GPUs stay idle here (target_qps_per_replica counts one replica); "
            "use single-GPU instances or one service per GPU"
        )
    lines.append("engine replicas per period: " + ", ".join(f"{t}={n}" for t, n in total.items()))
    options = sorted({x.purchase_option for x in group.deployments})
    lines.append(f"purchase options in the plan: {', '.join(options)}")
    if any(o in {"committed_1y", "committed_3y", "owned"} for o in options):
        lines.append(
            "committed/owned capacity launches as on-demand here: point SkyPilot at your reservations"
        )
    if "cloud" not in doc["resources"]:
        lines.append(
            f"ACTION NEEDED: site {group.site} has no cloud/region in the plan (no catalog price list): "
            "set resources.cloud and resources.region (or cloud: kubernetes) before `sky serve up`"
        )
    head = "".join(f"# {line}\n" for line in lines)
    return head + dump_yaml(doc)
