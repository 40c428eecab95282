"""Charts from result rows alone (no solving): which parameter goes on the x axis, and what is drawn."""

from __future__ import annotations

from optimizer.whatif.api import SweepResult
from optimizer.whatif.charts import write_charts, x_parameter
from optimizer.whatif.runner import ExecutorInfo


def _result(params: list[str], rows: list[dict]) -> SweepResult:
    columns = ["scenario", *params, "status", "monthly_cost_usd", "monthly_spend_usd", "spend_usd.h100_sxm"]
    return SweepResult("demo", "sweep", params, columns, rows, ExecutorInfo("serial", 1), 0.0)


def _row(name: str, cost: float, status: str = "optimal", **params: object) -> dict:
    return {"scenario": name, **params, "status": status, "monthly_cost_usd": cost,
            "monthly_spend_usd": cost, "spend_usd.h100_sxm": cost}  # fmt: skip


def test_x_axis_is_the_numeric_parameter_with_most_values(tmp_path) -> None:
    rows = [
        _row(f"s{i}", 100.0 * d + t, ttft=t, scale_demand=d)
        for i, (t, d) in enumerate((t, d) for t in (300, 600) for d in (0.5, 1, 2))
    ]
    result = _result(["ttft", "scale_demand"], rows)
    assert x_parameter(result) == "scale_demand"
    paths = write_charts(result, tmp_path, ["svg"])
    assert {p.name for p in paths} == {"cost.svg", "spend_by_gpu.svg", "spend_by_option.svg"}
    svg = (tmp_path / "cost.svg").read_text()
    assert "demo: monthly cost against scale_demand" in svg and "cost, ttft=300" in svg


def test_named_scenarios_get_bars_and_failed_rows_are_left_out(tmp_path) -> None:
    rows = [
        _row("base", 10.0, kind="a"),
        _row("cheap", 8.0, kind="b"),
        _row("broken", 0.0, "infeasible", kind="c"),
    ]
    result = _result(["kind"], rows)
    assert x_parameter(result) is None
    write_charts(result, tmp_path, ["svg"])
    svg = (tmp_path / "cost.svg").read_text()
    assert "monthly cost by scenario" in svg and "cheap" in svg and "broken" not in svg
    assert write_charts(_result(["kind"], [rows[2]]), tmp_path / "none", ["svg"]) == []
