"""Shared constrained types for the schema."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64),
]
"""A snake_case identifier: lower-case letters, digits and underscores, starting with a letter."""

CatalogRef = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
"""A catalog name: canonical id or any alias (`H200-SXM-141GB`, `Llama-3.1-70B-Instruct`)."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]


class Frozen(BaseModel):
    """Immutable, unknown keys rejected, documented fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
