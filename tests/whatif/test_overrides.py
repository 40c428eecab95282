"""Overrides: paths into the document, values re-validated by the schema, shorthands, and errors."""

from __future__ import annotations

import doctest

import pytest
from whatif_helpers import DATA, PROBLEMS, STARTUP

from optimizer.candidates import build_candidates
from optimizer.errors import InputError
from optimizer.whatif import api, charts, diff, overrides, scenarios, summary
from optimizer.whatif.overrides import (
    OverrideError,
    ScalePrice,
    apply_overrides,
    edit_document,
    parse_override,
    parse_scale,
    read_source,
)

CHAT = PROBLEMS / "chat_assistant.yaml"


@pytest.fixture(scope="module")
def chat():
    return read_source(CHAT)


@pytest.fixture(scope="module")
def startup():
    return read_source(STARTUP)


@pytest.mark.parametrize("module", [overrides, scenarios, summary, api, diff, charts])
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0


def test_set_by_id_gpu_and_index(chat) -> None:
    loaded, notes = apply_overrides(
        chat,
        [
            parse_override("workloads.assistant.slo.ttft_ms=300"),
            parse_override("sites.aws_us_east_1.offers.h100_sxm.max_gpus=64"),
            parse_override("sites[1].offers[1].max_gpus=16"),
            parse_override("policy.budget_usd_per_month=400_000"),
        ],
    )
    p = loaded.problem
    assert p.workloads[0].slo.ttft_ms == 300
    assert p.sites[0].offers[0].max_gpus == 64
    assert p.sites[1].offers[1].max_gpus == 16 and p.sites[1].offers[1].gpu == "b200"
    assert p.policy.budget_usd_per_month == 400_000
    assert len(notes) == 4
    # the source document is never mutated
    assert chat.loaded.problem.workloads[0].slo.ttft_ms == 1000


def test_offer_addressed_by_catalog_alias(chat) -> None:
    loaded, _ = apply_overrides(chat, [parse_override("sites.aws_us_east_1.offers.H100-SXM.max_gpus=8")])
    assert loaded.problem.sites[0].offers[0].max_gpus == 8


def test_scale_uses_the_effective_value_including_defaults(chat) -> None:
    loaded, _ = apply_overrides(
        chat,
        [
            parse_override("workloads.assistant.demand.output_tokens_per_day*=2"),
            parse_override("sites.aws_us_east_1.sustainable_utilization*=0.5"),
            parse_override("workloads.assistant.speculative=null"),
        ],
    )
    p = loaded.problem
    assert p.workloads[0].demand.output_tokens_per_day == 4e9
    assert p.sites[0].sustainable_utilization == pytest.approx(0.425)
    # an absent field scales from its schema default (int fields stay whole numbers)
    loaded, _ = apply_overrides(chat, [parse_override("policy.min_replicas_per_active_site*=1.6")])
    assert loaded.problem.policy.min_replicas_per_active_site == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workloads.asistant.slo.ttft_ms=300", "did you mean 'workloads.assistant.slo.ttft_ms'?"),
        ("workloads.assistant.slo.ttf_ms=300", "did you mean 'workloads.assistant.slo.ttft_ms'?"),
        ("polcy.headroom=0.1", "did you mean 'policy.headroom'?"),
        (
            "sites.aws_us_east_1.offers.h200.max_gpu=3",
            "did you mean 'sites.aws_us_east_1.offers.h200.max_gpus'?",
        ),
        ("workloads.assistant.demand.region_split.us_eats.x=1", "did you mean"),
        ("workloads[7].slo.ttft_ms=1", "out of range"),
        ("workloads.assistant.model.x=1", "is a single value, not a section"),
    ],
)
def test_unknown_path_names_the_override_and_the_nearest_path(chat, text: str, expected: str) -> None:
    with pytest.raises(OverrideError) as exc:
        apply_overrides(chat, [parse_override(text)])
    assert text in str(exc.value) and expected in str(exc.value)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workloads.assistant.slo.ttft_ms=fast", "must be a number (got 'fast')"),
        ("policy.headroom=-1", "policy.headroom"),
        ("workloads.assistant.slo=300", "workloads[0].slo"),
        ("policy.budget_usd_per_month*=2", "not a number to scale"),
    ],
)
def test_wrong_type_is_rejected_by_the_schema(chat, text: str, expected: str) -> None:
    with pytest.raises(OverrideError) as exc:
        apply_overrides(chat, [parse_override(text)])
    assert text in str(exc.value) and expected in str(exc.value)


def test_cross_reference_checks_run_on_the_edited_problem(chat) -> None:
    with pytest.raises(InputError) as exc:
        apply_overrides(chat, [parse_override("workloads.assistant.demand.region_split.us_east=0.9")])
    assert "sum to 1" in str(exc.value) and "after the overrides" in str(exc.value)
    assert "chat_assistant.yaml" in str(exc.value)


@pytest.mark.parametrize("text", ["x", "a..b=1", "a.b=", "a.b*=two"])
def test_malformed_overrides(chat, text: str) -> None:
    with pytest.raises(InputError):
        apply_overrides(chat, [parse_override(text)])


def test_scale_demand_every_or_one_workload(startup) -> None:
    loaded, _ = apply_overrides(startup, [parse_scale("2", "scale-demand")])
    assert [w.demand.requests_per_day for w in loaded.problem.workloads] == [6e6, 8e5]
    loaded, _ = apply_overrides(startup, [parse_scale("pro_tier=0.5", "scale-demand")])
    assert [w.demand.requests_per_day for w in loaded.problem.workloads] == [3e6, 2e5]
    with pytest.raises(OverrideError, match="did you mean 'pro_tier'"):
        apply_overrides(startup, [parse_scale("pro_teir=2", "scale-demand")])


def _offer_costs(loaded) -> dict[tuple[str, str, str], float]:
    fleet = build_candidates(loaded.problem, loaded.catalog).fleet
    return {(o.site, o.gpu, o.option): sum(o.cost_terms_usd_per_gpu_hour.values()) for o in fleet.offers}


@pytest.mark.parametrize("name", ["chat_assistant", "own_vs_rent", "startup_budget"])
def test_scale_price_matches_the_candidate_builder_prices(name: str) -> None:
    """Scaling by 1 reproduces every offer's price exactly (explicit and catalog-priced alike); by 0.7 it
    scales the named GPU's rental prices, however they are sourced, and nothing else."""
    src = read_source(PROBLEMS / f"{name}.yaml")
    base = _offer_costs(src.loaded)
    same, _ = apply_overrides(src, [ScalePrice(factor=1.0)])
    assert _offer_costs(same) == pytest.approx(base)
    cheaper, notes = apply_overrides(src, [parse_scale("h100_sxm=0.7", "scale-price")])
    scaled = _offer_costs(cheaper)
    assert scaled.keys() == base.keys()
    for key, cost in base.items():
        expected = cost * 0.7 if key[1] == "h100_sxm" else cost
        assert scaled[key] == pytest.approx(expected), key
    assert any("h100_sxm" in n for n in notes)


def test_scale_price_owned_capital(startup) -> None:
    src = read_source(PROBLEMS / "own_vs_rent.yaml")
    loaded, notes = apply_overrides(src, [parse_scale("h200_sxm=0.5", "scale-price")])
    owned = [o for s in loaded.problem.sites for o in s.offers if o.owned]
    assert owned[0].capital_usd_per_gpu == pytest.approx(18_500)
    assert any("owned capital" in n for n in notes)


def test_scale_price_errors(chat) -> None:
    with pytest.raises(OverrideError, match="did you mean 'h100_sxm'"):
        apply_overrides(chat, [parse_scale("h10=0.7", "scale-price")])
    with pytest.raises(OverrideError, match="not offered at any site"):
        apply_overrides(chat, [parse_scale("l4=0.7", "scale-price")])
    with pytest.raises(OverrideError, match="factor"):
        parse_scale("h100_sxm=cheap", "scale-price")


def test_overrides_apply_in_order(startup) -> None:
    edited = edit_document(
        startup,
        [
            parse_override("workloads.free_tier.demand.requests_per_day=1000"),
            parse_scale("3", "scale-demand"),
        ],
    )
    assert edited.data["workloads"][0]["demand"]["requests_per_day"] == 3000


def test_small_problem_roundtrip() -> None:
    src = read_source(DATA / "small.yaml")
    loaded, notes = apply_overrides(src, [])
    assert loaded.problem == src.loaded.problem and notes == ()
