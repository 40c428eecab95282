"""The packaged catalog data: every required entry present, sourced, dated and self-consistent."""

from __future__ import annotations

import re

import pytest

from optimizer.catalog import DeviceKind, default_catalog

REQUIRED_GPUS = [
    "h100_sxm", "h100_pcie", "h200_sxm", "gh200", "a100_40gb", "a100_80gb", "l4", "l40s", "b200", "gb200",
    "mi300x", "mi325x", "gaudi2", "gaudi3", "rtx_4090", "rtx_3090", "apple_m2_ultra", "graviton4",
]  # fmt: skip
REQUIRED_MODELS = [
    "llama_2_7b", "llama_2_13b", "llama_2_70b", "llama_3_8b", "llama_3_70b", "llama_3_1_8b", "llama_3_1_70b",
    "llama_3_1_405b", "llama_3_3_70b", "llama_3_2_1b", "llama_3_2_3b", "mistral_7b", "mixtral_8x7b",
    "mixtral_8x22b", "qwen2_5_7b", "qwen2_5_72b", "qwen3_235b_a22b", "deepseek_v3", "whisper_large_v3",
]  # fmt: skip
REQUIRED_PRECISIONS = [
    "fp32", "bf16", "fp8", "int8_w8a8", "int8_w8a16", "int4_awq", "int4_gptq", "fp4", "gguf_q4_0",
]  # fmt: skip
FAMILIES = {
    "nvidia_hopper", "nvidia_ampere", "nvidia_ada", "nvidia_blackwell", "amd_cdna3", "intel_gaudi",
    "apple_silicon", "cpu_arm",
}  # fmt: skip
AS_OF = re.compile(r"^(\d{4}-\d{2}(-\d{2})?|unknown)$")


@pytest.fixture(scope="module")
def cat():
    return default_catalog()


def test_default_catalog_is_cached(cat):
    assert default_catalog() is cat


@pytest.mark.parametrize("gpu_id", REQUIRED_GPUS)
def test_required_gpus_present_and_sourced(cat, gpu_id):
    gpu = cat.gpu(gpu_id)
    assert gpu.id == gpu_id
    assert gpu.source.strip() and AS_OF.match(gpu.as_of)
    assert gpu.family in FAMILIES


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_required_models_present_and_sourced(cat, model_id):
    model = cat.model(model_id)
    assert model.id == model_id
    assert model.source.strip() and AS_OF.match(model.as_of)
    assert model.active_params_b <= model.total_params_b
    assert model.num_attention_heads % model.num_kv_heads == 0


@pytest.mark.parametrize("precision_id", REQUIRED_PRECISIONS)
def test_required_precisions_present_and_sourced(cat, precision_id):
    precision = cat.precision(precision_id)
    assert precision.source.strip() and AS_OF.match(precision.as_of)


def test_prices_sourced_and_reference_gpus(cat):
    prices = cat.prices()
    assert len(prices) == 62  # 65 reference rows minus 3 with no catalog GPU (A100 PCIe x2, H100 NVL)
    gpu_ids = {g.id for g in cat.gpus()}
    for row in prices:
        assert row.gpu in gpu_ids
        assert row.source.strip() and row.as_of == "unknown" and row.notes
        assert "(" not in row.region  # AZ moved to notes


def test_listings_sorted_by_id(cat):
    for entries in (cat.gpus(), cat.models(), cat.precisions()):
        ids = [e.id for e in entries]
        assert ids == sorted(ids)


def test_interconnect_is_per_direction(cat):
    # Vendor bidirectional: H100 NVLink 900, A100 600, B200 1800 -> half per direction.
    assert cat.gpu("h100_sxm").interconnect_bw_gb_s == 450
    assert cat.gpu("a100_80gb").interconnect_bw_gb_s == 300
    assert cat.gpu("b200").interconnect_bw_gb_s == 900


def test_dense_not_sparse_peaks(cat):
    assert cat.gpu("h100_sxm").fp16_dense_tflops == 989
    assert cat.gpu("h100_sxm").fp8_dense_tflops == 1979


def test_cpu_and_single_device_entries(cat):
    graviton = cat.gpu("graviton4")
    assert graviton.kind is DeviceKind.CPU and graviton.family == "cpu_arm"
    assert "DERIVED" in graviton.notes
    assert graviton.max_tensor_parallel == 1
    apple = cat.gpu("apple_m2_ultra")
    assert (apple.memory_gb, apple.mem_bandwidth_tb_s, apple.max_tensor_parallel) == (192, 0.8, 1)
    assert cat.gpu("rtx_4090").max_tensor_parallel == 2


def test_kv_sanity_llama_3_1_70b(cat):
    m = cat.model("llama_3_1_70b")
    assert (m.num_layers, m.num_kv_heads, m.head_dim) == (80, 8, 128)
    assert 2 * m.num_layers * m.num_kv_heads * m.head_dim * 2 == 327680  # KV bytes per token at BF16


def test_moe_fields(cat):
    mixtral = cat.model("mixtral_8x7b")
    assert mixtral.is_moe and (mixtral.num_experts, mixtral.experts_per_token) == (8, 2)
    assert mixtral.expert_params_b == pytest.approx(45.1, abs=0.05)
    dsv3 = cat.model("deepseek_v3")
    assert dsv3.is_mla and (dsv3.mla_kv_lora_rank, dsv3.mla_rope_head_dim) == (512, 64)
    assert (dsv3.num_shared_experts, dsv3.num_dense_layers, dsv3.moe_intermediate_size) == (1, 3, 2048)
    qwen3 = cat.model("qwen3_235b_a22b")
    assert (qwen3.num_experts, qwen3.experts_per_token, qwen3.num_kv_heads) == (128, 8, 4)
    for m in cat.models():
        if m.is_moe:
            assert m.moe_intermediate_size and m.expert_params_b and m.expert_params_b < m.total_params_b


def test_whisper_is_encoder_decoder(cat):
    w = cat.model("whisper_large_v3")
    assert (w.encoder_layers, w.num_layers, w.encoder_frames_per_30s, w.modality) == (32, 32, 1500, "speech")


def test_dense_param_counts_match_config_formula(cat):
    """total_params_b is derived from the config (embeddings + untied head + layers); recheck dense Llamas."""
    for model_id, tied in [("llama_3_1_8b", False), ("llama_2_7b", False), ("llama_3_2_1b", True)]:
        m = cat.model(model_id)
        attn = 2 * m.hidden_size * m.num_attention_heads * m.head_dim
        attn += 2 * m.hidden_size * m.num_kv_heads * m.head_dim
        per_layer = attn + 3 * m.hidden_size * m.intermediate_size + 2 * m.hidden_size
        total = m.num_layers * per_layer + m.vocab_size * m.hidden_size * (1 if tied else 2) + m.hidden_size
        assert total / 1e9 == pytest.approx(m.total_params_b, abs=0.006)


def test_precision_bytes(cat):
    q4 = cat.precision("gguf_q4_0")
    assert q4.bytes_per_weight * (1 + q4.scale_overhead_frac) * 8 == pytest.approx(4.5)
    assert cat.precision("fp8").kv_bytes == 1 and cat.precision("bf16").kv_bytes == 2
    assert cat.precision("fp8").requires == ("fp8",)
    assert cat.precision("int4_awq").requires == ()
