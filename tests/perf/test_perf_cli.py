"""`optimizer perf ...` end to end through optimizer.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.perf.benchmarks import HEADER

DATA = Path(__file__).resolve().parents[2] / "optimizer" / "perf" / "data" / "published_benchmarks.csv"

PREDICT = [
    "perf",
    "predict",
    "--model",
    "Llama-3.1-70B",
    "--gpu",
    "H100",
    "--precision",
    "fp8",
    "--tp",
    "2",
    "--input-tokens",
    "1000",
    "--output-tokens",
    "300",
]


def test_predict_prints_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*PREDICT, "--ttft-ms", "500", "--tpot-ms", "40"]) == 0
    out = capsys.readouterr().out
    for text in ("memory per GPU", "weights", "max batch", "TTFT", "TPOT", "output tokens/s"):
        assert text in out


@pytest.mark.parametrize(
    "load",
    [
        [],
        ["--concurrency", "16"],
        ["--batch", "32"],
        ["--batch", "8", "--static"],
        ["--qps", "1.5"],
        ["--ttft-ms", "800"],
    ],
)
def test_predict_json(load: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*PREDICT, *load, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in (
        "fits",
        "max_batch",
        "batch",
        "ttft_ms",
        "tpot_ms",
        "requests_per_s",
        "output_tokens_per_s",
        "weights_gb_per_gpu",
        "kv_gb_per_gpu",
        "memory_gb_per_gpu",
        "mode",
    ):
        assert key in doc
    assert doc["fits"] is True and doc["requests_per_s"] > 0


def test_predict_not_fitting_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "perf",
        "predict",
        "--model",
        "Llama-3.1-405B",
        "--gpu",
        "L4",
        "--precision",
        "bf16",
        "--input-tokens",
        "10",
        "--output-tokens",
        "10",
        "--json",
    ]
    assert main(args) == 3  # infeasible: the document still says why, stderr says how to fix it
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["fits"] is False and doc["reason"] and doc["requests_per_s"] == 0
    assert "does not fit" in captured.err and "--tp" in captured.err


@pytest.mark.parametrize(
    "bad",
    [
        [
            "perf",
            "predict",
            "--model",
            "NoSuchModel",
            "--gpu",
            "H100",
            "--precision",
            "fp8",
            "--input-tokens",
            "1",
            "--output-tokens",
            "1",
        ],
        [*PREDICT, "--concurrency", "4", "--ttft-ms", "100"],
        [*PREDICT, "--static"],
        [*PREDICT, "--concurrency", "4", "--qps", "2"],
        [*PREDICT[:-1], "-5"],
    ],
)
def test_predict_invalid_input_exits_2(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(bad) == 2
    capsys.readouterr()


def test_validate_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "validate", "--benchmarks", str(DATA)]) == 0
    out = capsys.readouterr().out
    assert "median APE" in out and "output_tokens_per_s_total" in out and "scored 55 of 55" in out
    assert "by hardware family" in out and "by engine" in out


def test_validate_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "validate", "--benchmarks", str(DATA), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"rows", "summary", "by_class", "by_family", "by_engine", "scored", "skipped"}
    assert doc["skipped"] == 0 and doc["scored"] == len(doc["rows"])
    assert [r["row"] for r in doc["rows"]] == list(range(55))
    for r in doc["rows"]:
        assert isinstance(r["row"], int) and isinstance(r["metric"], str)
        assert isinstance(r["measured"], float)
        assert r["predicted"] is None or isinstance(r["predicted"], float)
        assert r["skipped"] is None or isinstance(r["skipped"], str)
        assert (r["predicted"] is None) == (r["skipped"] is not None)
    for metric, s in doc["summary"].items():
        assert metric in {
            "output_tokens_per_s_total",
            "output_tokens_per_s_per_gpu",
            "total_tokens_per_s",
            "ttft_ms",
            "itl_ms",
            "e2e_latency_ms",
            "requests_per_s",
        }
        assert set(s) == {"count", "median_ape_pct", "mean_ape_pct", "worst_ape_pct"}
        assert isinstance(s["count"], int)
        assert all(isinstance(s[k], float) for k in ("median_ape_pct", "mean_ape_pct", "worst_ape_pct"))


def test_validate_skips_unknown_gpu_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "b.csv"
    row = {h: "" for h in HEADER}
    row.update(
        model="Llama-3.1-8B",
        gpu="Mystery-9000",
        num_gpus="1",
        tensor_parallel="1",
        precision="FP8",
        scenario="offline_max_throughput",
        input_len="128",
        output_len="128",
        metric="output_tokens_per_s_total",
        value="100",
    )
    f.write_text(",".join(HEADER) + "\n" + ",".join(row[h] for h in HEADER) + "\n", encoding="utf-8")
    assert main(["perf", "validate", "--benchmarks", str(f), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows"][0]["predicted"] is None and "unknown GPU" in doc["rows"][0]["skipped"]
    assert doc["summary"] == {}


@pytest.mark.parametrize(
    "content", ["not,the,header\n1,2,3\n", ",".join(HEADER) + "\n" + ",".join(["x"] * len(HEADER)) + "\n", ""]
)
def test_validate_malformed_csv_exits_2_without_traceback(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    assert main(["perf", "validate", "--benchmarks", str(f)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_validate_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "validate", "--benchmarks", "/nonexistent/file.csv"]) == 2
    assert "cannot read" in capsys.readouterr().err


def _small_csv(tmp_path: Path) -> Path:
    """Three llama.cpp batch-1 rows of the shared file: a fit over them takes about a second."""
    lines = DATA.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "small.csv"
    path.write_text("\n".join([lines[0], *lines[46:49]]) + "\n", encoding="utf-8")
    return path


def test_calibrate_without_a_destination_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "calibrate"]) == 2
    assert "--replace-shipped" in capsys.readouterr().err


def test_calibrate_refuses_the_shipped_file_without_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = DATA.parent / "calibration.yaml"
    before = shipped.read_bytes()
    assert main(["perf", "calibrate", "--out", str(shipped)]) == 2
    assert "--replace-shipped" in capsys.readouterr().err
    assert shipped.read_bytes() == before


def test_calibrate_writes_to_out_with_progress_on_stderr(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    out = tmp_path / "fit.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "perf",
            "calibrate",
            "--data",
            str(_small_csv(tmp_path)),
            "--out",
            str(out),
            "--date",
            "2000-01-01",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sweep 1" in proc.stderr and f"wrote {out}" in proc.stderr
    assert "sweep" not in proc.stdout
    printed = yaml.safe_load(proc.stdout)
    assert set(printed) == {"global", "families", "engines", "residuals"}
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["fit_date"] == "2000-01-01" and doc["rows_total"] == 3
    # the written file is a usable parameter set for validate
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "perf", "validate", "--params", str(out), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    both = json.loads(proc.stdout)
    assert set(both) == {"calibration", "generalization"}
    assert all(both[k]["skipped"] == 0 for k in both)


def test_validate_markdown_lists_every_row_of_both_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "validate", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "### calibration" in out and "### generalization" in out
    assert out.count("Scored 65 of 65 rows.") == 1 and "Scored 49 of 49 rows." in out
    assert "| hardware family |" in out and "| engine |" in out
