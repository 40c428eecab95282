"""`optimizer.model.incumbent`: the replica keys held per period."""

from __future__ import annotations

import pytest

from optimizer.model import build_model
from optimizer.model.incumbent import by_period
from optimizer.model.synthetic import synthetic_fleet


@pytest.mark.parametrize("seed", range(3))
def test_by_period_is_the_keys_held_in_each_period_in_their_order(seed: int) -> None:
    """One pass over the keys gives, per period, exactly the keys of that period and the fixed
    options' keys (period None), in the order of the key list (tie-breaks in the rounding
    depend on it)."""
    model = build_model(synthetic_fleet(seed=seed, candidates=6, periods=3, sites=2, regions=2, workloads=2))
    keys = list(model.replicas)
    assert any(k[3] is None for k in keys) and any(k[3] is not None for k in keys)
    periods = model.index.periods
    got = by_period(keys, periods)
    assert list(got) == list(periods)
    for t in periods:
        assert got[t] == [k for k in keys if k[3] is None or k[3] == t]
