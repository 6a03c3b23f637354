"""Maintenance windows: declared on sites and hubs, expanded once, the same for history, report and alerts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from netmon.alerting import time_intervals
from netmon.facts import inventory_topology
from netmon.inventory import ConfigError, load, maintenance
from tests.alerts import province

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=ZONE).timestamp()  # a Wednesday


def _at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZONE).timestamp()


def test_site_and_hub_windows_reach_the_history_topology(tmp_path: Path) -> None:
    """The form docs/runbook.md shows, on a site and on a hub, becomes windows the history sees."""
    once = {"reason": "Thay cáp quang trục", "start": "2026-12-01T22:00", "end": "2026-12-02T04:00"}
    weekly = {"reason": "Bảo trì định kỳ VNPT", "weekdays": ["sunday"], "time": "22:00-24:00"}
    inventory = load(province.write(tmp_path / "inv.yaml", 9, maintenance={"muong-bu": [once], "hub-a": [weekly]}))
    topology = inventory_topology(inventory, NOW)
    site = [(w.site, w.start, w.end, w.reason) for w in topology.maintenance if w.site == "muong-bu"]
    assert site == [("muong-bu", _at(1, 22), _at(2, 4), "Thay cáp quang trục")]
    sundays = [(w.start, w.end) for w in topology.maintenance if w.site == "hub-a"]
    assert (_at(6, 22), _at(7, 0)) in sundays and (_at(6, 22) - 7 * 86400, _at(7, 0) - 7 * 86400) in sundays
    assert all(datetime.fromtimestamp(a, ZONE).strftime("%A %H:%M") == "Sunday 22:00" for a, _ in sundays)
    assert all(b - a == 7200 for a, b in sundays)
    # the horizon around "now" in both directions
    assert min(a for a, _ in sundays) < NOW - 390 * 86400 and max(a for a, _ in sundays) > NOW + 390 * 86400


def test_recurring_window_spans_match_the_alertmanager_entry() -> None:
    """History/report and alert generation read the same clock from the same function."""
    from netmon.inventory.model import MaintenanceWindow

    window = MaintenanceWindow(reason="x", weekdays=["monday", "thursday"], time="01:30-05:00")
    got = maintenance.spans(window, _at(1, 0), _at(8, 0))  # Tue 1 Dec .. Tue 8 Dec
    assert got == [(_at(3, 1, 30), _at(3, 5)), (_at(7, 1, 30), _at(7, 5))]
    (entry,) = time_intervals(window)
    assert entry["times"] == [{"start_time": "01:30", "end_time": "05:00"}]
    assert entry["weekdays"] == ["monday", "thursday"]


def test_one_off_window_clipped_to_the_asked_range_and_split_per_day_for_alertmanager() -> None:
    from netmon.inventory.model import MaintenanceWindow

    window = MaintenanceWindow(reason="x", start=datetime(2026, 12, 1, 22), end=datetime(2026, 12, 3))
    assert maintenance.spans(window, _at(1, 0), _at(1, 21)) == []
    assert maintenance.spans(window, _at(2, 0), _at(2, 1)) == [(_at(1, 22), _at(3, 0))]
    days = [(e["days_of_month"], e["times"]) for e in time_intervals(window)]
    assert days == [(["1"], [{"start_time": "22:00", "end_time": "24:00"}]),
                    (["2"], [{"start_time": "00:00", "end_time": "24:00"}])]


def test_a_top_level_maintenance_list_is_refused_with_its_line(tmp_path: Path) -> None:
    """No owner, no window: the only forms are under a site or a hub (docs/report.md says so)."""
    path = province.write(tmp_path / "inv.yaml", 9)
    path.write_text(path.read_text() + "maintenance:\n- {site: muong-bu, start: 2026-12-01T22:00, end: 2026-12-02T04:00}\n")
    with pytest.raises(ConfigError) as exc:
        load(path)
    assert "maintenance" in str(exc.value) and "unknown key" in str(exc.value)
