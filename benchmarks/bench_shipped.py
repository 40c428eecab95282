"""Solve time of every shipped problem (not a test: prints figures).

    python benchmarks/bench_shipped.py [--repeat 3]

For each problems/*.yaml: candidate-building, model-building and solver wall time (median of the
repeats, baselines off), variables, constraints and status.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from optimizer.pipeline import SolveOptions, solve_file

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(
        f"{'problem':<26} {'status':<8} {'cands s':>8} {'build s':>8} {'solve s':>8} {'vars':>7} {'cons':>7}"
    )
    for path in sorted((ROOT / "problems").glob("*.yaml")):
        results = [solve_file(path, SolveOptions(baselines=False)) for _ in range(args.repeat)]
        med = {
            k: statistics.median(getattr(r.timings, k) for r in results)
            for k in ("candidates_s", "build_s", "solve_s")
        }
        r = results[0].plan.solve
        print(
            f"{path.stem:<26} {r.status:<8} {med['candidates_s']:8.2f} {med['build_s']:8.2f} "
            f"{med['solve_s']:8.2f} {r.variables:7d} {r.constraints:7d}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
