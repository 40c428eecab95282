"""The loader: YAML semantics, line mapping, limits, and pydantic errors rewritten with paths and lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from schema_test_data import BASE_TEXT, REPO

from optimizer.errors import InputError
from optimizer.loading.messages import model_fields_at
from optimizer.loading.problem_file import LoadedProblem, load_problem, parse_problem_text
from optimizer.loading.yaml_source import MAX_DEPTH, LineMap, format_path, parse_path, parse_yaml
from optimizer.schema.problem import Problem


def issues_of(text: str | bytes, **kwargs: object) -> list[tuple[str, int | None, str]]:
    with pytest.raises(InputError) as info:
        parse_problem_text(text, "t.yaml", **kwargs)  # type: ignore[arg-type]
    return [(i.path, i.line, i.message) for i in info.value.issues]


# --------------------------------------------------------------------------------------------
# Paths and lines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [(), ("name",), ("workloads", 2, "slo", "ttft_ms"), ("sites", 0, "latency_ms", "US East"), ("a", 0, 1)],
)
def test_format_and_parse_path_round_trip(path: tuple[str | int, ...]) -> None:
    assert parse_path(format_path(path)) == path


def test_parse_path_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_path("workloads[x")


def test_lines_of_keys_and_items() -> None:
    doc = parse_yaml(BASE_TEXT, "b.yaml")
    lines = doc.lines
    assert lines.line_of(()) == 1
    assert lines.line_of("name") == 1
    assert lines.line_of("user_regions") == 2
    assert lines.line_of("user_regions[0]") == 3
    assert lines.line_of("user_regions[1].jurisdiction") == 6
    assert lines.line_of("sites[0].latency_ms.eu_west") == 10  # flow mapping on one line
    assert lines.line_of("sites[1].offers[0].prices.on_demand") == 21
    assert lines.line_of("workloads[0].slo.tpot_ms") == 33
    assert lines.line_of(("workloads", 0, "demand", "region_split", "us_east")) == 27


def test_missing_paths_fall_back_to_the_nearest_ancestor() -> None:
    lines = parse_yaml(BASE_TEXT).lines
    assert lines.line_of("workloads[0].slo.deadline_hours") == lines.line_of("workloads[0].slo") == 31
    assert lines.line_of("workloads[7].model") == lines.line_of("workloads") == 22
    assert LineMap().line_of("anything") is None


def test_loaded_problem_exposes_lines() -> None:
    loaded = parse_problem_text(BASE_TEXT, "b.yaml")
    assert isinstance(loaded, LoadedProblem)
    assert loaded.problem.workloads[0].slo.ttft_ms == 500
    assert loaded.line_of("workloads[0].slo.ttft_ms") == 32
    assert loaded.where("workloads[0].slo.ttft_ms") == "b.yaml:32"
    assert loaded.catalog.find_gpu("h100_sxm") is not None


def test_multiline_and_block_scalars_keep_their_key_lines() -> None:
    text = "description: >\n  first\n  second\nname: x\nlist:\n  - a\n  -\n    b: 1\n"
    lines = parse_yaml(text).lines
    assert lines.line_of("description") == 1
    assert lines.line_of("name") == 4
    assert lines.line_of("list[1]") == 8  # an item starting on the line after its dash
    assert lines.line_of("list[1].b") == 8


def test_aliases_and_merge_keys_are_expanded_with_lines() -> None:
    text = "base: &p {on_demand: 2.0, spot: 1.0}\nother:\n  <<: *p\n  spot: 0.5\n"
    doc = parse_yaml(text)
    assert doc.data["other"] == {"spot": 0.5, "on_demand": 2.0}
    assert doc.lines.line_of("other.spot") == 4
    assert doc.lines.line_of("other.on_demand") == 1  # merged from the anchor


# --------------------------------------------------------------------------------------------
# YAML semantics: 1.2 core scalars, no surprises
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("no", "no"),
        ("on", "on"),
        ("yes", "yes"),
        ("true", True),
        ("False", False),
        ("1e9", 1e9),
        ("2_000_000", 2_000_000),
        ("0.5", 0.5),
        (".5", 0.5),
        ("-3", -3),
        ("1:30", "1:30"),
        ("2025-01-01", "2025-01-01"),
        ("0x1F", 31),
        ("~", None),
        ("null", None),
        ("'12'", "12"),
        ("!!str 12", "12"),
        ("!!float 3", 3.0),
    ],
)
def test_scalars_follow_yaml_1_2_core(literal: str, value: object) -> None:
    assert parse_yaml(f"v: {literal}\n").data == {"v": value}


def test_keys_are_always_strings() -> None:
    assert parse_yaml("1: a\nno: b\ntrue: c\n").data == {"1": "a", "no": "b", "true": "c"}


def test_byte_order_mark_is_accepted() -> None:
    loaded = parse_problem_text(b"\xef\xbb\xbf" + BASE_TEXT.encode(), "bom.yaml")
    assert loaded.problem.name == "small_chat"


def test_duplicate_keys_name_the_key_and_both_lines() -> None:
    text = "name: a\nuser_regions: []\nname: b\n"
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("name", 3)
    assert message.startswith("duplicate key 'name': first at line 1, again at line 3")


def test_every_duplicate_and_tag_is_reported_together() -> None:
    text = "a: 1\na: 2\nb: !!binary aGk=\nc: {x: 1, x: 2}\n"
    found = issues_of(text)
    assert [(p, ln) for p, ln, _ in found] == [("a", 2), ("b", 3), ("c.x", 4)]


@pytest.mark.parametrize(
    "tag", ["!!python/object:os.system", "!!python/name:os.system", "!!set", "!custom", "!!omap"]
)
def test_unsafe_and_custom_tags_are_rejected(tag: str) -> None:
    ((path, line, message),) = issues_of(f"name: x\nvalue: {tag} {{}}\n")
    assert (path, line) == ("value", 2)
    assert "is not allowed" in message


def test_non_finite_numbers_are_rejected() -> None:
    ((path, _, message),) = issues_of("name: x\nbudget: .inf\n")
    assert path == "budget" and "finite" in message


def test_huge_integers_are_rejected() -> None:
    ((path, _, message),) = issues_of("name: x\nbig: " + "9" * 5000 + "\n")
    assert path == "big" and "too large" in message


def test_deep_nesting_is_rejected_without_recursion_error() -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    ((path, line, message),) = issues_of(f"name: x\nv: {deep}\n")
    assert path == "" and line == 2 and "nesting deeper" in message
    ((_, _, message),) = issues_of("[" * 100_000)
    assert "nesting deeper" in message


def test_recursive_alias_is_rejected() -> None:
    ((_, _, message),) = issues_of("a: &a [*a]\n")
    assert "recursive alias" in message


def test_alias_bomb_stops_quickly() -> None:
    levels = ["l0: &l0 [" + ", ".join(["x"] * 10) + "]"]
    for i in range(1, 12):
        levels.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    ((path, line, message),) = issues_of("\n".join(levels) + "\n")
    assert path == "" and line is not None and "alias bomb" in message


def test_yaml_syntax_errors_have_lines() -> None:
    ((_, line, message),) = issues_of("name: x\nsites: [\n")
    assert line is not None and line >= 2 and message.startswith("invalid YAML")
    ((_, line, message),) = issues_of("name: x\n\tsites: 1\n")
    assert line == 2 and "tabs" in message


def test_multiple_documents_are_rejected() -> None:
    ((_, _, message),) = issues_of("name: x\n---\nname: y\n")
    assert "single document" in message


def test_control_characters_are_rejected_with_line() -> None:
    ((_, line, message),) = issues_of("name: x\ndescription: a\x07b\n")
    assert line == 2 and "U+0007" in message


def test_non_utf8_bytes_name_the_line() -> None:
    ((_, line, message),) = issues_of(b"name: x\n\ndescription: caf\xe9\n")
    assert line == 3 and "not UTF-8" in message


# --------------------------------------------------------------------------------------------
# Structure: pydantic errors rewritten
# --------------------------------------------------------------------------------------------


def test_model_fields_at_walks_unions_and_containers() -> None:
    assert model_fields_at((), Problem)[:2] == ["schema_version", "name"]
    assert "hours_per_day" in model_fields_at(("periods", 3), Problem)
    assert "share" in model_fields_at(("workloads", 0, "request", "histogram", 2), Problem)
    assert model_fields_at(("sites", 0, "latency_ms"), Problem) == []


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    text = BASE_TEXT + "policy:\n  zzz: 1\n"
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("policy.zzz", 35)
    assert message.startswith("unknown key 'zzz'; allowed keys: placement, headroom")


def test_union_errors_are_merged_into_one_message() -> None:
    text = BASE_TEXT.replace("name: small_chat", "name: small_chat\nperiods: 5")
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("periods", 2)
    assert message == "must be 'hourly' or a list (got 5)"


def test_union_errors_keep_the_branch_that_matches_the_shape() -> None:
    text = BASE_TEXT.replace(
        "name: small_chat", "name: small_chat\nperiods:\n  - {id: day, hours_per_day: 30}"
    )
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("periods[0].hours_per_day", 3)
    assert message == "must be at most 24 (got 30)"


def test_profile_mapping_errors_point_at_the_entry() -> None:
    text = BASE_TEXT.replace(
        "      requests_per_day: 1000000", "      requests_per_day: 1000000\n      profile: {day: -1}"
    )
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("workloads[0].demand.profile.day", 27)
    assert message == "must be greater than or equal to 0 (got -1)"


def test_model_level_errors_have_no_value_error_prefix() -> None:
    text = BASE_TEXT.replace("      requests_per_day: 1000000\n", "")
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("workloads[0].demand", 25)
    assert message == "give exactly one of requests_per_day, output_tokens_per_day, audio_hours_per_day"
    assert "Value error" not in message


def test_dict_key_errors_name_the_key() -> None:
    text = BASE_TEXT.replace(
        "latency_ms: {us_east: 10, eu_west: 90}", "latency_ms: {us_east: 10, EU-West: 90}"
    )
    found = issues_of(text)
    assert ('sites[0].latency_ms["EU-West"]', 10) in [(p, ln) for p, ln, _ in found]
    assert any("key 'EU-West' must be a snake_case id" in m for _, _, m in found)


def test_wrong_container_types() -> None:
    text = BASE_TEXT.replace("user_regions:\n", "user_regions: us_east\nx_user_regions:\n")
    found = issues_of(text)
    assert ("user_regions", 2, "must be a list (got 'us_east')") in found


def test_tensor_parallel_must_be_positive() -> None:
    text = BASE_TEXT.replace("    slo:\n", "    tensor_parallel: [1, 0]\n    slo:\n")
    ((path, line, message),) = issues_of(text)
    assert (path, line) == ("workloads[0].tensor_parallel[1]", 31)
    assert "greater than or equal to 1" in message


# --------------------------------------------------------------------------------------------
# Files and the catalog section
# --------------------------------------------------------------------------------------------


def test_load_problem_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE_TEXT)
    loaded = load_problem(path)
    assert loaded.source == str(path)
    assert loaded.problem.sites[1].id == "eu_site"


def test_catalog_files_are_relative_to_the_problem_file(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "extra.yaml").write_text("gpus:\n  - id: h100_sxm\n    aliases: [my-h100]\n")
    path = tmp_path / "p.yaml"
    path.write_text(
        BASE_TEXT.replace("gpu: h100_sxm", "gpu: my-h100") + "catalog:\n  files: [cat/extra.yaml]\n"
    )
    loaded = load_problem(path)
    assert loaded.catalog.gpu("my-h100").id == "h100_sxm"


def test_missing_catalog_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE_TEXT + "catalog:\n  files: [nope.yaml]\n")
    with pytest.raises(InputError) as info:
        load_problem(path)
    ((issue),) = info.value.issues
    assert (issue.path, issue.line) == ("catalog.files[0]", 35)
    assert "not found" in issue.message


def test_inline_catalog_entries_extend_the_catalog() -> None:
    text = BASE_TEXT.replace("gpu: h100_sxm", "gpu: lab_gpu") + (
        "catalog:\n  gpus:\n    - {id: h100_sxm, memory_gb: 96}\n"
    )
    found = issues_of(text)
    assert found[0][0] == "sites[0].offers[0].gpu"  # lab_gpu is still unknown: only an override was given
    loaded = parse_problem_text(BASE_TEXT + "catalog:\n  gpus:\n    - {id: h100_sxm, memory_gb: 96}\n")
    assert loaded.catalog.gpu("h100_sxm").memory_gb == 96


def test_inline_catalog_errors_are_located() -> None:
    text = BASE_TEXT + "catalog:\n  gpus:\n    - {id: h100_sxm, memory_gb: -5}\n"
    found = issues_of(text)
    assert found and found[0][0].startswith("catalog.gpus[0]")
    assert found[0][1] == 36


def test_shipped_problem_loads_through_the_api() -> None:
    loaded = load_problem(REPO / "problems" / "chat_assistant.yaml")
    workload = loaded.problem.workloads[0]
    assert workload.demand.output_tokens_per_day == 2e9
    assert loaded.problem.period_list()[0].id == "h00"
    assert not loaded.warnings
