"""Model structure: names, determinism, variables only where needed, input validation, doctests."""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path

import pytest
from fleet_factory import offer, random_small_fleet
from test_rules import PEAK_OFF, fleet

import optimizer.model.coefficients
import optimizer.model.names
import optimizer.solve
from optimizer.model import CONSTRAINT_FAMILIES, build_model
from optimizer.model.data import COST_TERMS, CandidateData, RouteData, SiteData, WorkloadData
from optimizer.model.names import Names, pulp_safe
from optimizer.model.synthetic import synthetic_fleet


@pytest.mark.parametrize("module", [optimizer.model.coefficients, optimizer.model.names, optimizer.solve])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_names_are_hierarchical() -> None:
    names = Names()
    assert names.var("traffic", "chat", "eu", "fra", "c1", "peak") == "traffic__chat__eu__fra__c1__peak"
    assert names.con("cover", "chat", "eu", "peak") == "cover__chat__eu__peak"
    assert names.var("traffic", "chat", "eu", "fra", "c1", "off") == "traffic__chat__eu__fra__c1__off"
    assert len(names) == 3


def test_names_refuse_collisions_after_pulp_rewrites() -> None:
    names = Names()
    names.var("replicas", "llama-3", "fra")
    with pytest.raises(ValueError, match="collision"):
        names.var("replicas", "llama_3", "fra")
    with pytest.raises(ValueError, match="collision"):
        names.var("replicas", "llama 3", "fra")
    names.con("replicas", "llama_3", "fra")  # constraints are a separate namespace
    with pytest.raises(ValueError, match="snake_case"):
        names.var("Bad-Family", "x")
    assert pulp_safe("a-b+c[d] e>f/g") == "a_b_c_d__e_f_g"


def test_sealed_names_keep_count_and_check_later_names() -> None:
    names = Names()
    names.var("replicas", "a")
    names.con("cover", "a")
    names.seal()
    assert len(names) == 2
    names.con("elastic_hold", "x")
    with pytest.raises(ValueError, match="collision"):
        names.con("elastic_hold", "x")
    assert len(names) == 3


def test_built_model_seals_its_names_and_pulp_refuses_a_repeated_row() -> None:
    import pulp

    model = build_model(random_small_fleet(3))
    stats = model.stats()
    assert len(model.names) == stats["variables"] + stats["constraints"]
    name = next(iter(model.constraints["cover"].values())).name
    with pytest.raises(pulp.PulpError, match="overlapping"):
        model.problem.addConstraint(model.columns[0] >= 0, name)


def test_colliding_candidate_ids_fail_the_build() -> None:
    data = fleet(
        candidates=(
            CandidateData("c-1", "chat", "llama", "h100", 1, 10.0),
            CandidateData("c_1", "chat", "llama", "h100", 1, 10.0),
        ),
        routes=(RouteData("chat", "eu", "fra", "c-1"), RouteData("chat", "eu", "fra", "c_1")),
    )
    with pytest.raises(ValueError, match="collision"):
        build_model(data)


def test_building_twice_gives_identical_lp_text(tmp_path: Path) -> None:
    for i, data in enumerate([random_small_fleet(7), synthetic_fleet(candidates=8, periods=3, seed=1)]):
        texts = []
        for j in range(2):
            path = tmp_path / f"m{i}_{j}.lp"
            build_model(data).write_lp(path)
            texts.append(path.read_text())
        assert texts[0] == texts[1]
        assert "traffic__" in texts[0] and "cover__" in texts[0]


def test_every_name_in_the_lp_is_hierarchical(tmp_path: Path) -> None:
    model = build_model(synthetic_fleet(candidates=8, periods=3, seed=2))
    families = {v.name.split("__")[0] for v in model.problem.variables()}
    assert families <= {"replicas", "instances", "traffic", "serverless", "unmet", "active", "gpu_used"}
    con_families = {name.split("__")[0] for name in model.problem._constraints}
    assert con_families <= {
        "cover",
        "daily_cover",
        "capacity",
        "group_share",
        "serverless_share",
        "spot_share",
        "packing",
        "supply",
        "site_gpus",
        "site_power",
        "active_traffic",
        "active_replicas",
        "min_replicas",
        "min_instances",
        "hybrid_central",
        "hybrid_edge",
        "hybrid_in_use",
        "gpu_type_link",
        "max_gpu_types",
        "budget",
    }


def test_objective_is_the_sum_of_named_cost_terms() -> None:
    model = build_model(random_small_fleet(3))
    assert tuple(model.cost_terms) == COST_TERMS
    objective = model.problem.objective
    summed = model.total_cost
    assert dict(objective.items()) == dict(summed.items())


def test_fixed_options_have_one_count_per_period_options_one_per_period() -> None:
    offers = (offer("fra", "h100", "on_demand", 4.0), offer("fra", "h100", "committed_1y", 2.5))
    model = build_model(
        fleet(
            periods=PEAK_OFF,
            offers=offers,
            demand_rps={("chat", "eu", "peak"): 10.0, ("chat", "eu", "off"): 5.0},
        )
    )
    assert set(model.replicas) == {
        ("c1", "fra", "committed_1y", None),
        ("c1", "fra", "on_demand", "peak"),
        ("c1", "fra", "on_demand", "off"),
    }
    assert all(v.cat == "Integer" for v in model.replicas.values())


def test_replicas_only_where_an_offer_and_a_route_exist() -> None:
    sites = (SiteData("fra"), SiteData("ams"), SiteData("par"))
    offers = (offer("fra", "h100", "on_demand", 2.0), offer("ams", "h100", "on_demand", 2.0))
    routes = (RouteData("chat", "eu", "fra", "c1"), RouteData("chat", "eu", "par", "c1"))
    model = build_model(fleet(sites=sites, offers=offers, routes=routes))
    assert {k[1] for k in model.replicas} == {"fra"}  # ams: no route; par: no offer
    assert {k[2] for k in model.traffic} == {"fra"}


def test_binaries_only_where_a_rule_needs_them() -> None:
    assert not build_model(fleet()).active and not build_model(fleet()).gpu_used
    assert build_model(fleet(min_replicas_per_active_site=2)).active
    assert not build_model(fleet(max_gpu_types=1)).gpu_used  # one GPU type: the limit cannot bind
    two = fleet(
        candidates=(
            CandidateData("c1", "chat", "llama", "h100", 1, 10.0),
            CandidateData("c2", "chat", "llama", "a100", 1, 10.0),
        ),
        offers=(offer("fra", "h100", "on_demand", 2.0), offer("fra", "a100", "on_demand", 2.0)),
        routes=(RouteData("chat", "eu", "fra", "c1"), RouteData("chat", "eu", "fra", "c2")),
        max_gpu_types=1,
    )
    assert set(build_model(two).gpu_used) == {"h100", "a100"}
    hybrid = fleet(workloads=(WorkloadData("chat", placement="hybrid"),))
    assert set(build_model(hybrid).active) == {("chat", "fra")}


def test_dominated_fixed_offers_are_dropped() -> None:
    offers = (
        offer("fra", "h100", "committed_1y", 2.0),
        offer("fra", "h100", "committed_3y", 1.5),
        offer("fra", "h100", "owned", 1.8),
        offer("fra", "h100", "on_demand", 3.0),
    )
    model = build_model(fleet(offers=offers))
    assert {k[2] for k in model.replicas} == {"committed_3y", "on_demand"}


def test_omitting_a_family_removes_its_rows() -> None:
    data = fleet(supply_max_gpus={("fra", "h100"): 8})
    full = build_model(data)
    relaxed = build_model(data, omit=frozenset({"supply"}))
    assert full.family_rows["supply"] == 1 and "supply" not in relaxed.family_rows
    assert {name for name, _ in CONSTRAINT_FAMILIES} >= set(full.family_rows)
    with pytest.raises(ValueError, match="unknown constraint families"):
        build_model(data, omit=frozenset({"nonsense"}))


def test_inconsistent_data_lists_every_problem() -> None:
    data = fleet(
        routes=(RouteData("chat", "eu", "nowhere", "c1"), RouteData("chat", "eu", "fra", "ghost")),
        offers=(
            offer("fra", "h100", "on_demand", 2.0),
            dataclasses.replace(offer("fra", "h100", "spot", 1.0), option="leased"),
        ),
        demand_rps={("chat", "mars", "day"): 1.0},
    )
    with pytest.raises(ValueError) as info:
        build_model(data)
    msg = str(info.value)
    assert "unknown workload, region or site" in msg and "candidate unknown" in msg
    assert "unknown option" in msg and "demand (chat, mars, day)" in msg


def test_input_is_not_mutated() -> None:
    data = random_small_fleet(11)
    before = repr(data)
    build_model(data)
    assert repr(data) == before


def test_one_registry_of_rule_families() -> None:
    """build adds exactly the registry's families, and the diagnosis reads its texts from it."""
    import optimizer.diagnosis as diagnosis
    import optimizer.solve as solve_mod
    from optimizer.model.rules import LIMIT_FAMILIES, RULE_FAMILIES

    assert [name for name, _ in CONSTRAINT_FAMILIES] == list(RULE_FAMILIES)
    assert set(LIMIT_FAMILIES) <= set(RULE_FAMILIES)
    assert diagnosis.RULE_FAMILIES is RULE_FAMILIES
    assert not hasattr(solve_mod, "diagnose_infeasible")  # one-way layering: solve knows no diagnosis
