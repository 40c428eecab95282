"""Analytic performance model of LLM inference: memory, step time, latency, replica capacity.

Pure functions over catalog specs (`GpuSpec`, `ModelSpec`, `PrecisionSpec`) and plain numbers,
with a few efficiency parameters per hardware family fitted by `python -m optimizer.perf.calibrate`
(see docs/performance-model.md).
"""

from __future__ import annotations

from optimizer.perf.capacity import Capacity, Draft, Prediction, Shape, predict, replica_capacity
from optimizer.perf.memory import (
    kv_bytes_per_token,
    kv_bytes_per_token_per_gpu,
    max_batch,
    memory_plan,
    mla_kv_bytes_per_token,
    weight_bytes,
)
from optimizer.perf.params import CalibrationParams, FamilyParams, default_params
from optimizer.perf.speculative import expected_tokens_per_step
from optimizer.perf.step import single_stream_decode_tokens_per_s

__all__ = [
    "CalibrationParams",
    "Capacity",
    "Draft",
    "FamilyParams",
    "Prediction",
    "Shape",
    "default_params",
    "expected_tokens_per_step",
    "kv_bytes_per_token",
    "kv_bytes_per_token_per_gpu",
    "max_batch",
    "memory_plan",
    "mla_kv_bytes_per_token",
    "predict",
    "replica_capacity",
    "single_stream_decode_tokens_per_s",
    "weight_bytes",
]
