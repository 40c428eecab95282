"""The problem and plan documents as frozen pydantic models (`problem`, `plan`), and the shared
constrained types they are built from (`types`). Reading files into these models, with located
errors, is `optimizer.loading`.
"""

from __future__ import annotations

from optimizer.schema.problem import HOURS_PER_MONTH, SCHEMA_VERSION, Problem, PurchaseOption

__all__ = ["HOURS_PER_MONTH", "SCHEMA_VERSION", "Problem", "PurchaseOption"]
