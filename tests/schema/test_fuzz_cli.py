"""Fuzzing the command line with hostile input (issue 10, item 16): whatever the files hold, every
run ends in a documented exit code with a message (validate: 0 or 2; solve: 0, 1, 2 or 3), never
exit 4 (internal error) and never a traceback; every located error has a line; nothing of a file
that is not a catalog is echoed.

Two profiles of the same tests (see `conftest.py`): the fast one (a few hundred cases) runs in the
default suite; the long one (over 20,000 cases) runs with

    python -m pytest -m fuzz

and prints the number of cases and their exit codes at the end. Cases go through the CLI entry
point `optimizer.cli.main([...])`, and some through real subprocesses.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fuzz_profile
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_test_data import BASE_TEXT
from schema_test_data import YAML_TOKENS as BASE_YAML_TOKENS

from optimizer.cli import main

pytestmark = pytest.mark.fuzz

SECRET = "s3cr3t-marker"
"""Planted in every file that is not a catalog: it must never appear in any output."""


def _settings(fast: int, long: int) -> settings:
    return settings(
        max_examples=long if fuzz_profile.LONG else fast,
        deadline=None,
        database=None if fuzz_profile.LONG else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# --------------------------------------------------------------------------------------------
# Running the CLI and judging the outcome
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Outcome:
    """`optimizer.cli.main(args)` with stdout and stderr captured; the exit code is tallied."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    fuzz_profile.record(args[0], code)
    return Outcome(code, out.getvalue(), err.getvalue())


def _no_crash(o: Outcome) -> None:
    text = o.out + o.err
    assert "Traceback" not in text, text[-3000:]
    assert "internal error" not in text, text[-3000:]
    assert SECRET not in text, text[-3000:]


def check_validate(o: Outcome) -> None:
    """validate --json: exit 0 or 2; an invalid file has messages, and a line wherever there is a path."""
    _no_crash(o)
    assert o.code in (0, 2), (o.code, o.err[-3000:])
    report = json.loads(o.out)
    assert report["valid"] is (o.code == 0)
    for entry in report["files"]:
        assert entry["valid"] or entry["errors"]
        for error in entry["errors"]:
            assert error["message"], error
            if error["path"]:
                assert error["line"] is not None, error


def check_solve(o: Outcome) -> None:
    """solve --format json: a plan (exit 0/1) or a message (exit 2/3)."""
    _no_crash(o)
    assert o.code in (0, 1, 2, 3), (o.code, o.err[-3000:])
    if o.code in (0, 1):
        assert "status" in json.loads(o.out), o.out[:500]
    else:
        assert o.err.strip() and o.out == "", (o.out[-500:], o.err[-500:])


@contextlib.contextmanager
def folder() -> Any:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


def validate_files(problem: bytes | str, extra: dict[str, bytes | str] | None = None, *flags: str) -> Outcome:
    """Write the problem (and catalog files) into a fresh folder, run `validate --json` on it."""
    with folder() as where:
        for name, content in {"p.yaml": problem, **(extra or {})}.items():
            path = where / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(
                content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
            )
        outcome = run_cli("validate", "--json", *flags, str(where / "p.yaml"))
    check_validate(outcome)
    return outcome


# --------------------------------------------------------------------------------------------
# Material: a valid problem, a valid catalog file, and hostile values
# --------------------------------------------------------------------------------------------

CATALOG_TEXT = """\
gpus:
  - id: h100_sxm
    memory_gb: 94
  - id: lab_gpu
    name: Lab GPU
    vendor: Lab
    family: nvidia_hopper
    memory_gb: 80
    mem_bandwidth_tb_s: 3.35
    fp16_dense_tflops: 989
    fp8_dense_tflops: 1979
    interconnect: NVLink 4
    interconnect_bw_gb_s: 450
    max_tensor_parallel: 8
    tdp_w: 700
    source: fuzz test
    as_of: "2025-01"
models:
  - id: llama_3_1_8b
    max_context_tokens: 65536
precisions:
  - id: fp8
    kv_bytes: 2
prices:
  - {provider: aws, region: us-east-1, instance_type: p5.48xlarge, gpu: h100_sxm, gpus_per_instance: 8,
     purchase: on_demand, usd_per_instance_hour: 80.0, source: fuzz test, as_of: "2025-01"}
"""
WITH_CATALOG = BASE_TEXT.replace("gpu: h200_sxm", "gpu: lab_gpu") + "catalog:\n  files: [cat/extra.yaml]\n"

BASE: dict[str, Any] = yaml.safe_load(BASE_TEXT)
CATALOG: dict[str, Any] = yaml.safe_load(CATALOG_TEXT)

ABSURD_LITERALS = [
    ".inf",
    "-.inf",
    ".nan",
    "+inf",
    "'inf'",
    "nan",
    "'-inf'",
    "1e300",
    "-1e300",
    "1e-320",
    "1e309",
    "0",
    "-0",
    "-1",
    "1e12",
    "1e13",
    "1e15",
    "1e16",
    "99999999999999999999999999",
    "0x7fffffffffffffff",
    "1_000_000",
    "10000001",
    "256",
    "257",
    "604801",
    "2.5",
    "true",
    "no",
    "null",
    "~",
    "[]",
    "{}",
    "''",
    "'-'",
    "'1e400'",
    "[1, 2]",
    "{a: 1}",
    "!!binary aGk=",
    "*nope",
    "&a 1",
    '"\\x00"',
    "0.0001",
    "72",
    "73",
]
"""YAML scalars and snippets that are wrong somewhere: non-finite, huge, tiny, negative, wrong type."""

NUMBERS = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**30), 10**30)
    | st.sampled_from([0, -1, 1, 1e12, 1e15, 1e300, 1e-300, 2**63, -(2**63), 256, 257, 604_801, 10**7 + 1])
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PROBLEM_PATHS = _paths(BASE)
CATALOG_PATHS = _paths(CATALOG)


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _replaced(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    _get(out, path[:-1])[path[-1]] = value
    return out


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------
# Problem files
# --------------------------------------------------------------------------------------------

YAML_TOKENS = [
    *BASE_YAML_TOKENS[:4],
    "catalog:",
    "files:",
    *BASE_YAML_TOKENS[4:],
    "\x00",
    "\x85",
    "\ufeff",
    "\ud7ff",
    "é",
]
"""The loader fuzz's tokens plus catalog keys and bytes a text file should not hold."""


@_settings(fast=40, long=2500)
@given(st.text(max_size=600))
def test_random_text_problem(text: str) -> None:
    validate_files(text)


@_settings(fast=30, long=1500)
@given(st.binary(max_size=600))
def test_random_bytes_problem(raw: bytes) -> None:
    validate_files(raw)


@_settings(fast=40, long=2500)
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=80))
def test_yaml_token_soup_problem(tokens: list[str]) -> None:
    validate_files("".join(tokens))


@_settings(fast=40, long=3000)
@given(st.sampled_from(PROBLEM_PATHS), JSON_VALUES)
def test_one_value_replaced_anywhere(path: tuple[Any, ...], value: Any) -> None:
    validate_files(_dump(_replaced(BASE, path, value)))


@_settings(fast=40, long=2500)
@given(st.sampled_from(PROBLEM_PATHS), st.sampled_from(ABSURD_LITERALS))
def test_one_absurd_literal_anywhere(path: tuple[Any, ...], literal: str) -> None:
    text = _dump(_replaced(BASE, path, "FUZZ_MARKER_VALUE")).replace("FUZZ_MARKER_VALUE", literal)
    validate_files(text)


@_settings(fast=20, long=1500)
@given(st.sampled_from(PROBLEM_PATHS), st.text(min_size=1, max_size=12), JSON_VALUES)
def test_one_key_added_anywhere(path: tuple[Any, ...], key: str, value: Any) -> None:
    data = copy.deepcopy(BASE)
    node = _get(data, path)
    if isinstance(node, dict):
        node[key] = value
    elif isinstance(node, list):
        node.append(value)
    validate_files(_dump(data))


@_settings(fast=20, long=1200)
@given(st.integers(0, len(BASE_TEXT.encode())), st.binary(min_size=1, max_size=8))
def test_bad_bytes_inside_a_valid_problem(offset: int, junk: bytes) -> None:
    raw = BASE_TEXT.encode()
    validate_files(raw[:offset] + junk + raw[offset:])


@_settings(fast=10, long=400)
@given(st.integers(1, 30_000), st.sampled_from(["[", "{a: ", "- ", "a:\n  "]), st.booleans())
def test_deep_nesting(depth: int, opener: str, in_catalog: bool) -> None:
    closer = {"[": "]", "{a: ": "}"}.get(opener, "")
    if opener == "a:\n  ":
        body = (
            "".join("  " * i + f"k{i}:\n" for i in range(min(depth, 3000))) + "  " * min(depth, 3000) + "v\n"
        )
    elif opener == "- ":
        body = (
            "".join("  " * i + "- " + "\n" for i in range(min(depth, 3000))) + "  " * min(depth, 3000) + "x\n"
        )
    else:
        body = "v: " + opener * depth + "1" + closer * depth + "\n"
    if in_catalog:
        validate_files(WITH_CATALOG, {"cat/extra.yaml": "gpus: []\n" + body})
    else:
        validate_files("name: x\n" + body)


# --------------------------------------------------------------------------------------------
# Catalog files named by problems
# --------------------------------------------------------------------------------------------


@_settings(fast=40, long=3000)
@given(st.sampled_from(CATALOG_PATHS), JSON_VALUES)
def test_catalog_value_replaced_anywhere(path: tuple[Any, ...], value: Any) -> None:
    validate_files(WITH_CATALOG, {"cat/extra.yaml": _dump(_replaced(CATALOG, path, value))})


@_settings(fast=30, long=2000)
@given(st.sampled_from(CATALOG_PATHS), st.sampled_from(ABSURD_LITERALS))
def test_catalog_absurd_literal_anywhere(path: tuple[Any, ...], literal: str) -> None:
    text = _dump(_replaced(CATALOG, path, "FUZZ_MARKER_VALUE")).replace("FUZZ_MARKER_VALUE", literal)
    validate_files(WITH_CATALOG, {"cat/extra.yaml": text})


@_settings(fast=30, long=1500)
@given(
    st.one_of(
        st.text(max_size=400),
        st.binary(max_size=400),
        st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join),
    )
)
def test_catalog_file_is_random(content: str | bytes) -> None:
    validate_files(WITH_CATALOG, {"cat/extra.yaml": content})


@_settings(fast=20, long=1000)
@given(
    st.integers(0, len(CATALOG_TEXT.encode())),
    st.sampled_from([b"\xe9", b"\xff\xfe", b"\x80", b"\xc3", b"\x00", b"\xed\xa0\x80"]),
)
def test_catalog_file_with_a_bad_encoding(offset: int, junk: bytes) -> None:
    raw = CATALOG_TEXT.encode()
    validate_files(WITH_CATALOG, {"cat/extra.yaml": raw[:offset] + junk + raw[offset:]})


NOT_A_CATALOG = [
    f"password: {SECRET}\n",
    f"- {SECRET}\n",
    f"{SECRET}\n",
    f"[{SECRET}, 1]\n",
    f"{{{SECRET}: 1, other: 2}}\n",
    f"# {SECRET}\nkey: value\n",
]
CATALOG_NAMES = [
    "cat/extra.yaml",
    "../outside/c.yaml",
    "/etc/passwd",
    "/proc/self/environ",
    "/dev/zero",
    "",
    " ",
    "cat",
    "cat/missing.yaml",
    "link.yaml",
    "secret.yaml",
    "x" * 300,
    "a\x00b",
    "~/c.yaml",
    "cat//extra.yaml",
    "./cat/./extra.yaml",
    "cat/../cat/extra.yaml",
    "../" * 40 + "etc/passwd",
]


@_settings(fast=30, long=1000)
@given(
    st.lists(st.sampled_from(CATALOG_NAMES), min_size=1, max_size=4),
    st.sampled_from(NOT_A_CATALOG),
    st.booleans(),
)
def test_catalog_paths_are_confined_and_never_echo(
    names: list[str], secret: str, allow_outside: bool
) -> None:
    problem = BASE_TEXT + "catalog:\n  files: " + json.dumps(names) + "\n"
    with folder() as where:
        (where / "cat").mkdir()
        (where / "cat" / "extra.yaml").write_text(CATALOG_TEXT)
        (where / "secret.yaml").write_text(secret)
        (where / "outside").mkdir()
        (where / "outside" / "c.yaml").write_text(secret)
        (where / "proj").mkdir()
        os.symlink(where / "outside" / "c.yaml", where / "proj" / "link.yaml")
        (where / "proj" / "cat").symlink_to(where / "cat")
        (where / "proj" / "secret.yaml").write_text(secret)
        (where / "proj" / "p.yaml").write_text(problem)
        flags = ["--catalog-dir", str(where / "outside")] if allow_outside else []
        outcome = run_cli("validate", "--json", *flags, str(where / "proj" / "p.yaml"))
    check_validate(outcome)


# --------------------------------------------------------------------------------------------
# Solving what validates
# --------------------------------------------------------------------------------------------

SOLVABLE_NUMBERS = st.sampled_from([1e-300, 1e-6, 0.5, 1, 7, 100, 1e4, 1e6, 1e9, 1e12, 1e15]) | st.floats(
    min_value=0, max_value=1e15, allow_nan=False
)
NUMERIC_PROBLEM_PATHS = [
    p for p in PROBLEM_PATHS if isinstance(_get(BASE, p), int | float) and not isinstance(_get(BASE, p), bool)
]
NUMERIC_CATALOG_PATHS = [
    p
    for p in CATALOG_PATHS
    if isinstance(_get(CATALOG, p), int | float) and not isinstance(_get(CATALOG, p), bool)
]
SOLVER = "solver:\n  time_limit_s: 20\n"


def solve_files(problem: str, extra: dict[str, str] | None = None) -> Outcome:
    with folder() as where:
        for name, content in {"p.yaml": problem + SOLVER, **(extra or {})}.items():
            path = where / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        outcome = run_cli("solve", str(where / "p.yaml"), "--no-baselines", "--format", "json")
    check_solve(outcome)
    return outcome


CHANGES = st.one_of(
    st.tuples(st.just("set"), SOLVABLE_NUMBERS),
    st.tuples(st.just("scale"), st.sampled_from([1e-9, 1e-3, 0.1, 0.5, 2.0, 10.0, 1e3, 1e6, 1e9])),
)


def _changed(data: dict[str, Any], edits: list[tuple[tuple[Any, ...], tuple[str, float]]]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for path, (how, number) in edits:
        parent = _get(out, path[:-1])
        old = parent[path[-1]]
        parent[path[-1]] = (
            number if how == "set" else type(old)(old * number) if abs(old * number) < 2**62 else number
        )
    return out


@_settings(fast=6, long=600)
@given(st.lists(st.tuples(st.sampled_from(NUMERIC_PROBLEM_PATHS), CHANGES), min_size=1, max_size=3))
def test_solve_with_extreme_numbers(edits: list[tuple[tuple[Any, ...], tuple[str, float]]]) -> None:
    solve_files(_dump(_changed(BASE, edits)))


@_settings(fast=4, long=400)
@given(st.lists(st.tuples(st.sampled_from(NUMERIC_CATALOG_PATHS), CHANGES), min_size=1, max_size=3))
def test_solve_with_extreme_catalog_numbers(edits: list[tuple[tuple[Any, ...], tuple[str, float]]]) -> None:
    solve_files(WITH_CATALOG, {"cat/extra.yaml": _dump(_changed(CATALOG, edits))})


# --------------------------------------------------------------------------------------------
# A few through real subprocesses
# --------------------------------------------------------------------------------------------

HOSTILE: dict[str, Callable[[], tuple[bytes, bytes]]] = {
    "latin1_catalog": lambda: (
        WITH_CATALOG.encode(),
        "gpus:\n  - id: l4\n    notes: caf\xe9\n".encode("latin-1"),
    ),
    "deep_catalog": lambda: (WITH_CATALOG.encode(), ("gpus: " + "[" * 5000 + "]" * 5000 + "\n").encode()),
    "random_bytes": lambda: (bytes(range(256)) * 4, CATALOG_TEXT.encode()),
    "inf_tokens": lambda: (
        WITH_CATALOG.replace("input_tokens: 800", "input_tokens: +inf").encode(),
        CATALOG_TEXT.encode(),
    ),
    "not_a_catalog": lambda: (WITH_CATALOG.encode(), f"password: {SECRET}\n".encode()),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_hostile_files_through_a_real_process(case: str, command: str, tmp_path: Path) -> None:
    problem, catalog = HOSTILE[case]()
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "extra.yaml").write_bytes(catalog)
    (tmp_path / "p.yaml").write_bytes(problem)
    args = ["--no-baselines", "--format", "json"] if command == "solve" else []
    env = {k: v for k, v in os.environ.items() if k != "OPTIMIZER_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", command, str(tmp_path / "p.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    fuzz_profile.record(command, proc.returncode)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout == "" or command == "validate"
    assert proc.stderr.strip() and "Traceback" not in proc.stderr and SECRET not in proc.stderr
