"""The shipped problems' golden results and the README table generated from them.

    python -m optimizer.shipped            # solve every problems/*.yaml, print the table, check goldens
    python -m optimizer.shipped --update   # deliberately re-pin goldens and rewrite the README table

The golden file (`tests/golden/shipped.yaml`) pins what a solve determines: each problem's status,
objective and baseline costs. Its `decisions` list is informative only: equal-cost plans may break
ties differently on another machine or solver build, so decisions are not compared. The test suite
re-solves every problem and names what moved. The README table between the
`problems-table` markers is rendered from the same summaries, so it cannot go stale.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from optimizer.pipeline import SolveOptions, solve_file
from optimizer.schema.plan import Plan

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = REPO / "problems"
GOLDEN = REPO / "tests" / "golden" / "shipped.yaml"
README = REPO / "README.md"
START, END = "<!-- problems-table:start -->", "<!-- problems-table:end -->"
COST_REL_TOL = 1e-6


def problem_files(root: Path = PROBLEMS) -> list[Path]:
    return sorted(root.glob("*.yaml"))


def decisions(plan: Plan) -> list[str]:
    """Key decisions: peak GPUs per (workload, site, model, GPU, precision, TP, option), sorted."""
    gpus: dict[str, int] = defaultdict(int)
    for d in plan.deployments:
        spec = "+spec" if d.speculative else ""
        gpus[
            f"{d.workload} @ {d.site}: {d.model} on {d.gpu} {d.precision}{spec} tp{d.tensor_parallel} "
            f"{d.purchase_option}"
        ] += d.gpus
    return [f"{k} = {v} GPUs" for k, v in sorted(gpus.items())]


def summarize(plan: Plan) -> dict[str, Any]:
    """The golden record of one solved plan."""
    base = {b.name: b for b in plan.baselines}
    return {
        "status": plan.status,
        "monthly_cost_usd": round(plan.monthly_cost_usd, 2),
        "monthly_spend_usd": round(plan.monthly_spend_usd, 2),
        "usd_per_million_tokens": None
        if plan.usd_per_million_tokens is None
        else round(plan.usd_per_million_tokens, 4),
        "baselines_usd": {
            k: None if b.monthly_cost_usd is None else round(b.monthly_cost_usd, 2)
            for k, b in sorted(base.items())
        },
        "decisions": decisions(plan),
    }


@dataclass(frozen=True)
class Solved:
    name: str
    path: Path
    plan: Plan
    wall_s: float
    solve_s: float = 0.0


def solve_all(root: Path = PROBLEMS) -> list[Solved]:
    out = []
    for path in problem_files(root):
        t0 = time.perf_counter()
        result = solve_file(path, SolveOptions())
        out.append(Solved(path.stem, path, result.plan, time.perf_counter() - t0, result.timings.solve_s))
    return out


def compare(name: str, golden: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """What moved between a golden record and a fresh solve (empty: nothing)."""
    if golden is None:
        return [f"{name}: no golden record (run `python -m optimizer.shipped --update`)"]
    moved = []
    if golden["status"] != now["status"]:
        moved.append(f"{name}: status {golden['status']} -> {now['status']}")
    g, n = golden["monthly_cost_usd"], now["monthly_cost_usd"]
    if abs(g - n) > COST_REL_TOL * max(abs(g), 1.0) + 0.01:
        moved.append(f"{name}: monthly cost ${g:,.2f} -> ${n:,.2f} ({(n - g) / g:+.3%})")
    g_base, n_base = golden.get("baselines_usd", {}), now.get("baselines_usd", {})
    for key in sorted(set(g_base) | set(n_base)):
        gb, nb = g_base.get(key), n_base.get(key)
        if (gb is None) != (nb is None) or (
            gb is not None and nb is not None and abs(gb - nb) > COST_REL_TOL * max(abs(gb), 1.0) + 0.01
        ):
            moved.append(f"{name}: baseline {key} {_money(gb)} -> {_money(nb)}")
    return moved


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def render_table(records: dict[str, dict[str, Any]]) -> str:
    """Markdown table: cost, cost per million tokens, savings against each baseline."""
    lines = [
        "| problem | status | monthly cost | spend | $ per M tokens | vs all on-demand, single GPU type "
        "| vs serverless only |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in sorted(records.items()):
        cost = r["monthly_cost_usd"]
        cells = []
        for key in ("on_demand_single_gpu", "serverless_only"):
            b = r["baselines_usd"].get(key)
            cells.append("n/a" if b is None else f"{_money(b)} (plan saves {(b - cost) / b:.0%})")
        per_m = "-" if r["usd_per_million_tokens"] is None else f"${r['usd_per_million_tokens']:.3f}"
        lines.append(
            f"| [`{name}`](problems/{name}.yaml) | {r['status']} | {_money(cost)} | "
            f"{_money(r['monthly_spend_usd'])} | {per_m} | {cells[0]} | {cells[1]} |"
        )
    lines.append("")
    lines.append(
        "Generated by `python -m optimizer.shipped --update` from the golden results in "
        "`tests/golden/shipped.yaml`; a test re-solves every problem and checks this table. "
        "Spend excludes the virtual shortfall penalty; savings are against the baseline's cost."
    )
    return "\n".join(lines)


def readme_with_table(readme: str, table: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise ValueError("README has no problems-table markers")
    return pattern.sub(lambda _: f"{START}\n{table}\n{END}", readme)


def load_golden(path: Path = GOLDEN) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(data.get("problems", {}))


def write_golden(records: dict[str, dict[str, Any]], path: Path = GOLDEN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "note": "Pinned results of problems/*.yaml. Update deliberately: "
        "python -m optimizer.shipped --update",
        "problems": records,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=140), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="re-pin goldens and rewrite the README table")
    args = ap.parse_args(argv)
    solved = solve_all()
    records = {s.name: summarize(s.plan) for s in solved}
    for s in solved:
        print(
            f"{s.name:<28} {s.plan.status:<9} {_money(s.plan.monthly_cost_usd):>14}  solver "
            f"{s.solve_s:6.2f} s  total {s.wall_s:6.2f} s"
        )
    if args.update:
        write_golden(records)
        README.write_text(
            readme_with_table(README.read_text(encoding="utf-8"), render_table(records)), encoding="utf-8"
        )
        print(f"wrote {GOLDEN.relative_to(REPO)} and the README table")
        return 0
    golden = load_golden()
    moved = [m for name, rec in records.items() for m in compare(name, golden.get(name), rec)]
    for m in moved:
        print(m)
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
