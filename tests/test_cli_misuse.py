"""Command-line misuse and dead ends: each gives a clear message on stderr and the documented exit
code (0 ok, 1 not proven optimal, 2 invalid input, 3 infeasible, 4 internal), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optimizer.cli import main

PREDICT = ["perf", "predict", "--gpu", "h100_sxm", "--precision", "bf16", "--input-tokens", "500"]


@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_perf_predict_not_fitting_exits_3(capsys: pytest.CaptureFixture[str], fmt: list[str]) -> None:
    """70B at BF16 on one 24 GB L4: 141 GB of weights cannot fit; exit 3 (it used to exit 0)."""
    capsys.readouterr()
    argv = ["perf", "predict", "--model", "llama_3_1_70b", "--gpu", "l4", "--precision", "bf16"]
    assert main([*argv, "--input-tokens", "500", "--output-tokens", "200", *fmt]) == 3
    captured = capsys.readouterr()
    assert "infeasible: llama_3_1_70b on 1 x l4 at bf16 does not fit: weights 141.1 GB" in captured.err
    assert "--tp" in captured.err
    if fmt:
        assert json.loads(captured.out)["fits"] is False
    else:
        assert "weights" in captured.out  # the memory table still shows where the memory goes


def test_perf_predict_unreachable_targets_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    """A TPOT target of 1 ms is below an idle replica's step time: no capacity, exit 3."""
    capsys.readouterr()
    argv = [*PREDICT, "--model", "llama_3_1_8b", "--output-tokens", "200", "--ttft-ms", "1", "--tpot-ms", "1"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "has no capacity: cannot meet targets" in err and "relax --ttft-ms/--tpot-ms" in err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--input-tokens", "500", "--output-tokens", "inf"], "--output-tokens must be a finite number"),
        (["--input-tokens", "nan", "--output-tokens", "100"], "--input-tokens must be a finite number"),
        (["--audio-seconds", "30", "--output-tokens", "100"], "--audio-seconds is only for speech models"),
        (
            [
                "--input-tokens",
                "5",
                "--output-tokens",
                "9",
                "--draft-model",
                "llama_3_2_1b",
                "--draft-tokens",
                "99",
            ],
            "--draft-tokens must be between 1 and 16",
        ),
    ],
)
def test_perf_predict_nonsense_numbers_are_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], fragment: str
) -> None:
    """inf/NaN token counts used to end in `internal error: OverflowError` (exit 4)."""
    capsys.readouterr()
    assert (
        main(
            ["perf", "predict", "--model", "llama_3_1_8b", "--gpu", "h100_sxm", "--precision", "bf16", *extra]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert fragment in err and "internal error" not in err, err


def test_perf_predict_speech_model_needs_audio_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    argv = ["perf", "predict", "--model", "whisper_large_v3", "--gpu", "l4", "--precision", "bf16"]
    assert main([*argv, "--input-tokens", "4", "--output-tokens", "100"]) == 2
    assert "whisper_large_v3 is a speech model: give --audio-seconds" in capsys.readouterr().err


def test_perf_predict_static_batch_beyond_kv_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    """A static batch of a billion sequences was reported as fitting (batch 1e9 > max_batch)."""
    capsys.readouterr()
    argv = [*PREDICT, "--model", "llama_3_1_8b", "--output-tokens", "100", "--batch", "1e9", "--static"]
    assert main(argv) == 3
    assert "a batch of 1,000,000,000 sequences needs more KV cache than fits" in capsys.readouterr().err


def test_perf_predict_unsplittable_tp_gets_no_memory_advice(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main([*PREDICT, "--model", "llama_3_1_8b", "--output-tokens", "100", "--tp", "3"]) == 3
    err = capsys.readouterr().err
    assert "32 attention heads are not divisible by tensor parallel 3" in err and "larger --tp" not in err


def test_perf_predict_that_fits_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main([*PREDICT, "--model", "llama_3_1_8b", "--output-tokens", "200", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["requests_per_s"] > 0 and "infeasible" not in captured.err


KA11 = Path(__file__).resolve().parent / "known_answers" / "problems" / "ka11_max_gpu_types.yaml"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        (["--scale-price", "l40s=0.99"], "the plan uses no l40s GPUs, so"),
        (["--scale-price", "L40S=0.99"], "the plan uses no l40s GPUs, so"),  # an alias
        (["--set", "sites.us_site.offers.l40s.prices.on_demand=0.99"], "uses no l40s GPUs at us_site"),
        (["--set", "sites[0].offers[1].prices.on_demand*=0.9"], "uses no l40s GPUs at us_site"),
    ],
)
def test_price_override_on_a_gpu_the_plan_does_not_use_is_noted(
    capsys: pytest.CaptureFixture[str], override: list[str], fragment: str
) -> None:
    """ka11 serves both workloads on H100s; a 1 % cheaper L40S still loses, so the override changes
    nothing: stderr says so (it used to say nothing), the exit code stays 0."""
    capsys.readouterr()
    assert main(["solve", str(KA11), "-q", *override]) == 0
    err = capsys.readouterr().err
    assert "note: override" in err and fragment in err and "GPU types in the plan: h100_sxm" in err, err


def test_price_override_on_a_used_gpu_has_no_note(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["solve", str(KA11), "-q", "--scale-price", "h100_sxm=0.9"]) == 0
    assert "note: override" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("h100_sxn=0.5", "unknown GPU 'h100_sxn'; did you mean 'h100_sxm'"),
        ("a100_80gb=0.5", "a100_80gb is not offered at any site of this problem (offered: h100_sxm, l40s)"),
    ],
)
def test_price_override_on_an_unknown_or_unoffered_gpu_is_exit_2(
    capsys: pytest.CaptureFixture[str], override: str, fragment: str
) -> None:
    capsys.readouterr()
    assert main(["solve", str(KA11), "-q", "--scale-price", override]) == 2
    assert fragment in capsys.readouterr().err


KA01 = Path(__file__).resolve().parent / "known_answers" / "problems" / "ka01_single_on_demand.yaml"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    assert main(["solve", str(KA01), "-q", "--no-baselines", "-o", str(path)]) == 0
    return path


PLAN_READERS = {
    "plan validate": lambda plan, d: ["plan", "validate", plan],
    "report": lambda plan, d: ["report", plan],
    "explain": lambda plan, d: ["explain", plan],
    "export": lambda plan, d: ["export", plan, "--to", "csv", "--out", str(d / "out")],
    "diff": lambda plan, d: ["diff", plan, plan],
}


@pytest.mark.parametrize("command", PLAN_READERS)
@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: d / "missing.yaml", "missing.yaml: file not found; write one with `optimizer solve"),
        (lambda d: d, "not a regular file (a folder?)"),
        (lambda d: _write(d / "binary.yaml", b"\xff\xfe\x00junk"), "not a text file (not UTF-8)"),
        (lambda d: _write(d / "empty.yaml", b""), "not a plan file (no `kind: fleet_plan`)"),
    ],
    ids=["missing", "folder", "binary", "empty"],
)
def test_plan_readers_name_a_bad_path_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, make: Any, fragment: str
) -> None:
    """Every command reading a plan says what is wrong with the path, without Python's errno text
    (`cannot read plan: [Errno 21] Is a directory: ...` before)."""
    argv = PLAN_READERS[command](str(make(tmp_path)), tmp_path)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Errno" not in err and "Traceback" not in err, err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("out", "fmt", "fragment"),
    [
        ("report.pdf", [], "--out {out}: name the report .html or .md"),
        ("report.md", ["--format", "html"], "--out {out} is a md name but --format is html"),
        ("missing/report.html", [], "--out {out}: folder {parent} does not exist; create it first"),
        ("", [], "--out {out}: is a folder; name a file such as {out}/report.html"),
    ],
)
def test_report_output_name_must_match_its_format(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    plan_file: Path,
    out: str,
    fmt: list[str],
    fragment: str,
) -> None:
    """`report plan.yaml --out report.pdf` used to write HTML into report.pdf silently."""
    target = tmp_path / out
    capsys.readouterr()
    assert main(["report", str(plan_file), "--out", str(target), *fmt]) == 2
    assert fragment.format(out=target, parent=target.parent) in capsys.readouterr().err
    assert not target.exists() or target.is_dir()


@pytest.mark.parametrize("suffix", [".md", ".MD", ".markdown"])
def test_report_markdown_follows_the_name(tmp_path: Path, plan_file: Path, suffix: str) -> None:
    target = tmp_path / f"report{suffix}"
    assert main(["report", str(plan_file), "--out", str(target)]) == 0
    assert target.read_text().startswith("# Fleet plan: ka01_single_on_demand")


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["validate", str(KA01), "--format", "json"], "usage: optimizer validate", "did you mean --json?"),
        (["catalog", "gpus", "--format", "json"], "usage: optimizer catalog gpus", "did you mean --json?"),
        (["plan", "validate", "x.yaml", "--format=json"], "usage: optimizer plan validate", "--json?"),
        (["solve", str(KA01), "--time-limt", "5"], "usage: optimizer solve", "did you mean --time-limit?"),
        (["solve", str(KA01), "second.yaml"], "usage: optimizer solve", ""),
    ],
)
def test_unknown_arguments_show_the_commands_usage_and_a_close_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str, hint: str
) -> None:
    """Unknown flags used to print the top-level usage (`optimizer [-h] [--version] COMMAND`) only."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert usage in err and "unrecognized arguments" in err and hint in err, err


def _tampered(plan_file: Path, tmp_path: Path, edit: Any) -> Path:
    import yaml

    data = yaml.safe_load(plan_file.read_text())
    edit(data)
    path = tmp_path / "tampered.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["routing"][0].update(period="nope"), "routing[0].period: unknown period 'nope'"),
        (lambda d: d["routing"][0].update(site="nope"), "routing[0].site: unknown site 'nope'"),
        (lambda d: d["demand"][0].update(workload="nope"), "demand[0].workload: unknown workload 'nope'"),
        (lambda d: d.update(periods=[]), "periods: a plan lists at least one period"),
        (
            lambda d: d["deployments"][0].update(replicas_by_period={"day": -3}),
            "deployments[0].replicas_by_period.day: must be >= 0 (got -3)",
        ),
        (lambda d: d["routing"][0].update(rps=-1.0), "routing[0].rps: must be a finite number >= 0"),
    ],
    ids=["period", "site", "workload", "no_periods", "negative_replicas", "negative_rps"],
)
@pytest.mark.parametrize("command", PLAN_READERS)
def test_plan_with_dangling_ids_or_negative_counts_is_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    plan_file: Path,
    command: str,
    edit: Any,
    fragment: str,
) -> None:
    """The schema accepts these; `plan validate` used to end in `internal error: KeyError` (exit 4),
    `report` and `export` in a report or manifests of a plan that cannot exist."""
    path = _tampered(plan_file, tmp_path, edit)
    capsys.readouterr()
    assert main(PLAN_READERS[command](str(path), tmp_path)) == 2
    err = capsys.readouterr().err
    assert fragment in err and "internal error" not in err, err


@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_refuse_a_plan_failing_its_recheck(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan_file: Path, command: str
) -> None:
    """One replica fewer than the plan needs: capacity and cost no longer hold; no report or manifests
    are made from it (they were), and the message points at `plan validate`."""

    def fewer(d: dict[str, Any]) -> None:
        dep = d["deployments"][0]
        dep["replicas_by_period"] = {t: n - 1 for t, n in dep["replicas_by_period"].items()}

    path = _tampered(plan_file, tmp_path, fewer)
    capsys.readouterr()
    assert main(PLAN_READERS[command](str(path), tmp_path)) == 2
    err = capsys.readouterr().err
    assert "re-check: capacity:" in err and f"optimizer plan validate {path}" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["validate", "solve"])
@pytest.mark.parametrize(("target", "fragment"), [("nope", "folder not found"), ("file", "not a folder")])
def test_catalog_dir_must_be_an_existing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, target: str, fragment: str
) -> None:
    """A mistyped --catalog-dir was accepted and allowed nothing (the catalog file was then refused as
    outside the problem's folder, with the flag the user had just given as the fix)."""
    path = tmp_path / target
    if target == "file":
        path.write_text("x: 1\n")
    capsys.readouterr()
    assert main([command, str(KA01), "--catalog-dir", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"argument --catalog-dir: {path}: {fragment}" in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "PLAN"],
        ["solve", "PLAN", "-q"],
        ["sweep", "PLAN", "--scale-demand", "1,2", "--out", "OUT"],
    ],
    ids=lambda a: a[0],
)
def test_plan_file_given_as_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan_file: Path, argv: list[str]
) -> None:
    """A plan where a problem is expected: one message naming the mistake (it listed every missing
    problem section and 'schema_version: must be 1 (got 3)')."""
    args = [str(plan_file) if a == "PLAN" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "this is a plan file (it is a plan of problem 'ka01_single_on_demand'), not a problem file" in err
    assert "missing required key" not in err, err
