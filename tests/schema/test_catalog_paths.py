"""Where catalog files may be (issue 10, item 12): relative to the problem file, inside its folder
unless a directory is allowed with `--catalog-dir`, and nothing of a non-catalog file is echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from schema_test_data import BASE_TEXT

from optimizer.cli import main
from optimizer.errors import InputError
from optimizer.loading.problem_file import load_problem, parse_problem_text

OVERRIDE = "gpus:\n  - id: h100_sxm\n    memory_gb: 94\n"
SECRET = "password: hunter2\napi_key: sk-live-123\nnested: {token: abc}\n"


def _problem(folder: Path, *files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "p.yaml"
    path.write_text(BASE_TEXT + "catalog:\n  files: [" + ", ".join(repr(f) for f in files) + "]\n")
    return path


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_paths_are_relative_to_the_problem_file_not_the_working_directory(tmp_path, monkeypatch):
    problem = _problem(tmp_path / "proj", "cat/extra.yaml")
    (tmp_path / "proj" / "cat").mkdir()
    (tmp_path / "proj" / "cat" / "extra.yaml").write_text(OVERRIDE)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = load_problem(Path("..") / "proj" / "p.yaml")
    assert loaded.catalog.gpu("h100_sxm").memory_gb == 94
    assert load_problem(problem).catalog.gpu("h100_sxm").memory_gb == 94


def test_a_path_outside_the_folder_is_refused_unless_its_directory_is_allowed(tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "gpus.yaml").write_text(OVERRIDE)
    problem = _problem(tmp_path / "proj", "../shared/gpus.yaml")
    code, output = _validate(capsys, str(problem))
    assert code == 2
    assert (
        f"{problem}:35: catalog.files[0]: catalog file '../shared/gpus.yaml' is outside the problem's "
        f"folder {tmp_path / 'proj'}; move it into that folder, or allow its directory with --catalog-dir "
        f"{shared}"
    ) in output
    code, output = _validate(capsys, "--catalog-dir", str(shared), str(problem))
    assert code == 0, output
    assert load_problem(problem, catalog_dirs=[shared]).catalog.gpu("h100_sxm").memory_gb == 94


def test_absolute_system_paths_are_refused_without_reading_them(tmp_path, capsys):
    problem = _problem(tmp_path, "/etc/passwd", "/proc/self/environ", "/dev/zero")
    code, output = _validate(capsys, str(problem))
    assert code == 2
    assert output.count("is outside the problem's folder") == 3, output
    assert "root" not in output.replace(str(tmp_path), "")
    assert "unknown catalog section" not in output


def test_a_link_inside_the_folder_to_a_file_outside_is_refused(tmp_path, capsys):
    outside = tmp_path / "outside.yaml"
    outside.write_text(OVERRIDE)
    problem = _problem(tmp_path / "proj", "link.yaml")
    os.symlink(outside, tmp_path / "proj" / "link.yaml")
    code, output = _validate(capsys, str(problem))
    assert code == 2
    assert f"catalog file 'link.yaml' (a link to {outside}) is outside the problem's folder" in output


@pytest.mark.parametrize(
    "content",
    [SECRET, "- password: hunter2\n", "password hunter2 api_key sk-live-123\n", "[hunter2, sk-live-123]\n"],
)
def test_a_file_that_is_not_a_catalog_is_never_echoed(tmp_path, capsys, content):
    allowed = tmp_path / "etc"
    allowed.mkdir()
    (allowed / "secrets.yaml").write_text(content)
    problem = _problem(tmp_path / "proj", "../etc/secrets.yaml")
    code, output = _validate(capsys, "--catalog-dir", str(allowed), str(problem))
    assert code == 2
    assert "not a catalog file" in output
    for word in ("password", "hunter2", "api_key", "sk-live", "token"):
        assert word not in output, output


def test_directories_missing_files_and_bad_names_are_located(tmp_path, capsys):
    (tmp_path / "adir").mkdir()
    problem = _problem(tmp_path, "adir", "missing.yaml", "")
    code, output = _validate(capsys, str(problem))
    assert code == 2
    assert f"{problem}:35: catalog.files[0]: catalog file 'adir': not a regular file" in output
    assert f"{problem}:35: catalog.files[1]: catalog file 'missing.yaml' not found" in output
    assert f"{problem}:35: catalog.files[2]: catalog file name '' is not a file name" in output
    device = _problem(tmp_path / "dev", "/dev/zero")
    code, output = _validate(capsys, "--catalog-dir", "/dev", str(device))
    assert code == 2 and "catalog file '/dev/zero': not a regular file" in output  # never read


def test_text_input_resolves_against_base_dir(tmp_path):
    (tmp_path / "extra.yaml").write_text(OVERRIDE)
    text = BASE_TEXT + "catalog:\n  files: [extra.yaml]\n"
    assert parse_problem_text(text, base_dir=tmp_path).catalog.gpu("h100_sxm").memory_gb == 94
    with pytest.raises(InputError, match="outside the problem's folder"):
        parse_problem_text(text.replace("extra.yaml", "../extra.yaml"), base_dir=tmp_path / "sub")


def test_solve_takes_catalog_dir_end_to_end(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "gpus.yaml").write_text(OVERRIDE)
    problem = _problem(tmp_path / "proj", "../shared/gpus.yaml")
    run = [sys.executable, "-m", "optimizer", "solve", str(problem), "--no-baselines", "--format", "json"]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--catalog-dir" in refused.stderr and "Traceback" not in refused.stderr
    solved = subprocess.run([*run, "--catalog-dir", str(shared)], capture_output=True, text=True, timeout=120)
    assert solved.returncode in (0, 1), solved.stderr
    assert solved.stdout.lstrip().startswith("{")
