"""The serving engine as a candidate input: its limits bound the batch, and queries naming an engine
get exactly that engine's physics (`with_engine`), in one call mixing engines."""

from __future__ import annotations

import pytest

from optimizer.catalog import default_catalog
from optimizer.perf import Shape, default_params, replica_capacity
from optimizer.perf.batched import CapacityQuery, search_capacities
from optimizer.perf.engines import (
    ENGINES,
    PLANNING_ENGINES,
    default_engine,
    engine_conflicts,
    planning_engine,
    with_engine,
)

CAT = default_catalog()


def _query(engine: str | None) -> CapacityQuery:
    m, g, p = CAT.model("llama_3_1_8b"), CAT.gpu("h100_sxm"), CAT.precision("fp8")
    return CapacityQuery(m, g, p, 1, Shape(200, 200), None, None, engine=engine)


def test_mixed_engine_queries_match_one_engine_at_a_time() -> None:
    names: list[str | None] = [None, "vllm", "trtllm", "llama_cpp", "sglang", None]
    mixed = search_capacities([_query(n) for n in names])
    for name, got in zip(names, mixed, strict=True):
        params = default_params() if name is None else with_engine(default_params(), ENGINES[name])
        alone = search_capacities([_query(None)], params=params)[0]
        assert got.capacity == alone.capacity


def test_vllm_caps_the_batch_at_its_256_sequences_where_memory_allows_more() -> None:
    found = search_capacities([_query(None), _query("vllm"), _query("llama_cpp")])
    ref, vllm, llama = (r.capacity for r in found)
    assert ref.max_batch > ENGINES["vllm"].max_num_seqs  # an 8B model on 80 GB holds far more
    assert vllm.max_batch == ENGINES["vllm"].max_num_seqs and vllm.batch <= 256
    assert llama.max_batch == 1 and llama.batch == 1
    assert vllm.requests_per_s < ref.requests_per_s
    scalar = replica_capacity(
        CAT.model("llama_3_1_8b"), CAT.gpu("h100_sxm"), CAT.precision("fp8"), 1, Shape(200, 200), None, None,
        params=with_engine(default_params(), ENGINES["vllm"]),
    )  # fmt: skip
    assert scalar.max_batch == vllm.max_batch
    assert scalar.requests_per_s == pytest.approx(vllm.requests_per_s, rel=1e-9)


@pytest.mark.parametrize(
    ("vendor", "kind", "engine"),
    [("NVIDIA", "gpu", "vllm"), ("AMD", "gpu", "vllm"), ("Intel", "gpu", "vllm"), ("AWS", "cpu", "vllm"),
     ("Apple", "gpu", "llama_cpp")],
)  # fmt: skip
def test_default_engine_by_hardware(vendor: str, kind: str, engine: str) -> None:
    e = default_engine(vendor, kind)
    assert e.id == engine and planning_engine(e) in PLANNING_ENGINES


def test_engine_conflicts_name_every_problem() -> None:
    found = engine_conflicts(
        ENGINES["llama_cpp"],
        ["gguf_f16", None, "fp8"],
        [("whisper_large_v3", True), ("llama_3_1_8b", False)],
        [("gaudi3", "Intel", "gpu")],
    )
    keys = [k for k, _ in found]
    assert keys == ["precisions[2]", "engine", "engine"]
    assert "does not serve precision fp8" in found[0][1]
    assert "encoder-decoder model whisper_large_v3" in found[1][1]
    assert "runs on none of the offered devices (gaudi3 (Intel))" in found[2][1]
    assert engine_conflicts(ENGINES["vllm"], ["fp8", "gguf_q4_0"], [("whisper_large_v3", True)], []) == []
    with pytest.raises(ValueError, match="not a planning engine"):
        planning_engine(ENGINES["optimum_habana"])
    assert planning_engine(ENGINES["trtllm"]) == "tensorrt_llm"
