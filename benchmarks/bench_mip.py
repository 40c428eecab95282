"""Model-build and solve time of the fleet MIP as problems grow (a benchmark, not a test).

Usage: python benchmarks/bench_mip.py [--solver highs|cbc] [--time-limit 60] [--sizes small|all]

Prints one row per size: candidates, periods, sites, regions, workloads; build seconds; variables
(integer, binary) and constraints; solve seconds, status and final gap.
"""

from __future__ import annotations

import argparse
import time

from optimizer.errors import OptimizerError
from optimizer.model import build_model
from optimizer.model.synthetic import synthetic_fleet
from optimizer.solve import solve

SIZES: list[tuple[int, int, int, int, int]] = [
    # candidates, periods, sites, regions, workloads
    (5, 4, 2, 2, 1),
    (10, 4, 3, 2, 2),
    (20, 8, 4, 3, 3),
    (30, 12, 6, 4, 4),
    (40, 24, 8, 5, 5),
    (50, 24, 10, 6, 6),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", choices=("highs", "cbc"), default="highs")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--sizes", choices=("small", "all"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = SIZES[:3] if args.sizes == "small" else SIZES
    header = (
        f"{'cand':>4} {'per':>3} {'site':>4} {'reg':>3} {'wl':>3} | {'build s':>7} {'vars':>7} {'int':>6} "
        f"{'bin':>4} {'cons':>7} | {'solve s':>7} {'status':>10} {'gap':>8} {'USD/month':>12}"
    )
    print(header)
    print("-" * len(header))
    for cands, periods, sites, regions, workloads in sizes:
        data = synthetic_fleet(
            candidates=cands,
            periods=periods,
            sites=sites,
            regions=regions,
            workloads=workloads,
            seed=args.seed,
        )
        start = time.perf_counter()
        model = build_model(data)
        build_s = time.perf_counter() - start
        st = model.stats()
        start = time.perf_counter()
        try:
            sol = solve(model, solver=args.solver, time_limit_s=args.time_limit)
            status, gap, cost = sol.status.value, sol.solver.gap, f"{sol.objective:12.0f}"
        except OptimizerError as exc:
            status, gap, cost = type(exc).__name__, None, ""
        solve_s = time.perf_counter() - start
        gap_s = f"{gap:8.2e}" if gap is not None else f"{'-':>8}"
        print(
            f"{cands:>4} {periods:>3} {sites:>4} {regions:>3} {workloads:>3} | {build_s:7.2f} "
            f"{st['variables']:>7} {st['integer']:>6} {st['binary']:>4} {st['constraints']:>7} | "
            f"{solve_s:7.2f} {status:>10} {gap_s} {cost:>12}",
            flush=True,
        )


if __name__ == "__main__":
    main()
