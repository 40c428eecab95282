"""Command-line misuse and dead ends: each gives a clear message on stderr and the documented exit
code (0 ok, 1 not proven optimal, 2 invalid input, 3 infeasible, 4 internal), never a traceback."""

from __future__ import annotations

import json

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


def test_perf_predict_that_fits_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main([*PREDICT, "--model", "llama_3_1_8b", "--output-tokens", "200", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["requests_per_s"] > 0 and "infeasible" not in captured.err

