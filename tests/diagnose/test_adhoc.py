"""`netmon ping` / `netmon trace` on loopback and the blackholed lab range, and a dead hub taking the blame."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from netmon.diagnose.report import schema
from tests.diagnose.conftest import Province, netmon, netmon_json
from tests.probes.icmp_fixtures import unroutable
from tests.probes.peers import silent_host

pytestmark = pytest.mark.privileged

#: Blackholed by the `blackhole_lab_range` fixture and never assigned by the lab (the address plan in
#: config/communes.yaml keeps 198.18.200.0/23 free): nothing answers, even with a lab up.
DEAD = "198.18.200.1"


def test_ping_loopback_is_ok_and_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "ping", "127.0.0.1", "--count", "4", "--link-type", "fiber")
    jsonschema.validate(doc, schema())
    assert code == 0 and doc["command"] == "ping" and doc["place"] is None
    sent = next(m["value"] for m in doc["checks"][0]["measurements"] if m["name"] == "netmon_icmp_packets_sent")
    assert sent == 4 and doc["checks"][0]["thresholds"]["rtt_down"] == pytest.approx(0.3)


def test_ping_dead_target_exits_2(capsys: pytest.CaptureFixture[str], blackhole_lab_range: None) -> None:
    with silent_host("198.18.251.5") as dead:  # echoes leave and nothing answers, lab or no lab
        code, out, _ = netmon(capsys, "ping", dead, "--count", "2")
    assert code == 2
    assert f"{dead} does not answer" in out


@pytest.mark.parametrize("command", ["ping", "trace"])
def test_a_blackholed_target_is_said_to_be_blackholed(capsys: pytest.CaptureFixture[str], command: str,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      blackhole_lab_range: None) -> None:
    """The kernel refuses to send to a blackholed address with EINVAL: it said "unreachable: Invalid
    argument" (as if netmon had passed a bad value) and "does not answer" (nothing was sent). Run from
    another directory, as a user would; the address is blackholed by its own /32, lab or no lab."""
    monkeypatch.chdir(tmp_path)
    with unroutable() as address:
        code, out, _ = netmon(capsys, command, address, "--count", "2")
        assert code == 2 and "Invalid argument" not in out and "does not answer" not in out, out
        assert (f"{address}: this machine's routing table discards packets to this address (blackhole "
                "route) — a placeholder address of the shipped inventory") in " ".join(out.split())
        code, out, _ = netmon(capsys, command, address, "--count", "2", "--lang", "vi")
        assert code == 2 and "không trả lời" not in out, out
        assert (f"{address}: bảng định tuyến của máy này bỏ mọi gói tin tới địa chỉ này (tuyến blackhole)"
                in " ".join(out.split()))
        code, doc = netmon_json(capsys, command, address, "--count", "2")
    assert code == 2 and doc["diagnosis"]["causes"] == ["target_down"]  # the stable keys stay
    assert doc["checks"][0]["reason"] == "unreachable" and "blackhole route" in doc["checks"][0]["error"]


def test_trace_loopback_reaches_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "trace", "127.0.0.1", "--max-hops", "3", "--count", "1")
    jsonschema.validate(doc, schema())
    assert code == 0
    assert doc["traces"][0]["reached"] is True and doc["traces"][0]["hops"][-1]["address"] == "127.0.0.1"


def test_dead_hub_is_blamed_not_the_site(province: Province, capsys: pytest.CaptureFixture[str],
                                         blackhole_lab_range: None) -> None:
    config = province(**{"address: 127.0.1.1": f"address: {DEAD}", "cpe: 127.0.2.1": "cpe: 198.18.200.2"})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config), "--check", "icmp")
    assert code == 2 and [c["id"] for c in doc["checks"]] == ["icmp"]
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config))
    assert code == 2
    causes = doc["diagnosis"]["causes"]
    assert causes[0] == "hub_down" and "link_down" not in causes
    assert "hub Trạm tập trung VNPT Mai Sơn is down" in doc["diagnosis"]["text"]


def test_dead_data_center_canary_explains_everything(province: Province, capsys: pytest.CaptureFixture[str],
                                                     blackhole_lab_range: None) -> None:
    canary = f"    - {{id: canary-core, probe: icmp, target: {DEAD}, count: 2, spacing: 10ms, packet_timeout: 300ms}}\n"
    http = "    - {id: qlvb-http, probe: http, service: qlvb, timeout: 3s}\n"
    config = province(**{http: canary + http, "address: 127.0.1.1": "address: 198.18.200.3"})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config))
    assert code == 2
    assert doc["diagnosis"]["causes"] == ["datacenter_down"]


@pytest.mark.parametrize(("name", "address"), [("chieng-mung", "127.0.2.1"), ("Chiềng Mung", "127.0.2.1"),
                                               ("hub-mai-son", "127.0.1.1")])
def test_ping_a_site_or_hub_by_name(province: Province, capsys: pytest.CaptureFixture[str], name: str,
                                    address: str) -> None:
    """A technician types the site's slug or name: the site's primary CPE is pinged and judged by its
    link type (fiber: rtt_down 300 ms); a hub by its address. Was a DNS query for the name."""
    config = province()
    code, doc = netmon_json(capsys, "ping", name, "--config", str(config), "--count", "2")
    jsonschema.validate(doc, schema())
    assert code == 0 and doc["checks"][0]["target"] == address
    if address == "127.0.2.1":
        assert doc["checks"][0]["thresholds"]["rtt_down"] == pytest.approx(0.3)


def test_trace_a_site_by_name(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    """`netmon trace` takes a site as `netmon ping` does: its primary CPE."""
    config = province()
    code, doc = netmon_json(capsys, "trace", "Chiềng Mung", "--config", str(config), "--max-hops", "3",
                            "--count", "1")
    jsonschema.validate(doc, schema())
    assert code == 0 and doc["checks"][0]["target"] == "127.0.2.1"
    assert doc["traces"][0]["reached"] is True and doc["traces"][0]["hops"][-1]["address"] == "127.0.2.1"
