"""The problem file: frozen pydantic models (`problem`), safe loading with located errors (`loader`) and
cross-reference checks (`semantic`).

    >>> from optimizer.schema import load_problem
    >>> loaded = load_problem("problems/chat_assistant.yaml")  # doctest: +SKIP
    >>> loaded.problem.workloads[0].slo.ttft_ms  # doctest: +SKIP
    1000.0
"""

from __future__ import annotations

from optimizer.schema.loader import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    LineMap,
    LoadedProblem,
    format_path,
    load_problem,
    parse_path,
    parse_problem_text,
    parse_yaml,
)
from optimizer.schema.problem import HOURS_PER_MONTH, SCHEMA_VERSION, Problem, PurchaseOption
from optimizer.schema.semantic import SemanticReport, check_problem

__all__ = [
    "HOURS_PER_MONTH",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "SCHEMA_VERSION",
    "LineMap",
    "LoadedProblem",
    "Problem",
    "PurchaseOption",
    "SemanticReport",
    "check_problem",
    "format_path",
    "load_problem",
    "parse_path",
    "parse_problem_text",
    "parse_yaml",
]
