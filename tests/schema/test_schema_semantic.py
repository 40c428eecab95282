"""Semantic checks: cross-references, catalog names, sums and impossible targets (errors and warnings)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimizer.catalog import default_catalog
from optimizer.cli import main
from optimizer.errors import InputError
from optimizer.loading.problem_file import parse_problem_text
from optimizer.loading.semantic import check_problem
from optimizer.schema.problem import Problem

Data = dict[str, Any]
Dump = Callable[[Data], str]


def errors(data: Data, dump: Dump) -> dict[str, str]:
    """path -> message of every error (the file must pass the structural checks)."""
    with pytest.raises(InputError) as info:
        parse_problem_text(dump(data), "s.yaml")
    found = {i.path: i.message for i in info.value.issues}
    assert all(i.line is not None for i in info.value.issues)
    return found


def warnings(data: Data, dump: Dump) -> dict[str, str]:
    loaded = parse_problem_text(dump(data), "s.yaml")
    return {i.path: i.message for i in loaded.warnings}


def workload(data: Data) -> Data:
    w: Data = data["workloads"][0]
    return w


def test_base_problem_is_valid_without_warnings(base_data: Data, dump: Dump) -> None:
    assert warnings(base_data, dump) == {}


def test_check_problem_is_pure(base_data: Data) -> None:
    report = check_problem(Problem.model_validate(base_data), default_catalog())
    assert report.ok and report.errors == () and report.warnings == ()


def test_empty_sections(base_data: Data, dump: Dump) -> None:
    base_data["workloads"] = []
    base_data["sites"] = []
    found = errors(base_data, dump)
    assert "workloads is empty" in found["workloads"]
    assert "sites is empty" in found["sites"]
    assert "has no site" in found["user_regions[0]"]


@pytest.mark.parametrize(
    ("section", "what"), [("user_regions", "user region"), ("sites", "site"), ("workloads", "workload")]
)
def test_duplicate_ids(base_data: Data, dump: Dump, section: str, what: str) -> None:
    base_data[section].append(dict(base_data[section][0]))
    found = errors(base_data, dump)
    index = len(base_data[section]) - 1
    assert f"duplicate {what} id" in found[f"{section}[{index}].id"]


def test_duplicate_period_ids_and_hours(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = [{"id": "day", "hours_per_day": 12}, {"id": "day", "hours_per_day": 13}]
    found = errors(base_data, dump)
    assert "duplicate period id 'day'" in found["periods[1].id"]
    assert "cover 25 hours" in found["periods"]


def test_unknown_latency_region(base_data: Data, dump: Dump) -> None:
    base_data["sites"][0]["latency_ms"]["us_wset"] = 5
    found = errors(base_data, dump)
    assert "did you mean 'us_east'?" in found["sites[0].latency_ms.us_wset"]


def test_profile_by_period_id(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = [{"id": "peak", "hours_per_day": 8}, {"id": "off", "hours_per_day": 16}]
    workload(base_data)["demand"]["profile"] = {"peak": 2.0, "of": 0.5}
    found = errors(base_data, dump)
    assert "did you mean 'off'?" in found["workloads[0].demand.profile.of"]
    assert "no weight for period(s) off" in found["workloads[0].demand.profile"]


def test_profile_all_zero(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = "hourly"
    workload(base_data)["demand"]["profile"] = [0] * 24
    assert "every profile weight is 0" in errors(base_data, dump)["workloads[0].demand.profile"]


def test_hourly_profile_is_accepted(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = "hourly"
    workload(base_data)["demand"]["profile"] = [1 + (h % 3) for h in range(24)]
    base_data["user_regions"][1]["utc_offset_hours"] = 1
    assert warnings(base_data, dump) == {}


def test_utc_offset_without_hourly_periods_warns(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = [{"id": "peak", "hours_per_day": 8}, {"id": "off", "hours_per_day": 16}]
    workload(base_data)["demand"]["profile"] = [2, 0.5]
    base_data["user_regions"][1]["utc_offset_hours"] = 1
    assert "is ignored" in warnings(base_data, dump)["user_regions[1].utc_offset_hours"]


def test_fractional_utc_offset_with_hourly_warns(base_data: Data, dump: Dump) -> None:
    base_data["periods"] = "hourly"
    base_data["user_regions"][0]["utc_offset_hours"] = 5.5
    assert "whole number" in warnings(base_data, dump)["user_regions[0].utc_offset_hours"]


def test_committed_price_without_the_option(base_data: Data, dump: Dump) -> None:
    base_data["sites"][0]["offers"][0]["prices"]["committed_3y"] = 1.5
    found = errors(base_data, dump)
    assert "add `committed_3y: {}` under purchase_options" in found["sites[0].offers[0].prices.committed_3y"]


def test_on_demand_price_is_the_base_of_committed_discounts(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"on_demand": False, "committed_1y": {"discount_vs_on_demand": 0.3}}
    assert warnings(base_data, dump) == {}


def test_offer_with_no_price_for_any_allowed_option(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"on_demand": False, "spot": {}}
    found = errors(base_data, dump)
    assert "does not allow on_demand" in found["sites[0].offers[0].prices.on_demand"]
    assert "no price for any allowed purchase option (spot)" in found["sites[0].offers[0]"]


def test_catalog_prices_fill_on_demand_and_spot(base_data: Data, dump: Dump) -> None:
    offer = base_data["sites"][0]["offers"][0]
    offer.pop("prices")
    offer["catalog_prices"] = {"provider": "aws", "region": "us-east-1"}
    base_data["purchase_options"] = {"spot": {}}
    assert warnings(base_data, dump) == {}


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        ({"provider": "awz", "region": "us-east-1"}, "did you mean 'aws'?"),
        ({"provider": "aws", "region": "us-east-3"}, "aws regions with prices:"),
        (
            {"provider": "aws", "region": "us-east-1", "instance_type": "p4d.24xlarge"},
            "for h100_sxm it lists",
        ),
    ],
)
def test_catalog_prices_that_find_nothing(base_data: Data, dump: Dump, ref: Data, text: str) -> None:
    offer = base_data["sites"][0]["offers"][0]
    offer.pop("prices")
    offer["catalog_prices"] = ref
    found = errors(base_data, dump)
    assert text in found["sites[0].offers[0].catalog_prices"]
    assert "sites[0].offers[0]" not in found


def test_owned_offer_needs_the_option(base_data: Data, dump: Dump) -> None:
    base_data["sites"][0]["offers"][0]["owned"] = True
    assert "add `owned: {}`" in errors(base_data, dump)["sites[0].offers[0].owned"]


def test_owned_offer_uses_the_catalog_purchase_price(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"owned": {}}
    base_data["sites"][0]["offers"][0].update(owned=True, prices={})
    base_data["sites"][1]["offers"][0].update(owned=True, prices={})
    assert warnings(base_data, dump) == {}  # h100_sxm and h200_sxm have catalog purchase prices


def test_owned_offer_without_any_capital_cost(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"owned": {}}
    base_data["sites"][0]["offers"][0].update(gpu="b200", owned=True, prices={})
    found = errors(base_data, dump)
    assert "give capital_usd_per_gpu" in found["sites[0].offers[0].capital_usd_per_gpu"]


def test_capital_cost_without_owned_warns(base_data: Data, dump: Dump) -> None:
    base_data["sites"][0]["offers"][0]["capital_usd_per_gpu"] = 30000
    assert "ignored" in warnings(base_data, dump)["sites[0].offers[0].capital_usd_per_gpu"]


def test_precision_no_offered_gpu_can_run_warns(base_data: Data, dump: Dump) -> None:
    workload(base_data)["precisions"] = ["fp4", "bf16"]
    found = warnings(base_data, dump)
    assert "can run fp4" in found["workloads[0].precisions[0]"]
    assert "not be used" in found["workloads[0].precisions[0]"]
    assert "b200" in found["workloads[0].precisions[0]"]


def test_no_listed_precision_runs_on_an_offered_gpu(base_data: Data, dump: Dump) -> None:
    workload(base_data)["precisions"] = ["fp4"]
    found = errors(base_data, dump)
    assert "can run any listed precision" in found["workloads[0].precisions"]


def test_precision_below_min_quality_warns(base_data: Data, dump: Dump) -> None:
    workload(base_data).update(precisions=["bf16", "int4_awq"], min_quality=0.99)
    assert "below min_quality" in warnings(base_data, dump)["workloads[0].precisions[1]"]


def test_min_quality_excluding_every_precision(base_data: Data, dump: Dump) -> None:
    workload(base_data).update(precisions=["int4_awq", "gguf_q4_0"], min_quality=0.99)
    assert "excludes every precision" in errors(base_data, dump)["workloads[0].min_quality"]


def test_unknown_draft_alternative_and_measured_names(base_data: Data, dump: Dump) -> None:
    workload(base_data).update(
        speculative={"draft_model": "llama_3_2_1c", "acceptance_rate": 0.7},
        alternatives=[{"model": "qwen2_5_7c", "max_share": 0.3}],
        measured=[
            {"gpu": "h10", "precision": "fp88", "tensor_parallel": 1, "output_tokens_per_s_per_replica": 900}
        ],
    )
    found = errors(base_data, dump)
    assert "did you mean 'llama_3_2_1b'" in found["workloads[0].speculative.draft_model"]
    assert "did you mean 'qwen2_5_7b'" in found["workloads[0].alternatives[0].model"]
    assert "unknown GPU 'h10'" in found["workloads[0].measured[0].gpu"]
    assert "unknown precision 'fp88'" in found["workloads[0].measured[0].precision"]


def test_draft_model_equal_to_the_served_model(base_data: Data, dump: Dump) -> None:
    workload(base_data)["speculative"] = {"draft_model": "Llama-3.1-8B", "acceptance_rate": 0.7}
    assert (
        "the draft model is the served model"
        in errors(base_data, dump)["workloads[0].speculative.draft_model"]
    )


def test_measured_gpu_not_offered_warns(base_data: Data, dump: Dump) -> None:
    workload(base_data)["measured"] = [
        {"gpu": "l4", "precision": "fp8", "tensor_parallel": 1, "output_tokens_per_s_per_replica": 300}
    ]
    assert "not offered" in warnings(base_data, dump)["workloads[0].measured[0].gpu"]


def test_audio_fields_and_speech_models(base_data: Data, dump: Dump) -> None:
    w = workload(base_data)
    w["demand"] = {"audio_hours_per_day": 1000, "region_split": {"us_east": 1.0}}
    found = errors(base_data, dump)
    assert "only for speech models" in found["workloads[0].demand.audio_hours_per_day"]
    w["model"] = "whisper_large_v3"
    found = errors(base_data, dump)
    assert "give request.audio_seconds" in found["workloads[0].request"]
    w["request"] = {"audio_seconds": 30, "output_tokens": 120}
    assert warnings(base_data, dump) == {}
    w["request"] = {
        "histogram": [{"input_tokens": 10, "output_tokens": 10, "share": 1.0}],
        "audio_seconds": 30,
    }
    assert "not a token histogram" in errors(base_data, dump)["workloads[0].request.histogram"]


def test_latency_target_below_every_round_trip(base_data: Data, dump: Dump) -> None:
    """Not invalid input but an infeasibility: a located warning here, exit 3 from `solve` (the
    candidate stage names the TTFT rule) unless serverless or shortfall may take the traffic."""
    base_data["sites"][1]["latency_ms"]["eu_west"] = 150
    workload(base_data)["slo"]["ttft_ms"] = 85
    message = warnings(base_data, dump)["workloads[0].slo.ttft_ms"]
    assert "region 'eu_west'" in message and "us_site" in message and "90 ms" in message


def test_ttft_below_every_round_trip_is_infeasible_exit_3_naming_ttft(
    base_data: Data, dump: Dump, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_data["sites"][1]["latency_ms"]["eu_west"] = 150
    workload(base_data)["slo"]["ttft_ms"] = 85
    path = tmp_path / "p.yaml"
    path.write_text(dump(base_data), encoding="utf-8")
    assert main(["solve", str(path), "--no-baselines"]) == 3
    err = capsys.readouterr().err
    assert "TTFT" in err and "eu_west" in err and "TPOT" not in err.split("TTFT")[0]


def test_latency_check_ignores_regions_without_demand(base_data: Data, dump: Dump) -> None:
    base_data["sites"][1]["latency_ms"]["eu_west"] = 150
    base_data["sites"][0]["latency_ms"]["eu_west"] = 150
    workload(base_data)["slo"]["ttft_ms"] = 120
    workload(base_data)["demand"]["region_split"] = {"us_east": 1.0, "eu_west": 0.0}
    assert warnings(base_data, dump) == {}


def test_placement_needs_matching_sites(base_data: Data, dump: Dump) -> None:
    base_data["policy"] = {"placement": "edge"}
    assert "no site has kind: edge" in errors(base_data, dump)["policy.placement"]
    base_data["policy"] = {"placement": "hybrid"}
    assert "needs both central and edge" in errors(base_data, dump)["policy.placement"]
    base_data["policy"] = {}
    workload(base_data)["placement"] = "edge"
    assert "no site has kind: edge" in errors(base_data, dump)["workloads[0].placement"]


def test_edge_placement_considers_edge_sites_for_latency(base_data: Data, dump: Dump) -> None:
    base_data["sites"][1].update(kind="edge", latency_ms={"eu_west": 5})
    workload(base_data).update(
        placement="edge", demand={"requests_per_day": 10, "region_split": {"us_east": 1.0}}
    )
    assert "no edge site serves region 'us_east'" in errors(base_data, dump)["workloads[0].placement"]


def test_residency_user_region_needs_jurisdictions(base_data: Data, dump: Dump) -> None:
    del base_data["user_regions"][1]["jurisdiction"]
    workload(base_data)["residency"] = "user_region"
    assert "set user_regions[1].jurisdiction" in errors(base_data, dump)["workloads[0].residency"]


def test_residency_user_region_needs_a_site_in_the_jurisdiction(base_data: Data, dump: Dump) -> None:
    base_data["sites"][1]["jurisdiction"] = "uk"
    workload(base_data)["residency"] = "user_region"
    assert "no site in jurisdiction 'eu'" in errors(base_data, dump)["workloads[0].residency"]


def test_residency_list(base_data: Data, dump: Dump) -> None:
    workload(base_data)["residency"] = ["euro"]
    found = errors(base_data, dump)
    assert "did you mean 'eu'?" in found["workloads[0].residency[0]"]
    workload(base_data)["residency"] = ["eu"]
    assert warnings(base_data, dump) == {}
    workload(base_data)["demand"]["region_split"] = {"us_east": 1.0}
    base_data["sites"][1]["latency_ms"] = {"eu_west": 12}
    assert "serves region 'us_east'" in errors(base_data, dump)["workloads[0].residency"]


def test_free_serverless_warns(base_data: Data, dump: Dump) -> None:
    workload(base_data)["serverless"] = {"allowed": True}
    assert "price of 0" in warnings(base_data, dump)["workloads[0].serverless"]


def test_spot_allowed_but_never_priced_warns(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"spot": {}}
    assert "no offer has a spot price" in warnings(base_data, dump)["purchase_options.spot"]


def test_no_purchase_option_at_all(base_data: Data, dump: Dump) -> None:
    base_data["purchase_options"] = {"on_demand": False}
    assert "every purchase option is disallowed" in errors(base_data, dump)["purchase_options"]


def test_aliases_resolve_everywhere(base_data: Data, dump: Dump) -> None:
    base_data["sites"][0]["offers"][0]["gpu"] = "H100-SXM-80GB"
    workload(base_data).update(model="meta-llama/Llama-3.1-8B-Instruct", precisions=["FP8", "AWQ"])
    assert warnings(base_data, dump) == {}
