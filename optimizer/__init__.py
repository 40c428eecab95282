"""LLM-inference fleet planner: which GPUs, how many, at which precision, parallelism, purchase
option and placement, at the lowest monthly cost that meets every workload's targets."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`optimizer.sweep` and `optimizer.frontier`: the what-if API, imported on first use."""
    if name in ("sweep", "frontier"):
        from optimizer.whatif import api as module

        return getattr(module, name)
    raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
