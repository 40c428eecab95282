"""Provisioning exports of a plan: vLLM commands, SkyPilot SkyServe services, Kubernetes manifests,
and the procurement CSV. Each reads the plan document alone and launches the engine each deployment
was costed with (`vllm serve`, or `llama-server` for llama.cpp deployments; `optimizer.export.serve`).

`export_plan(plan, fmt, out_dir)` writes one format's files and returns their paths:

| format | files |
|---|---|
| `vllm` | `<workload>-<site>-<gpu>-<precision>-tp<N>.sh` (engine command), `.yaml` (vLLM `--config`) |
| `skypilot` | `<workload>-<site>-<gpu>-<precision>-tp<N>.yaml` (a SkyServe service) |
| `kubernetes` | `<workload>-<site>.yaml` (Service, Deployments, KEDA ScaledObjects) |
| `csv` | `procurement.csv` |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from optimizer.export.common import serving_groups
from optimizer.export.csv_export import procurement_csv
from optimizer.export.kubernetes import manifests_yaml, site_documents
from optimizer.export.serve import serve_command
from optimizer.export.skypilot import service_yaml
from optimizer.export.vllm import header_lines, vllm_config_yaml
from optimizer.outputs import atomic_write_text
from optimizer.schema.plan import Plan

FORMATS = ("vllm", "skypilot", "kubernetes", "csv")


def _vllm_files(plan: Plan) -> dict[str, str]:
    """Each serving group's launch script in the engine it was costed with (vLLM groups also get a
    `--config` YAML)."""
    files: dict[str, str] = {}
    for g in serving_groups(plan):
        head = "".join(f"# {line}\n" for line in header_lines(g.first))
        files[f"{g.name}.sh"] = "#!/bin/sh\n" + head + "exec " + serve_command(g.first) + "\n"
        if g.first.engine.name == "vllm":
            files[f"{g.name}.yaml"] = (
                head + f"# usage: vllm serve --config {g.name}.yaml\n" + vllm_config_yaml(g.first)
            )
    return files


def _skypilot_files(plan: Plan) -> dict[str, str]:
    return {f"{g.name}.yaml": service_yaml(plan, g) for g in serving_groups(plan)}


def _kubernetes_files(plan: Plan) -> dict[str, str]:
    from optimizer.export.common import dns_label

    return {
        f"{dns_label(w, s)}.yaml": manifests_yaml(plan, w, s, docs)
        for (w, s), docs in site_documents(plan).items()
    }


def _csv_files(plan: Plan) -> dict[str, str]:
    return {"procurement.csv": procurement_csv(plan)}


RENDERERS: dict[str, Callable[[Plan], dict[str, str]]] = {
    "vllm": _vllm_files,
    "skypilot": _skypilot_files,
    "kubernetes": _kubernetes_files,
    "csv": _csv_files,
}


def render(plan: Plan, fmt: str) -> dict[str, str]:
    """File name -> content for one format (nothing written)."""
    return RENDERERS[fmt](plan)


def export_plan(plan: Plan, fmt: str, out_dir: Path) -> list[Path]:
    """Write one format's files under `out_dir` (created if needed), atomically; return their paths."""
    files = render(plan, fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = out_dir / name
        atomic_write_text(path, text)
        if name.endswith(".sh"):
            path.chmod(0o755)
        paths.append(path)
    return paths
