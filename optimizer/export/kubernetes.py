"""Kubernetes manifests: per (workload, site) one Service and, per plan deployment, a Deployment running
vLLM's OpenAI-compatible server, plus a KEDA cron ScaledObject carrying the per-period schedule.

Mapping:
- one pod = one engine replica: the engine the plan costed it with (`vllm serve`, or `llama-server`
  in the official llama.cpp image) with the plan's engine settings, the device resource
  (`nvidia.com/gpu`, `amd.com/gpu`, `habana.ai/gaudi`) limited to the tensor-parallel degree, and a
  memory-backed `/dev/shm` for tensor-parallel communication;
- `spec.replicas` is the plan's peak over the day; nodes are selected by the labels
  `fleet-optimizer.dev/gpu` (catalog GPU id) and `fleet-optimizer.dev/purchase-option` (label your
  node pools with them; NVIDIA's GPU feature discovery publishes the product as `nvidia.com/gpu.product`
  if you prefer to select on that);
- the schedule: the Deployment's annotation `fleet-optimizer.dev/replicas-by-period` holds the plan's
  replicas per period (JSON) and `fleet-optimizer.dev/period-starts-utc` the period start times; a KEDA
  `ScaledObject` (keda.sh/v1alpha1) with one `cron` trigger per window of equal replica count applies
  it (`minReplicaCount` = the fewest replicas of the day; each trigger's `desiredReplicas` holds between
  `start` and `end`, cron in UTC). Without KEDA, apply the annotation with any cron job that runs
  `kubectl scale`.

Manifests are checked in the tests against the `kubernetes` Python client's models (V1Deployment,
V1Service) by deserialising and re-serialising them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from optimizer.export.common import dns_label, dump_yaml, period_ids, period_start_minutes
from optimizer.export.llama_cpp import image as llama_cpp_image
from optimizer.export.serve import serve_argv
from optimizer.export.sglang import image as sglang_image
from optimizer.export.tensorrt_llm import IMAGE as TRTLLM_IMAGE
from optimizer.export.vllm import DEFAULT_PORT, VLLM_VERSION_CHECKED, header_lines
from optimizer.schema.plan import Deployment, Plan

DEVICE_RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "habana.ai/gaudi"}
"""Device-plugin resource name by GPU vendor (NVIDIA, AMD and Intel Gaudi device plugins)."""
IMAGES = {
    "nvidia": f"vllm/vllm-openai:v{VLLM_VERSION_CHECKED}",
    "amd": "rocm/vllm:latest",
    "intel": "vllm-gaudi:latest",
}
"""vLLM container image by GPU vendor: vLLM's official CUDA image; ROCm and Gaudi builds (pin a tag).
SGLang deployments run `lmsysorg/sglang` (`optimizer.export.sglang.IMAGES`), TensorRT-LLM ones
`nvcr.io/nvidia/tensorrt-llm/release` (`optimizer.export.tensorrt_llm.IMAGE`)."""
LABEL = "fleet-optimizer.dev"
HF_SECRET = "hf-token"
"""Secret holding the Hugging Face token (key `token`), for gated checkpoints."""


def engine_image(d: Deployment) -> str:
    """Container image of a vLLM, SGLang or TensorRT-LLM deployment (llama.cpp: `llama_cpp.image`)."""
    if d.engine.name == "sglang":
        return sglang_image(d)
    if d.engine.name == "tensorrt_llm":
        return TRTLLM_IMAGE
    return IMAGES.get(d.gpu_vendor.lower(), IMAGES["nvidia"])


def device_resource(d: Deployment) -> str | None:
    """The extended resource a pod of this deployment requests (None for CPU or unknown vendors)."""
    if d.device_kind == "cpu":
        return None
    return DEVICE_RESOURCES.get(d.gpu_vendor.lower())


def deployment_names(plan: Plan) -> dict[int, str]:
    """A unique Kubernetes name per plan deployment (index -> name)."""
    names: dict[int, str] = {}
    seen: dict[str, int] = defaultdict(int)
    for i, d in enumerate(plan.deployments):
        base = dns_label(d.workload, d.site, d.gpu, d.precision, f"tp{d.tensor_parallel}", d.purchase_option)
        seen[base] += 1
        names[i] = base if seen[base] == 1 else dns_label(base, str(seen[base]))
    return names


def _engine_label(d: Deployment) -> str:
    """Container name and `app.kubernetes.io/name`: `vllm`, `sglang`, `tensorrt-llm` or `llama-cpp`."""
    return dns_label(d.engine.name)


def _labels(d: Deployment) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": _engine_label(d),
        f"{LABEL}/workload": dns_label(d.workload),
        f"{LABEL}/site": dns_label(d.site),
    }


def deployment_manifest(plan: Plan, d: Deployment, name: str) -> dict[str, Any]:
    """apps/v1 Deployment for one plan deployment (see the module docstring)."""
    argv = serve_argv(d)
    labels = {**_labels(d), f"{LABEL}/config": name}
    resource = device_resource(d)
    limits = {resource: str(d.tensor_parallel)} if resource else {}
    launch: dict[str, Any] = (
        {"image": llama_cpp_image(d), "args": argv[1:]}  # the image's entrypoint is llama-server
        if d.engine.name == "llama_cpp"
        else {"image": engine_image(d), "command": [argv[0]], "args": argv[1:]}
    )
    container: dict[str, Any] = {
        "name": _engine_label(d),
        **launch,
        "ports": [{"name": "http", "containerPort": DEFAULT_PORT}],
        "env": [
            {
                "name": "HF_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "token", "optional": True}},
            }
        ],
        "resources": {"limits": limits, "requests": dict(limits)},
        "startupProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 180,
        },
        "readinessProbe": {"httpGet": {"path": "/v1/models", "port": "http"}, "periodSeconds": 10},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }
    schedule = {t: d.replicas_by_period.get(t, 0) for t in period_ids(plan)}
    starts = period_start_minutes(plan)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                f"{LABEL}/replicas-by-period": json.dumps(schedule, separators=(",", ":")),
                f"{LABEL}/period-starts-utc": json.dumps(
                    {t: f"{m // 60:02d}:{m % 60:02d}" for t, m in starts.items()}, separators=(",", ":")
                ),
                f"{LABEL}/hf-repo": d.hf_repo,
                f"{LABEL}/instance-type": d.instance_type or "",
            },
        },
        "spec": {
            "replicas": d.replicas,
            "selector": {"matchLabels": {f"{LABEL}/config": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {f"{LABEL}/gpu": d.gpu, f"{LABEL}/purchase-option": d.purchase_option},
                    "containers": [container],
                    "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
                },
            },
        },
    }


def service_manifest(workload: str, site: str) -> dict[str, Any]:
    """v1 Service in front of every pod of one workload at one site (port 8000, OpenAI API)."""
    selector = {f"{LABEL}/workload": dns_label(workload), f"{LABEL}/site": dns_label(site)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": dns_label(workload, site),
            "labels": {"app.kubernetes.io/name": "vllm", **selector},
        },
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": DEFAULT_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def schedule_windows(plan: Plan, replicas_by_period: dict[str, int]) -> list[tuple[int, int, int]]:
    """Consecutive periods with the same replica count merged: (start minute, end minute, replicas)."""
    starts = period_start_minutes(plan)
    windows: list[tuple[int, int, int]] = []
    for p in plan.periods:
        n = replicas_by_period.get(p.id, 0)
        start = starts[p.id]
        end = start + round(p.hours_per_month * 24.0 / 730.0 * 60)
        if windows and windows[-1][2] == n and windows[-1][1] == start:
            windows[-1] = (windows[-1][0], end, n)
        else:
            windows.append((start, end, n))
    return windows


def _cron(minute_of_day: int) -> str:
    m = minute_of_day % (24 * 60)
    return f"{m % 60} {m // 60} * * *"


def scaled_object(plan: Plan, d: Deployment, name: str) -> dict[str, Any] | None:
    """KEDA ScaledObject applying the per-period schedule with cron triggers (None if flat all day)."""
    windows = schedule_windows(plan, d.replicas_by_period)
    low = min(n for _, _, n in windows)
    high = max(n for _, _, n in windows)
    if low == high:
        return None
    triggers = [
        {
            "type": "cron",
            "metadata": {
                "timezone": "Etc/UTC",
                "start": _cron(start),
                "end": _cron(end),
                "desiredReplicas": str(n),
            },
        }
        for start, end, n in windows
        if n > low
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": _labels(d)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": low,
            "maxReplicaCount": high,
            "triggers": triggers,
        },
    }


def site_documents(plan: Plan) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(workload, site) -> [Service, Deployment, ScaledObject, ...] in plan order."""
    names = deployment_names(plan)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i, d in enumerate(plan.deployments):
        docs = out.setdefault((d.workload, d.site), [service_manifest(d.workload, d.site)])
        docs.append(deployment_manifest(plan, d, names[i]))
        so = scaled_object(plan, d, names[i])
        if so is not None:
            docs.append(so)
    return out


def manifests_yaml(plan: Plan, workload: str, site: str, docs: list[dict[str, Any]]) -> str:
    """A multi-document YAML file with a comment header per (workload, site)."""
    notes: list[str] = []
    for d in plan.deployments:
        if (d.workload, d.site) == (workload, site):
            notes += header_lines(d)
            if device_resource(d) is None:
                notes.append(f"ACTION NEEDED: no device-plugin resource known for {d.gpu} ({d.gpu_vendor})")
    head = "".join(f"# {line}\n" for line in dict.fromkeys(notes))
    return head + "---\n".join(dump_yaml(doc) for doc in docs)
