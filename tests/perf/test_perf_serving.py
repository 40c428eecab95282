"""Operating points: monotonicity in batch, closed/open loop consistency, static batching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.perf._examples import BF16, FP8, H100_SXM, LLAMA_3_1_8B, LLAMA_3_1_70B, MIXTRAL_8X7B
from optimizer.perf.params import default_params
from optimizer.perf.serving import Server, md1_wait_s
from optimizer.perf.step import Replica
from optimizer.perf.workload import text_work


def _server(model=LLAMA_3_1_70B, prec=FP8, tp=2, i=1000.0, o=300.0) -> Server:  # type: ignore[no-untyped-def]
    return Server(Replica(model, H100_SXM, prec, tp, default_params()), text_work(model, i, o))


@settings(max_examples=60, deadline=None)
@given(
    b1=st.floats(min_value=0.5, max_value=2000.0),
    b2=st.floats(min_value=0.5, max_value=2000.0),
    i=st.floats(min_value=1.0, max_value=16000.0),
    o=st.floats(min_value=1.0, max_value=4000.0),
    case=st.sampled_from([(LLAMA_3_1_8B, BF16, 1), (LLAMA_3_1_70B, FP8, 2), (MIXTRAL_8X7B, FP8, 2)]),
)
def test_throughput_rises_and_tpot_does_not_fall_as_batch_grows(b1, b2, i, o, case) -> None:  # type: ignore[no-untyped-def]
    lo, hi = sorted((b1, b2))
    model, prec, tp = case
    s = _server(model, prec, tp, i, o)
    p_lo, p_hi = s.steady(lo), s.steady(hi)
    # flat (to 1e-6) once prefill-bound; never meaningfully lower
    assert p_hi.output_tokens_per_s >= p_lo.output_tokens_per_s * (1 - 1e-6)
    assert p_hi.tpot_s >= p_lo.tpot_s * (1 - 1e-9)


def test_md1_wait() -> None:
    assert md1_wait_s(0.0, 1.0) == 0.0
    assert md1_wait_s(0.5, 0.2) == pytest.approx(0.1)
    assert md1_wait_s(1.0, 0.2) == float("inf")


def test_single_client_sees_prefill_alone_and_pure_decode() -> None:
    s = _server()
    p = s.closed_loop(1)
    assert p.ttft_s == pytest.approx(s.prefill_alone_s, rel=1e-6)
    assert p.tpot_s == pytest.approx(s.round_s(p.batch, 0.0), rel=1e-6)
    assert p.output_tokens_per_s == pytest.approx(300 / (p.ttft_s + 299 * p.tpot_s), rel=1e-6)


def test_closed_loop_beyond_memory_queues_in_ttft() -> None:
    s = _server(i=5000, o=500)
    cap = s.max_batch
    inside = s.closed_loop(cap)
    beyond = s.closed_loop(cap * 3)
    assert beyond.output_tokens_per_s == pytest.approx(s.max_throughput().output_tokens_per_s)
    assert beyond.ttft_s > inside.ttft_s * 2


def test_at_rate_inverts_the_steady_state_and_flags_overload() -> None:
    s = _server()
    target = 0.5 * s.max_throughput().requests_per_s
    p = s.at_rate(target)
    assert p.requests_per_s == pytest.approx(target, rel=1e-6)
    assert not p.overloaded
    over = s.at_rate(10 * s.max_throughput().requests_per_s)
    assert over.overloaded and over.ttft_s == float("inf")


def test_ttft_grows_with_load() -> None:
    s = _server()
    top = s.max_throughput().requests_per_s
    assert s.at_rate(0.1 * top).ttft_s < s.at_rate(0.8 * top).ttft_s


def test_static_batch_prefills_then_decodes_together() -> None:
    s = _server(i=128, o=128)
    one, many = s.static_batch(1), s.static_batch(64)
    assert many.e2e_s > one.e2e_s
    assert many.output_tokens_per_s > 10 * one.output_tokens_per_s
    assert one.e2e_s == pytest.approx(one.ttft_s + 127 * one.tpot_s)


def test_best_meeting_respects_targets() -> None:
    s = _server()
    p = s.best_meeting(0.5, 0.040)
    assert p is not None
    assert p.ttft_s <= 0.5 + 1e-9 and p.tpot_s <= 0.040 + 1e-9
    assert s.best_meeting(0.001, None) is None
