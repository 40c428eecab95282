"""Input issues found after loading (candidate generation) name the problem file, the line and the
field path, exactly like the loader's own messages (they used to cite `<input>`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.errors import InputError
from optimizer.loading.problem_file import load_problem
from optimizer.pipeline import solve_loaded

BASE = Path(__file__).resolve().parent / "known_answers" / "problems" / "ka01_single_on_demand.yaml"
OFFER = "        prices: {on_demand: 2.5}\n"
SECOND_OFFER = (
    OFFER + "      - gpu: h100_sxm\n        gpus_per_instance: 1\n        prices: {on_demand: 3.5}\n"
)


def _duplicate_offer(tmp_path: Path) -> Path:
    text = BASE.read_text()
    assert OFFER in text
    path = tmp_path / "dup_offer.yaml"
    path.write_text(text.replace(OFFER, SECOND_OFFER, 1))
    return path


def test_candidate_stage_issue_names_file_line_and_path(tmp_path: Path) -> None:
    """With the semantic checks skipped, the duplicate offer is found while building candidates: the
    message must still read `dup_offer.yaml:19: sites[0].offers[1]: ...`."""
    path = _duplicate_offer(tmp_path)
    loaded = load_problem(path, check=False)
    with pytest.raises(InputError) as err:
        solve_loaded(loaded)
    text = str(err.value)
    assert "<input>" not in text
    assert f"{path}:19: sites[0].offers[1]:" in text, text
    assert err.value.issues[0].file == str(path)


def test_zero_profile_past_the_loader_cites_the_workload_by_index(tmp_path: Path) -> None:
    """The candidate stage's own profile check cites `workloads[0]` (the loader's path form), not the
    workload id, so the line is found."""
    text = BASE.read_text().replace("region_split: {us: 1.0}", "region_split: {us: 1.0}\n      profile: [0]")
    path = tmp_path / "zero_profile.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        solve_loaded(load_problem(path, check=False))
    assert f"{path}:25: workloads[0].demand.profile:" in str(err.value), str(err.value)


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_duplicate_offer_is_caught_by_the_loader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = _duplicate_offer(tmp_path)
    capsys.readouterr()
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:19: sites[0].offers[1].gpu: site 'us_site' already offers h100_sxm" in err, err
    assert "<input>" not in err


def test_duplicate_offer_after_overrides_still_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _duplicate_offer(tmp_path)
    capsys.readouterr()
    assert main(["solve", str(path), "--scale-demand", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:19: sites[0].offers[1].gpu:" in err, err


MEASURED = (
    "      - {gpu: h100_sxm, precision: bf16, tensor_parallel: 1, output_tokens_per_s_per_replica: 2000,"
)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (
            "{gpu: h100_sxm, precision: bf16, tensor_parallel: 1, output",
            "{gpu: h100_sxm, precision: fp8, tensor_parallel: 1, output",
            ":30: workloads[0].measured[0].precision: warning: fp8 is not in this workload's precisions",
        ),
        (
            "{gpu: h100_sxm, precision: bf16, tensor_parallel: 1, output",
            "{gpu: h100_sxm, precision: bf16, tensor_parallel: 8, output",
            ":30: workloads[0].measured[0].tensor_parallel: warning: tensor_parallel 8 is not in this",
        ),
    ],
    ids=["precision", "tensor_parallel"],
)
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_unused_measurement_is_warned_by_validate_and_solve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, old: str, new: str, fragment: str
) -> None:
    """A measurement the workload's own lists exclude is silently unused; both commands now say so on
    stderr (solve printed no loader warning at all), and the exit code stays 0."""
    text = BASE.read_text()
    assert old in text
    path = tmp_path / "unused.yaml"
    path.write_text(text.replace(old, new, 1))
    capsys.readouterr()
    assert main([command, str(path), *(["-q", "--format", "json"] if command == "solve" else [])]) == 0
    captured = capsys.readouterr()
    assert f"{path}{fragment}" in captured.err, captured.err
    if command == "solve":
        assert captured.out.lstrip().startswith("{")  # stdout stays the document alone


def test_duplicate_measurement_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two measurements of one configuration: the second silently won; now exit 2 naming both."""
    text = BASE.read_text()
    assert MEASURED in text
    second = (
        "      - {gpu: H100, precision: bf16, tensor_parallel: 1, output_tokens_per_s_per_replica: 900}\n"
    )
    path = tmp_path / "twice.yaml"
    path.write_text(text.rstrip("\n").replace("policy:", second + "policy:") + "\n")
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "workloads[0].measured[1]: a second measurement of llama_3_1_8b on h100_sxm bf16 tp1" in err, err
    assert "(the first is workloads[0].measured[0]); keep one" in err
