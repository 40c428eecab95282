"""A budgeting what-if: H100 prices fall 30% and demand doubles. What changes?

Changes a loaded problem with pydantic's `model_copy` (the problem is frozen: every what-if is a
new problem), re-solves, and compares the plans.

Run: python examples/what_if_price_drop.py [problem.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

from optimizer.catalog import Catalog
from optimizer.loading.problem_file import load_problem
from optimizer.pipeline import SolveOptions, solve_problem
from optimizer.schema.problem import Problem

ROOT = Path(__file__).resolve().parent.parent


def cheaper_gpu(problem: Problem, catalog: Catalog, gpu_id: str, factor: float) -> Problem:
    """Multiply every explicit price of one GPU type by `factor` (offers priced from the catalog's
    price list are left alone)."""
    sites = []
    for site in problem.sites:
        offers = []
        for offer in site.offers:
            if catalog.gpu(offer.gpu).id == gpu_id:
                p = offer.prices
                offer = offer.model_copy(
                    update={
                        "prices": p.model_copy(
                            update={
                                k: (v * factor if v is not None else None) for k, v in p.model_dump().items()
                            }
                        )
                    }
                )
            offers.append(offer)
        sites.append(site.model_copy(update={"offers": tuple(offers)}))
    return problem.model_copy(update={"sites": tuple(sites)})


def scaled_demand(problem: Problem, factor: float) -> Problem:
    workloads = []
    for w in problem.workloads:
        d = w.demand
        upd = {
            k: getattr(d, k) * factor
            for k in ("requests_per_day", "output_tokens_per_day", "audio_hours_per_day")
            if getattr(d, k) is not None
        }
        workloads.append(w.model_copy(update={"demand": d.model_copy(update=upd)}))
    return problem.model_copy(update={"workloads": tuple(workloads)})


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "problems" / "chat_assistant.yaml"
    loaded = load_problem(path)
    opts = SolveOptions(baselines=False)
    base = solve_problem(loaded.problem, loaded.catalog, opts).plan
    cases = {
        "H100 -30%": cheaper_gpu(loaded.problem, loaded.catalog, "h100_sxm", 0.7),
        "demand x2": scaled_demand(loaded.problem, 2.0),
    }
    print(f"base: ${base.monthly_cost_usd:,.0f}/month")
    for name, problem in cases.items():
        plan = solve_problem(problem, loaded.catalog, opts).plan
        gpus: dict[str, int] = {}
        for d in plan.deployments:
            gpus[d.gpu] = gpus.get(d.gpu, 0) + d.gpus
        print(
            f"{name}: ${plan.monthly_cost_usd:,.0f}/month "
            f"({plan.monthly_cost_usd / base.monthly_cost_usd - 1:+.1%}); "
            f"peak GPUs by type {gpus}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
