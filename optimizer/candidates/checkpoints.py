"""Which Hugging Face checkpoint the engine loads for a configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from optimizer.catalog import Catalog
from optimizer.catalog.specs import ModelSpec, PrecisionSpec
from optimizer.schema.problem import Workload

CheckpointSource = Literal["catalog", "workload_model", "workload_hf_repo"]


@dataclass(frozen=True)
class Checkpoint:
    hf_repo: str
    source: CheckpointSource
    note: str | None


ONLINE_QUANTIZATION: frozenset[str | None] = frozenset({None, "fp8"})
"""vLLM `--quantization` methods that run from the BF16 checkpoint (fp8: dynamic online quantization)."""


def checkpoint_for(
    w: Workload, model: ModelSpec, prec: PrecisionSpec, primary: bool, catalog: Catalog
) -> Checkpoint:
    """Which Hugging Face repository the engine loads for this model and precision, and whether it holds
    the precision's weight format.

    Order: the workload's `hf_repo[precision]`, then `hf_repo.default`, then the workload's `model` if
    written as a repository id (`owner/name`), then the catalog's `hf_id`. Alternatives (not primary)
    always use the catalog's. A precision vLLM cannot quantize online (anything but BF16 and FP8) needs
    a pre-quantized checkpoint: unless named for that precision, `checkpoint_note` says so.
    """
    repo, explicit = model.hf_id, False
    source: CheckpointSource = "catalog"
    by_precision = {catalog.precision(k).id: v for k, v in w.hf_repo.items() if k != "default"}
    if primary:
        if prec.id in by_precision:
            repo, source, explicit = by_precision[prec.id], "workload_hf_repo", True
        elif "default" in w.hf_repo:
            repo, source = w.hf_repo["default"], "workload_hf_repo"
        elif "/" in w.model:
            repo, source = w.model, "workload_model"
    note = None
    if not explicit and prec.vllm_quantization not in ONLINE_QUANTIZATION:
        note = (
            f"{repo} is not known to hold {prec.id} weights (vLLM --quantization {prec.vllm_quantization} "
            "loads a pre-quantized checkpoint): set the workload's hf_repo."
            f"{prec.id} to a {prec.id} checkpoint of {model.id}"
        )
    return Checkpoint(repo, source, note)
