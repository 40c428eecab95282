"""Fit the per-family efficiencies to the calibration file; write a calibration YAML.

    python -m optimizer.perf.calibrate [--data FILE.csv] (--out FILE.yaml | --replace-shipped | --dry-run)

Data: `optimizer/perf/data/calibration_set.csv` by default, the calibration half of the published
measurements (`python -m optimizer.perf.split` documents the split); the generalization half is
never read here. Output: the YAML is written to `--out`; replacing the shipped
`optimizer/perf/data/calibration.yaml` needs `--replace-shipped`. Progress goes to stderr, the
fitted summary (YAML) to stdout.

Model: every scored row of the benchmark file is predicted with the full performance model
(`optimizer.perf.benchmarks.predict_row`); the residual is r = ln(predicted / measured).

Loss (minimised): sum over rows of a robust soft-L1 penalty d^2 (sqrt(1 + (r/d)^2) - 1), d = 0.1,
plus a weak Gaussian prior pulling every parameter toward its documented datasheet-based default
(one standard deviation costs about as much as one row 10% off), so parameters a family's rows
cannot identify (e.g. compute efficiency from batch-1 decode rows only) stay at their defaults.

Parameters: per family with rows, `bw_eff` and `step_overhead_ms` (latency path), `compute_eff` and
`kv_bw_eff` (throughput path); per non-reference engine with at least 3 rows, `bw_scale`,
`compute_scale`, `overhead_scale`; global `attn_eff`, `roofline_sharpness`, `link_eff`, `moe_eff`.
Nothing per row, per model or per GPU.

Optimiser: deterministic Nelder-Mead (numpy only) in a bounded logit space, by block coordinate
descent: each family's parameters on that family's rows, each engine's factors on its rows, then
the globals on all rows, repeated until the loss stops improving. Same data + same code = same
numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from optimizer.perf.benchmarks import BenchmarkRow, Resolver, RowPrediction, default_resolver, predict_row
from optimizer.perf.engines import ENGINES, REFERENCE_ENGINE
from optimizer.perf.params import (
    CALIBRATION_FILE,
    FALLBACK_FAMILY_PARAMS,
    GENERIC_FAMILY_PARAMS,
    CalibrationParams,
    EngineParams,
    FamilyParams,
)
from optimizer.perf.validation import summarize

DELTA = 0.1
"""Soft-L1 scale on ln(pred / measured): errors beyond ~10% grow linearly, not quadratically."""
PRIOR_WEIGHT = DELTA**2 * (math.sqrt(2.0) - 1.0)
"""Cost of a one-sigma departure from a parameter's default (= one row 10% off)."""
FAILED_ROW_PENALTY = 1.0
SWEEP_TOL = 1e-3
"""Stop the block-coordinate sweeps when a sweep improves the loss by less than 0.1%."""


@dataclass(frozen=True, slots=True)
class Bound:
    name: str
    lo: float
    hi: float
    sigma: float
    """Prior standard deviation around the default (natural units)."""


FAMILY_BOUNDS = (
    Bound("bw_eff", 0.30, 0.95, 0.15),
    Bound("compute_eff", 0.15, 0.90, 0.15),
    Bound("step_overhead_ms", 0.05, 15.0, 2.0),
    Bound("kv_bw_eff", 0.30, 0.95, 0.15),
)
ENGINE_BOUNDS = (
    Bound("bw_scale", 0.40, 1.60, 0.25),
    Bound("compute_scale", 0.40, 1.60, 0.25),
    Bound("overhead_scale", 0.20, 5.00, 1.00),
)
ENGINE_MIN_ROWS = 3
"""An engine other than the reference gets fitted factors only with at least this many rows."""
GLOBAL_BOUNDS = (
    Bound("attn_eff", 0.10, 1.00, 0.30),
    Bound("roofline_sharpness", 1.0, 12.0, 4.0),
    Bound("link_eff", 0.20, 1.00, 0.30),
    Bound("moe_eff", 0.20, 1.00, 0.30),
)


def _to_x(v: float, b: Bound) -> float:
    u = min(max((v - b.lo) / (b.hi - b.lo), 1e-6), 1.0 - 1e-6)
    return math.log(u / (1.0 - u))


def _from_x(x: float, b: Bound) -> float:
    return b.lo + (b.hi - b.lo) / (1.0 + math.exp(-x))


def nelder_mead(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    *,
    step: float = 0.5,
    max_evals: int = 400,
    tol: float = 1e-7,
) -> tuple[np.ndarray, float]:
    """Minimise f from x0 with the standard Nelder-Mead simplex (reflection 1, expansion 2,
    contraction 0.5, shrink 0.5). Deterministic: same inputs, same path."""
    n = len(x0)
    simplex = [np.array(x0, dtype=float)]
    for i in range(n):
        v = np.array(x0, dtype=float)
        v[i] += step
        simplex.append(v)
    values = [f(v) for v in simplex]
    evals = n + 1
    while evals < max_evals:
        order = sorted(range(n + 1), key=lambda k: (values[k], k))
        simplex = [simplex[k] for k in order]
        values = [values[k] for k in order]
        if abs(values[-1] - values[0]) <= tol * (abs(values[0]) + tol):
            break
        centroid = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        xr = centroid + (centroid - worst)
        fr = f(xr)
        evals += 1
        if values[0] <= fr < values[-2]:
            simplex[-1], values[-1] = xr, fr
            continue
        if fr < values[0]:
            xe = centroid + 2.0 * (centroid - worst)
            fe = f(xe)
            evals += 1
            if fe < fr:
                simplex[-1], values[-1] = xe, fe
            else:
                simplex[-1], values[-1] = xr, fr
            continue
        xc = centroid + 0.5 * (worst - centroid) if fr >= values[-1] else centroid + 0.5 * (xr - centroid)
        fc = f(xc)
        evals += 1
        if fc < min(fr, values[-1]):
            simplex[-1], values[-1] = xc, fc
            continue
        for k in range(1, n + 1):
            simplex[k] = simplex[0] + 0.5 * (simplex[k] - simplex[0])
            values[k] = f(simplex[k])
            evals += 1
    best = int(np.argmin(values))
    return simplex[best], float(values[best])


def row_loss(results: Sequence[RowPrediction]) -> float:
    total = 0.0
    for r in results:
        if r.skipped is not None and r.predicted is None:
            continue
        if r.predicted is None or r.predicted <= 0 or r.row.value <= 0 or not math.isfinite(r.predicted):
            total += FAILED_ROW_PENALTY
            continue
        res = math.log(r.predicted / r.row.value)
        total += DELTA**2 * (math.sqrt(1.0 + (res / DELTA) ** 2) - 1.0)
    return total


def _family_from(cur: FamilyParams, v: Sequence[float]) -> FamilyParams:
    return replace(cur, bw_eff=v[0], compute_eff=v[1], step_overhead_ms=v[2], kv_bw_eff=v[3], source="fitted")


def _family_default(name: str) -> FamilyParams:
    return FALLBACK_FAMILY_PARAMS.get(name, GENERIC_FAMILY_PARAMS)


def _prior(values: Sequence[float], defaults: Sequence[float], bounds: Sequence[Bound]) -> float:
    return PRIOR_WEIGHT * sum(
        ((v - d) / b.sigma) ** 2 for v, d, b in zip(values, defaults, bounds, strict=True)
    )


@dataclass(frozen=True)
class FitResult:
    params: CalibrationParams
    loss: float
    results: tuple[RowPrediction, ...]
    rows_by_family: dict[str, int]
    sweeps: int
    rows_by_engine: dict[str, int]
    fitted_engines: frozenset[str]


def fit(
    rows: Sequence[BenchmarkRow],
    *,
    resolver: Resolver | None = None,
    base: CalibrationParams | None = None,
    max_sweeps: int = 8,
    max_evals: int = 400,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit family and global parameters to `rows` (see module docstring); `progress` receives one
    line per fitted block."""
    say = progress or (lambda _msg: None)
    res = resolver if resolver is not None else default_resolver()
    params = base if base is not None else CalibrationParams(families=dict(FALLBACK_FAMILY_PARAMS))
    first = [predict_row(r, res, params) for r in rows]
    scored = [(r, p) for r, p in zip(rows, first, strict=True) if p.skipped is None]
    by_family: dict[str, list[BenchmarkRow]] = {}
    by_engine_all: dict[str, list[BenchmarkRow]] = {}
    for r, p in scored:
        by_family.setdefault(p.gpu_family or "?", []).append(r)
        by_engine_all.setdefault(p.engine or REFERENCE_ENGINE, []).append(r)
    by_engine = {
        k: v for k, v in by_engine_all.items() if k != REFERENCE_ENGINE and len(v) >= ENGINE_MIN_ROWS
    }
    all_scored = [r for r, _ in scored]

    def evaluate(ps: CalibrationParams, subset: Sequence[BenchmarkRow]) -> float:
        return row_loss([predict_row(r, res, ps) for r in subset])

    prev = math.inf
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        for fam_name in sorted(by_family):
            subset = by_family[fam_name]
            cur = params.family(fam_name)
            default = _family_default(fam_name)
            d_vals = [default.bw_eff, default.compute_eff, default.step_overhead_ms, default.kv_bandwidth_eff]

            def f_fam(
                x: np.ndarray,
                fam_name: str = fam_name,
                cur: FamilyParams = cur,
                subset: list[BenchmarkRow] = subset,
                d_vals: list[float] = d_vals,
                params: CalibrationParams = params,
            ) -> float:
                v = [_from_x(float(xi), b) for xi, b in zip(x, FAMILY_BOUNDS, strict=True)]
                fp = _family_from(cur, v)
                return evaluate(params.with_family(fam_name, fp), subset) + _prior(v, d_vals, FAMILY_BOUNDS)

            x0 = np.array(
                [
                    _to_x(v, b)
                    for v, b in zip(
                        [cur.bw_eff, cur.compute_eff, cur.step_overhead_ms, cur.kv_bandwidth_eff],
                        FAMILY_BOUNDS,
                        strict=True,
                    )
                ]
            )
            x, _ = nelder_mead(f_fam, x0, max_evals=max_evals)
            v = [_from_x(float(xi), b) for xi, b in zip(x, FAMILY_BOUNDS, strict=True)]
            params = params.with_family(fam_name, _family_from(cur, v))
            say(
                f"sweep {sweeps}: family {fam_name} ({len(subset)} rows) bw_eff {v[0]:.3f} "
                f"compute_eff {v[1]:.3f} step_overhead_ms {v[2]:.2f} kv_bw_eff {v[3]:.3f}"
            )

        for eng_name in sorted(by_engine):
            e_subset = by_engine[eng_name]
            e_cur = params.engine_params(eng_name)

            def f_eng(
                x: np.ndarray,
                eng_name: str = eng_name,
                e_subset: list[BenchmarkRow] = e_subset,
                params: CalibrationParams = params,
            ) -> float:
                v = [_from_x(float(xi), b) for xi, b in zip(x, ENGINE_BOUNDS, strict=True)]
                ep = EngineParams(v[0], v[1], v[2], "fitted")
                return evaluate(params.with_engine_params(eng_name, ep), e_subset) + _prior(
                    v, [1.0, 1.0, 1.0], ENGINE_BOUNDS
                )

            x0 = np.array(
                [
                    _to_x(v, b)
                    for v, b in zip(
                        [e_cur.bw_scale, e_cur.compute_scale, e_cur.overhead_scale],
                        ENGINE_BOUNDS,
                        strict=True,
                    )
                ]
            )
            x, _ = nelder_mead(f_eng, x0, max_evals=max_evals)
            v = [_from_x(float(xi), b) for xi, b in zip(x, ENGINE_BOUNDS, strict=True)]
            params = params.with_engine_params(eng_name, EngineParams(v[0], v[1], v[2], "fitted"))
            say(
                f"sweep {sweeps}: engine {eng_name} ({len(e_subset)} rows) bw_scale {v[0]:.3f} "
                f"compute_scale {v[1]:.3f} overhead_scale {v[2]:.2f}"
            )

        g_default = CalibrationParams()
        g_dvals = [g_default.attn_eff, g_default.roofline_sharpness, g_default.link_eff, g_default.moe_eff]

        def f_glob(
            x: np.ndarray, params: CalibrationParams = params, g_dvals: list[float] = g_dvals
        ) -> float:
            v = [_from_x(float(xi), b) for xi, b in zip(x, GLOBAL_BOUNDS, strict=True)]
            ps = replace(params, attn_eff=v[0], roofline_sharpness=v[1], link_eff=v[2], moe_eff=v[3])
            return evaluate(ps, all_scored) + _prior(v, g_dvals, GLOBAL_BOUNDS)

        x0 = np.array(
            [
                _to_x(v, b)
                for v, b in zip(
                    [params.attn_eff, params.roofline_sharpness, params.link_eff, params.moe_eff],
                    GLOBAL_BOUNDS,
                    strict=True,
                )
            ]
        )
        x, loss = nelder_mead(f_glob, x0, max_evals=max_evals)
        v = [_from_x(float(xi), b) for xi, b in zip(x, GLOBAL_BOUNDS, strict=True)]
        params = replace(params, attn_eff=v[0], roofline_sharpness=v[1], link_eff=v[2], moe_eff=v[3])
        say(
            f"sweep {sweeps}: globals attn_eff {v[0]:.3f} sharpness {v[1]:.2f} link_eff {v[2]:.3f} "
            f"moe_eff {v[3]:.3f}; loss {loss:.5f}"
        )
        converged = math.isfinite(prev) and prev - loss < SWEEP_TOL * max(abs(prev), 1e-9)
        prev = loss
        if converged:
            break
    results = tuple(predict_row(r, res, params) for r in rows)
    return FitResult(
        params,
        prev,
        results,
        {k: len(v) for k, v in by_family.items()},
        sweeps,
        {k: len(v) for k, v in by_engine_all.items()},
        frozenset(by_engine),
    )


def _round(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def calibration_document(
    result: FitResult, data_path: Path, data_bytes: bytes, *, fit_date: str
) -> dict[str, Any]:
    p = result.params
    families: dict[str, Any] = {}
    for name in sorted(set(p.families) | set(FALLBACK_FAMILY_PARAMS)):
        fam = p.family(name)
        n = result.rows_by_family.get(name, 0)
        families[name] = {
            "bw_eff": _round(fam.bw_eff),
            "compute_eff": _round(fam.compute_eff),
            "step_overhead_ms": _round(fam.step_overhead_ms),
            "kv_bw_eff": _round(fam.kv_bandwidth_eff),
            "allreduce_hop_us": _round(fam.allreduce_hop_us),
            "source": "fitted" if n > 0 else "default",
            "rows": n,
        }
    engines: dict[str, Any] = {}
    for name in sorted(set(ENGINES)):
        eng = p.engine_params(name)
        fitted = name in result.fitted_engines
        engines[name] = {
            "bw_scale": _round(eng.bw_scale) if fitted else 1.0,
            "compute_scale": _round(eng.compute_scale) if fitted else 1.0,
            "overhead_scale": _round(eng.overhead_scale) if fitted else 1.0,
            "source": "fitted" if fitted else ("reference" if name == REFERENCE_ENGINE else "default"),
            "rows": result.rows_by_engine.get(name, 0),
        }
    summary = summarize(result.results)
    per_family: dict[str, Any] = {}
    for name in sorted(result.rows_by_family):
        apes = [
            abs(r.predicted / r.row.value - 1.0) * 100.0
            for r in result.results
            if r.gpu_family == name and r.predicted is not None and r.row.value
        ]
        if apes:
            per_family[name] = {
                "count": len(apes),
                "median_ape_pct": round(statistics.median(apes), 2),
                "worst_ape_pct": round(max(apes), 2),
            }
    scored = sum(1 for r in result.results if r.predicted is not None)
    return {
        "generated_by": "python -m optimizer.perf.calibrate",
        "fit_date": fit_date,
        "data_file": str(data_path.name),
        "data_sha256": hashlib.sha256(data_bytes).hexdigest(),
        "rows_total": len(result.results),
        "rows_scored": scored,
        "loss": _round(result.loss, 6),
        "sweeps": result.sweeps,
        "global": {
            "attn_eff": _round(p.attn_eff),
            "roofline_sharpness": _round(p.roofline_sharpness),
            "link_eff": _round(p.link_eff),
            "moe_eff": _round(p.moe_eff),
            "kv_mem_fraction": p.kv_mem_fraction,
            "runtime_reserve_gb": p.runtime_reserve_gb,
            "max_num_tokens": p.max_num_tokens,
            "max_num_seqs": p.max_num_seqs,
            "kv_block_tokens": p.kv_block_tokens,
        },
        "families": families,
        "engines": engines,
        "residuals": {
            m: {
                "count": s.count,
                "median_ape_pct": round(s.median_ape_pct, 2),
                "mean_ape_pct": round(s.mean_ape_pct, 2),
                "worst_ape_pct": round(s.worst_ape_pct, 2),
            }
            for m, s in summary.items()
        },
        "residuals_by_family": per_family,
    }


def default_data_path() -> Path:
    """The calibration half of the published measurements (see `optimizer.perf.split`)."""
    return Path(str(resources.files("optimizer.perf").joinpath("data", "calibration_set.csv")))


def default_output_path() -> Path:
    """The shipped calibration the model loads (`--replace-shipped` writes it)."""
    return Path(str(resources.files("optimizer.perf").joinpath("data", CALIBRATION_FILE)))


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(
    data: Path,
    out: Path | None,
    *,
    fit_date: str | None = None,
    max_sweeps: int = 8,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit on `data`; write the YAML to `out` (None: do not write); return the document.

    The file is written to a temporary sibling and renamed, so a failed fit never truncates an
    existing calibration."""
    from optimizer.perf.benchmarks import read_benchmarks

    rows = read_benchmarks(data)
    say = progress or (lambda _msg: None)
    say(f"fitting {len(rows)} rows of {data}")
    result = fit(rows, max_sweeps=max_sweeps, progress=say)
    doc = calibration_document(
        result, data, data.read_bytes(), fit_date=fit_date or dt.date.today().isoformat()
    )
    if out is not None:
        header = (
            "# Fitted performance-model parameters. Generated by `python -m optimizer.perf.calibrate`;\n"
            "# do not edit by hand (re-run the command). See docs/performance-model.md.\n"
        )
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        tmp.replace(out)
        say(f"wrote {out}")
    return doc


def check_output(out: Path | None, replace_shipped: bool, dry_run: bool) -> Path | None:
    """Where to write, or InputError: exactly one of --out, --replace-shipped, --dry-run; --out must
    name a file in an existing directory and not the shipped calibration (that needs the flag)."""
    from optimizer.errors import InputError

    chosen = sum([out is not None, replace_shipped, dry_run])
    if chosen != 1:
        raise InputError(
            "give exactly one of --out FILE.yaml (write there), --replace-shipped (overwrite the shipped "
            "optimizer/perf/data/calibration.yaml) or --dry-run (fit and print only)"
        )
    if dry_run:
        return None
    if replace_shipped:
        return default_output_path()
    assert out is not None
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file name such as {out / 'calibration.yaml'}")
    if not out.parent.exists():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    if out.resolve() == default_output_path().resolve():
        raise InputError(f"--out {out} is the shipped calibration; use --replace-shipped to overwrite it")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m optimizer.perf.calibrate", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--data", type=Path, default=None, help="benchmark CSV (default: the packaged calibration_set.csv)"
    )
    ap.add_argument("--out", type=Path, default=None, help="write the fitted YAML here")
    ap.add_argument(
        "--replace-shipped",
        action="store_true",
        help="overwrite the shipped optimizer/perf/data/calibration.yaml",
    )
    ap.add_argument("--dry-run", action="store_true", help="fit and print, do not write")
    ap.add_argument("--date", default=None, help="fit date to record (default: today)")
    args = ap.parse_args(argv)
    out = check_output(args.out, args.replace_shipped, args.dry_run)
    data = args.data or default_data_path()
    doc = run(data, out, fit_date=args.date, progress=_stderr)
    print(
        yaml.safe_dump({k: doc[k] for k in ("global", "families", "engines", "residuals")}, sort_keys=False)
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    from optimizer.errors import OptimizerError

    try:
        sys.exit(main())
    except OptimizerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
