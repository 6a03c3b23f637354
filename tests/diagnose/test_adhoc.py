"""`netmon ping` / `netmon trace` on loopback and the blackholed lab range, and a dead hub taking the blame."""

from __future__ import annotations

import jsonschema
import pytest

from netmon.diagnose.report import schema
from tests.diagnose.conftest import Province, netmon, netmon_json

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
    code, out, _ = netmon(capsys, "ping", DEAD, "--count", "2")
    assert code == 2
    assert f"{DEAD} does not answer" in out


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
