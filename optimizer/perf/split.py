"""Split the published measurements into a calibration file and a generalization file.

    python -m optimizer.perf.split [--check]

Inputs (both verbatim, in `optimizer/perf/data/`):

- `published_benchmarks.csv`: the project's shared calibration set (55 rows, TensorRT-LLM, NIM and
  llama.cpp), copied byte for byte from `/work/shared/calibration/`;
- `extra_published.csv`: further published measurements gathered as held-out data (Gaudi 3,
  MI300X with vLLM, B200 FP4, MLPerf, older TensorRT-LLM tables), each row with its source URL;
- `split_published.csv`: published measurements added on 2026-12-02 for the weak families
  (Blackwell FP4, MoE with attention data + expert parallelism), split like the shared file but
  by configuration (rule 4).

Rule (fixed before any error was looked at, reproducible, never by error):

1. Every row of `extra_published.csv` goes to the generalization file: those hardware families and
   engines stay truly unseen by the fit.
2. A row of `published_benchmarks.csv` goes to the generalization file when its *experiment* hashes
   into the held-out third: h = int(sha256("perf-split-v1|" + key)[:8], 16) / 2^32 < 1/3, where
   key joins the columns that identify one measured run (source_url, model, gpu, num_gpus,
   tensor_parallel, precision, framework, scenario, input_len, output_len, concurrency_or_batch).
   All metrics of one run (its TTFT, ITL and throughput) therefore land on the same side.
3. A row of `split_published.csv` goes to the generalization file when its *configuration*
   hashes into the held-out third: h = int(sha256("perf-split-v2|" + key)[:8], 16) / 2^32 < 1/3
   with key = (source_url, model, gpu, num_gpus, tensor_parallel, precision, framework), so all
   sequence lengths of one configuration land on the same side (1000/1000 and 1024/1024 of one
   configuration are nearly the same experiment and must not straddle the split).
4. Everything else is the calibration file, the only data `optimizer perf calibrate` fits on.
   Row order: shared calibration rows, then split-file calibration rows; shared held-out rows,
   the extra rows, then split-file held-out rows.

Outputs: `calibration_set.csv` and `generalization_set.csv` (same header contract; rows keep
their input order). `--check` verifies the shipped files equal a fresh split (the test suite does
the same).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from optimizer.perf.benchmarks import HEADER

SALT = "perf-split-v1"
HELD_OUT_FRACTION = 1.0 / 3.0
KEY_COLUMNS: tuple[str, ...] = (
    "source_url",
    "model",
    "gpu",
    "num_gpus",
    "tensor_parallel",
    "precision",
    "framework",
    "scenario",
    "input_len",
    "output_len",
    "concurrency_or_batch",
)
CONFIG_SALT = "perf-split-v2"
CONFIG_KEY_COLUMNS: tuple[str, ...] = (
    "source_url",
    "model",
    "gpu",
    "num_gpus",
    "tensor_parallel",
    "precision",
    "framework",
)
SHARED_FILE = "published_benchmarks.csv"
EXTRA_FILE = "extra_published.csv"
SPLIT_FILE = "split_published.csv"
CALIBRATION_SET = "calibration_set.csv"
GENERALIZATION_SET = "generalization_set.csv"


def data_dir() -> Path:
    return Path(str(resources.files("optimizer.perf").joinpath("data")))


def experiment_fraction(row: dict[str, str]) -> float:
    """Position of a row's experiment in [0, 1): int(sha256(SALT | key)[:8], 16) / 2^32."""
    key = "|".join([SALT, *(row[c].strip() for c in KEY_COLUMNS)])
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def configuration_fraction(row: dict[str, str]) -> float:
    """Position of a row's configuration in [0, 1): int(sha256(CONFIG_SALT | key)[:8], 16) / 2^32."""
    key = "|".join([CONFIG_SALT, *(row[c].strip() for c in CONFIG_KEY_COLUMNS)])
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def _records(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != HEADER:
        raise ValueError("unexpected header (see optimizer/perf/benchmarks.py HEADER)")
    return list(reader)


def _render(rows: Sequence[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(HEADER), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def split(shared_text: str, extra_text: str, split_text: str | None = None) -> tuple[str, str]:
    """(calibration CSV text, generalization CSV text) by the module's rule."""
    shared = _records(shared_text)
    extra = _records(extra_text)
    added = _records(split_text) if split_text is not None else []
    calib = [r for r in shared if experiment_fraction(r) >= HELD_OUT_FRACTION]
    held = [r for r in shared if experiment_fraction(r) < HELD_OUT_FRACTION]
    added_calib = [r for r in added if configuration_fraction(r) >= HELD_OUT_FRACTION]
    added_held = [r for r in added if configuration_fraction(r) < HELD_OUT_FRACTION]
    return _render(calib + added_calib), _render(held + extra + added_held)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m optimizer.perf.split", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify the shipped split, write nothing")
    args = ap.parse_args(argv)
    d = data_dir()
    cal, gen = split(
        (d / SHARED_FILE).read_text(encoding="utf-8"),
        (d / EXTRA_FILE).read_text(encoding="utf-8"),
        (d / SPLIT_FILE).read_text(encoding="utf-8"),
    )
    if args.check:
        ok = (d / CALIBRATION_SET).read_text(encoding="utf-8") == cal and (d / GENERALIZATION_SET).read_text(
            encoding="utf-8"
        ) == gen
        print(
            "split is up to date" if ok else "split is stale: run python -m optimizer.perf.split",
            file=sys.stderr,
        )
        return 0 if ok else 1
    (d / CALIBRATION_SET).write_text(cal, encoding="utf-8")
    (d / GENERALIZATION_SET).write_text(gen, encoding="utf-8")
    n_cal, n_gen = cal.count("\n") - 1, gen.count("\n") - 1
    print(
        f"wrote {d / CALIBRATION_SET} ({n_cal} rows) and {d / GENERALIZATION_SET} ({n_gen} rows)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
