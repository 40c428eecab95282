"""The catalog facade: name resolution, suggestions, queries, and immutable extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.catalog import Catalog, PurchaseKind, default_catalog, normalize_name
from optimizer.errors import InputError, UnknownNameError
from optimizer.loading.catalog_files import extend_with_file, read_catalog_file


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return default_catalog()


@pytest.mark.parametrize(
    ("name", "gpu_id"),
    [
        ("H200-SXM-141GB", "h200_sxm"),
        ("H100 80GB HBM3", "h100_sxm"),
        ("H100-SXM-80GB", "h100_sxm"),
        ("H100-80GB", "h100_sxm"),
        ("H100-PCIe-80GB", "h100_pcie"),
        ("A100-SXM4-80GB", "a100_80gb"),
        ("A100-80GB", "a100_80gb"),
        ("A100 SXM4 40GB", "a100_40gb"),
        ("L40S-48GB", "l40s"),
        ("L4 24GB", "l4"),
        ("MI300X-192GB", "mi300x"),
        ("RTX-4090-24GB", "rtx_4090"),
        ("RTX-3090-24GB", "rtx_3090"),
        ("Apple-M2-Ultra-76c-192GB", "apple_m2_ultra"),
        ("GH200", "gh200"),
        ("H200 141GB", "h200_sxm"),
        ("H100 SXM 80GB", "h100_sxm"),
        ("H100 PCIe 80GB", "h100_pcie"),
        ("A100 SXM4 80GB", "a100_80gb"),
        ("GH200 (96GB HBM per catalog)", "gh200"),
        ("h100_sxm", "h100_sxm"),
        ("h100sxm", "h100_sxm"),
        ("H100_SXM", "h100_sxm"),
        ("gaudi 3", "gaudi3"),
    ],
)
def test_gpu_aliases_resolve(cat, name, gpu_id):
    assert cat.gpu(name).id == gpu_id


@pytest.mark.parametrize(
    ("name", "model_id"),
    [
        ("Llama-3.1-70B-Instruct", "llama_3_1_70b"),
        ("meta-llama/Llama-3.1-70B", "llama_3_1_70b"),
        ("meta-llama/Llama-3.1-70B-Instruct", "llama_3_1_70b"),
        ("Llama-3.1-70B", "llama_3_1_70b"),
        ("Llama-3.1-8B", "llama_3_1_8b"),
        ("Llama-3.3-70B", "llama_3_3_70b"),
        ("Llama-2-7B", "llama_2_7b"),
        ("Llama-2-70B", "llama_2_70b"),
        ("Llama-3-8B", "llama_3_8b"),
        ("Mixtral-8x7B", "mixtral_8x7b"),
        ("deepseek-ai/DeepSeek-V3", "deepseek_v3"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen2_5_72b"),
        ("openai/whisper-large-v3", "whisper_large_v3"),
        ("some-mirror/Llama-3.1-8B-Instruct", "llama_3_1_8b"),
    ],
)
def test_model_aliases_resolve(cat, name, model_id):
    assert cat.model(name).id == model_id


@pytest.mark.parametrize(
    ("name", "precision_id"),
    [
        ("FP8", "fp8"),
        ("fp8_e4m3", "fp8"),
        ("BF16", "bf16"),
        ("FP16", "bf16"),
        ("fp16", "bf16"),
        ("f16", "gguf_f16"),
        ("FP16 (GGUF f16)", "gguf_f16"),
        ("Q4_0 (GGUF 4-bit)", "gguf_q4_0"),
        ("q4_0", "gguf_q4_0"),
        ("AWQ", "int4_awq"),
        ("NVFP4", "fp4"),
    ],
)
def test_precision_aliases_resolve(cat, name, precision_id):
    assert cat.precision(name).id == precision_id


def test_unknown_name_suggests(cat):
    with pytest.raises(UnknownNameError) as info:
        cat.gpu("H100 SMX")
    assert "h100_sxm" in info.value.suggestions
    assert info.value.kind == "gpu" and info.value.name == "H100 SMX"
    assert "did you mean" in str(info.value)
    assert "h100_sxm" in cat.suggest("gpu", "H100 SMX")
    assert "llama_3_1_70b" in cat.suggest("model", "Lama-3.1-70B")


def test_find_returns_none(cat):
    assert cat.find_gpu("TPU v5e") is None
    assert cat.find_model("gpt-4") is None
    assert cat.find_precision("int3") is None
    assert cat.find_gpu("L4") is not None


def test_suggest_rejects_unknown_kind(cat):
    with pytest.raises(ValueError, match="unknown catalog kind"):
        cat.suggest("tpu", "v5e")


def test_normalize_name():
    assert normalize_name("A100-SXM4-80GB") == normalize_name("a100 sxm4 80gb") == "a100sxm480gb"


def test_prices_for_cheapest_first(cat):
    rows = cat.prices_for("aws", "us-east-1", "L4 24GB", "on_demand")
    assert [r.instance_type for r in rows] == ["g6.xlarge", "g6.4xlarge", "g6.48xlarge"]
    per_gpu = [r.usd_per_gpu_hour for r in rows]
    assert per_gpu == sorted(per_gpu)
    assert cat.prices_for("AWS", "US-EAST-1", "l4", PurchaseKind.ON_DEMAND) == rows


def test_prices_for_filters(cat):
    rows = cat.prices_for("aws", "us-east-1", "l4", "on_demand", gpus_per_instance=8)
    assert [r.instance_type for r in rows] == ["g6.48xlarge"]
    rows = cat.prices_for("lambda", "us-east-1", "h100_sxm", "on-demand", instance_type="gpu_2x_h100_sxm5")
    assert len(rows) == 1 and rows[0].usd_per_gpu_hour == pytest.approx(3.19)
    assert cat.prices_for("aws", "mars-1", "h100_sxm", "spot") == ()
    with pytest.raises(InputError, match="unknown purchase kind"):
        cat.prices_for("aws", "us-east-1", "h100_sxm", "lease")
    with pytest.raises(UnknownNameError):
        cat.prices_for("aws", "us-east-1", "H100 SMX", "spot")


def test_supports(cat):
    fp8, fp4, awq, int8 = (cat.precision(p) for p in ("fp8", "fp4", "int4_awq", "int8_w8a8"))
    assert cat.supports(cat.gpu("h100_sxm"), fp8)
    assert not cat.supports(cat.gpu("a100_80gb"), fp8)
    assert cat.supports(cat.gpu("a100_80gb"), awq)
    assert cat.supports(cat.gpu("a100_80gb"), int8)
    assert cat.supports(cat.gpu("b200"), fp4) and not cat.supports(cat.gpu("h200_sxm"), fp4)
    assert cat.supports(cat.gpu("graviton4"), awq) and not cat.supports(cat.gpu("graviton4"), fp8)


def test_catalog_is_immutable(cat):
    with pytest.raises(AttributeError):
        cat.foo = 1  # type: ignore[attr-defined]


def test_partial_override_changes_one_field(cat):
    new = cat.extended(gpus=[{"id": "H100 SXM", "memory_gb": 94}])
    old_gpu, new_gpu = cat.gpu("h100_sxm"), new.gpu("h100_sxm")
    assert new_gpu.memory_gb == 94 and old_gpu.memory_gb == 80  # original untouched
    assert new_gpu.mem_bandwidth_tb_s == old_gpu.mem_bandwidth_tb_s
    assert new_gpu.source == old_gpu.source and "memory_gb" in new_gpu.notes
    assert new.gpu("H100-SXM-80GB").memory_gb == 94  # aliases kept
    assert len(new.gpus()) == len(cat.gpus())


def test_override_by_name_and_added_aliases(cat):
    new = cat.extended(
        models=[{"name": "Llama 3.1 70B", "aliases": ["my-llama"], "max_context_tokens": 8192}]
    )
    m = new.model("my-llama")
    assert m.id == "llama_3_1_70b" and m.max_context_tokens == 8192
    assert new.model("Llama-3.1-70B-Instruct").id == "llama_3_1_70b"


def test_new_entry(cat):
    new = cat.extended(
        gpus=[
            {
                "id": "h100_nvl",
                "name": "H100 NVL 94GB",
                "vendor": "NVIDIA",
                "family": "nvidia_hopper",
                "memory_gb": 94,
                "mem_bandwidth_tb_s": 3.9,
                "fp16_dense_tflops": 835,
                "fp8_dense_tflops": 1670,
                "interconnect": "NVLink bridge (pairs)",
                "interconnect_bw_gb_s": 300,
                "max_tensor_parallel": 2,
                "tdp_w": 400,
                "source": "test",
                "as_of": "2026-01",
            }
        ],
        prices=[
            {
                "provider": "azure",
                "region": "eastus",
                "instance_type": "Standard_NC40ads_H100_v5",
                "gpu": "H100 NVL 94GB",
                "gpus_per_instance": 1,
                "purchase": "on_demand",
                "usd_per_instance_hour": 6.98,
                "source": "test",
                "as_of": "unknown",
            }
        ],
    )
    assert new.gpu("H100 NVL 94GB").id == "h100_nvl"
    assert cat.find_gpu("h100_nvl") is None
    rows = new.prices_for("azure", "eastus", "h100_nvl", "on_demand")
    assert len(rows) == 1 and rows[0].gpu == "h100_nvl"
    assert len(new.prices()) == len(cat.prices()) + 1


def test_price_override(cat):
    new = cat.extended(
        prices=[
            {
                "provider": "aws",
                "region": "us-east-1",
                "instance_type": "p5.48xlarge",
                "purchase": "on_demand",
                "usd_per_instance_hour": 80.0,
            }
        ]
    )
    (row,) = new.prices_for("aws", "us-east-1", "h100_sxm", "on_demand")
    assert row.usd_per_instance_hour == 80.0 and row.gpus_per_instance == 8
    assert len(new.prices()) == len(cat.prices())


def test_bad_override_reports_every_issue_with_path(cat):
    with pytest.raises(InputError) as info:
        cat.extended(
            gpus=[{"id": "h100_sxm", "memory_gb": -1}, {"id": "new_gpu", "name": "New"}],
            precisions=[{"id": "fp8", "bogus_field": 1}],
            prices=[{"gpu": "H100 SMX"}],
        )
    paths = {issue.path for issue in info.value.issues}
    assert "gpus[0].memory_gb" in paths
    assert "gpus[1].vendor" in paths  # a new entry must be complete
    assert "precisions[0].bogus_field" in paths
    assert "prices[0].gpu" in paths
    assert any("h100_sxm" in i.message for i in info.value.issues if i.path == "prices[0].gpu")


def test_bad_override_path_prefix_and_non_mapping(cat):
    with pytest.raises(InputError) as info:
        cat.extended(models=["llama"], path_prefix="catalog.", file="problem.yaml")  # type: ignore[list-item]
    (issue,) = info.value.issues
    assert issue.path == "catalog.models[0]" and issue.file == "problem.yaml"


def test_ambiguous_alias_rejected(cat):
    with pytest.raises(InputError) as info:
        cat.extended(gpus=[{"id": "l40s", "aliases": ["H100"]}])
    assert info.value.issues[0].path == "gpus[0].aliases"
    assert "ambiguous" in info.value.issues[0].message


def test_extend_with_file(cat, tmp_path: Path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "gpus:\n  - id: l4\n    tdp_w: 75\nprecisions:\n  - id: fp8\n    kv_bytes: 2\n", encoding="utf-8"
    )
    sections, _ = read_catalog_file(path, str(path))
    assert sections["gpus"] == [{"id": "l4", "tdp_w": 75}] and sections["models"] == []
    new = extend_with_file(cat, path)
    assert new.gpu("l4").tdp_w == 75 and new.precision("fp8").kv_bytes == 2
    assert cat.gpu("l4").tdp_w == 72


def test_catalog_file_errors_name_the_file_and_line(cat, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("gpus: []\ngpu:\n  - id: l4\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        extend_with_file(cat, bad)
    (issue,) = info.value.issues
    assert (issue.file, issue.line) == (str(bad), 2) and "did you mean 'gpus'" in issue.message

    broken = tmp_path / "broken.yaml"
    broken.write_text("gpus: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML"):
        extend_with_file(cat, broken)

    with pytest.raises(InputError, match="file not found"):
        extend_with_file(cat, tmp_path / "missing.yaml")

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("gpus:\n  - id: l4\n    memory_gb: lots\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        extend_with_file(cat, invalid)
    (issue,) = info.value.issues
    assert (issue.path, issue.file, issue.line) == ("gpus[0].memory_gb", str(invalid), 3)
    assert issue.message == "must be a number (got 'lots')"
