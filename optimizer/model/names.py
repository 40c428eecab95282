"""Deterministic, hierarchical, collision-checked names for the MIP's variables and constraints.

Every name in the model is built here, and only here: `family__id1__id2...`, e.g.
`replicas__chat_70b_h100__fra__on_demand__peak` or `capacity__chat__fra__chat_70b_h100__peak`.
PuLP silently rewrites the characters `-+[] ->/` to `_`, so two different keys could end up with
the same name (`a-b` and `a_b`); `Names` applies the same rewrite and refuses a name it has already
handed out, so a collision is an error at build time, never a silently merged row or column.
"""

from __future__ import annotations

import re

SEP = "__"
"""Separator between the family and each id (ids are snake_case, so `__` reads as a boundary)."""

_PULP_ILLEGAL = str.maketrans("-+[] ->/", "________")
_FAMILY = re.compile(r"^[a-z][a-z0-9_]*$")


def pulp_safe(text: str) -> str:
    """The name PuLP will actually store: `-+[] ->/` become `_`.

    >>> pulp_safe("llama-3.1 [fp8]")
    'llama_3.1__fp8_'
    """
    return text.translate(_PULP_ILLEGAL)


class Names:
    """Hands out unique names, one registry for variables and one for constraints."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, tuple[str, ...]]] = {"var": {}, "con": {}}
        self._sealed = 0
        """How many names were handed out before `seal`."""
        self._families: set[str] = set()
        """Families already checked to be snake_case (checked once, not per name)."""

    def var(self, family: str, *ids: str) -> str:
        """Name of the variable of `family` at key `ids`, e.g. `var("traffic", w, r, s, c, t)`."""
        return self._make("var", family, ids)

    def con(self, family: str, *ids: str) -> str:
        """Name of the constraint of `family` at key `ids`, e.g. `con("cover", w, r, t)`."""
        return self._make("con", family, ids)

    def __len__(self) -> int:
        return self._sealed + sum(len(v) for v in self._seen.values())

    def seal(self) -> None:
        """The model is built: drop the registry of what was handed out (on the synthetic large
        model a fifth of the model's memory). Names made later (a diagnosis adds a few rows) are
        checked among themselves; a row name equal to a built one is refused by PuLP itself
        (`LpProblem.noOverlap`), and no variables are created after the build."""
        self._sealed = len(self)
        self._seen = {"var": {}, "con": {}}

    def _make(self, kind: str, family: str, ids: tuple[str, ...]) -> str:
        if family not in self._families:
            if not _FAMILY.match(family):
                raise ValueError(f"name family {family!r} is not snake_case")
            self._families.add(family)
        if not all(ids):
            raise ValueError(f"empty id in {kind} name {family}{ids}")
        name = pulp_safe(SEP.join((family, *ids)))
        registry = self._seen[kind]
        previous = registry.get(name)
        if previous is not None:
            raise ValueError(
                f"{kind} name collision: {name!r} is produced by both {previous} and {(family, *ids)}; "
                "ids must stay distinct after PuLP rewrites '-+[] ->/' to '_' and must not contain '__'"
            )
        registry[name] = (family, *ids)
        return name
