"""A budgeting what-if: H100 prices fall 30% and demand doubles. What changes?

Runs four named scenarios through the public what-if API (`optimizer.sweep`) in parallel worker
processes. The price drop applies to the H100's effective price wherever it comes from: prices written
in the problem file and the built-in reference price list alike (the chat problem's H100s are priced
from the catalog). Every scenario goes back through the problem schema before it is solved.

Run: python examples/what_if_price_drop.py [problem.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

import optimizer
from optimizer.whatif import ScaleDemand, ScalePrice, Scenario

ROOT = Path(__file__).resolve().parent.parent
GPU = "h100_sxm"

SCENARIOS = [
    Scenario("base"),
    Scenario("h100_minus_30pct", overrides=(ScalePrice(factor=0.7, gpu=GPU),)),
    Scenario("demand_x2", overrides=(ScaleDemand(factor=2.0),)),
    Scenario("both", overrides=(ScalePrice(factor=0.7, gpu=GPU), ScaleDemand(factor=2.0))),
]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "problems" / "chat_assistant.yaml"
    result = optimizer.sweep(path, scenarios=SCENARIOS, jobs=2)
    rows = {r["scenario"]: r for r in result.records}
    failed = [r for r in result.records if r["status"] not in ("optimal", "feasible")]
    for r in failed:
        print(f"{r['scenario']}: {r['status']}: {r['error']}")
    if failed:
        return 1
    base = rows["base"]["monthly_cost_usd"]
    print(f"{result.problem}: {len(rows)} scenarios in {result.wall_time_s:.1f} s ({result.executor.name})")
    for name, r in rows.items():
        gpus = {k.split(".", 1)[1]: v for k, v in r.items() if k.startswith("gpus.") and v}
        cost = r["monthly_cost_usd"]
        print(
            f"  {name:18s} ${cost:>12,.0f}/month ({cost / base - 1:+6.1%}); "
            f"${r['usd_per_million_tokens'] or 0:.3f}/M tokens; peak GPUs {gpus}"
        )
    if rows["h100_minus_30pct"]["monthly_cost_usd"] == base:
        used = rows["base"].get(f"gpus.{GPU}", 0)
        why = "the plan uses no H100s" if not used else "cheaper H100s do not beat the chosen fleet"
        print(f"  the H100 price drop leaves the cost unchanged: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
