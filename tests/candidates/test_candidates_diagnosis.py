"""A workload left without a route names the rule that removed its last options, with numbers,
as an InfeasibleError (exit 3), not as invalid input."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DATA

from optimizer.candidates import Rule, build_candidates
from optimizer.catalog import default_catalog
from optimizer.cli import main
from optimizer.errors import ExitCode, InfeasibleError
from optimizer.schema.problem import Problem

BASE: dict[str, Any] = yaml.safe_load((DATA / "small.yaml").read_text(encoding="utf-8"))
Doc = dict[str, Any]


def _variant(edit: Callable[[Doc], None]) -> Doc:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


def _far_region(d: Doc) -> None:
    """chat_small (TTFT 100 ms) also serves 'ap', whose nearest site is 160 ms away."""
    d["user_regions"].append({"id": "ap", "jurisdiction": "sg"})
    d["sites"][0]["latency_ms"]["ap"] = 180
    d["sites"][1]["latency_ms"]["ap"] = 160
    d["workloads"][0]["demand"]["region_split"] = {"us": 0.5, "eu": 0.3, "ap": 0.2}


def _only_far_region(d: Doc) -> None:
    """The issue's case: the workload's only region reaches no site within its TTFT target (the
    nearest is 95 ms away: 5 ms are left for the server, which needs more)."""
    _far_region(d)
    d["sites"][1]["latency_ms"]["ap"] = 95
    d["workloads"][0]["demand"]["region_split"] = {"ap": 1.0}


def _infeasible(doc: Doc) -> str:
    with pytest.raises(InfeasibleError) as exc:
        build_candidates(Problem.model_validate(doc), default_catalog())
    return str(exc.value)


def test_only_region_out_of_ttft_reach_is_infeasible_naming_ttft_with_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "far.yaml"
    path.write_text(yaml.safe_dump(_variant(_only_far_region)), encoding="utf-8")
    code = main(["solve", str(path), "--no-baselines", "--output", str(tmp_path / "plan.yaml")])
    err = capsys.readouterr().err
    assert code == ExitCode.INFEASIBLE, err
    assert "<input>" not in err and "TPOT" not in err
    assert f"workload 'chat_small', region 'ap': {Rule.TTFT}" in err
    assert "best achievable TTFT" in err and "round trip 95 ms to eu_central + server" in err
    assert "> target 100 ms" in err
    assert not (tmp_path / "plan.yaml").exists()


def test_round_trip_alone_over_target_names_the_nearest_site() -> None:
    msg = _infeasible(_variant(_far_region))  # nearest site 160 ms away, target 100 ms
    assert msg.count("  - ") == 1 and f"region 'ap': {Rule.TTFT}" in msg
    assert "eu_central is 160 ms round trip" in msg and "TTFT target of 100 ms" in msg
    assert "+ best server TTFT" in msg


def test_server_ttft_plus_rtt_over_target_names_the_best_achievable() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][1]["slo"].update(ttft_ms=40)))
    assert str(Rule.TTFT) in msg and "best achievable TTFT" in msg
    assert "round trip 15 ms to eu_central + server" in msg and "> target 40 ms" in msg


def test_tpot_rule_names_the_best_idle_tpot() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][1]["slo"].update(tpot_ms=3)))
    assert "workload 'analyst'" in msg and str(Rule.TPOT) in msg
    assert "idle-replica TPOT" in msg and "> limit 3 ms" in msg


def test_memory_fit_names_the_closest_configuration() -> None:
    def big(d: Doc) -> None:
        d["workloads"][0].update(model="llama_3_1_405b", slo={"ttft_ms": 5000, "tpot_ms": 200})
        d["workloads"] = d["workloads"][:1]
        for s in d["sites"]:
            s["offers"] = [{"gpu": "l40s", "gpus_per_instance": 1, "prices": {"on_demand": 1.6}}]

    msg = _infeasible(_variant(big))
    assert str(Rule.FIT) in msg and "closest: llama_3_1_405b on l40s" in msg
    assert "exceed usable 48.0 GB" in msg


def test_quality_floor_names_the_precisions() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][0].update(precisions=["int4_awq"])))
    assert str(Rule.QUALITY) in msg
    assert "min_quality 0.99 excludes every listed precision" in msg and "int4_awq" in msg


def test_residency_names_the_sites_and_jurisdictions() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][1].update(residency=["ch"])))
    assert str(Rule.RESIDENCY) in msg and "jurisdiction 'ch'" in msg and "us_central (us)" in msg


def test_placement_names_the_excluded_sites() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][1].update(placement="edge")))
    assert f"region 'us': {Rule.PLACEMENT}" in msg and "us_central (central)" in msg
    assert "region 'eu': memory fit" in msg  # eu reaches the edge site, whose L4s cannot hold 70B


def test_missing_latency_data_is_named() -> None:
    def no_path(d: Doc) -> None:
        d["user_regions"].append({"id": "ap", "jurisdiction": "sg"})
        d["workloads"][0]["demand"]["region_split"] = {"us": 0.5, "eu": 0.3, "ap": 0.2}

    msg = _infeasible(_variant(no_path))
    assert str(Rule.NETWORK) in msg and "region 'ap'" in msg


def test_parallelism_names_the_limits() -> None:
    msg = _infeasible(_variant(lambda d: d["workloads"][0].update(tensor_parallel=[16])))
    assert str(Rule.PARALLELISM) in msg and "h100_sxm (scale-up 8, instances of 8)" in msg


def test_unpriced_offers_within_reach_are_named() -> None:
    def spot_only(d: Doc) -> None:
        d["user_regions"].append({"id": "ap", "jurisdiction": "sg"})
        d["sites"].append(
            {
                "id": "sg_edge",
                "kind": "edge",
                "jurisdiction": "sg",
                "latency_ms": {"ap": 5},
                "offers": [{"gpu": "h100_sxm", "gpus_per_instance": 8, "prices": {"spot": 1.0}}],
            }
        )
        d["purchase_options"] = {"on_demand": True}
        d["workloads"][0]["demand"]["region_split"] = {"us": 0.5, "eu": 0.3, "ap": 0.2}

    msg = _infeasible(_variant(spot_only))
    assert str(Rule.OFFERS) in msg and "(sg_edge) price no GPU" in msg


def test_serverless_for_all_traffic_is_a_note_not_an_error() -> None:
    def serverless(d: Doc) -> None:
        _far_region(d)
        d["workloads"][0]["serverless"] = {
            "allowed": True,
            "usd_per_million_input_tokens": 0.2,
            "usd_per_million_output_tokens": 0.6,
        }

    cs = build_candidates(Problem.model_validate(_variant(serverless)), default_catalog())
    assert any("no GPU route from ap" in n and str(Rule.TTFT) in n for n in cs.notes)
