"""Calibration: stored parameters, provenance, and a deterministic fitter."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.perf.benchmarks import read_benchmarks
from optimizer.perf.calibrate import FAMILY_BOUNDS, GLOBAL_BOUNDS, calibration_document, fit, nelder_mead
from optimizer.perf.params import FALLBACK_FAMILY_PARAMS, default_params
from optimizer.perf.split import split

DATA_DIR = Path(__file__).resolve().parents[2] / "optimizer" / "perf" / "data"
SHARED = Path("/work/shared/calibration/published_benchmarks.csv")


def test_shipped_calibration_is_loaded_and_bounded() -> None:
    p = default_params()
    hopper = p.family("nvidia_hopper")
    assert hopper.source == "fitted"
    for name in FALLBACK_FAMILY_PARAMS:
        fam = p.family(name)
        for b in FAMILY_BOUNDS:
            assert b.lo <= getattr(fam, b.name) <= b.hi
    for b in GLOBAL_BOUNDS:
        assert b.lo <= getattr(p, b.name) <= b.hi
    assert p.family("amd_cdna3").source == "default"  # no calibration rows: datasheet-based default


def test_calibration_records_the_data_file_hash() -> None:
    """The shipped parameters were fitted on the calibration half only."""
    doc = yaml.safe_load((DATA_DIR / "calibration.yaml").read_text(encoding="utf-8"))
    data = (DATA_DIR / "calibration_set.csv").read_bytes()
    assert doc["data_file"] == "calibration_set.csv"
    assert doc["data_sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["fit_date"] and doc["residuals"]


def test_split_is_reproducible_disjoint_and_complete() -> None:
    shared = (DATA_DIR / "published_benchmarks.csv").read_text(encoding="utf-8")
    extra = (DATA_DIR / "extra_published.csv").read_text(encoding="utf-8")
    added = (DATA_DIR / "split_published.csv").read_text(encoding="utf-8")
    cal, gen = split(shared, extra, added)
    assert cal == (DATA_DIR / "calibration_set.csv").read_text(encoding="utf-8")
    assert gen == (DATA_DIR / "generalization_set.csv").read_text(encoding="utf-8")
    cal_rows = cal.splitlines()[1:]
    gen_rows = gen.splitlines()[1:]
    assert not set(cal_rows) & set(gen_rows)
    n_in = sum(len(t.splitlines()) - 1 for t in (shared, extra, added))
    assert len(cal_rows) + len(gen_rows) == n_in
    assert len(cal_rows) >= 30 and len(gen_rows) >= 30
    assert set(extra.splitlines()[1:]) <= set(gen_rows)  # every extra row is held out


def test_one_measured_run_never_straddles_the_split() -> None:
    import csv
    import io

    from optimizer.perf.split import KEY_COLUMNS

    def keys(name: str) -> set[tuple[str, ...]]:
        rows = csv.DictReader(io.StringIO((DATA_DIR / name).read_text(encoding="utf-8")))
        return {tuple(r[c] for c in KEY_COLUMNS) for r in rows}

    assert not keys("calibration_set.csv") & keys("generalization_set.csv")


def test_one_configuration_of_the_split_file_never_straddles_the_split() -> None:
    """All sequence lengths of one added configuration land on the same side (rule 3)."""
    import csv
    import io

    from optimizer.perf.split import CONFIG_KEY_COLUMNS

    added = {
        tuple(r[c] for c in CONFIG_KEY_COLUMNS)
        for r in csv.DictReader(io.StringIO((DATA_DIR / "split_published.csv").read_text(encoding="utf-8")))
    }

    def keys(name: str) -> set[tuple[str, ...]]:
        rows = csv.DictReader(io.StringIO((DATA_DIR / name).read_text(encoding="utf-8")))
        return {tuple(r[c] for c in CONFIG_KEY_COLUMNS) for r in rows} & added

    cal, gen = keys("calibration_set.csv"), keys("generalization_set.csv")
    assert cal and gen and not cal & gen


@pytest.mark.skipif(not SHARED.exists(), reason="shared calibration directory not present")
def test_packaged_copy_is_verbatim() -> None:
    assert (DATA_DIR / "published_benchmarks.csv").read_bytes() == SHARED.read_bytes()


def test_nelder_mead_finds_a_quadratic_minimum_deterministically() -> None:
    def f(x: np.ndarray) -> float:
        return float((x[0] - 1.0) ** 2 + 3.0 * (x[1] + 2.0) ** 2)

    x1, f1 = nelder_mead(f, np.array([0.0, 0.0]), max_evals=500, tol=1e-12)
    x2, f2 = nelder_mead(f, np.array([0.0, 0.0]), max_evals=500, tol=1e-12)
    assert np.allclose(x1, [1.0, -2.0], atol=1e-3)
    assert f1 == f2 and np.array_equal(x1, x2)


def test_fit_on_a_subset_is_deterministic() -> None:
    rows = [r for r in read_benchmarks(DATA_DIR / "published_benchmarks.csv") if r.index in range(45, 55)]
    a = fit(rows, max_sweeps=1, max_evals=40)
    b = fit(rows, max_sweeps=1, max_evals=40)
    assert a.params.families == b.params.families and a.loss == b.loss
    doc = calibration_document(a, DATA_DIR / "published_benchmarks.csv", b"x", fit_date="2000-01-01")
    assert doc["data_sha256"] == hashlib.sha256(b"x").hexdigest()
    assert set(doc["families"]) >= set(FALLBACK_FAMILY_PARAMS)


def test_docs_show_the_current_per_row_tables() -> None:
    """docs/performance-model.md lists every calibration and generalization row as the model scores
    them today (regenerate with `optimizer perf validate --benchmarks FILE --markdown`)."""
    from optimizer.perf.validation import markdown_report, validate_file

    docs = (DATA_DIR.parents[2] / "docs" / "performance-model.md").read_text(encoding="utf-8")
    for name in ("calibration_set.csv", "generalization_set.csv"):
        assert markdown_report(validate_file(DATA_DIR / name)) in docs, f"{name} tables in docs are stale"
