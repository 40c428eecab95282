"""Benchmark CSV reading, scenario semantics, skipping, acceptance on the calibration file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from optimizer.errors import InputError
from optimizer.perf.benchmarks import (
    HEADER,
    parse_benchmarks,
    parse_scenario,
)
from optimizer.perf.validation import validate_file, validate_rows

DATA = Path(__file__).resolve().parents[2] / "optimizer" / "perf" / "data" / "published_benchmarks.csv"
CALIBRATION = DATA.parent / "calibration_set.csv"
GENERALIZATION = DATA.parent / "generalization_set.csv"
HEAD = ",".join(HEADER)


def _row(**kw: str) -> str:
    base = {h: "" for h in HEADER}
    base.update(
        model="Llama-3.1-8B",
        gpu="H100-SXM-80GB",
        num_gpus="1",
        tensor_parallel="1",
        precision="FP8",
        scenario="offline_max_throughput",
        input_len="128",
        output_len="2048",
        metric="output_tokens_per_s_total",
        value="20000",
        unit="tokens/s",
    )
    base.update(kw)
    return ",".join(base[h] for h in HEADER)


def test_wrong_header_is_an_input_error() -> None:
    with pytest.raises(InputError, match="expected header"):
        parse_benchmarks("a,b,c\n1,2,3\n")


def test_non_numeric_value_is_an_input_error_naming_the_line() -> None:
    with pytest.raises(InputError) as exc:
        parse_benchmarks(HEAD + "\n" + _row(value="fast") + "\n" + _row(num_gpus="x") + "\n")
    msg = str(exc.value)
    assert ":2:" in msg and ":3:" in msg and "value must be a number" in msg


def test_wrong_column_count_is_an_input_error() -> None:
    with pytest.raises(InputError, match="columns"):
        parse_benchmarks(HEAD + "\n1,2,3\n")


def test_scenario_parsing() -> None:
    assert parse_scenario("online_serving_qps=2") == ("online_serving_qps", 2.0)
    assert parse_scenario("online_serving_qps=inf") == ("online_serving_qps", math.inf)
    assert parse_scenario("mlperf_server") == ("mlperf_server", None)
    assert parse_scenario("online_serving_qps=-1") is None
    assert parse_scenario("whatever") is None


def test_unknown_names_scenarios_and_metrics_are_skipped_with_reasons() -> None:
    text = (
        "\n".join(
            [
                HEAD,
                _row(gpu="TPU-v9"),
                _row(model="GPT-17"),
                _row(precision="INT3-magic"),
                _row(scenario="chaos_monkey"),
                _row(metric="joules"),
                _row(input_len="", output_len="", scenario="offline_max_throughput"),
                _row(),
            ]
        )
        + "\n"
    )
    rep = validate_rows(parse_benchmarks(text))
    reasons = [r.skipped for r in rep.results]
    assert reasons[0] and "unknown GPU" in reasons[0]
    assert reasons[1] and "unknown model" in reasons[1]
    assert reasons[2] and "unknown precision" in reasons[2]
    assert reasons[3] and "unknown scenario" in reasons[3]
    assert reasons[4] and "unknown metric" in reasons[4]
    assert reasons[5] and "lengths" in reasons[5]
    assert reasons[6] is None and rep.results[6].predicted is not None
    assert [r.row.index for r in rep.results] == list(range(7))


def test_every_scenario_kind_is_predicted() -> None:
    rows = [
        _row(),
        _row(scenario="online_serving_qps=2", metric="ttft_ms", value="30"),
        _row(scenario="online_serving_qps=inf"),
        _row(scenario="online_fixed_concurrency", concurrency_or_batch="16", metric="itl_ms", value="10"),
        _row(
            scenario="offline_latency_fixed_batch",
            concurrency_or_batch="8",
            metric="e2e_latency_ms",
            value="9",
        ),
        _row(scenario="static_batch_throughput", concurrency_or_batch="64"),
        _row(scenario="static_batch1_first_token", output_len="1", metric="ttft_ms", value="20"),
        _row(scenario="single_stream_decode", input_len="", output_len="", value="100"),
        _row(
            scenario="prefill_only", input_len="512", output_len="0", metric="total_tokens_per_s", value="1e4"
        ),
        _row(
            scenario="mlperf_offline",
            model="Llama-2-70B",
            num_gpus="8",
            tensor_parallel="",
            input_len="",
            output_len="",
        ),
        _row(
            scenario="mlperf_server",
            model="Llama-2-70B",
            num_gpus="8",
            tensor_parallel="",
            input_len="",
            output_len="",
            metric="output_tokens_per_s_per_gpu",
        ),
        _row(metric="requests_per_s", value="10"),
        _row(metric="total_tokens_per_s"),
    ]
    rep = validate_rows(parse_benchmarks(HEAD + "\n" + "\n".join(rows) + "\n"))
    for r in rep.results:
        assert r.skipped is None, (r.row.scenario, r.skipped)
        assert r.predicted is not None and r.predicted > 0 and math.isfinite(r.predicted)


def test_empty_tensor_parallel_uses_data_parallel_copies() -> None:
    one = _row(
        scenario="mlperf_offline",
        model="Llama-2-70B",
        num_gpus="1",
        tensor_parallel="",
        input_len="",
        output_len="",
        gpu="H200-SXM-141GB",
    )
    eight = _row(
        scenario="mlperf_offline",
        model="Llama-2-70B",
        num_gpus="8",
        tensor_parallel="",
        input_len="",
        output_len="",
        gpu="H200-SXM-141GB",
    )
    rep = validate_rows(parse_benchmarks(HEAD + "\n" + one + "\n" + eight + "\n"))
    a, b = rep.results
    assert a.predicted and b.predicted
    assert b.predicted >= 7.9 * a.predicted  # at least 8 copies of the best single-GPU replica


def test_calibration_file_meets_the_acceptance_bar() -> None:
    """Issue 13 acceptance on the file the parameters were fitted to: every row scored, median APE
    <= 8% on throughput and on latency."""
    rep = validate_file(CALIBRATION)
    assert rep.scored == len(rep.results)
    assert rep.by_class["throughput"].median_ape_pct <= 8.0
    assert rep.by_class["latency"].median_ape_pct <= 8.0


def test_the_whole_shared_file_scores_every_row() -> None:
    rep = validate_file(DATA)
    assert rep.scored == len(rep.results) == 55


def test_generalization_file_scores_every_row() -> None:
    """Never fitted on; a regression guard, not a target (the issue's goal is 12%)."""
    rep = validate_file(GENERALIZATION)
    assert len(rep.results) >= 30
    assert all(r.skipped is None and r.predicted is not None for r in rep.results)
    assert rep.by_class["throughput"].median_ape_pct <= 15.0
    assert rep.by_class["latency"].median_ape_pct <= 15.0
    kinds = {r.row.scenario.split("=")[0] for r in rep.results}
    assert {
        "mlperf_offline",
        "mlperf_server",
        "static_batch_throughput",
        "offline_latency_fixed_batch",
        "static_batch1_first_token",
    } <= kinds
    assert "e2e_latency_ms" in {r.row.metric for r in rep.results}
    gpus = {r.row.gpu for r in rep.results}
    assert {"B200", "MI300X", "Gaudi 3"} <= gpus
