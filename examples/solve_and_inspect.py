"""Load a shipped problem, solve it, and inspect the plan through the public Python API.

Run: python examples/solve_and_inspect.py [problems/chat_assistant.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

from optimizer.pipeline import SolveOptions, solve_file

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "problems" / "chat_assistant.yaml"
    result = solve_file(path, SolveOptions(baselines=False))
    plan = result.plan
    print(f"{plan.problem}: {plan.status}, ${plan.monthly_cost_usd:,.0f} per month")
    for term, usd in plan.cost_breakdown.items():
        if usd > 0:
            print(f"  {term:<18} ${usd:>14,.0f}")
    for d in plan.deployments:
        print(
            f"  {d.workload} @ {d.site}: {d.replicas} x {d.gpu} {d.precision} TP{d.tensor_parallel} "
            f"({d.purchase_option}), vLLM --max-num-seqs {d.engine.max_num_seqs}"
        )
    for w in plan.workloads:
        if w.usd_per_million_tokens is not None:
            print(f"  {w.id}: ${w.usd_per_million_tokens:.3f} per million tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
