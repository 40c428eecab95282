"""`optimizer catalog ...` end to end."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from optimizer.cli import catalog_cmd


def _catalog_only(argv: list[str]) -> int:
    """Run `optimizer catalog ...` through a parser holding only the catalog command."""
    parser = argparse.ArgumentParser(prog="optimizer")
    catalog_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_main_catalog_gpus_json(capsys):
    from optimizer.cli import main

    assert main(["catalog", "gpus", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = [row["id"] for row in rows]
    assert "h100_sxm" in ids and ids == sorted(ids)
    assert all(row["source"] and row["as_of"] for row in rows)


def test_main_unknown_section_is_usage_error(capsys):
    from optimizer.cli import main

    assert main(["catalog", "tpus"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("section", ["gpus", "models", "precisions", "prices"])
def test_json_every_section(capsys, section):
    assert _catalog_only(["catalog", section, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["source"] and row["as_of"] for row in rows)
    if section == "prices":
        assert all(row["usd_per_gpu_hour"] > 0 for row in rows)


@pytest.mark.parametrize("section", ["gpus", "models", "precisions", "prices"])
def test_table_every_section(capsys, section):
    assert _catalog_only(["catalog", section]) == 0
    out = capsys.readouterr().out
    assert "source" in out and "as_of" in out
    assert max(len(line) for line in out.splitlines()) <= 200


def test_catalog_file_option(capsys, tmp_path: Path):
    path = tmp_path / "extra.yaml"
    path.write_text("gpus:\n  - id: h100_sxm\n    memory_gb: 94\n", encoding="utf-8")
    assert _catalog_only(["catalog", "gpus", "--json", "--catalog", str(path)]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["h100_sxm"]["memory_gb"] == 94
