"""`optimizer catalog gpus|models|precisions|prices [--json] [--catalog FILE]`: list catalog entries.

Prints a table (with each entry's source and date) or, with `--json`, a JSON list of the entries
exactly as the typed specs serialize. `--catalog FILE` first extends the built-in catalog with a
catalog YAML file (same format as a problem file's `catalog:` entries), so overrides can be checked.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from optimizer.catalog import Catalog, GpuSpec, ModelSpec, PrecisionSpec, PriceEntry, default_catalog
from optimizer.errors import ExitCode
from optimizer.loading.catalog_files import extend_with_file

_SOURCE_WIDTH = 38
_PIPE_WIDTH = 180
_REF_PREFIX = re.compile(r"^ref CSV row '[^']*':\s*")


def register(sub: Any) -> None:
    """Add the `catalog` command and its four sub-commands to the top-level sub-parsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    common.add_argument(
        "--catalog",
        metavar="FILE",
        help="extend the built-in catalog with this YAML file (keys gpus, models, precisions, prices)",
    )
    parser = sub.add_parser(
        "catalog",
        help="list built-in GPUs, models, precisions or prices",
        description="List the built-in catalog (optionally extended with --catalog FILE), with sources.",
    )
    sections = parser.add_subparsers(dest="catalog_section", required=True, metavar="SECTION")
    for name, text in (
        ("gpus", "accelerators: memory, bandwidth, dense peaks, interconnect, power"),
        ("models", "model architectures from config.json"),
        ("precisions", "precisions / quantization schemes"),
        ("prices", "reference instance prices"),
    ):
        sections.add_parser(name, parents=[common], help=text, description=f"List catalog {name}.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `optimizer catalog ...`; returns the exit code."""
    catalog = default_catalog()
    if args.catalog:
        catalog = extend_with_file(catalog, Path(args.catalog))
    section: str = args.catalog_section
    if args.json:
        print(json.dumps(_json_rows(catalog, section), indent=2))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=_PIPE_WIDTH)
        console.print(_table(catalog, section))
    return int(ExitCode.OK)


def _json_rows(catalog: Catalog, section: str) -> list[dict[str, Any]]:
    if section == "prices":
        return [
            {**p.model_dump(mode="json"), "usd_per_gpu_hour": p.usd_per_gpu_hour} for p in catalog.prices()
        ]
    entries: Sequence[GpuSpec | ModelSpec | PrecisionSpec]
    if section == "gpus":
        entries = catalog.gpus()
    elif section == "models":
        entries = catalog.models()
    else:
        entries = catalog.precisions()
    return [e.model_dump(mode="json") for e in entries]


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _short_source(source: str) -> str:
    """First source of a `;`-separated list, without the `ref CSV row '...':` prefix."""
    first = _REF_PREFIX.sub("", source.split(";")[0].strip())
    more = " (+)" if ";" in source else ""
    return first + more


def _table(catalog: Catalog, section: str) -> Table:
    builders: dict[str, Callable[[Catalog], Table]] = {
        "gpus": _gpu_table,
        "models": _model_table,
        "precisions": _precision_table,
        "prices": _price_table,
    }
    return builders[section](catalog)


def _new_table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for header, justify in columns:
        table.add_column(header, justify="right" if justify == "r" else "left", no_wrap=True)
    table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=_SOURCE_WIDTH)
    table.add_column("as_of", no_wrap=True)
    return table


def _gpu_table(catalog: Catalog) -> Table:
    table = _new_table(
        "GPUs (dense peaks; link = GB/s per direction)",
        [
            ("id", "l"),
            ("family", "l"),
            ("mem GB", "r"),
            ("BW TB/s", "r"),
            ("FP16 TF", "r"),
            ("FP8 TF", "r"),
            ("FP4 TF", "r"),
            ("link", "r"),
            ("TP", "r"),
            ("W", "r"),
        ],
    )
    for g in catalog.gpus():
        table.add_row(
            g.id,
            g.family,
            _num(g.memory_gb),
            _num(g.mem_bandwidth_tb_s, 3),
            _num(g.fp16_dense_tflops, 1),
            _num(g.fp8_dense_tflops),
            _num(g.fp4_dense_tflops),
            _num(g.interconnect_bw_gb_s),
            str(g.max_tensor_parallel),
            _num(g.tdp_w),
            _short_source(g.source),
            g.as_of,
        )
    return table


def _model_table(catalog: Catalog) -> Table:
    table = _new_table(
        "Models (params in billions)",
        [
            ("id", "l"),
            ("total", "r"),
            ("active", "r"),
            ("layers", "r"),
            ("hidden", "r"),
            ("heads/kv", "r"),
            ("hd", "r"),
            ("context", "r"),
            ("MoE", "l"),
        ],
    )
    for m in catalog.models():
        moe = f"{m.num_experts}x top{m.experts_per_token}" if m.is_moe else ""
        if m.num_shared_experts:
            moe += f" +{m.num_shared_experts}sh"
        if m.is_mla:
            moe += " MLA"
        if m.encoder_layers:
            moe += f" enc{m.encoder_layers}"
        table.add_row(
            m.id,
            _num(m.total_params_b, 2),
            _num(m.active_params_b, 2),
            str(m.num_layers),
            str(m.hidden_size),
            f"{m.num_attention_heads}/{m.num_kv_heads}",
            str(m.head_dim),
            f"{m.max_context_tokens:,}",
            moe.strip(),
            _short_source(m.source),
            m.as_of,
        )
    return table


def _precision_table(catalog: Catalog) -> Table:
    table = _new_table(
        "Precisions",
        [
            ("id", "l"),
            ("B/weight", "r"),
            ("scales", "r"),
            ("KV B", "r"),
            ("compute", "l"),
            ("rel acc", "r"),
            ("vLLM", "l"),
            ("requires", "l"),
        ],
    )
    for p in catalog.precisions():
        table.add_row(
            p.id,
            _num(p.bytes_per_weight, 2),
            _num(p.scale_overhead_frac, 3),
            _num(p.kv_bytes, 0),
            p.compute_dtype,
            _num(p.relative_accuracy, 3),
            p.vllm_quantization or "-",
            ",".join(p.requires) or "-",
            _short_source(p.source),
            p.as_of,
        )
    return table


def _price_table(catalog: Catalog) -> Table:
    table = _new_table(
        "Reference prices (USD per hour)",
        [
            ("provider", "l"),
            ("region", "l"),
            ("instance", "l"),
            ("gpu", "l"),
            ("n", "r"),
            ("purchase", "l"),
            ("$/inst-h", "r"),
            ("$/GPU-h", "r"),
        ],
    )
    rows: Sequence[PriceEntry] = catalog.prices()
    for r in rows:
        table.add_row(
            r.provider,
            r.region,
            r.instance_type,
            r.gpu,
            str(r.gpus_per_instance),
            r.purchase.value,
            _num(r.usd_per_instance_hour, 2),
            _num(r.usd_per_gpu_hour, 3),
            _short_source(r.source),
            r.as_of,
        )
    return table
