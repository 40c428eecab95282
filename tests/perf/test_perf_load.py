"""Serving under load: queueing TTFT, TPOT tails, SLO percentiles, length distributions."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.perf._examples import BF16, FP8, H100_SXM, LLAMA_3_1_8B, LLAMA_3_1_70B, MIXTRAL_8X7B
from optimizer.perf.capacity import Shape, replica_capacity, tpot_ms_at, ttft_ms_at
from optimizer.perf.params import default_params
from optimizer.perf.serving import Server, admission_wait_s, erlang_c
from optimizer.perf.step import Replica
from optimizer.perf.workload import text_work

CASES = [(LLAMA_3_1_8B, BF16, 1), (LLAMA_3_1_70B, FP8, 2), (MIXTRAL_8X7B, FP8, 2)]


def _server(model=LLAMA_3_1_70B, prec=FP8, tp=2, i=1000.0, o=300.0, dist="fixed") -> Server:  # type: ignore[no-untyped-def]
    return Server(Replica(model, H100_SXM, prec, tp, default_params()), text_work(model, i, o, dist))


def test_erlang_c_matches_known_values_and_the_large_c_limit() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(10, 10.0) == 1.0 and erlang_c(10, 0.0) == 0.0
    # Halfin-Whitt beyond 200 servers joins the exact value continuously (within a few %)
    assert erlang_c(201, 190.0) == pytest.approx(erlang_c(200, 190.0 * 200 / 201), rel=0.1)
    assert admission_wait_s(10, 10, 1.0)[0] == math.inf


@settings(max_examples=40, deadline=None)
@given(
    u1=st.floats(min_value=0.05, max_value=0.995),
    u2=st.floats(min_value=0.05, max_value=0.995),
    i=st.floats(min_value=16.0, max_value=8000.0),
    o=st.floats(min_value=16.0, max_value=2000.0),
    case=st.sampled_from(CASES),
)
def test_ttft_rises_with_utilization(u1, u2, i, o, case) -> None:  # type: ignore[no-untyped-def]
    """TTFT never falls as utilisation rises, at the mean and at p90 / p99 alike (the prefill
    queue's load is the arrival rate x a prompt's prefill compute time, monotone in load; 1e-9 is
    floating-point noise of the rate bisection, not an allowance)."""
    model, prec, tp = case
    s = _server(model, prec, tp, i, o)
    top = s.max_throughput().requests_per_s
    lo, hi = sorted((u1, u2))
    a, b = s.at_rate(lo * top), s.at_rate(hi * top)
    for p in ("mean", "p90", "p99"):
        assert b.ttft_at(p) >= a.ttft_at(p) * (1 - 1e-9), (p, lo, hi)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=["llama8b", "llama70b", "mixtral"])
@pytest.mark.parametrize(("i", "o"), [(16.0, 64.0), (16.0, 300.0), (4000.0, 300.0)])
def test_tail_ttft_is_monotone_on_a_fine_load_sweep(case, i, o) -> None:  # type: ignore[no-untyped-def]
    """Every statistic of TTFT rises with load on a sweep in 0.5 % steps, including the former MoE
    low-load dip: while the prefill queue's load was the prefill share of a round, Mixtral 8x7B FP8
    TP2 with 16-token prompts and 64-token outputs had p99 TTFT fall 2.3 % between 2.0 % and 2.2 %
    utilisation (that formula fails this test)."""
    model, prec, tp = case
    s = _server(model, prec, tp, i, o)
    top = s.max_throughput().requests_per_s
    points = [s.at_rate(u / 200.0 * top) for u in range(1, 200)]
    for p in ("mean", "p90", "p99"):
        values = [pt.ttft_at(p) for pt in points]  # type: ignore[arg-type]
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(values)), p


def test_ttft_rises_sharply_near_saturation() -> None:
    s = _server(LLAMA_3_1_8B, BF16, 1, 1000.0, 300.0)
    top = s.max_throughput().requests_per_s
    half, near = s.at_rate(0.5 * top), s.at_rate(0.999 * top)
    assert near.ttft_s > 3.0 * half.ttft_s
    assert near.admission_wait_s > 0.0 and math.isinf(s.max_throughput().ttft_s)


@settings(max_examples=40, deadline=None)
@given(
    b=st.floats(min_value=0.5, max_value=1500.0),
    i=st.floats(min_value=1.0, max_value=8000.0),
    o=st.floats(min_value=2.0, max_value=2000.0),
    case=st.sampled_from(CASES),
)
def test_tail_latencies_are_ordered(b, i, o, case) -> None:  # type: ignore[no-untyped-def]
    model, prec, tp = case
    pt = _server(model, prec, tp, i, o).steady(b)
    assert pt.tpot_at("p99") >= pt.tpot_at("p90") >= pt.tpot_s
    assert pt.ttft_at("p99") >= pt.ttft_at("p90") >= pt.ttft_s * (1 - 1e-9) or math.isinf(pt.ttft_s)


def test_prefill_chunks_make_the_tpot_tail_heavier() -> None:
    """Long prompts (prefill interference) spread TPOT more than short ones at the same batch."""
    long_p = _server(LLAMA_3_1_8B, BF16, 1, 4000.0, 200.0).steady(32)
    short_p = _server(LLAMA_3_1_8B, BF16, 1, 50.0, 200.0).steady(32)
    assert long_p.tpot_at("p99") / long_p.tpot_s > short_p.tpot_at("p99") / short_p.tpot_s


def test_percentile_targets_give_less_capacity_than_mean_targets() -> None:
    shape = Shape(1000, 300)
    caps = {
        p: replica_capacity(LLAMA_3_1_70B, H100_SXM, FP8, 2, shape, 800, 40, percentile=p)  # type: ignore[arg-type]
        for p in ("mean", "p90", "p99")
    }
    assert caps["mean"].requests_per_s >= caps["p90"].requests_per_s >= caps["p99"].requests_per_s > 0
    for p, c in caps.items():
        assert c.percentile == p
        assert ttft_ms_at(c, p) == c.ttft_ms <= 800 + 1e-6  # type: ignore[arg-type]
        assert tpot_ms_at(c, p) == c.tpot_ms <= 40 + 1e-6  # type: ignore[arg-type]
        assert c.tpot_p99_ms >= c.tpot_mean_ms


def test_a_ttft_target_keeps_the_operating_point_below_the_offline_maximum() -> None:
    shape = Shape(1000, 300)
    offline = replica_capacity(LLAMA_3_1_8B, H100_SXM, BF16, 1, shape, None, None)
    served = replica_capacity(LLAMA_3_1_8B, H100_SXM, BF16, 1, shape, 5000, None)
    assert math.isfinite(offline.ttft_ms)  # reported once admitted
    assert 0 < served.requests_per_s < offline.requests_per_s


def test_continuous_batching_beats_static_by_1_5x_with_exponential_lengths() -> None:
    """Output lengths exponential, mean 256: a static batch idles its finished slots until its
    longest member ends; continuous batching refills them."""
    for model, prec, tp in CASES:
        s = _server(model, prec, tp, 512.0, 256.0, "exponential")
        cont = s.max_throughput().output_tokens_per_s
        static = s.static_batch(s.max_batch_static).output_tokens_per_s
        assert cont >= 1.5 * static, (model.id, cont, static)
        fixed = _server(model, prec, tp, 512.0, 256.0)
        # with equal lengths the gap is small (only KV reservation and prefill overlap differ)
        assert (
            fixed.max_throughput().output_tokens_per_s
            < 1.5 * fixed.static_batch(fixed.max_batch_static).output_tokens_per_s * 1.5
        )


def test_exponential_lengths_hold_more_kv_per_running_sequence() -> None:
    fixed = _server(LLAMA_3_1_8B, BF16, 1, 512.0, 256.0)
    expo = _server(LLAMA_3_1_8B, BF16, 1, 512.0, 256.0, "exponential")
    assert expo.max_batch < fixed.max_batch
    assert expo.work.kv_tokens_mean == 512.0 + 256.0
