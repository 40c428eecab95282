"""Seeded synthetic fleet problems with realistic structure, as real problem YAML.

    python benchmarks/generator.py medium --seed 3 > /tmp/medium.yaml
    optimizer validate /tmp/medium.yaml

Each problem is a `problems/*.yaml`-style document that goes through the whole pipeline (loader,
catalog, performance model, candidates, MIP, plan, checker). Structure, not tuned numbers:

- user regions on a world map (coordinates in milliseconds of round trip), each with the UTC offset
  of its longitude, so hourly profiles peak at different hours;
- central sites (8-GPU nodes, high sustainable utilisation, egress fees) anywhere on the map, with
  RTT = base + distance to every region; edge sites (1-GPU servers, small pools at about half load,
  rack-space GPU limits) in a metro 3-10 ms from one region, serving that region only (and its
  near neighbours);
- GPU types from the built-in catalog with a reference on-demand price each; per site a price
  factor (edge premium), and per purchase option a ladder (spot 30-50 %, 1-year 60-70 %, 3-year
  45-55 % of on-demand) with noise;
- supply limits per offer, site GPU limits, site power limits;
- workloads of different models and shapes: chat, code, quick replies (tight TTFT) and batch work
  (deadline), each with a diurnal profile in local time, a region split, a quality floor and a
  precision list, some with serverless overflow.

`SIZES` holds the ladder of issue 9 (small, medium, large, huge); any `Shape` works.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Shape:
    workloads: int
    regions: int
    sites: int
    gpu_types: int
    periods: int
    """24: hourly; otherwise that many equal named periods."""
    precisions: int = 4
    purchase_options: int = 3
    """2: on-demand, spot; 3: + committed 1 year; 4: + committed 3 years."""


SIZES: dict[str, Shape] = {
    "tiny": Shape(workloads=2, regions=2, sites=3, gpu_types=3, periods=2, precisions=2),
    "small": Shape(workloads=3, regions=3, sites=6, gpu_types=6, periods=4, precisions=3),
    "medium": Shape(workloads=6, regions=4, sites=10, gpu_types=8, periods=24),
    "large": Shape(
        workloads=10, regions=6, sites=20, gpu_types=12, periods=24, precisions=6, purchase_options=4
    ),
    "huge": Shape(workloads=50, regions=8, sites=100, gpu_types=12, periods=24),
}

# (catalog id, reference on-demand USD per GPU-hour, fits at the edge)
GPUS: tuple[tuple[str, float, bool], ...] = (
    ("h100_sxm", 2.99, False),
    ("l40s", 1.86, True),
    ("a100_80gb", 1.79, False),
    ("l4", 0.80, True),
    ("h200_sxm", 3.59, False),
    ("mi300x", 2.49, False),
    ("b200", 5.39, False),
    ("a100_40gb", 1.29, True),
    ("h100_pcie", 2.39, True),
    ("gaudi3", 2.19, False),
    ("mi325x", 2.99, False),
    ("rtx_4090", 0.69, True),
)
PRECISIONS = ("bf16", "fp8", "int4_awq", "int8_w8a16", "int4_gptq", "fp4")
ACCURACY = {"bf16": 1.0, "fp8": 0.995, "int4_awq": 0.98, "int8_w8a16": 0.99, "int4_gptq": 0.98, "fp4": 0.98}
"""Relative accuracy of each precision in the built-in catalog (a precision list honours min_quality)."""

# (kind, models, input tokens, output tokens, TTFT ms, TPOT ms, requests/day range)
KINDS: tuple[tuple[str, tuple[str, ...], int, int, float, float, tuple[float, float]], ...] = (
    ("chat", ("llama_3_1_70b", "llama_3_3_70b", "qwen2_5_72b"), 1200, 350, 1500.0, 60.0, (2e5, 3e6)),
    ("assistant", ("llama_3_1_8b", "qwen2_5_7b", "mistral_7b"), 800, 250, 800.0, 50.0, (1e6, 2e7)),
    ("quick", ("llama_3_1_8b", "llama_3_2_3b", "qwen2_5_7b"), 300, 60, 250.0, 40.0, (2e6, 3e7)),
    ("code", ("qwen2_5_72b", "llama_3_1_70b", "mixtral_8x7b"), 2500, 200, 2000.0, 50.0, (1e5, 1e6)),
    ("batch", ("llama_3_1_8b", "llama_3_1_70b"), 3000, 500, 0.0, 0.0, (1e5, 2e6)),
)

DIURNAL = (0.35, 0.25, 0.2, 0.18, 0.2, 0.3, 0.5, 0.8, 1.1, 1.35, 1.5, 1.55,
           1.5, 1.5, 1.55, 1.55, 1.5, 1.4, 1.35, 1.4, 1.45, 1.3, 0.95, 0.6)  # fmt: skip
"""Local-time hourly load of an interactive service (00:00 .. 23:00)."""


def _r(x: float, digits: int = 3) -> float:
    return float(round(x, digits))


def _profile(rng: random.Random, periods: int, batch: bool) -> list[float]:
    """Local-time weights: the diurnal curve with noise (flat-ish for batch), in `periods` slices."""
    hourly = [(1.0 if batch else v) * rng.uniform(0.9, 1.1) for v in DIURNAL]
    if periods == 24:
        return [_r(v) for v in hourly]
    step = 24 // periods
    return [_r(sum(hourly[i * step : (i + 1) * step]) / step) for i in range(periods)]


def generate(shape: Shape, seed: int, *, name: str | None = None, time_limit_s: float = 60.0,
             mip_gap: float = 1e-3) -> dict[str, Any]:  # fmt: skip
    """The problem document (a dict ready for YAML) of `shape`, deterministic for `seed`."""
    rng = random.Random(seed)
    hourly = shape.periods == 24
    if not hourly and 24 % shape.periods:
        raise ValueError("periods must be 24 or divide 24")

    # --- user regions on a map (x: 0..300 ms around the world, y: 0..80 ms) ---------------------
    regions = []
    coords: dict[str, tuple[float, float]] = {}
    for i in range(shape.regions):
        rid = f"region_{i}"
        x, y = rng.uniform(0, 300), rng.uniform(0, 80)
        coords[rid] = (x, y)
        region: dict[str, Any] = {"id": rid, "jurisdiction": f"j{i % 3}"}
        if hourly:  # named periods are the same clock hours everywhere
            region["utc_offset_hours"] = (round(x / 300 * 24) + 12) % 24 - 12
        regions.append(region)
    ids = [r["id"] for r in regions]

    def rtt(a: tuple[float, float], b: tuple[float, float]) -> float:
        dx = min(abs(a[0] - b[0]), 300 - abs(a[0] - b[0]))  # the map wraps around
        return math.hypot(dx, a[1] - b[1])

    # --- GPU types and price ladders ----------------------------------------------------------
    gpus = list(GPUS[: shape.gpu_types])
    options = ("on_demand", "spot", "committed_1y", "committed_3y")[: max(1, shape.purchase_options)]
    ladder = {"spot": (0.3, 0.5), "committed_1y": (0.6, 0.7), "committed_3y": (0.45, 0.55)}

    def prices(base: float, factor: float, edge: bool) -> dict[str, float]:
        od = base * factor * rng.uniform(0.9, 1.1)
        out = {"on_demand": _r(od)}
        for o in options[1:]:
            if edge and o == "spot":
                continue  # no spot market at a metro edge
            if rng.random() < 0.85:
                lo, hi = ladder[o]
                out[o] = _r(od * rng.uniform(lo, hi))
        return out

    # --- sites ----------------------------------------------------------------------------------
    n_central = max(1, min(shape.sites, round(shape.sites * 0.4)))
    sites = []
    for i in range(shape.sites):
        central = i < n_central
        if central:
            where = (rng.uniform(0, 300), rng.uniform(0, 80))
            latency = {r: _r(8 + 1.1 * rtt(where, coords[r]), 1) for r in ids}
            offered = [g for g in gpus if rng.random() < 0.6] or [gpus[0]]
            factor = rng.uniform(0.85, 1.3)
            offers = []
            for g, base, _edge_ok in offered:
                offer: dict[str, Any] = {
                    "gpu": g,
                    "instance_type": f"{g}_8x",
                    "gpus_per_instance": 8,
                    "prices": prices(base, factor, False),
                }
                if rng.random() < 0.35:
                    offer["max_gpus"] = 8 * rng.randint(4, 64)
                offers.append(offer)
            site: dict[str, Any] = {
                "id": f"central_{i}",
                "kind": "central",
                "jurisdiction": f"j{rng.randrange(3)}",
                "latency_ms": latency,
                "sustainable_utilization": _r(rng.uniform(0.75, 0.9), 2),
                "egress_usd_per_gb": _r(rng.choice([0.0, 0.0, 0.05, 0.09]), 3),
                "offers": offers,
            }
            if rng.random() < 0.3:
                site["power_limit_kw"] = float(rng.choice([200, 400, 800, 1600]))
        else:
            home = ids[i % len(ids)]
            where = (coords[home][0] + rng.uniform(-3, 3), coords[home][1] + rng.uniform(-3, 3))
            latency = {home: _r(rng.uniform(3, 10), 1)}
            for r in ids:
                if r != home and rtt(where, coords[r]) < 25:
                    latency[r] = _r(5 + 1.1 * rtt(where, coords[r]), 1)
            edge_gpus = [g for g in gpus if g[2]] or [gpus[0]]
            offered = [g for g in edge_gpus if rng.random() < 0.7] or [edge_gpus[0]]
            factor = rng.uniform(1.25, 1.6)  # metro premium
            offers = [
                {
                    "gpu": g,
                    "instance_type": f"{g}_1x",
                    "gpus_per_instance": 1,
                    "prices": prices(base, factor, True),
                }
                for g, base, _ in offered
            ]
            site = {
                "id": f"edge_{i}",
                "kind": "edge",
                "jurisdiction": regions[ids.index(home)]["jurisdiction"],
                "latency_ms": latency,
                "sustainable_utilization": _r(rng.uniform(0.4, 0.6), 2),
                "max_gpus": rng.choice([16, 32, 64]),
                "offers": offers,
            }
        sites.append(site)

    # --- workloads ------------------------------------------------------------------------------
    workloads = []
    for i in range(shape.workloads):
        kind, models, tin, tout, ttft, tpot, (lo, hi) = KINDS[rng.randrange(len(KINDS))]
        batch = kind == "batch"
        split_w = [rng.uniform(0.2, 1.0) for _ in ids]
        total = sum(split_w)
        split = {r: _r(w / total, 4) for r, w in zip(ids, split_w, strict=True)}
        split[ids[-1]] = _r(1.0 - sum(v for r, v in split.items() if r != ids[-1]), 4)
        rpd = math.exp(rng.uniform(math.log(lo), math.log(hi))) / max(1.0, shape.workloads / 10)
        wl: dict[str, Any] = {
            "id": f"{kind}_{i}",
            "model": rng.choice(models),
            "demand": {
                "requests_per_day": float(round(rpd, -3)),
                "region_split": split,
                "profile": _profile(rng, shape.periods, batch),
            },
            "request": {
                "input_tokens": int(tin * rng.uniform(0.7, 1.3)),
                "output_tokens": int(tout * rng.uniform(0.7, 1.3)),
            },
            "slo": {"deadline_hours": 24}
            if batch
            else {
                "ttft_ms": _r(ttft * rng.uniform(0.8, 1.3), 0),
                "tpot_ms": _r(tpot * rng.uniform(0.9, 1.2), 0),
            },
        }
        quality = rng.choice([0.95, 0.98, 0.98, 0.99])
        wl["min_quality"] = quality
        wl["precisions"] = [p for p in PRECISIONS[: shape.precisions] if ACCURACY[p] >= quality]
        if not batch and rng.random() < 0.35:
            price = (
                rng.uniform(0.2, 1.0)
                if "70b" not in wl["model"] and "72b" not in wl["model"]
                else rng.uniform(0.9, 3.0)
            )
            wl["serverless"] = {
                "allowed": True,
                "usd_per_million_input_tokens": _r(price, 3),
                "usd_per_million_output_tokens": _r(price * 2, 3),
                "max_share": rng.choice([0.1, 0.3, 1.0]),
            }
        workloads.append(wl)

    purchase: dict[str, Any] = {"on_demand": True}
    if "spot" in options:
        purchase["spot"] = {"availability": 0.9, "max_share": 0.3}
    if "committed_1y" in options:
        purchase["committed_1y"] = {"discount_vs_on_demand": 0.35}
    if "committed_3y" in options:
        purchase["committed_3y"] = {"discount_vs_on_demand": 0.5}
    doc: dict[str, Any] = {
        "schema_version": 1,
        "name": name or f"synthetic_{shape.workloads}w_{shape.sites}s_{seed}",
        "description": f"Synthetic benchmark problem {shape} seed {seed} (benchmarks/generator.py)",
        "periods": "hourly"
        if hourly
        else [{"id": f"p{k}", "hours_per_day": 24 / shape.periods} for k in range(shape.periods)],
        "user_regions": regions,
        "purchase_options": purchase,
        "sites": sites,
        "workloads": workloads,
        "policy": {
            "placement": "auto",
            "headroom": _r(rng.choice([0.1, 0.2]), 2),
            "min_replicas_per_active_site": 1,
        },
        "solver": {"name": "highs", "time_limit_s": time_limit_s, "mip_gap": mip_gap},
    }
    return doc


def generate_yaml(shape: Shape, seed: int, **kw: Any) -> str:
    """`generate` as YAML text (what a user would write in `problems/*.yaml`)."""
    return yaml.safe_dump(generate(shape, seed, **kw), sort_keys=False, width=110)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("size", choices=sorted(SIZES))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sys.stdout.write(generate_yaml(SIZES[args.size], args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
