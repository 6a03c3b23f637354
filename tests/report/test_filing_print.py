"""The periodic filing for the 75 centers printed to PDF by headless Chromium with no network, then
read back with poppler: A4 pages, every center and section in the text with its diacritics, the
fonts embedded, no word outside the printable area and nothing drawn in the margins."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.inventory import load
from netmon.report.reclassify import record
from tests.report.test_html import sites_only, synthetic_store
from tests.support import require_binary

A4 = (595.0, 842.0)  # points, as pdfinfo rounds them
MARGIN_X = 12 / 25.4 * 72  # @page margin 14mm 12mm (filing_html.CSS)
SECTIONS_VI = (
    "I. Tình hình chung",
    "II. Kết quả giám sát toàn tỉnh",
    "III. So sánh giữa các huyện cũ",
    "IV. Lịch khả dụng theo từng trung tâm",
    "V. Nhật ký sự cố",
    "VI. Đánh giá cam kết của nhà cung cấp",
    "VII. Tồn tại cần khắc phục",
)


@pytest.fixture(scope="module")
def filing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("filing")
    config = sites_only(tmp)
    store = tmp / "history.db"
    synthetic_store(store, config)
    (oid,) = sqlite3.connect(store).execute('SELECT id FROM outages ORDER BY "end" - start DESC').fetchone()
    record(
        store,
        oid,
        "power",
        "mất điện lưới, đã báo Điện lực Sơn La",
        "chị Hoa",
        ticket="SL42",
        actions="chạy máy phát",
    )
    out = tmp / "filing.html"
    code = main(
        [
            "--lang",
            "vi",
            "report",
            "filing",
            "--config",
            str(config),
            "--history",
            str(store),
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-05",
            "--ignore-shorter-than",
            "2m",
            "--format",
            "html",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return config, store, out


def test_filing_html_is_self_contained(filing: tuple[Path, Path, Path]) -> None:
    html = filing[2].read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(|<script", html)
    assert "@page{size:A4" in html
    assert "không tính các lần gián đoạn ngắn hơn 2 phút" in html
    assert "1 sự cố đã được phân loại lại" in html


def _print(html: Path, pdf: Path) -> None:
    chromium = require_binary("chromium")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                "unshare",
                "--net",
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                html.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    assert pdf.exists(), proc.stderr[-2000:]


def _pgm(path: Path) -> tuple[int, int, bytes]:
    """Width, height and 8-bit grey pixels of a binary PGM (what ``pdftoppm -gray`` writes)."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P5" and fields[3] == b"255"
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[len(data) - width * height :]


@pytest.mark.privileged  # unshare --net
def test_filing_prints_to_a4_with_nothing_cut(filing: tuple[Path, Path, Path], tmp_path: Path) -> None:
    for tool in ("pdfinfo", "pdftotext", "pdftoppm", "pdffonts"):
        require_binary(tool)
    config, _, html = filing
    pdf = tmp_path / "filing.pdf"
    _print(html, pdf)
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
    assert 2 <= pages <= 20 and len(sizes) == pages
    assert all(abs(float(w) - A4[0]) < 1 and abs(float(h) - A4[1]) < 1 for w, h in sizes)

    # Diacritics: every name comes back from the PDF's text exactly, in embedded Unicode fonts.
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    for name in [s.name for s in load(config).sites] + list(SECTIONS_VI):
        assert name in flat or name in text, name
    assert "SL42" in flat  # the longest outage is a major incident, printed with its ticket
    assert "Trong kỳ có" in flat  # the section says how many there were and where the full log is
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all("DejaVu" in r for r in rows), fonts
    assert all(re.search(r"\byes\s+yes\s+yes\b", r) for r in rows), fonts  # embedded, subset, Unicode map

    # Nothing cut: no word beyond the printable width, nothing inked in the side margins.
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    xs = [
        (float(a), float(b), w)
        for a, b, w in re.findall(r'xMin="([\d.]+)"[^>]*xMax="([\d.]+)"[^>]*>([^<]*)<', bbox)
    ]
    assert xs
    outside = [w for a, b, w in xs if a < MARGIN_X - 2 or b > A4[0] - MARGIN_X + 2]
    assert outside == []
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.pgm"))
    assert len(images) == pages
    for image in images:
        width, height, pixels = _pgm(image)
        strip = int(MARGIN_X / 72 * 40) - 2
        margins = [
            pixels[y * width + x]
            for y in range(height)
            for x in (*range(strip), *range(width - strip, width))
        ]
        assert min(margins) > 250, f"{image.name}: ink in the side margins"
        assert min(pixels) < 100, f"{image.name}: blank page"
