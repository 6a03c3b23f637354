"""The demo's live board on the shipped inventory, fed results built as the probes build them.

What it says about a center must be what `netmon probe` says (the same verdicts and diagnosis), the
lab's injected faults are listed from the daemon's status, and the screen fits 80×24 in either language.
"""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest

from exporters.sink import InventoryFacts
from netmon.board import LiveBoard, injected, logs_to_file
from netmon.inventory import load
from probes.base import Check, Measurement, Result
from probes.icmp import JITTER, LOSS, MOS, RECEIVED, RTT_MEDIAN, SENT
from tests.support import ROOT

INVENTORY = load(ROOT / "config" / "communes.yaml")
NOW = 1_800_000_000.0
CUT = "chieng-mung"


def result(check: Check, ok: bool = True) -> Result:
    if check.probe == "icmp":
        values = [Measurement(SENT, 5), Measurement(RECEIVED, 5 if ok else 0), Measurement(LOSS, 0.0 if ok else 1.0),
                  Measurement(RTT_MEDIAN, 0.01), Measurement(JITTER, 0.001), Measurement(MOS, 4.3)]
        return check.ok(NOW, values) if ok else check.fail("timeout", "no echo", NOW, values)
    return check.ok(NOW) if ok else check.fail("timeout", "no answer", NOW)


def board(lang: str = "vi", status: dict | None = None, alerts: list | None = None) -> LiveBoard:
    live = LiveBoard(lang, lambda: status or {"scenario": "/x/province-day.yaml"},  # type: ignore[arg-type]
                     lambda: alerts, "netmon", io.StringIO())
    live.on_inventory(InventoryFacts(inventory=INVENTORY))
    return live


def test_a_cut_center_is_down_with_the_diagnosis_netmon_probe_gives() -> None:
    live = board("en", alerts=[("SiteUnreachable", "Chiềng Mung", "pending")])
    for check in INVENTORY.checks:
        live.publish(result(check, ok=not (check.site == CUT and check.link == "primary")))
    screen = live.screen(dt.datetime(2026, 12, 1, 9, 30))
    assert len(screen) <= 24 and all(len(row) <= 80 for row in screen)
    assert screen[0] == "netmon demo · province-day · 09:30:00 · Ctrl-C stops"
    assert screen[1].startswith("75 centers: 74 OK, 0 degraded, 1 down")
    down = screen.index("DOWN")
    assert screen[down + 1].startswith(" Chiềng Mung") and "down" in screen[down + 1]
    assert "SiteUnreachable Chiềng Mung (pending)" in screen[-2]


def test_centers_not_yet_measured_are_counted_apart_and_vietnamese_screen_fits() -> None:
    live = board("vi", alerts=None)
    screen = live.screen(dt.datetime(2026, 12, 1, 9, 30))
    assert screen[1] == "75 trung tâm: 0 tốt, 0 suy giảm, 0 mất kết nối, 75 chưa đo"
    assert screen[-2] == "Cảnh báo: không hiển thị (không có Prometheus)"
    assert all(len(row) <= 80 for row in screen)


def test_injected_faults_come_from_the_lab_status_not_the_scenario_defaults() -> None:
    status = {"down": ["chieng-mung"], "impaired": {"198.19.11.4": {"delay": 0.6, "loss": 0.06},
                                                    "198.19.1.1": {"delay": 0.004, "loss": 0.0}},
              "services": {"qlvb": {"status": 200, "latency": 2.5, "cert_days": 6}, "portal": {"status": 200}},
              "devices": {"moc-son/ups": {"on_battery": True}, "to-hieu/ups": {"on_battery": False}}}
    text = injected(status, {"198.19.11.4": "muong-lan/primary"})
    assert text == ("chieng-mung ↓; muong-lan/primary loss 6%; qlvb +2.5 s; qlvb cert 6 d; "
                    "moc-son/ups on battery")


def test_service_log_goes_to_a_private_file_the_board_names_not_over_the_screen(
        capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.basicConfig(level=logging.INFO, force=True)
    try:
        with logs_to_file() as log:
            logging.getLogger("netmon.scheduler").warning("check chieng-mung/icmp overran")
            live = LiveBoard("vi", lambda: {"scenario": "/x/province-day.yaml"}, lambda: None, "netmon",
                             io.StringIO(), log=log)
            live.on_inventory(InventoryFacts(inventory=INVENTORY))
            screen = live.screen(dt.datetime(2026, 12, 1, 9, 30))
        assert "overran" not in capfd.readouterr().err
        assert "check chieng-mung/icmp overran" in log.read_text(encoding="utf-8")
        assert log.stat().st_mode & 0o077 == 0
        assert screen[-1] == f"Nhật ký dịch vụ: {log}" and len(screen) <= 24
        logging.getLogger("netmon.scheduler").warning("after the board")
        assert "after the board" in capfd.readouterr().err
        log.unlink()
    finally:  # the handler basicConfig made writes to capfd's stderr, closed after this test: a later
        # test's log record reached it ("--- Logging error ---" failed test_delivery's TLS test after this)
        root.handlers = handlers
        root.setLevel(level)
