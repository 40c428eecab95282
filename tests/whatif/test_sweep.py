"""Sweeps and frontiers through the Python API: monotone answers, executors agree, failures stay in rows."""

from __future__ import annotations

import itertools
import json
import logging

import pytest
import yaml
from whatif_helpers import PROBLEMS, STARTUP

from optimizer.errors import InputError
from optimizer.pipeline import SolveOptions
from optimizer.schema.plan import Plan
from optimizer.whatif.api import sweep
from optimizer.whatif.overrides import OverrideError
from optimizer.whatif.summary import spend_by


def test_demand_sweep_cost_is_non_decreasing(demand_sweep) -> None:
    rows = demand_sweep.records
    assert [r["scale_demand"] for r in rows] == [0.5, 1.0, 2.0, 4.0]
    assert all(r["status"] == "optimal" for r in rows)
    costs = [r["monthly_cost_usd"] for r in rows]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(costs))
    assert costs[-1] > 2 * costs[0]
    # the budget caps spend, not the objective: beyond it demand goes unmet
    assert all(r["monthly_spend_usd"] <= 10_000 + 1e-3 for r in rows)
    assert rows[-1]["unmet_share"] > rows[0]["unmet_share"]


def test_rows_hold_every_documented_column(demand_sweep) -> None:
    cols = demand_sweep.columns
    for c in (
        "scenario",
        "scale_demand",
        "status",
        "gap",
        "monthly_cost_usd",
        "monthly_spend_usd",
        "usd_per_million_tokens",
        "served_share",
        "serverless_share",
        "unmet_share",
        "error",
        "wall_s",
    ):
        assert c in cols
    assert any(c.startswith("gpus.") for c in cols) and any(c.startswith("gpus_by_option.") for c in cols)
    for r in demand_sweep.records:
        assert r["served_share"] + r["serverless_share"] + r["unmet_share"] == pytest.approx(1.0, abs=1e-6)


def test_spend_parts_add_up_to_the_plan_spend(demand_sweep) -> None:
    for name, data in demand_sweep.plans.items():
        plan = Plan.model_validate(data)
        for key in ("gpu", "purchase_option"):
            assert sum(spend_by(plan, key).values()) == pytest.approx(plan.monthly_spend_usd, rel=1e-6), name


def test_price_scale_on_a_catalog_priced_gpu_changes_the_cost() -> None:
    # startup_budget's H100s are all priced from the built-in reference list (catalog_prices)
    text = STARTUP.read_text()
    assert "prices:" not in text.split("workloads:")[0].replace("catalog_prices", "")
    result = sweep(STARTUP, scale_price={"h100_sxm": [0.5, 1.0]}, executor="serial")
    cheap, base = (r["monthly_cost_usd"] for r in result.records)
    assert cheap < base - 1.0


def test_chat_h100_minus_30_percent_moves_the_cost() -> None:
    """The example's old bug: on the chat problem H100 prices come from the catalog, and -30% gave +0.0%."""
    golden = yaml.safe_load((PROBLEMS.parent / "tests" / "golden" / "shipped.yaml").read_text())
    base = golden["problems"]["chat_assistant"]["monthly_cost_usd"]
    result = sweep(PROBLEMS / "chat_assistant.yaml", scale_price={"h100_sxm": [0.7]}, executor="serial")
    (row,) = result.records
    assert row["status"] == "optimal"
    assert row["monthly_cost_usd"] < base * 0.995


def test_budget_frontier_served_share_is_non_decreasing(budget_frontier) -> None:
    rows = budget_frontier.records
    assert [r["budget"] for r in rows] == [3_000, 6_000, 9_000, 12_000, 15_000]
    met = [r["demand_met_share"] for r in rows]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(met))
    assert met[0] < met[-1]
    assert all(r["monthly_spend_usd"] <= r["budget"] + 1e-3 for r in rows)


def test_failing_scenarios_are_reported_in_their_rows() -> None:
    # 10 ms cannot be met (the network round trip alone is 25 ms): infeasible, naming the TTFT
    # rule, in its row; 1000 ms within a $500 budget and no shortfall: infeasible, in its row.
    result = sweep(
        STARTUP,
        vary=["workloads.free_tier.slo.ttft_ms=10,1000"],
        overrides=[
            "policy.shortfall.allowed=false",
            "policy.budget_usd_per_month=500",
            "workloads.free_tier.serverless.allowed=false",
        ],
        executor="serial",
    )
    unreachable, infeasible = result.records
    assert unreachable["status"] == "infeasible" and "TTFT" in unreachable["error"]
    assert unreachable["monthly_cost_usd"] is None
    assert infeasible["status"] == "infeasible" and infeasible["error"]


def test_invalid_scenarios_are_reported_in_their_rows() -> None:
    # a region split summing to 0.5 fails the cross-reference checks of that scenario only
    result = sweep(STARTUP, vary=["workloads.free_tier.demand.region_split.us=0.5,1"], executor="serial")
    bad, good = result.records
    assert bad["status"] == "invalid_input"
    assert "region_split" in bad["error"] and "(after the overrides)" in bad["error"]
    assert bad["monthly_cost_usd"] is None and bad["gpus"] is None
    assert good["status"] == "optimal" and good["gpus"] > 0


def test_zip_and_cartesian() -> None:
    from optimizer.whatif.scenarios import expand, scale_axis, vary_axis

    axes = [vary_axis("policy.headroom=0,0.1,0.2"), scale_axis("1,2,3", "scale-demand")]
    assert len(expand(axes)) == 9
    zipped = expand(axes, zip_axes=True)
    assert [s.params for s in zipped][1] == {"policy.headroom": 0.1, "scale_demand": 2.0}
    with pytest.raises(InputError, match="same number of values"):
        expand([vary_axis("policy.headroom=0,0.1"), scale_axis("1,2,3", "scale-demand")], zip_axes=True)


def test_bad_override_in_a_sweep_stops_it_before_anything_runs() -> None:
    with pytest.raises(OverrideError, match=r"did you mean 'workloads\.free_tier\.slo\.ttft_ms'"):
        sweep(STARTUP, vary=["workloads.free_tier.slo.ttf_ms=300,500"], executor="serial")


def test_scenarios_file(tmp_path) -> None:
    f = tmp_path / "scenarios.yaml"
    f.write_text(
        "scenarios:\n"
        "  - name: base\n"
        "  - name: cheap_h100\n"
        "    scale_price: {h100_sxm: 0.5}\n"
        "  - name: more_budget\n"
        "    set:\n"
        "      policy.budget_usd_per_month: 20000\n"
        "      'workloads.pro_tier.demand.requests_per_day*': 1.5\n"
    )
    result = sweep(STARTUP, scenarios=f, executor="serial")
    assert [r["scenario"] for r in result.records] == ["base", "cheap_h100", "more_budget"]
    assert result.records[2]["policy.budget_usd_per_month"] == 20000
    costs = {r["scenario"]: r["monthly_cost_usd"] for r in result.records}
    assert costs["cheap_h100"] < costs["base"]
    df = result.dataframe()
    assert list(df["scenario"]) == ["base", "cheap_h100", "more_budget"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: a\n    sett: {}\n")
    with pytest.raises(InputError) as exc:
        sweep(STARTUP, scenarios=bad, executor="serial")
    assert "bad.yaml:3" in str(exc.value) and "did you mean 'set'" in str(exc.value)


def test_executors_give_identical_results() -> None:
    """Serial, worker processes, and Dask on a local cluster started here (reached by its scheduler
    address, as a remote cluster would be) run the same scenarios to the same rows."""
    distributed = pytest.importorskip("distributed")
    kwargs = {"scale_demand": [0.5, 2.0], "scale_price": {"l4": [0.6]}}
    serial = sweep(STARTUP, executor="serial", **kwargs)
    process = sweep(STARTUP, executor="process", jobs=2, **kwargs)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        dask = sweep(STARTUP, executor="dask", scheduler=cluster.scheduler_address, **kwargs)
    assert len(serial.records) == 2
    assert process.executor.name == "process" and process.executor.workers == 2
    assert dask.executor.name == "dask" and dask.executor.workers == 1
    assert process.reproducible_records() == serial.reproducible_records()
    assert dask.reproducible_records() == serial.reproducible_records()


def test_dask_local_cluster_from_the_cli(tmp_path, capsys) -> None:
    """Without --scheduler the sweep starts (and stops) its own local cluster."""
    pytest.importorskip("distributed")
    from optimizer.cli import main

    code = main(
        ["sweep", str(STARTUP), "--scale-demand", "0.5", "--executor", "dask", "--jobs", "1",
         "--format", "json", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["executor"] == {"name": "dask", "workers": 1}
    assert doc["rows"][0]["status"] == "optimal"
    assert main(["sweep", str(STARTUP), "--scale-demand", "1", "--scheduler", "tcp://127.0.0.1:1"]) == 2


def test_price_and_demand_scenarios_reuse_the_performance_model() -> None:
    """Scenarios changing only prices or demand make no performance-model call after the first, and
    the rows are the same as without the cache."""
    import dataclasses

    from optimizer.candidates import EvaluationCache, build_candidates
    from optimizer.whatif import runner
    from optimizer.whatif.api import make_tasks
    from optimizer.whatif.overrides import read_source
    from optimizer.whatif.scenarios import expand, scale_axis

    source = read_source(STARTUP)
    scenarios = expand([scale_axis("h100_sxm=0.5,1", "scale-price"), scale_axis("1,2", "scale-demand")])
    tasks = make_tasks(source, scenarios, SolveOptions(baselines=False, threads=1), keep_plans=False)
    cached = [runner.run_scenario(t) for t in tasks]
    (cache,) = (c for (sweep, _), c in runner._CACHES.items() if sweep == tasks[0].sweep_id)
    single = EvaluationCache()
    build_candidates(source.loaded.problem, source.loaded.catalog, cache=single)
    assert cache.misses == single.misses > 0
    assert cache.hits >= 3 * single.misses
    uncached = [runner.run_scenario(dataclasses.replace(t, sweep_id="")) for t in tasks]
    assert [o.figures for o in cached] == [o.figures for o in uncached]
