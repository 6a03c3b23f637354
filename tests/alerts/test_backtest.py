"""`netmon alerts backtest`: the shipped rules replayed by promtool over a history store with known outages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from exporters.history import save_outages
from exporters.history_outages import Outage
from exporters.history_schema import connect
from netmon import backtest
from netmon.inventory import load
from tests.support import ROOT, require_binary

START = 1_780_000_000.0 // 3600 * 3600  # an hour boundary
MIN = 60.0

#: (site, link, start minute, minutes, cause): what the history store recorded.
RECORDED = [
    ("to-hieu", "primary", 10, 30, "link"),        # its Viettel 4G backup carried the traffic
    ("quynh-nhai", "primary", 20, 20, "link"),     # no backup: cut off
    ("chieng-coi", "primary", 50, 2, "link"),      # 2 min on its backup
    ("hub-quynh-nhai", "", 70, 15, "link"),        # the hub, and every center behind it with it
    *((site, "primary", 70, 15, "hub") for site in ("muong-sai", "muong-chien", "muong-gion", "quynh-nhai")),
    ("chieng-an", "primary", 100, 40, "power"),    # a power cut takes both links
    ("chieng-an", "backup", 100, 40, "power"),
]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "history.db"
    conn = connect(path)
    save_outages(conn, [Outage(site, link, START + m * MIN, START + (m + n) * MIN, START + (m + n) * MIN, cause, 3)
                        for site, link, m, n, cause in RECORDED], [])
    # muong-gion lost 20 % of its echoes for the whole third hour: no outage, a real loss alert
    conn.execute("INSERT INTO rollup_hour VALUES ('muong-gion', 'primary', 'icmp-primary', 'icmp', ?, 120, 120, "
                 "24.0, 120, 0, 0)", (int(START + 2 * 3600),))
    conn.close()
    return path


def netmon_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon.cli", *args], capture_output=True, text=True, cwd=ROOT)


def verdicts(history: Path, alerts_dir: Path) -> dict[str, backtest.SiteVerdict]:
    from netmon.report.store import open_store

    require_binary("promtool")
    inventory = load(ROOT / "config" / "communes.yaml")
    store = open_store(history)
    end = START + 180 * MIN
    outages, loss = store.outages(START, end), backtest.hourly_loss(store.conn, START, end)
    store.close()
    fired = backtest.replay(inventory, outages, loss, START, end, alerts_dir)
    return {v.site: v for v in backtest.judge(inventory, outages, fired)}


def test_shipped_rules_replayed_over_the_recorded_outages(history: Path) -> None:
    got = verdicts(history, ROOT / "alerts")
    alerts = {site: sorted({f.alert for f in v.fired}) for site, v in got.items()}
    assert alerts == {"to-hieu": ["SiteOnBackup"], "quynh-nhai": ["SiteUnreachable"],
                      "hub-quynh-nhai": ["HubUnreachable"], "chieng-an": ["SitePowerOutage"],
                      "muong-gion": ["PacketLossHigh"], "chieng-coi": ["SiteOnBackup"], "muong-sai": [],
                      "muong-chien": []}
    # the hub's alert answers for the centers behind it
    assert [len(got[s].alerted) for s in ("to-hieu", "quynh-nhai", "muong-sai", "chieng-an")] == [1, 2, 1, 2]
    assert all(v.missed == [] for v in got.values())
    assert [f.alert for v in got.values() for f in v.unexplained] == ["PacketLossHigh"]
    (unreachable,) = [f for f in got["quynh-nhai"].fired if f.start < START + 60 * MIN]
    # the cut at 20 min + fiber's 30 s `for:` at 1-minute evaluations (+ one when a recording rule trails)
    assert unreachable.start in (START + 21 * MIN, START + 22 * MIN)


def test_a_candidate_for_is_judged_before_it_is_deployed(history: Path, tmp_path: Path) -> None:
    """The same past with fiber's SiteOnBackup at 3 min: chieng-coi's 2 min on its backup would not have
    paged."""
    candidate = tmp_path / "alerts"
    shutil.copytree(ROOT / "alerts", candidate)
    generated = candidate / "generated" / "site-availability.rules.yml"
    text = generated.read_text()
    shipped = "netmon:site_primary_down_seconds >= 29.9"  # fiber's SiteOnBackup, counted in its expr
    assert text.count(shipped) == 1
    generated.write_text(text.replace(shipped, "netmon:site_primary_down_seconds >= 179.9"))
    got = verdicts(history, candidate)
    assert got["chieng-coi"].fired == []
    assert [o.site for o in got["chieng-coi"].missed] == ["chieng-coi"]


def test_cli_reports_per_site_in_vietnamese(history: Path) -> None:
    start, end = (datetime.fromtimestamp(t).astimezone().isoformat(timespec="minutes")
                  for t in (START, START + 180 * MIN))
    done = netmon_cli("alerts", "backtest", "--from", start, "--to", end, "--history", str(history),
                      "--lang", "vi")
    assert done.returncode == 0, done.stderr
    assert "Tổng: 10/10 sự cố có cảnh báo, 1 cảnh báo không có sự cố" in done.stdout
    assert "chieng-coi | 1 | 1 | - | SiteOnBackup | 0" in done.stdout
    assert "PacketLossHigh được chạy lại theo xấp xỉ tỉ lệ" in done.stdout  # said, not silent
    as_json = netmon_cli("alerts", "backtest", "--from", start, "--to", end, "--history", str(history),
                         "--format", "json")
    assert {row["site"] for row in json.loads(as_json.stdout)} >= {"to-hieu", "chieng-coi", "muong-gion"}
    assert "PacketLossHigh is replayed with the ratio approximation" in as_json.stderr


@pytest.mark.parametrize(("language", "said"), [
    ("en", "/nonexistent/promtool not found: install Debian's prometheus package, which has promtool"),
    ("vi", "không tìm thấy /nonexistent/promtool: hãy cài gói prometheus của Debian"),
])
def test_without_promtool_the_replay_says_what_to_install(monkeypatch: pytest.MonkeyPatch, language: str,
                                                          said: str) -> None:
    """A machine without promtool ended `netmon alerts backtest` in a FileNotFoundError traceback."""
    from probes.errors import NetmonError

    monkeypatch.setenv("NETMON_LANG", language)
    inventory = load(ROOT / "config" / "communes.yaml")
    with pytest.raises(NetmonError) as caught:
        backtest.replay(inventory, [], {}, START, START + 10 * MIN, ROOT / "alerts", promtool="/nonexistent/promtool")
    assert said in str(caught.value)
