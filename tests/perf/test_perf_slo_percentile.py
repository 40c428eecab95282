"""`slo.percentile` reaches the candidate table: tail targets size replicas on tail predictions."""

from __future__ import annotations

from helpers import DATA

from optimizer.candidates import build_candidates
from optimizer.loading.problem_file import load_problem


def test_p99_targets_give_no_more_capacity_than_mean_targets() -> None:
    loaded = load_problem(DATA / "small.yaml")
    p = loaded.problem
    assert all(w.slo.percentile == "mean" for w in p.workloads)  # the default
    tail = p.model_copy(
        update={
            "workloads": tuple(
                w.model_copy(update={"slo": w.slo.model_copy(update={"percentile": "p99"})})
                for w in p.workloads
            )
        }
    )
    mean_c = build_candidates(p, loaded.catalog, prune=False).info
    tail_c = build_candidates(tail, loaded.catalog, prune=False).info

    def best(info):  # type: ignore[no-untyped-def]
        """Largest capacity per configuration over its TTFT bands."""
        out: dict[tuple[str, str, str, int, bool], float] = {}
        for c in info.values():
            key = (c.workload, c.gpu, c.precision, c.tensor_parallel, c.speculative)
            out[key] = max(out.get(key, 0.0), c.capacity_rps)
        return out

    m, t = best(mean_c), best(tail_c)
    assert set(t) <= set(m)  # a tail target never admits a configuration the mean rejects
    assert all(t[k] <= m[k] * (1 + 1e-9) for k in t)
    assert any(t[k] < m[k] * 0.999 for k in t)
    for c in tail_c.values():
        w = next(w for w in tail.workloads if w.id == c.workload)
        if w.slo.tpot_ms is not None and not c.measured:
            assert c.tpot_ms <= w.slo.tpot_ms + 1e-6
