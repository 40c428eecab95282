"""One explicit operating point per deployment: throughput-bound (the largest batch, stopped by memory,
the engine's sequence cap or token budget) or latency-bound (a TTFT or TPOT target stops it), chosen
as the largest batch meeting the SLO, and reported with every metric at that point."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import DATA
from shipped_plans import SHIPPED_IDS, shipped_plan

from optimizer.candidates import build_candidates
from optimizer.catalog import default_catalog
from optimizer.cli import main
from optimizer.loading.problem_file import load_problem
from optimizer.perf import Capacity, Shape, default_params, replica_capacity
from optimizer.perf.capacity import operating_regime
from optimizer.perf.engines import ENGINES, with_engine
from optimizer.report import write_plan

CAT = default_catalog()


def _cap(
    model: str, gpu: str, prec: str, tp: int, ttft: float | None, tpot: float | None, engine: str
) -> Capacity:
    params = with_engine(default_params(), ENGINES[engine])
    return replica_capacity(
        CAT.model(model), CAT.gpu(gpu), CAT.precision(prec), tp, Shape(1000, 200), ttft, tpot, params=params
    )


@pytest.mark.parametrize(
    ("args", "regime", "bound"),
    [
        (("llama_3_1_8b", "h100_sxm", "fp8", 1, None, None, "vllm"), "throughput_bound", "max_num_seqs"),
        (("llama_3_1_70b", "h100_sxm", "fp8", 1, None, None, "trtllm"), "throughput_bound", "memory"),
        (("llama_3_1_8b", "h100_sxm", "fp8", 1, 150.0, None, "vllm"), "latency_bound", "ttft"),
        (("llama_3_1_8b", "h100_sxm", "fp8", 1, None, 12.0, "vllm"), "latency_bound", "tpot"),
    ],
)
def test_operating_regime_names_what_stops_the_batch(
    args: tuple[str, str, str, int, float | None, float | None, str], regime: str, bound: str
) -> None:
    cap = _cap(*args)
    assert cap.requests_per_s > 0
    assert operating_regime(cap, args[4], args[5]) == (regime, bound)
    if regime == "throughput_bound":
        assert cap.batch == cap.max_batch
    else:
        assert cap.batch <= cap.max_batch and cap.running < cap.max_batch
        value, target = (cap.ttft_ms, args[4]) if bound == "ttft" else (cap.tpot_ms, args[5])
        assert value == pytest.approx(target, rel=1e-6)  # the binding target is met with no slack


def test_every_candidate_point_is_the_largest_batch_meeting_the_slo(tmp_path: Path) -> None:
    doc = yaml.safe_load((DATA / "small.yaml").read_text(encoding="utf-8"))
    doc["workloads"][1]["slo"] = {"tpot_ms": 1000}  # no TTFT target: throughput-bound points
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    loaded = load_problem(path)
    cs = build_candidates(loaded.problem, loaded.catalog, prune=False)
    targets = {w.id: w.slo for w in loaded.problem.workloads}
    seen = set()
    for c in cs.info.values():
        p = c.point
        assert p is not None and not c.measured
        seen.add((p.regime, p.bound_by))
        assert p.ttft_mean_ms <= p.ttft_p90_ms <= p.ttft_p99_ms
        assert p.tpot_mean_ms <= p.tpot_p90_ms <= p.tpot_p99_ms
        assert p.running <= c.batch <= c.engine_max_num_seqs
        assert c.ttft_ms == pytest.approx(p.ttft_mean_ms) and c.tpot_ms == pytest.approx(p.tpot_mean_ms)
        slo = targets[c.workload]
        if p.bound_by == "ttft":
            assert c.ttft_budget_ms is not None and c.ttft_ms == pytest.approx(c.ttft_budget_ms, rel=1e-6)
        elif p.bound_by == "tpot":
            assert slo.tpot_ms is not None and c.tpot_ms == pytest.approx(slo.tpot_ms, rel=1e-6)
        else:
            assert p.regime == "throughput_bound" and c.batch == c.max_batch
            assert c.ttft_budget_ms is None or c.ttft_ms <= c.ttft_budget_ms
    assert {r for r, _ in seen} == {"throughput_bound", "latency_bound"}


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_every_shipped_deployment_reports_its_operating_point(name: str) -> None:
    plan = shipped_plan(name)
    for d in plan.deployments:
        op = d.predicted.operating_point
        assert op is not None, d.candidate
        assert op.ttft_mean_ms <= op.ttft_p90_ms <= op.ttft_p99_ms
        assert op.tpot_mean_ms <= op.tpot_p90_ms <= op.tpot_p99_ms
        assert op.running_sequences <= d.engine.max_num_seqs
        assert op.e2e_ms >= op.ttft_mean_ms
        assert (op.regime == "latency_bound") == (op.bound_by in ("ttft", "tpot"))
    for e in plan.explanations:
        assert e.chosen.regime is not None and e.chosen.bound_by is not None


def test_explain_shows_the_chosen_operating_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = shipped_plan("chat_assistant")
    path = tmp_path / "plan.yaml"
    write_plan(plan, path)
    capsys.readouterr()
    assert main(["explain", str(path)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    op = plan.deployments[0].predicted.operating_point
    assert op is not None
    assert f"chosen operating point: {op.regime.replace('_', '-')} ({op.bound_by})" in text
    assert "running sequences; TTFT mean/p90/p99" in text
