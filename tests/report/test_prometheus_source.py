"""`--source prometheus` against Debian's Prometheus scraping a real `netmon run` on loopback gives the
same outages, availability and coverage as the embedded store (within one check interval), and the
same maintenance window (declared under the site) gives both the cause ``maintenance``.

The reachability check here is TCP to a loopback listener we close and reopen (`--history-reachability
tcp`), because loopback always answers ICMP; the outage rule and the maths are the same.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from netmon.facts import inventory_topology
from netmon.inventory import load
from netmon.report import formats, inventory_sites
from netmon.report.compute import build
from netmon.report.prom import PromSource
from netmon.report.store import StoreSource
from tests.support import free_port, netmon_run, prometheus, wait_until

INTERVAL = 1.0


def inventory(tmp: Path, port: int, window: tuple[str, str]) -> Path:
    limits = {
        "rtt_degraded": "50ms",
        "rtt_down": "300ms",
        "loss_degraded": 0.02,
        "loss_down": 0.5,
        "jitter_degraded": "10ms",
        "unreachable_after": "2m",
    }
    doc = {
        "version": 1,
        "defaults": {"interval": INTERVAL, "timeout": 0.5, "link_types": {"fiber": limits}},
        "datacenter": {
            "slug": "trung-tam-du-lieu",
            "name": "Trung tâm Dữ liệu",
            "address": "127.0.0.1",
            "location": {"lat": 21.3256, "lon": 103.9188},
        },
        "hubs": [
            {
                "id": "hub-son-la",
                "name": "Trạm Sơn La",
                "district": "Thành phố Sơn La",
                "address": "127.0.0.2",
            }
        ],
        "sites": [
            {
                "slug": "chieng-coi",
                "name": "Chiềng Cơi",
                "kind": "ward",
                "admin_code": "03670",
                "district": "Thành phố Sơn La",
                "location": {"lat": 21.298, "lon": 103.8776},
                "upstream": "hub-son-la",
                "links": [
                    {
                        "id": "primary",
                        "type": "fiber",
                        "isp": "VNPT",
                        "since": "2019-07-01",
                        "cpe": "127.0.0.3",
                    }
                ],
                "checks": [{"id": "cpe-tcp", "probe": "tcp", "link": "primary", "port": port}],
                "maintenance": [{"reason": "thay cáp", "start": window[0], "end": window[1]}],
            }
        ],
    }
    path = tmp / "loopback.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def listen(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.3", port))
    s.listen(64)
    return s


@pytest.mark.slow
def test_prometheus_source_matches_the_store(tmp_path: Path) -> None:
    port = free_port()
    local = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None, microsecond=0)
    window = ((local + timedelta(seconds=15)).isoformat(), (local + timedelta(hours=1)).isoformat())
    config = inventory(tmp_path, port, window)
    store = tmp_path / "history.db"
    server = listen(port)
    with netmon_run(config, tmp_path, "--history", str(store), "--history-reachability", "tcp") as netmon:
        target = netmon.url.removeprefix("http://")
        with prometheus(tmp_path, [target], scrape_interval="250ms") as prom:
            wait_until(
                lambda: prom.query('netmon_probe_success{check="cpe-tcp"} == 1'), 30, "a scraped success"
            )
            start = time.time()
            wait_until(lambda: time.time() > datetime.fromisoformat(window[0]).replace(
                tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp() + 1, 30, "the maintenance window to open")
            server.close()
            wait_until(
                lambda: prom.query('netmon_probe_success{check="cpe-tcp"} == 0'), 30, "a scraped failure"
            )
            time.sleep(6 * INTERVAL)  # the outage lasts ~6 intervals
            server = listen(port)
            wait_until(lambda: prom.query('netmon_probe_success{check="cpe-tcp"} == 1'), 30, "recovery")
            time.sleep(3 * INTERVAL)
            end = time.time()
            wait_until(
                lambda: prom.query(f'timestamp(netmon_probe_success{{check="cpe-tcp"}}) > {end}'),
                10,
                "a scrape after the end of the window",
            )
            inv = load(config)
            source = PromSource(prom.url, inventory_topology(inv, time.time()), probes=("tcp",))
            from_prom = build(source, inventory_sites(inv), start, end, now=end, source_name="prometheus")
            source.close()
    server.close()
    stored = StoreSource(store)
    from_store = build(stored, inventory_sites(inv), start, end, now=end)
    p, s = from_prom.rows[0], from_store.rows[0]
    assert s.outages == 1 and p.outages == 1
    assert s.down == pytest.approx(6 * INTERVAL, abs=2 * INTERVAL)
    assert p.down == pytest.approx(s.down, abs=INTERVAL)
    assert p.availability == pytest.approx(s.availability, abs=INTERVAL / (end - start))
    assert s.coverage is not None and p.coverage is not None and s.coverage > 0.9
    assert p.coverage == pytest.approx(s.coverage, abs=2 * INTERVAL / (end - start))
    assert [o.cause for o in from_prom.outages] == [o.cause for o in from_store.outages] == ["maintenance"]
    assert p.availability_excl == pytest.approx(s.availability_excl, abs=INTERVAL / (end - start))
    # The audit trail lives in the store: a report from Prometheus says it applied none.
    assert "no reclassification applied" in formats.table(from_prom, "en")
    assert "0 outages reclassified" in formats.table(from_store, "en")


@pytest.mark.slow
@pytest.mark.privileged
def test_rtt_percentiles_with_and_without_the_histogram(tmp_path: Path) -> None:
    """The per-echo histogram is opt-in (issue 16's series diet): a link without it gets its RTT
    percentiles from each run's median, counted once per run although Prometheus scraped it four times;
    a link with it keeps the per-echo buckets (three echoes a run)."""
    far = (datetime(2099, 1, 1).isoformat(), datetime(2099, 1, 2).isoformat())
    config = inventory(tmp_path, free_port(), far)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    site = doc["sites"][0]
    site["links"].append({"id": "backup", "role": "backup", "type": "fiber", "isp": "Viettel",
                          "since": "2022-03-01", "cpe": "127.0.0.4"})
    site["checks"] = [
        {"id": "icmp-primary", "probe": "icmp", "link": "primary", "count": 3, "spacing": "20ms",
         "packet_timeout": "300ms"},
        {"id": "icmp-backup", "probe": "icmp", "link": "backup", "count": 3, "spacing": "20ms",
         "packet_timeout": "300ms", "rtt_histogram": True},
    ]
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    store = tmp_path / "history.db"
    with netmon_run(config, tmp_path, "--history", str(store)) as netmon, \
            prometheus(tmp_path, [netmon.url.removeprefix("http://")], scrape_interval="250ms") as prom:
        wait_until(lambda: prom.query('netmon_icmp_rtt_seconds_count{check="icmp-backup"}'), 30, "a histogram")
        start = time.time()
        time.sleep(8 * INTERVAL)
        end = time.time()
        wait_until(lambda: prom.query(f'timestamp(netmon_probe_success{{check="icmp-primary"}}) > {end}'),
                   10, "a scrape after the end of the window")
        assert not prom.query('netmon_icmp_rtt_seconds_count{check="icmp-primary"}')
        source = PromSource(prom.url, inventory_topology(load(config), time.time()))
        rollups = source.rollups(start, end)
        source.close()
    stored = StoreSource(store).rollups(start, end)
    lean, full = rollups[("chieng-coi", "primary")], rollups[("chieng-coi", "backup")]
    assert lean.runs >= 6
    assert sum(lean.rtt.values()) == lean.runs  # one median per run, not one per scrape
    assert sum(full.rtt.values()) > 2 * full.runs  # per echo
    assert lean.rtt_p(0.5) == stored[("chieng-coi", "primary")].rtt_p(0.5)
