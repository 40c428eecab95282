"""The array model (`optimizer.perf.batched`) agrees with the scalar one to 1e-9.

If a formula in `step.py` or `serving.py` changes, these fail until `batched.py` mirrors it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from optimizer.catalog import default_catalog
from optimizer.catalog.specs import GpuSpec, ModelSpec, PrecisionSpec
from optimizer.perf import Draft, Shape, default_params, replica_capacity
from optimizer.perf.batched import (
    CapacityQuery,
    ServerArrays,
    prefill_s_array,
    replica_capacities,
    search_capacities,
    server_step_s_array,
    steady_array,
)
from optimizer.perf.capacity import _replica, why_not_fit
from optimizer.perf.serving import Server

REL = 1e-9
CAT = default_catalog()
GPUS = ["h100_sxm", "a100_40gb", "l4", "mi300x", "b200", "gaudi2", "graviton4", "rtx_4090"]
MODELS = ["llama_3_1_8b", "llama_3_1_70b", "mixtral_8x7b", "deepseek_v3", "whisper_large_v3", "llama_3_2_1b"]
PRECISIONS = ["bf16", "fp8", "int4_awq", "int8", "fp4"]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-15) or (math.isinf(a) and a == b)


Config = tuple[ModelSpec, GpuSpec, PrecisionSpec, int, Shape, Draft | None, int, int]


def _configs() -> list[Config]:
    """(model, gpu, precision, tp, shape, draft, dp, ep) over the grid, plus expert / attention-data
    parallel MoE replicas."""
    draft = Draft(CAT.model("llama_3_2_1b"), 0.7, 4)
    out: list[Config] = []
    for m, g, p, tp in itertools.product(MODELS, GPUS, PRECISIONS, (1, 2, 8)):
        model, gpu = CAT.model(m), CAT.gpu(g)
        prec = CAT.find_precision(p)
        if prec is None or not CAT.supports(gpu, prec):
            continue
        shapes = [Shape(30, 400, 90.0)] if model.encoder_layers else [Shape(600, 200), Shape(9000, 40)]
        for shape in shapes:
            out.append((model, gpu, prec, tp, shape, None, 1, 1))
            if m == "llama_3_1_70b":
                out.append((model, gpu, prec, tp, shape, draft, 1, 1))
            if model.is_moe and g in ("h100_sxm", "mi300x", "b200"):
                for dp, ep in ((1, tp), (2, 2 * tp), (4, tp), (8, 8 * tp)):
                    if ep > 1 or dp > 1:
                        out.append((model, gpu, prec, tp, shape, None, dp, ep))
    return out


def _servers() -> list[Server]:
    p = default_params()
    servers = [_replica(*c[:6], p, c[6], c[7]) for c in _configs()]
    return [s for s in servers if why_not_fit(s) is None]


def test_grid_covers_moe_mla_speech_speculation_and_tp() -> None:
    servers = _servers()
    assert len(servers) > 100
    assert any(s.rep.model.is_moe for s in servers)
    assert any(s.rep.model.mla_kv_lora_rank for s in servers)
    assert any(s.rep.model.encoder_layers for s in servers)
    assert any(s.spec is not None for s in servers)
    assert any(s.rep.tp > 1 for s in servers)
    assert any(s.rep.ep > 1 for s in servers) and any(s.rep.dp > 1 for s in servers)
    assert any(s.rep.devices > s.rep.gpu.max_tensor_parallel and s.rep.ep > 1 for s in servers)


@pytest.mark.parametrize("frac", [0.0, 1e-3, 0.37, 1.0])
def test_step_round_prefill_and_steady_agree_with_scalar(frac: float) -> None:
    servers = _servers()
    arr = ServerArrays.of(servers, default_params())
    batch = np.asarray([frac * s.max_batch for s in servers])
    prefills = np.asarray(
        [max(0.0, b * s.tau / s.work.output_tokens) for b, s in zip(batch, servers, strict=True)]
    )
    step = server_step_s_array(arr, batch, prefills)
    pre = prefill_s_array(arr, batch)
    st = steady_array(arr, batch)
    for i, s in enumerate(servers):
        b = float(batch[i])
        assert _close(float(step[i]), s._step_s(b, float(prefills[i]))), (i, "step")
        assert _close(float(pre[i]), s.prefill_s(b)), (i, "prefill")
        ref = s.steady(b)
        got = st.point(i)
        for f in dataclasses.fields(ref):
            assert _close(float(getattr(got, f.name)), float(getattr(ref, f.name))), (i, f.name, frac)


def test_replica_capacities_equal_replica_capacity() -> None:
    targets = [(None, None), (250.0, 40.0), (2000.0, None), (None, 12.0), (60.0, 100.0), (-1.0, 50.0)]
    queries = [
        CapacityQuery(m, g, p, tp, shape, ttft, tpot, d, dp, ep)
        for (m, g, p, tp, shape, d, dp, ep) in _configs()[::3]
        for ttft, tpot in targets
    ]
    got = replica_capacities(queries)
    found = 0
    for q, a in zip(queries, got, strict=True):
        ref = replica_capacity(
            q.model, q.gpu, q.precision, q.tp, q.shape, q.ttft_ms, q.tpot_ms, draft=q.draft, dp=q.dp, ep=q.ep
        )
        found += ref.requests_per_s > 0
        for f in dataclasses.fields(ref):
            x, y = getattr(a, f.name), getattr(ref, f.name)
            if isinstance(y, float):
                assert _close(x, y), (q, f.name, x, y)
            else:
                assert x == y, (q, f.name, x, y)
    assert found > len(queries) // 4  # the grid exercises found, bisected and failed searches


def test_search_reports_the_idle_point() -> None:
    model, gpu, prec = CAT.model("llama_3_1_8b"), CAT.gpu("l4"), CAT.precision("bf16")
    res = search_capacities([CapacityQuery(model, gpu, prec, 1, Shape(2000, 200), 300.0, 50.0)])[0]
    assert res.capacity.requests_per_s == 0.0 and res.capacity.fits
    assert res.idle_ttft_ms is not None and res.idle_ttft_ms > 300.0
    assert res.capacity.reason is not None and f"{res.idle_ttft_ms:.0f} ms" in res.capacity.reason


def _pp_and_tail_queries() -> list[CapacityQuery]:
    """Pipeline-parallel replicas and p90 / p99 targets, which the grid above does not cover."""
    out: list[CapacityQuery] = []
    for m, g, prec, tp, pp in (
        ("llama_3_1_70b", "h100_sxm", "fp8", 4, 2),
        ("llama_3_1_8b", "l4", "bf16", 1, 2),
        ("mixtral_8x7b", "h100_sxm", "fp8", 2, 4),
        ("llama_3_1_70b", "a100_40gb", "bf16", 8, 2),
    ):
        model, gpu, p = CAT.model(m), CAT.gpu(g), CAT.precision(prec)
        for shape in (Shape(600, 200), Shape(3000, 50)):
            for pct in ("mean", "p90", "p99"):
                for ttft, tpot in ((None, None), (800.0, 60.0), (3000.0, None), (None, 30.0)):
                    out.append(CapacityQuery(model, gpu, p, tp, shape, ttft, tpot, None, 1, 1, pct, pp))  # type: ignore[arg-type]
    llama, h100, fp8 = CAT.model("llama_3_1_70b"), CAT.gpu("h100_sxm"), CAT.precision("fp8")
    for pct in ("p90", "p99"):
        out.append(CapacityQuery(llama, h100, fp8, 2, Shape(1000, 300), 500.0, 40.0, None, 1, 1, pct))  # type: ignore[arg-type]
    return out


def test_pipeline_parallel_and_percentile_capacities_equal_the_scalar_model() -> None:
    queries = _pp_and_tail_queries()
    got = replica_capacities(queries)
    found = 0
    for q, a in zip(queries, got, strict=True):
        ref = replica_capacity(
            q.model,
            q.gpu,
            q.precision,
            q.tp,
            q.shape,
            q.ttft_ms,
            q.tpot_ms,
            draft=q.draft,
            dp=q.dp,
            ep=q.ep,
            percentile=q.percentile,
            pp=q.pp,
        )
        found += ref.requests_per_s > 0
        for f in dataclasses.fields(ref):
            x, y = getattr(a, f.name), getattr(ref, f.name)
            if isinstance(y, float):
                assert _close(x, y), (q.model.id, q.pp, q.percentile, f.name, x, y)
            else:
                assert x == y, (q.model.id, q.pp, q.percentile, f.name, x, y)
    assert found > len(queries) // 4


@pytest.mark.parametrize("frac", [0.0, 0.37, 1.0])
def test_pipeline_steady_state_agrees_with_scalar(frac: float) -> None:
    p = default_params()
    servers = [
        _replica(q.model, q.gpu, q.precision, q.tp, q.shape, None, p, 1, 1, q.pp)
        for q in _pp_and_tail_queries()[::12]
    ]
    servers = [s for s in servers if why_not_fit(s) is None]
    assert servers and any(s.rep.pp > 1 for s in servers)
    arr = ServerArrays.of(servers, p)
    batch = np.asarray([frac * s.max_batch for s in servers])
    st = steady_array(arr, batch)
    pre = prefill_s_array(arr, batch)
    for i, s in enumerate(servers):
        assert _close(float(pre[i]), s.prefill_s(float(batch[i])))
        ref, got = s.steady(float(batch[i])), st.point(i)
        for f in dataclasses.fields(ref):
            assert _close(float(getattr(got, f.name)), float(getattr(ref, f.name))), (i, f.name)


def test_erlang_c_array_equals_the_scalar_formula_for_mixed_server_counts() -> None:
    """The vectorised Erlang-C updates each entry only up to its own server count (entries sorted
    by count); it must equal `serving.erlang_c` entry by entry, in any input order, including no
    load, overload and the Halfin-Whitt range above 200 servers."""
    import numpy as np

    from optimizer.perf.batched import erlang_c_array
    from optimizer.perf.serving import erlang_c

    rng = np.random.default_rng(7)
    servers = rng.integers(1, 320, 3000).astype(float)
    offered = servers * rng.uniform(0.0, 1.3, 3000)
    offered[::97] = 0.0
    got = erlang_c_array(servers, offered)
    want = np.array([erlang_c(int(c), float(a)) for c, a in zip(servers, offered, strict=True)])
    assert np.max(np.abs(got - want)) < 1e-12
    perm = rng.permutation(len(servers))
    assert np.array_equal(erlang_c_array(servers[perm], offered[perm]), got[perm])
