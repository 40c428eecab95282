"""The plan report: HTML (self-contained, rendered in headless Chromium) and Markdown."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest
from shipped_plans import SHIPPED_IDS, shipped_plan

from optimizer.report import write_plan
from optimizer.report_doc import capacity_by_period, render_html, render_markdown, usd

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
"""Screenshots kept after the run (gitignored; CI can upload this folder)."""


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_report_renders_every_shipped_plan(name: str) -> None:
    plan = shipped_plan(name)
    page = render_html(plan)
    assert usd(plan.monthly_cost_usd) in page
    assert page.count("<svg") == 1 + len(plan.workloads)
    assert not re.search(r"""(src|href)=["']?https?:""", page), "the page must not load anything"
    assert "<script" not in page
    md = render_markdown(plan)
    assert md.startswith(f"# Fleet plan: {plan.problem}")
    for title in (
        "Cost breakdown",
        "Capacity against demand",
        "Sites: what runs where",
        "Latency margins",
        "Assumptions: prices",
        "Assumptions: performance model",
        "Caveats",
    ):
        assert f"## {title}" in md and title in page
    for d in plan.deployments:
        assert d.hf_repo in md


def test_capacity_covers_required_demand_in_every_period() -> None:
    """Coverage as the MIP states it: served + (1 + h)(serverless + unmet) >= (1 + h) demand, and
    demand_rps already includes the (1 + h)."""
    plan = shipped_plan("chat_assistant")
    head = {w.id: w.headroom for w in plan.workloads}
    for wid, rows in capacity_by_period(plan).items():
        for r in rows:
            covered = r.capacity_rps + (1.0 + head[wid]) * (r.serverless_rps + r.unmet_rps)
            assert covered >= r.demand_rps * (1 - 1e-6)


def test_report_cli_html_and_markdown(tmp_path: Path) -> None:
    plan = shipped_plan("chat_assistant")
    path = tmp_path / "plan.yaml"
    write_plan(plan, path)
    out = tmp_path / "report.html"
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "report", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and out.read_text().startswith("<!DOCTYPE html>")
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "report", str(path), "--format", "md"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and res.stdout.startswith("# Fleet plan: chat_assistant")
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "report", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "none.yaml: file not found" in res.stderr and "Traceback" not in res.stderr


def png_distinct_colors(data: bytes) -> int:
    """Distinct RGB(A) pixel values of an 8-bit RGB/RGBA PNG (tiny decoder: zlib + PNG filters)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colors: set[bytes] = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp * 7):  # every 7th pixel is plenty to tell blank from drawn
            colors.add(bytes(line[x : x + 3]))
        prev = line
    return len(colors)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": profile}
        )


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (.ci/run installs the Debian package)")
def test_chat_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    plan = shipped_plan("chat_assistant")
    page = tmp_path / "report.html"
    page.write_text(render_html(plan), encoding="utf-8")
    shot = tmp_path / "report.png"
    res = _chromium(f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    assert shot.is_file(), res.stderr[-2000:]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "chat_assistant_report.png")
    assert png_distinct_colors(shot.read_bytes()) >= 8, "screenshot is blank"
    dom = _chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    assert usd(plan.monthly_cost_usd) in text
    assert "Fleet plan: chat_assistant" in text


def test_png_decoder_tells_blank_from_drawn(tmp_path: Path) -> None:
    def png(rows: list[bytes], width: int) -> bytes:
        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        raw = b"".join(b"\x00" + r for r in rows)
        ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b"")
        )

    white = [b"\xff\xff\xff" * 14] * 3
    assert png_distinct_colors(png(white, 14)) == 1
    drawn = [bytes([i * 17 % 256, 0, 0] * 14) for i in range(10)]
    assert png_distinct_colors(png(drawn, 14)) == 10
