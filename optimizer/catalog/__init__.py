"""Built-in catalog: GPU specs, model architectures, precisions and reference prices, each sourced
and dated, behind one immutable facade.

    >>> from optimizer.catalog import default_catalog
    >>> cat = default_catalog()
    >>> cat.gpu("H100-SXM-80GB").id
    'h100_sxm'
    >>> cat.model("meta-llama/Llama-3.1-70B-Instruct").num_kv_heads
    8
"""

from __future__ import annotations

from optimizer.catalog.catalog import (
    SECTIONS,
    Catalog,
    Kind,
    catalog_sections,
    default_catalog,
    normalize_name,
)
from optimizer.catalog.specs import (
    DeviceKind,
    GpuSpec,
    ModelSpec,
    PrecisionSpec,
    PriceEntry,
    PurchaseKind,
)

__all__ = [
    "SECTIONS",
    "Catalog",
    "DeviceKind",
    "GpuSpec",
    "Kind",
    "ModelSpec",
    "PrecisionSpec",
    "PriceEntry",
    "PurchaseKind",
    "catalog_sections",
    "default_catalog",
    "normalize_name",
]
