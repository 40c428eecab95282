"""A measured configuration never plans more running sequences than fit, and a measurement for a
configuration whose weights cannot fit is refused with a reason."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from optimizer.check import check_plan
from optimizer.cli import main
from optimizer.pipeline import SolveOptions, solve_file

KA01 = Path(__file__).resolve().parent / "known_answers" / "problems" / "ka01_single_on_demand.yaml"


def _variant(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = KA01.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_measured_batch_is_capped_at_the_kv_fit_maximum(tmp_path: Path) -> None:
    """20,000 tok/s at TPOT 90 ms, TTFT 200 ms, 250 output tokens: rate 80 req/s, Little's law
    80 x (0.2 + 249 x 0.09) = 1,808.8 -> 1,809 sequences in flight, more than the KV cache of an 8B
    BF16 replica on one H100 holds (and than the engine's max_num_seqs). The plan used to say batch
    1,809 and `--max-num-seqs 1809` above max_batch; now both are the smaller limit, and the measured
    capacity stays."""
    path = _variant(
        tmp_path,
        "big_batch",
        ("output_tokens_per_s_per_replica: 2000", "output_tokens_per_s_per_replica: 20000"),
        ("tpot_ms: 30}", "tpot_ms: 90}"),
    )
    plan = solve_file(path, SolveOptions(baselines=False)).plan
    (d,) = plan.deployments
    little = math.ceil(80 * (0.2 + 249 * 0.09))
    assert little == 1809 > d.predicted.max_batch >= 1
    assert d.predicted.batch == d.predicted.max_batch == d.engine.max_num_seqs
    assert d.predicted.capacity_rps == pytest.approx(80.0)  # the measurement still sets capacity
    assert check_plan(plan) == []


def test_checker_catches_batch_above_max_batch(tmp_path: Path) -> None:
    plan = solve_file(KA01, SolveOptions(baselines=False)).plan
    (d,) = plan.deployments
    over = d.predicted.max_batch + 1
    bad = d.model_copy(
        update={
            "predicted": d.predicted.model_copy(update={"batch": over}),
            "engine": d.engine.model_copy(update={"max_num_seqs": over}),
        }
    )
    msgs = check_plan(plan.model_copy(update={"deployments": [bad]}))
    assert any(m.startswith("engine:") and "outside [1, max_batch" in m for m in msgs), msgs


def test_measurement_whose_weights_cannot_fit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """70B at BF16 is 141 GB of weights; one 24 GB L4 cannot hold them, whatever was measured. It
    used to be admitted (memory 144 GB per GPU in the plan); now the problem is infeasible (exit 3)
    and the diagnosis says why."""
    path = _variant(
        tmp_path,
        "no_fit",
        ("gpu: h100_sxm", "gpu: l4"),
        ("model: llama_3_1_8b", "model: llama_3_1_70b"),
    )
    path.write_text(path.read_text().replace("{gpu: h100_sxm,", "{gpu: l4,"))
    capsys.readouterr()
    assert main(["solve", str(path), "-q"]) == 3
    err = capsys.readouterr().err
    assert "weights alone take 141.1 GB per GPU, more than the 24 GB of l4" in err, err


def test_measured_alternative_with_too_short_a_context_is_refused(tmp_path: Path) -> None:
    """6,250-token requests; the alternative llama_2_7b (context 4,096) is measured at 20,000 tok/s,
    ten times ka01's 8B, so it would win: 1 replica instead of 11. It cannot take a single one of
    these requests, so the plan keeps ka01's answer, 11 x $2.50 x 730 = $20,075."""
    measured_7b = (
        "\n      - {model: llama_2_7b, gpu: h100_sxm, precision: bf16, tensor_parallel: 1,"
        " output_tokens_per_s_per_replica: 20000, ttft_ms: 200, tpot_ms: 30}"
    )
    path = _variant(
        tmp_path,
        "short_context_alternative",
        ("input_tokens: 500,", "input_tokens: 6000,"),
        (
            "    precisions: [bf16]",
            "    alternatives:\n      - {model: llama_2_7b, max_share: 1.0}\n    precisions: [bf16]",
        ),
        ("         ttft_ms: 200, tpot_ms: 30}", "         ttft_ms: 200, tpot_ms: 30}" + measured_7b),
    )
    plan = solve_file(path, SolveOptions(baselines=False)).plan
    assert {d.model for d in plan.deployments} == {"llama_3_1_8b"}
    assert plan.monthly_cost_usd == pytest.approx(11 * 2.5 * 730)
