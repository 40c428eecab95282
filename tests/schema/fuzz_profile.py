"""Which fuzz profile runs, and a tally of the cases (see `test_fuzz_cli.py` and `conftest.py`).

`LONG` is set by `conftest.pytest_configure` when the tests are selected with `-m fuzz`.
"""

from __future__ import annotations

from collections import Counter

LONG = False
"""True for the long profile (`python -m pytest -m fuzz`), False for the fast one."""

CASES: Counter[tuple[str, int]] = Counter()
"""(command, exit code) -> number of fuzz cases that ended so."""


def record(command: str, code: int) -> None:
    CASES[(command, code)] += 1
