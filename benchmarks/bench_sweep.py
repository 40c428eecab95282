"""Wall time of a 48-scenario sweep on a shipped problem: serial, worker processes, Dask (not a test).

    python benchmarks/bench_sweep.py [--problem problems/startup_budget.yaml] [--jobs 2] [--no-dask]

The grid: demand x {0.5, 0.75, 1, 1.5, 2, 3} x H100 price x {0.6, 0.8, 1, 1.2} x pro-tier TTFT
{800, 1500} ms = 48 scenarios (the axes fit startup_budget; pass --vary/--scale-* style axes with
--grid for another problem). Prints wall time per executor and checks that every executor produced
the same rows (timing columns aside).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from optimizer.whatif.api import SweepResult, sweep

ROOT = Path(__file__).resolve().parent.parent
DEMAND = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
H100 = [0.6, 0.8, 1.0, 1.2]
TTFT = ["workloads.pro_tier.slo.ttft_ms=800,1500"]


def run(problem: Path, executor: str, jobs: int) -> tuple[SweepResult, float]:
    t0 = time.perf_counter()
    result = sweep(
        problem,
        vary=TTFT,
        scale_demand=DEMAND,
        scale_price={"h100_sxm": H100},
        executor=executor,  # type: ignore[arg-type]
        jobs=jobs,
    )
    return result, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problem", type=Path, default=ROOT / "problems" / "startup_budget.yaml")
    ap.add_argument("--jobs", type=int, default=2, help="workers for the process and Dask runs")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args(argv)
    runs = [("serial", 1), ("process", args.jobs)]
    if not args.no_dask:
        runs.append(("dask", args.jobs))
    reference: SweepResult | None = None
    print(
        f"{'executor':<10} {'workers':>7} {'scenarios':>9} {'ok':>4} {'wall s':>8} {'s each':>7}  same rows"
    )
    for executor, jobs in runs:
        result, wall = run(args.problem, executor, jobs)
        ok = sum(r["status"] in ("optimal", "feasible") for r in result.records)
        same = (
            "-"
            if reference is None
            else str(result.reproducible_records() == reference.reproducible_records())
        )
        reference = reference or result
        n, workers = len(result.records), result.executor.workers
        print(f"{executor:<10} {workers:>7} {n:>9} {ok:>4} {wall:>8.1f} {wall / n:>7.2f}  {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
