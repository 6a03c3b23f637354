"""`netmon probe` end to end on loopback peers: exit codes, table, diagnosis, --json, budgets."""

from __future__ import annotations

import jsonschema
import pytest

from netmon.diagnose.report import schema
from tests.diagnose.conftest import Province, netmon, netmon_json

pytestmark = pytest.mark.privileged  # ICMP through the raw-socket engine


def flat(text: str) -> str:
    """The output with line wrapping undone, for phrases the 80-column wrap may split."""
    return " ".join(text.split())


def test_healthy_site_exits_0_with_every_check_ok(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = netmon(capsys, "probe", "Chiềng Mung", "--config", str(province()))
    assert code == 0, out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    rows = [line for line in lines if line.split()[:1] in (["datacenter"], ["hub"], ["site"])]
    assert len(rows) == 5 and all(line.endswith("ok") for line in rows), out
    assert "\x1b[" not in out  # not a terminal: no colors
    assert "document system OK" in flat(out) and "the fiber link primary (VNPT) OK" in flat(out)


def test_http_503_is_down_and_named(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(province(status=503)))
    assert code == 2
    qlvb = next(c for c in doc["checks"] if c["id"] == "qlvb-http")
    assert (qlvb["verdict"], qlvb["cause"], qlvb["figure"]) == ("down", "http_5xx", 503)
    assert "document system down (HTTP 503)" in doc["diagnosis"]["text"]
    assert all(c["verdict"] == "ok" for c in doc["checks"] if c["id"] != "qlvb-http")


def test_closed_port_is_down_but_link_is_up(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "probe", "04123", "--config", str(province(tcp_open=False)))
    assert code == 2
    tcp = next(c for c in doc["checks"] if c["id"] == "cpe-tcp")
    assert (tcp["verdict"], tcp["reason"]) == ("down", "refused")
    # ICMP still answers: the diagnosis must not call the link down, and no trace is needed.
    assert "link_down" not in doc["diagnosis"]["causes"]
    assert "cpe-tcp: connection refused" in doc["diagnosis"]["text"]


def test_json_validates_against_the_shipped_schema(province: Province,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "probe", "chieng mung", "--config", str(province()))
    jsonschema.validate(doc, schema())
    assert (code, doc["exit_code"], doc["verdict"]) == (0, 0, "ok")
    assert doc["place"]["slug"] == "chieng-mung" and doc["place"]["name"] == "Chiềng Mung"
    icmp = next(c for c in doc["checks"] if c["id"] == "icmp-primary")
    assert icmp["thresholds"]["rtt_degraded"] == pytest.approx(0.05)
    assert {m["name"] for m in icmp["measurements"]} >= {"netmon_icmp_packet_loss_ratio",
                                                          "netmon_icmp_rtt_median_seconds"}


def test_unknown_site_exits_3_with_suggestions(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = netmon(capsys, "probe", "chieng mug", "--config", str(province()))
    assert code == 3 and out == ""
    assert "did you mean: Chiềng Mung (chieng-mung)" in err


def test_check_option_runs_one_check_and_count_sets_the_burst(province: Province,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(province()),
                            "--check", "icmp-primary", "--count", "7")
    assert code == 0
    assert [c["id"] for c in doc["checks"]] == ["icmp-primary"]
    sent = next(m["value"] for m in doc["checks"][0]["measurements"] if m["name"] == "netmon_icmp_packets_sent")
    assert sent == 7
    code, _, err = netmon(capsys, "probe", "chieng-mung", "--config", str(province()), "--check", "nope")
    assert code == 3 and "no check 'nope'" in err


def test_budget_lowers_the_count_on_a_metered_link(province: Province,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # Scheduled: 3 echoes x 168 B every 60 s = 725,760 B/day; 730,000 leaves 4,240 B = 25 echoes.
    config = province(**{"budget_bytes_per_day: 5000000": "budget_bytes_per_day: 730000"})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config),
                            "--check", "icmp-backup", "--count", "100")
    assert code == 0
    sent = next(m["value"] for m in doc["checks"][0]["measurements"] if m["name"] == "netmon_icmp_packets_sent")
    assert sent == 25
    assert any("count lowered from 100 to 25" in note for note in doc["notes"])


def test_budget_refuses_a_run_that_cannot_fit(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    config = province(**{"budget_bytes_per_day: 5000000": "budget_bytes_per_day: 725800"})
    code, out, err = netmon(capsys, "probe", "chieng-mung", "--config", str(config), "--check", "icmp-backup")
    assert code == 3 and out == ""
    assert "budget of 725,800 bytes/day" in err and "refusing" in err


def test_vietnamese_output(province: Province, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_LANG", "en")  # --lang sets it for the process; restored after the test
    code, out, _ = netmon(capsys, "--lang", "vi", "probe", "chieng-mung", "--config", str(province(status=503)))
    assert code == 2
    assert "VỊ TRÍ" in out and "Chẩn đoán: " in out and "hệ thống văn bản ngừng (HTTP 503)" in flat(out)
