"""A bad scenarios file gets one clear message per real problem, never the schema's class name."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.errors import InputError
from optimizer.whatif.scenarios import load_scenarios


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("", "the file is empty; a scenarios file holds `scenarios:`", "ScenariosFile"),
        ("- a\n", ":1: the file is a list, not a mapping", "ScenariosFile"),
        # one bad item: its own error, not also 'scenarios: must have at least 1 item, not 0'
        ("scenarios:\n  - {name: '../x', scale_demand: 2}\n", ":2: scenarios[0].name:", "at least 1 item"),
        ("scenarios: []\n", "scenarios: must have at least 1 item", "ScenariosFile"),
    ],
    ids=["empty", "list", "bad_item", "no_items"],
)
def test_scenarios_file_messages(tmp_path: Path, text: str, expected: str, absent: str) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_scenarios(path)
    message = str(err.value)
    assert expected in message and absent not in message, message
