"""Constants shared by the problem-file tests (a module, not conftest, so it can be imported)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MALFORMED = Path(__file__).resolve().parent / "malformed"

BASE_TEXT = """\
name: small_chat
user_regions:
  - id: us_east
    jurisdiction: us
  - id: eu_west
    jurisdiction: eu
sites:
  - id: us_site
    jurisdiction: us
    latency_ms: {us_east: 10, eu_west: 90}
    offers:
      - gpu: h100_sxm
        gpus_per_instance: 8
        prices: {on_demand: 2.99}
  - id: eu_site
    jurisdiction: eu
    latency_ms: {eu_west: 12, us_east: 90}
    offers:
      - gpu: h200_sxm
        gpus_per_instance: 8
        prices: {on_demand: 3.50}
workloads:
  - id: chat
    model: llama_3_1_8b
    demand:
      requests_per_day: 1000000
      region_split: {us_east: 0.6, eu_west: 0.4}
    request:
      input_tokens: 800
      output_tokens: 200
    slo:
      ttft_ms: 500
      tpot_ms: 50
"""
"""The same small problem the malformed files are built from (each changes one thing)."""

YAML_TOKENS = [
    "name: x",
    "workloads:",
    "sites:",
    "user_regions:",
    "- ",
    "  ",
    "\n",
    ": ",
    "&a ",
    "*a",
    "<<: *a",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "'",
    '"',
    "!!python/object:os.system ",
    "!x ",
    "? ",
    "---",
    "...",
    "#",
    "1e9",
    ".inf",
    "-1",
    "true",
    "no",
    "~",
    "id: a",
    "\t",
    "%YAML 1.2",
    "|",
    ">",
    "a:b",
    "0x1F",
]
"""Fragments the loader fuzz strings together into near-YAML text."""
