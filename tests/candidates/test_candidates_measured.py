"""Measurements replace the model: a measured configuration is admitted on its measured figures even
where the model rejects it, and the model's own estimate is carried beside it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DATA

from optimizer.candidates import build_candidates
from optimizer.cli import main
from optimizer.errors import InfeasibleError
from optimizer.loading.problem_file import load_problem
from optimizer.schema.plan import Plan
from optimizer.schema.problem import MeasuredThroughput

L4_PROBLEM: dict[str, Any] = {
    "schema_version": 1,
    "name": "l4_measured",
    "periods": [{"id": "day", "hours_per_day": 24}],
    "user_regions": [{"id": "us", "jurisdiction": "us"}],
    "sites": [
        {
            "id": "metro",
            "kind": "edge",
            "jurisdiction": "us",
            "latency_ms": {"us": 10},
            "sustainable_utilization": 0.7,
            "offers": [{"gpu": "l4", "gpus_per_instance": 1, "prices": {"on_demand": 0.8}}],
        }
    ],
    "purchase_options": {"on_demand": True},
    "workloads": [
        {
            "id": "rag",
            "model": "llama_3_1_8b",
            "demand": {"requests_per_day": 200000, "region_split": {"us": 1.0}},
            "request": {"input_tokens": 4000, "output_tokens": 200},
            "slo": {"ttft_ms": 500, "tpot_ms": 80},
            "precisions": ["bf16"],
        }
    ],
}
MEASURED = {
    "gpu": "l4",
    "precision": "bf16",
    "tensor_parallel": 1,
    "output_tokens_per_s_per_replica": 50,  # 0.25 req/s: within the model's vLLM maximum (0.29 req/s)
    "ttft_ms": 300,
    "tpot_ms": 60,
}


def _write(tmp_path: Path, measured: list[dict[str, Any]], **slo: float) -> Path:
    doc = yaml.safe_load(yaml.safe_dump(L4_PROBLEM))
    doc["workloads"][0]["measured"] = measured
    doc["workloads"][0]["slo"].update(slo)
    path = tmp_path / "l4.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_model_alone_rejects_l4_at_4000_token_prompts(tmp_path: Path) -> None:
    loaded = load_problem(_write(tmp_path, []))
    with pytest.raises(InfeasibleError, match="TTFT"):
        build_candidates(loaded.problem, loaded.catalog)


def test_measured_300ms_ttft_on_l4_is_admitted_with_the_model_beside_it(tmp_path: Path) -> None:
    loaded = load_problem(_write(tmp_path, [MEASURED]))
    cs = build_candidates(loaded.problem, loaded.catalog)
    (ci,) = cs.info.values()
    assert (ci.gpu, ci.precision, ci.tensor_parallel, ci.measured) == ("l4", "bf16", 1, True)
    assert ci.ttft_ms == 300.0 and ci.tpot_ms == 60.0
    assert ci.capacity_rps == pytest.approx(50.0 / 200.0)
    assert ci.model_capacity_rps is None  # the model says it cannot meet the 490 ms server budget
    assert ci.model_note is not None
    idle = re.search(r"idle-replica TTFT (\d+) ms > server budget 490 ms", ci.model_note)
    assert idle and int(idle.group(1)) > 1000  # the model's ~1.1 s against the measured 300 ms
    assert ci.model_ttft_ms is not None and ci.model_ttft_ms > 1000.0  # model at the measured load
    assert ci.batch == 4  # Little's law: 0.25 req/s x (0.3 s + 199 x 0.06 s) = 3.06 running


def test_measured_l4_case_solves_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    code = main(["solve", str(_write(tmp_path, [MEASURED])), "--output", str(out), "--no-baselines"])
    assert code == 0, capsys.readouterr().err
    plan = Plan.model_validate_json(out.read_text(encoding="utf-8"))
    assert plan.status == "optimal" and plan.deployments
    for d in plan.deployments:
        assert d.gpu == "l4" and d.predicted.measured
        assert d.predicted.ttft_ms == 300.0 and d.predicted.capacity_rps == pytest.approx(0.25)
    assert all(f.ttft_ms == pytest.approx(310.0) for f in plan.routing)


def test_unmeasured_latency_uses_the_models_estimate_at_the_measured_load(tmp_path: Path) -> None:
    only_ttft = {k: v for k, v in MEASURED.items() if k != "tpot_ms"}
    loaded = load_problem(_write(tmp_path, [only_ttft]))
    with pytest.raises(
        InfeasibleError, match=r"TPOT [\d.]+ ms \(model estimate.*state tpot_ms.*> limit 80 ms"
    ):
        build_candidates(loaded.problem, loaded.catalog)
    loose = load_problem(_write(tmp_path, [only_ttft], tpot_ms=150))
    (ci,) = build_candidates(loose.problem, loose.catalog).info.values()
    assert ci.measured and ci.ttft_ms == 300.0
    assert ci.model_tpot_ms is not None and 80.0 < ci.model_tpot_ms <= 150.0
    assert ci.tpot_ms == ci.model_tpot_ms  # not measured: the model's estimate at the measured load


def test_measured_ttft_over_the_budget_is_rejected_by_the_ttft_rule(tmp_path: Path) -> None:
    loaded = load_problem(_write(tmp_path, [{**MEASURED, "ttft_ms": 495}]))  # budget is 490 ms
    with pytest.raises(InfeasibleError, match=r"TTFT 505 ms \(round trip 10 ms to metro \+ server 495 ms"):
        build_candidates(loaded.problem, loaded.catalog)


def test_measured_where_the_model_agrees_keeps_the_models_figures_beside() -> None:
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    m = MeasuredThroughput(
        gpu="h100_sxm", precision="fp8", tensor_parallel=1, output_tokens_per_s_per_replica=9000.0
    )
    wl = tuple(w.model_copy(update={"measured": (m,)}) if w.id == "chat_small" else w for w in p.workloads)
    measured = build_candidates(p.model_copy(update={"workloads": wl}), loaded.catalog, prune=False)
    plain = build_candidates(p, loaded.catalog, prune=False)
    hits = [c for c in measured.info.values() if c.measured]
    assert hits
    for c in hits:
        model = plain.info[c.id]
        assert c.capacity_rps == pytest.approx(9000.0 / 200.0)
        assert c.model_capacity_rps == pytest.approx(model.capacity_rps)
        assert c.model_ttft_ms == pytest.approx(model.ttft_ms) and c.ttft_ms == pytest.approx(model.ttft_ms)
        assert c.model_note is None
    unmeasured = [c for c in measured.info.values() if not c.measured]
    assert unmeasured and all(c.model_capacity_rps == c.capacity_rps for c in unmeasured)


def test_plan_and_explain_show_the_models_estimate_beside_the_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.yaml"
    assert main(["solve", str(_write(tmp_path, [MEASURED])), "--output", str(out), "--no-baselines"]) == 0
    plan = Plan.model_validate(yaml.safe_load(out.read_text(encoding="utf-8")))
    (d, *_) = plan.deployments
    assert d.predicted.measured and d.predicted.ttft_ms == 300.0
    assert d.predicted.model_ttft_ms is not None and d.predicted.model_ttft_ms > 1000.0
    assert d.predicted.model_capacity_rps is None and d.predicted.model_note
    chosen = plan.explanations[0].chosen
    assert chosen.measured and chosen.model_ttft_ms == d.predicted.model_ttft_ms
    capsys.readouterr()
    assert main(["explain", str(out)]) == 0
    text = capsys.readouterr().out
    assert "measured; model: cannot meet targets" in text


def test_measured_rate_implying_more_sequences_than_the_engine_runs_is_capped_at_its_limit() -> None:
    """300 req/s x (0.05 s + 199 x 0.03 s) = 1806 running sequences by Little's law, above vLLM's 256:
    the measurement is admitted, and the batch the plan exports is vLLM's limit, never above it."""
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    m = MeasuredThroughput(
        gpu="h100_sxm",
        precision="fp8",
        tensor_parallel=1,
        output_tokens_per_s_per_replica=60000.0,
        ttft_ms=50.0,
        tpot_ms=30.0,
    )
    wl = tuple(w.model_copy(update={"measured": (m,)}) if w.id == "chat_small" else w for w in p.workloads)
    cs = build_candidates(p.model_copy(update={"workloads": wl}), loaded.catalog, prune=False)
    hits = [c for c in cs.info.values() if c.measured]
    assert hits and all(c.capacity_rps == pytest.approx(300.0) for c in hits)
    assert all(c.batch == c.engine_max_num_seqs == 256 for c in hits)
    assert all(c.batch <= c.engine_max_num_seqs for c in cs.info.values())
