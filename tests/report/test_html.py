"""The HTML report for the 75 centers, opened in headless Chromium: renders, no request, no errors."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
import yaml

from exporters.history import HistoryWriter, Topology
from netmon.cli import main
from netmon.inventory import load
from probes.base import Measurement, Result
from tests.support import ROOT, require_binary

SHIPPED = ROOT / "config" / "communes.yaml"
START = 1_772_384_400.0  # 2026-03-02 00:00 +07:00
DAYS = 3


def sites_only(tmp: Path) -> Path:
    """The shipped 75 centers without their checks: the report needs sites and links, not probe options."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for section in ("sites", "hubs"):
        for node in data[section]:
            node["checks"] = []
    data["datacenter"]["checks"] = []
    path = tmp / "communes.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def synthetic_store(path: Path, config: Path) -> None:
    """Three days of per-minute runs for every site; site i loses its link for i minutes each day."""
    inventory = load(config)
    intervals = {f"{site.slug}/icmp-primary": 60.0 for site in inventory.sites}  # one run a minute
    # Three days of 75 sites arrive here in one burst, far faster than any prober publishes: the writer
    # folds each into its pending sums at once, none is dropped.
    writer = HistoryWriter(path, Topology(intervals=intervals), flush_every=0.01)
    writer.start()
    for i, site in enumerate(inventory.sites):
        rtt = {"fiber": 0.008, "4g": 0.060, "microwave": 0.030, "vsat": 0.650}[site.links[0].type]
        for k in range(DAYS * 24 * 60):
            t = START + 60 * k
            down = (k % 1440) < i
            ms = () if down else (Measurement("netmon_icmp_rtt_seconds", rtt * (1 + (k % 7) / 10)),)
            writer.publish(
                Result(
                    site.slug,
                    "icmp-primary",
                    "icmp",
                    "198.19.0.1",
                    "primary",
                    not down,
                    t,
                    0.1,
                    measurements=ms,
                )
            )
    writer.flush()
    writer.close()
    assert writer.status.dropped == 0


def png_colors(path: Path) -> int:
    """Distinct RGB(A) pixel values in a PNG (stdlib only; Chromium writes 8-bit RGBA, no interlace)."""
    data = path.read_bytes()
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, _depth, color_type = struct.unpack(">IIBB", chunk[:10])
            channels = {2: 3, 6: 4}[color_type]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    colors: set[bytes] = set()
    prev = bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colors.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 4))
        prev = line
    return len(colors)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    store = tmp / "history.db"
    config = sites_only(tmp)
    synthetic_store(store, config)
    out = tmp / "report.html"
    code = main(
        [
            "--lang",
            "vi",
            "report",
            "--config",
            str(config),
            "--history",
            str(store),
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-05",
            "--format",
            "html",
            "--out",
            str(out),
            "--by",
            "district",
        ]
    )
    assert code == 0
    return out


def test_html_is_self_contained_and_vietnamese(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", html)
    assert "Chiềng Cơi" in html and "Khả dụng" in html
    assert html.count("<circle") >= 75 and html.count("<svg") == 3
    assert "không phải ranh giới chính thức" in html  # the outline says it is an approximation
    assert html.count('stroke-dasharray="4 3"') >= 10  # the former districts
    assert "<td>không đủ dữ liệu</td>" not in html  # three full days: every figure meaningful


def test_days_and_sites_without_data_are_grey_not_green(tmp_path: Path) -> None:
    """A window twice as long as the data: the empty days are shaded, the line breaks, the map is grey."""
    config = sites_only(tmp_path)
    store = tmp_path / "history.db"
    synthetic_store(store, config)
    out = tmp_path / "r.html"
    assert main(["--lang", "vi", "report", "--config", str(config), "--history", str(store), "--from", "2026-02-27",
                 "--to", "2026-03-05", "--format", "html", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    chart = html.split("<svg")[1]
    assert chart.count('fill="#bdbdbd" opacity="0.6"') == 3  # 27, 28 Feb and 1 Mar: nobody observed
    assert html.split("<svg")[3].count('fill="#bdbdbd"') >= 75  # coverage 50 %: insufficient data
    assert "<td>không đủ dữ liệu</td>" in html and "<td>100.000 %</td>" not in html
    assert "@media print" in html


#: Chromium's own background services, which it contacts despite --disable-background-networking;
#: the browser runs in an empty network namespace (`unshare --net`) so even these cannot leave.
BROWSER_SERVICES = ("update.googleapis.com", "clients2.google.com", "accounts.google.com")


@pytest.mark.privileged  # unshare --net
def test_html_renders_in_chromium_without_requests_or_errors(report_html: Path, tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    shot = tmp_path / "report.png"
    log = tmp_path / "chrome.log"
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
                "--disable-quic",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=1",
                "--window-size=1000,2400",
                f"--screenshot={shot}",
                report_html.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    log.write_text(proc.stderr)
    assert shot.exists(), proc.stderr[-2000:]
    assert png_colors(shot) > 20, "screenshot looks blank"
    # The page's own console only: Chromium's internal pages (chrome://…, e.g. its new-tab composebox
    # warning "Slow network is detected" on a loaded machine) log to the same stream.
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "chrome://" not in line]
    assert console == []
    requests = [line for line in proc.stderr.splitlines() if "NotifyBeforeURLRequest" in line]
    assert "NetworkDelegate" in proc.stderr or "VERBOSE1" in proc.stderr, "verbose logging did not work"
    assert [r for r in requests if not any(host in r for host in BROWSER_SERVICES)] == []
