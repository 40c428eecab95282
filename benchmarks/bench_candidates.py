"""Candidate-generation time and performance-model call counts (prints figures; not a test).

    python benchmarks/bench_candidates.py [--repeat 3] [--large] [problems/edge_hybrid.yaml ...]

For each problem (default: every problems/*.yaml; `--large` adds a seeded synthetic problem of
10 workloads, 6 regions, 20 sites and 12 GPU types): the median wall and CPU time of a cold
`build_candidates` (fresh evaluation cache), the wall time of a re-build that re-uses the
evaluation table (what a price or demand what-if costs), the number of scalar `Server.steady` and
`Replica.step` calls of one cold build, configuration-bands evaluated and candidates kept.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from optimizer.candidates import EvaluationCache, build_candidates
from optimizer.catalog import Catalog, default_catalog
from optimizer.loading.problem_file import load_problem
from optimizer.perf.serving import Server
from optimizer.perf.step import Replica
from optimizer.schema.problem import Problem

ROOT = Path(__file__).resolve().parent.parent

LARGE_GPUS = (
    "h100_sxm", "h100_pcie", "h200_sxm", "a100_40gb", "a100_80gb", "l4",
    "l40s", "b200", "mi300x", "mi325x", "gaudi2", "gaudi3",
)  # fmt: skip
LARGE_MODELS = ("llama_3_1_8b", "llama_3_1_70b", "mixtral_8x7b", "qwen2_5_72b", "mistral_7b")


def large_problem(seed: int = 7, workloads: int = 10, regions: int = 6, sites: int = 20) -> Problem:
    """A seeded synthetic problem: central sites offer 8-GPU instances of 6 of the 12 GPU types,
    edge sites 1-GPU instances of 2; latencies 5-200 ms; prices ~ $0.8 + $0.03 per GB of memory
    (timing only: the candidate stage's work does not depend on prices)."""
    rng = random.Random(seed)
    catalog = default_catalog()
    region_ids = [f"r{i}" for i in range(regions)]
    site_docs = []
    for i in range(sites):
        edge = i % 3 == 2
        gpus = rng.sample(LARGE_GPUS[5:8] if edge else LARGE_GPUS, 2 if edge else 6)
        near = rng.choice(region_ids)
        site_docs.append(
            {
                "id": f"s{i}",
                "kind": "edge" if edge else "central",
                "latency_ms": {
                    r: (rng.uniform(4, 12) if r == near else rng.uniform(20, 200))
                    for r in region_ids
                    if not edge or r == near
                },
                "sustainable_utilization": 0.5 if edge else 0.8,
                "offers": [
                    {
                        "gpu": g,
                        "gpus_per_instance": 1 if edge else 8,
                        "prices": {"on_demand": round(0.8 + 0.03 * catalog.gpu(g).memory_gb, 2)},
                    }
                    for g in gpus
                ],
            }
        )
    wl_docs = []
    for i in range(workloads):
        model = LARGE_MODELS[i % len(LARGE_MODELS)]
        small = model.endswith(("8b", "7b"))
        wl_docs.append(
            {
                "id": f"w{i}",
                "model": model,
                "demand": {
                    "requests_per_day": rng.choice([2e5, 1e6, 5e6]),
                    "region_split": {r: 1.0 / regions for r in region_ids},
                },
                "request": {
                    "input_tokens": rng.choice([300, 1500, 4000]),
                    "output_tokens": rng.choice([60, 350]),
                },
                "slo": {"ttft_ms": rng.choice([250, 600] if small else [1500, 3000]), "tpot_ms": 60},
                "min_quality": 0.97,
            }
        )
    doc = {
        "schema_version": 1,
        "name": "bench_large",
        "periods": [{"id": "day", "hours_per_day": 14}, {"id": "night", "hours_per_day": 10}],
        "user_regions": [{"id": r, "jurisdiction": "any"} for r in region_ids],
        "purchase_options": {"on_demand": True},
        "sites": site_docs,
        "workloads": wl_docs,
    }
    return Problem.model_validate(doc)


@contextmanager
def counting(calls: Counter[str]) -> Iterator[None]:
    """Count calls of the scalar model's hot functions while the block runs."""
    originals: list[tuple[type, str, Callable[..., Any]]] = [
        (Server, "steady", Server.steady),
        (Replica, "step", Replica.step),
    ]

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return counted

    for cls, name, fn in originals:
        setattr(cls, name, wrap(name, fn))
    try:
        yield
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)


def _median_s(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `repeat` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--large", action="store_true", help="add the synthetic 10 x 6 x 20 x 12 problem")
    ap.add_argument("problems", nargs="*", type=Path)
    args = ap.parse_args(argv)
    cases: list[tuple[str, Problem, Catalog]] = []
    for path in args.problems or sorted((ROOT / "problems").glob("*.yaml")):
        loaded = load_problem(path)
        cases.append((path.stem, loaded.problem, loaded.catalog))
    if args.large:
        cases.append(("large (synthetic)", large_problem(), default_catalog()))
    print(
        f"{'problem':<26} {'cold s':>8} {'cold cpu':>9} {'cached s':>9} {'steady':>8} {'step':>8} "
        f"{'considered':>10} {'kept':>6}"
    )
    for name, p, c in cases:
        calls: Counter[str] = Counter()
        with counting(calls):
            cset = build_candidates(p, c)
        cold, cold_cpu = _median_s(functools.partial(build_candidates, p, c), args.repeat)
        cache = EvaluationCache()
        build_candidates(p, c, cache=cache)
        warm, _ = _median_s(functools.partial(build_candidates, p, c, cache=cache), args.repeat)
        print(
            f"{name:<26} {cold:8.3f} {cold_cpu:9.3f} {warm:9.3f} {calls['steady']:8d} {calls['step']:8d} "
            f"{cset.considered:10d} {len(cset.info):6d}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
