"""Shared constrained types for the schema, with the bounds every number of a problem file must meet.

Every number is finite (`Frozen` refuses inf and NaN, also written as strings such as "+inf"), and
each kind of quantity has a documented range: wide enough for any real fleet, narrow enough that
no value can overflow the performance model, the MIP or the cost arithmetic. The bounds appear in
the field reference (`optimizer schema --markdown`, problems/README.md).
"""

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

# --- bounds -------------------------------------------------------------------------------------

MAX_TOKENS_PER_REQUEST = 10_000_000
"""Prompt or generated tokens of one request (the longest contexts are ~10M tokens)."""
MAX_REQUESTS_PER_DAY = 1e12
"""Requests per day of one workload (~100 requests a day for every person alive)."""
MAX_TOKENS_PER_DAY = 1e15
"""Generated tokens per day of one workload, also as requests x mean tokens (~60x today's largest
public token counts)."""
MAX_AUDIO_HOURS_PER_DAY = 1e9
"""Audio hours per day of one workload."""
MAX_AUDIO_SECONDS = 86_400.0
"""Audio of one request, seconds (a day)."""
MAX_USD_PER_GPU_HOUR = 1e6
"""Any price per GPU-hour (today's are ~$0.3-$15)."""
MAX_USD_PER_MILLION_TOKENS = 1e6
"""Any price or penalty per million tokens (today's are ~$0.1-$100)."""
MAX_USD_PER_GPU = 1e8
"""Capital cost of one GPU with its share of the server."""
MAX_USD_PER_MONTH = 1e12
"""A monthly budget, USD."""
MAX_LATENCY_MS = 3_600_000.0
"""A time-to-first-token target or measurement, ms (an hour)."""
MAX_TPOT_MS = 60_000.0
"""A time-per-output-token target or measurement, ms (a minute)."""
MAX_NETWORK_MS = 60_000.0
"""A network round trip, ms (a minute)."""
MAX_DEADLINE_HOURS = 8_760.0
"""A batch deadline, hours (a year)."""
MAX_GPUS = 10_000_000
"""A supply limit in GPUs."""
MAX_REPLICAS = 100_000
"""A replica count in a policy rule."""
MAX_THREADS = 256
"""Solver threads."""
MAX_TIME_LIMIT_S = 604_800.0
"""Solver time limit, seconds (7 days)."""
MAX_TOKENS_PER_S = 1e9
"""A measured throughput of one replica, tokens per second."""
MAX_WEIGHT = 1e6
"""A relative demand weight of a period."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]

TokensPerRequest = Annotated[float, Field(ge=1.0, le=MAX_TOKENS_PER_REQUEST)]
UsdPerGpuHour = Annotated[float, Field(ge=0.0, le=MAX_USD_PER_GPU_HOUR)]
UsdPerMillionTokens = Annotated[float, Field(ge=0.0, le=MAX_USD_PER_MILLION_TOKENS)]
TtftMs = Annotated[float, Field(gt=0.0, le=MAX_LATENCY_MS)]
TpotMs = Annotated[float, Field(gt=0.0, le=MAX_TPOT_MS)]
NetworkMs = Annotated[float, Field(ge=0.0, le=MAX_NETWORK_MS)]
GpuCount = Annotated[int, Field(ge=0, le=MAX_GPUS)]
Weight = Annotated[float, Field(ge=0.0, le=MAX_WEIGHT)]


class Frozen(BaseModel):
    """Immutable, unknown keys rejected, documented fields, finite numbers only."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)
