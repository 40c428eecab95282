"""The size ladder: synthetic problems of growing size through the whole pipeline (not a test).

    python benchmarks/bench_ladder.py                       # small, medium, large (HiGHS; CBC on small)
    python benchmarks/bench_ladder.py --sizes small,medium,large,huge --seed 0 --time-limit 300

Each size runs in a fresh subprocess (so peak memory is that size's own). Per size it prints the
model size (variables, integers, constraints), candidates before and after pruning, CPU and wall
seconds of each phase (candidates, build, solve, baselines, check), the final status and proven
gap, and the peak resident memory; then the issue-9 target for that size. Problems come from
`benchmarks/generator.py` and go through the real loader, performance model, MIP and checker.
Timings depend on the machine and its load: they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generator import SIZES, generate_yaml  # noqa: E402

TARGETS = {
    "small": "(no target)",
    "medium": "target: <= 0.1 % in < 10 s",
    "large": "target: <= 0.5 % in < 30 s wall",
    "huge": "target: <= 2 % in < 5 min, < 4 GB",
}
GAPS = {"tiny": 1e-4, "small": 1e-4, "medium": 1e-3, "large": 5e-3, "huge": 2e-2}
"""Relative gap each size is solved to (the issue-9 target)."""


class _Phase:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def run(self, name: str, fn: Any, *args: Any, **kw: Any) -> Any:
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w0


def run_one(size: str, seed: int, solver: str, time_limit_s: float, baselines: bool) -> dict[str, Any]:
    """Solve one generated problem phase by phase; the figures as a dict."""
    from optimizer.candidates import build_candidates
    from optimizer.check import ensure_plan_ok
    from optimizer.diagnosis import solve_diagnosed
    from optimizer.errors import OptimizerError
    from optimizer.loading.problem_file import parse_problem_text
    from optimizer.model import build_model
    from optimizer.pipeline import SolveOptions, compute_baselines
    from optimizer.plan import build_plan

    ph = _Phase()
    gap = GAPS.get(size, 1e-3)
    text = generate_yaml(SIZES[size], seed, time_limit_s=time_limit_s, mip_gap=gap)
    out: dict[str, Any] = {"size": size, "seed": seed, "solver": solver}
    loaded = ph.run("load", parse_problem_text, text, f"<{size}>")
    cset = ph.run("candidates", build_candidates, loaded.problem, loaded.catalog)
    out["candidates_considered"] = cset.considered
    out["candidates_kept"] = len(cset.fleet.candidates)
    model = ph.run("build", build_model, cset.fleet)
    out.update(model.stats())
    try:
        sol = ph.run(
            "solve",
            solve_diagnosed,
            model,
            solver=solver,
            time_limit_s=time_limit_s,
            mip_gap=gap,
        )
    except OptimizerError as exc:
        out["status"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    else:
        out["status"] = sol.status.value
        out["gap"] = sol.solver.gap
        out["cost"] = sol.objective
        out["solver_wall_s"] = sol.solver.wall_time_s
        plan = ph.run("check", build_plan, loaded.problem, cset, sol)
        if baselines:
            opts = SolveOptions(solver=solver, time_limit_s=time_limit_s, mip_gap=gap)
            base = ph.run("baselines", compute_baselines, cset.fleet, plan, opts)
            plan = plan.model_copy(update={"baselines": base})
            out["baselines"] = {b.name: b.monthly_cost_usd for b in base}
        ph.run("check", ensure_plan_ok, plan)
    out["cpu_s"] = ph.cpu
    out["wall_s"] = ph.wall
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


PHASES = ("candidates", "build", "solve", "baselines", "check")


def _row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['size']:<7} {r['solver']:<5} {r['error']}"
    gap = r.get("gap")
    gap_s = "-" if gap is None else f"{gap:.2%}"
    phases = " ".join(f"{r['cpu_s'].get(p, 0.0):6.1f}/{r['wall_s'].get(p, 0.0):<6.1f}" for p in PHASES)
    total_cpu = sum(r["cpu_s"].values())
    total_wall = sum(r["wall_s"].values())
    return (
        f"{r['size']:<7} {r['solver']:<5} {r['variables']:>8} {r['integer']:>7} {r['constraints']:>8} "
        f"{r['candidates_considered']:>7}/{r['candidates_kept']:<6} {phases} "
        f"{total_cpu:7.1f}/{total_wall:<7.1f} "
        f"{r['status']:<9} {gap_s:>7} {r['peak_rss_mb']:7.0f}  {TARGETS.get(r['size'], '')}"
    )


HEADER = (
    f"{'size':<7} {'solv':<5} {'vars':>8} {'ints':>7} {'cons':>8} {'cands/kept':>14} "
    + " ".join(f"{p[:11]:>13}" for p in PHASES)
    + f" {'total cpu/wall':>15} {'status':<9} {'gap':>7} {'MB peak':>7}"
)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--cbc-sizes", default="small", help="sizes also solved with CBC (comma list, or none)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    ap.add_argument("--chart", type=Path, help="also draw wall time per phase against model size (PNG)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--solver", default="highs", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        r = run_one(args.one, args.seed, args.solver, args.time_limit, not args.no_baselines)
        print(json.dumps(r))
        return 0
    runs = [(s, "highs") for s in args.sizes.split(",") if s]
    runs += [(s, "cbc") for s in args.cbc_sizes.split(",") if s and s != "none"]
    print("phases: CPU s / wall s; CPU includes solver threads", file=sys.stderr)
    print(HEADER, flush=True)
    rows = []
    for size, solver in runs:
        cmd = [sys.executable, __file__, "--one", size, "--solver", solver, "--seed", str(args.seed)]
        cmd += ["--time-limit", str(args.time_limit)] + (["--no-baselines"] if args.no_baselines else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            r: dict[str, Any] = {
                "size": size,
                "solver": solver,
                "error": f"failed ({proc.returncode}): {tail}",
            }
        else:
            r = json.loads(lines[-1])
        rows.append(r)
        print(_row(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.chart:
        draw_chart(rows, args.chart)
        print(f"chart: {args.chart}", file=sys.stderr)
    return 0


def draw_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Wall seconds of each phase (stacked) against the model's variable count, one bar per run,
    labelled with its size, solver, status and proven gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "error" not in r]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    labels = [f"{r['size']} {r['solver']}\n{r['variables']:,} vars" for r in done]
    bottom = [0.0] * len(done)
    for phase in PHASES:
        heights = [r["wall_s"].get(phase, 0.0) for r in done]
        ax.bar(labels, heights, bottom=bottom, label=phase)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for i, r in enumerate(done):
        gap = r.get("gap")
        text = f"{r['status']}" + ("" if gap is None else f"\n{gap:.1%} gap")
        ax.annotate(text, (i, bottom[i]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("wall seconds")
    ax.set_title("Size ladder: wall time per phase (benchmarks/bench_ladder.py)")
    ax.legend(fontsize=8)
    ax.margins(y=0.2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
