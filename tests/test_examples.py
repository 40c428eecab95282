"""Every script in examples/ runs to completion against the public API."""

from __future__ import annotations

import runpy
import sys

import pytest
from helpers import DATA, ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Examples take an optional problem path; the small test problem keeps this fast.
    monkeypatch.setattr(sys, "argv", [str(script), str(DATA / "small.yaml")])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code == 0
    assert "$" in capsys.readouterr().out
