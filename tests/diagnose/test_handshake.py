"""Blame on loopback with real packets. A slow TCP handshake is the device, not the link (issue #15, case 5): the echo check measures the
link's RTT, a connect time also waits for the device to accept — and for a lost SYN's retransmission.

Real packets on loopback: the first SYN to the CPE's port is dropped by an iptables rule (nth-packet
match, deterministic), so the kernel retransmits after its 1 s initial RTO while ICMP answers at once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.history_schema import connect
from tests.diagnose.conftest import Province, netmon_json
from tests.diagnose.test_probe import flat

pytestmark = pytest.mark.privileged


@pytest.fixture
def first_syn_dropped() -> Iterator[Province]:
    """``province`` whose CPE port loses the first SYN of every connect (rule removed afterwards)."""
    rules: list[list[str]] = []

    def drop_first_syn(port: int) -> None:
        rule = ["INPUT", "-i", "lo", "-p", "tcp", "--syn", "-d", "127.0.2.1", "--dport", str(port), "-m",
                "statistic", "--mode", "nth", "--every", "2", "--packet", "0", "-j", "DROP"]
        subprocess.run(["iptables", "-I", *rule], check=True)
        rules.append(rule)

    yield drop_first_syn  # type: ignore[misc]
    for rule in rules:
        subprocess.run(["iptables", "-D", *rule], check=True)


def test_slow_handshake_blames_the_device_not_the_links_rtt(province: Province, first_syn_dropped: Province,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = province()
    port = int(next(line for line in path.read_text().splitlines() if "cpe-tcp" in line)
               .split("port: ")[1].split(",")[0])
    first_syn_dropped(port)
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(path))
    checks = {c["id"]: c for c in doc["checks"]}
    tcp, icmp = checks["cpe-tcp"], checks["icmp-primary"]
    assert (tcp["verdict"], tcp["cause"]) == ("degraded", "slow_connect"), tcp
    assert 0.9 < tcp["figure"] < 1.5  # one initial RTO
    assert icmp["verdict"] == "ok"
    text = flat(doc["diagnosis"]["text"])
    assert "RTT 1" not in text and "congestion" not in text, text  # not the link's RTT
    assert "the fiber link primary (VNPT) up, but cpe-tcp is slow to accept a connection (" in text
    assert "; echo RTT 0." in text and "the device is busy or overloaded, not the link" in text
    assert code == 1


@pytest.fixture
def cpe_dead() -> Iterator[None]:
    """Every packet to the CPE (127.0.2.1) dropped: its link is dead for the probe."""
    rule = ["INPUT", "-i", "lo", "-d", "127.0.2.1", "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True)
    yield
    subprocess.run(["iptables", "-D", *rule], check=True)


def test_a_dead_link_during_a_recorded_power_outage_is_the_power_cut(
        province: Province, cpe_dead: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #15 case 1: the UPS sits behind the link, so once the link is dead it no longer answers; the
    history store still knows the outage began on battery (cause ``power``), and `netmon probe --history`
    says power cut, not a cable to hunt."""
    path, store = province(), tmp_path / "history.db"
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(path), "--count", "3")
    assert "link_down" in doc["diagnosis"]["causes"]  # without the history: a dead link, traced
    with connect(store) as db:
        db.execute('INSERT INTO outages (site, link, start, "end", last_seen, cause, failures) '
                   "VALUES ('chieng-mung', 'primary', 1.0, NULL, 2.0, 'power', 3)")
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(path), "--count", "3",
                            "--history", str(store))
    causes = doc["diagnosis"]["causes"]
    assert "power_cut" in causes and "link_down" not in causes and "past_hub" not in causes, doc["diagnosis"]
    assert "the fiber link primary (VNPT) down during the power cut" in doc["diagnosis"]["text"]
    assert code == 2
