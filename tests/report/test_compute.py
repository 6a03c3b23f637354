"""Report maths on the synthetic day (tests/exporters/history_scenario.py), hand-computed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exporters.history import HistoryWriter
from netmon.inventory.model import ServicePeriod
from netmon.report import formats, intervals
from netmon.report.accounting import Rules
from netmon.report.calendar import service_spans
from netmon.report.compute import build, upgrade
from netmon.report.store import StoreSource
from tests.exporters.history_scenario import RUNS, SITES, T0, TOPOLOGY, results

DAY = 86400.0
OFFICE = 36000.0  # 07:00-17:00
MAINT = 3610.0  # [T0+29990, T0+33600]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> StoreSource:
    path = tmp_path_factory.mktemp("report") / "history.db"
    writer = HistoryWriter(path, TOPOLOGY)
    writer.start()
    for r in results():
        writer.publish(r)
    writer.flush()
    writer.close()
    return StoreSource(path)


def rows(source: StoreSource, **kw: Any) -> dict[str, Any]:
    report = build(source, SITES, T0, T0 + DAY, now=T0 + 2 * DAY, **kw)
    return {r.key: r for r in report.rows} | {"all": report.total, "report": report}


def test_whole_day(source: StoreSource) -> None:
    r = rows(source)
    a, b, total = r["ban-a"], r["ban-b"], r["all"]
    # down samples: 120 s link + 30 s lone failed run (a short outage) + 600 s maintenance
    assert a.availability == pytest.approx(1 - 750 / DAY)
    assert a.availability_excl == pytest.approx(1 - 150 / (DAY - MAINT))
    assert (a.outages, a.short, a.down, a.mttr, dict(a.causes)) == (
        2, 1, 750.0, 360.0, {"link": 1, "maintenance": 1})
    assert (a.coverage, a.coverage_excl) == (1.0, 1.0)
    assert b.availability == pytest.approx(1 - 480 / DAY)  # 330 s hub + 150 s power
    assert (b.outages, b.down, b.mttr, dict(b.causes)) == (2, 480.0, 240.0, {"hub": 1, "power": 1})
    assert total.availability == pytest.approx(1 - 1230 / (2 * DAY))
    assert total.mttr == pytest.approx(300.0)
    assert a.rollup.rtt_p(0.5) == pytest.approx(0.010, rel=0.05)
    assert b.rollup.rtt_p(0.95) == pytest.approx(0.080, rel=0.05)
    assert a.rollup.loss == pytest.approx(25 / 2880)
    assert a.runs == 2880 and b.runs == 2881
    assert [w.key for w in r["report"].worst] == ["ban-a", "ban-b"]


def test_office_hours_and_maintenance(source: StoreSource) -> None:
    r = rows(source, rules=Rules(service_period=True))
    a, b = r["ban-a"], r["ban-b"]
    assert a.availability == pytest.approx(1 - 600 / OFFICE)  # only the maintenance outage is in hours
    assert a.availability_excl == pytest.approx(1.0)
    assert a.observed_excl == pytest.approx(OFFICE - MAINT)
    assert (a.outages, b.outages) == (1, 1)
    assert b.availability == pytest.approx(1 - 330 / OFFICE)


def test_grouping_by_link_type_weights_by_time(source: StoreSource) -> None:
    r = rows(source, by="link-type")
    assert set(r) == {"fiber", "4g", "all", "report"}
    assert r["4g"].availability == pytest.approx(1 - 480 / DAY)
    daily = r["report"].daily
    assert daily["fiber"] == [(T0, pytest.approx(1 - 750 / DAY))]


def test_partial_window_reads_hourly_rows(source: StoreSource) -> None:
    report = build(source, SITES, T0 + 3600, T0 + 4 * 3600, now=T0 + DAY)
    a = report.rows[0]
    assert a.runs == 360 and a.down == 30 and a.outages == 0 and a.short == 1  # run 200, alone


def test_upgrade_compares_before_and_after_since(source: StoreSource) -> None:
    up = upgrade(source, SITES[0], "primary", T0 + 43200, span_days=0.5, now=T0 + DAY)
    assert (up.before.outages, up.before.down) == (2, 750.0)
    assert (up.after.outages, up.after.down) == (0, 0.0)
    assert "Trước" in formats.upgrade_text(up, "vi")


def test_formats(source: StoreSource, tmp_path: Path) -> None:
    report = rows(source)["report"]
    data = json.loads(formats.to_json(report))
    assert data["total"]["outages"] == 4 and data["rows"][0]["name"] == "Bản Á"
    csv = formats.to_csv(report, "en").splitlines()
    assert csv[0].startswith("key,name,sites,availability") and len(csv) == 4
    vi = formats.table(report, "vi")
    assert "Khả dụng" in vi and "Bản Bê" in vi and "99.132 %" in vi


def test_intervals() -> None:
    assert intervals.subtract([(0, 10), (20, 30)], [(5, 25)]) == [(0, 5), (25, 30)]
    assert intervals.intersect([(0, 10)], [(2, 3), (5, 20)]) == [(2, 3), (5, 10)]
    assert intervals.apart([(0, 1), (2, 4), (5, 6), (8, 9), (12, 13)], [(1, 2), (3, 5), (9, 12)]) == 4
    week = service_spans(ServicePeriod(national_holidays=False), T0, T0 + 7 * DAY)
    assert len(week) == 5 and intervals.total(week) == 5 * OFFICE


def test_time_nobody_observed_is_not_up(source: StoreSource) -> None:
    """30 days asked, one day observed: the figure is not meaningful; a quarter without data is "no data"."""
    report = build(source, SITES, T0 - 29 * DAY, T0 + DAY, now=T0 + DAY)
    a = report.rows[0]
    assert a.coverage == pytest.approx(1 / 30) and a.availability is None and a.observed == DAY
    assert "insufficient data" in formats.table(report, "en") and "không đủ dữ liệu" in formats.table(report, "vi")
    row = json.loads(formats.to_json(report))["rows"][0]
    assert (row["availability"], row["status"], row["coverage"]) == (None, "below_floor", pytest.approx(1 / 30))
    assert build(source, SITES, T0 - 29 * DAY, T0 + DAY, now=T0 + DAY, rules=Rules(floor=0.0)).rows[0].availability == (
        pytest.approx(1 - 750 / DAY))
    quarter = build(source, SITES, T0 - 100 * DAY, T0 - 10 * DAY, now=T0 + DAY)
    empty = quarter.rows[0]
    assert (empty.availability, empty.coverage, empty.observed) == (None, 0.0, 0.0)
    assert "no data" in formats.table(quarter, "en") and "100.000 %" not in formats.table(quarter, "en")
    assert all(a is None for series in quarter.daily.values() for _, a in series)
    csv = formats.to_csv(quarter, "en").splitlines()
    assert csv[0].endswith(",status,window,observed") and ",no_data," in csv[1]


def test_upgrade_without_data_on_either_side_says_so(source: StoreSource) -> None:
    up = upgrade(source, SITES[0], "primary", T0 - 10 * DAY, span_days=5, now=T0 + DAY)
    assert (up.before.availability, up.after.availability) == (None, None)
    assert "100.000 %" not in formats.upgrade_text(up, "en") and "no data" in formats.upgrade_text(up, "en")


def test_a_flapping_link_reads_half_down_and_ranks_worst(tmp_path: Path) -> None:
    """Down 30 s of every 60 s: no two consecutive runs fail, so no outage opens, yet half the
    observed time is down; it must rank first among the worst, with its short outages counted."""
    from probes.base import Result

    path = tmp_path / "flap.db"
    writer = HistoryWriter(path, TOPOLOGY)
    writer.start()
    for r in results():
        if r.site == "ban-b":
            k = round((r.started - T0) / 30)
            r = Result(r.site, r.check, r.probe, r.target, r.link, k % 2 == 0, r.started, 0.01)
        writer.publish(r)
    writer.flush()
    writer.close()
    report = build(StoreSource(path), SITES, T0, T0 + DAY, now=T0 + 2 * DAY)
    b = next(r for r in report.rows if r.key == "ban-b")
    assert b.availability == pytest.approx(0.5) and b.outages == 0 and b.short == RUNS // 2
    assert [r.key for r in report.worst] == ["ban-b", "ban-a"]


def test_a_gap_in_the_runs_is_not_observed(tmp_path: Path) -> None:
    """The prober itself down for an hour: that hour is neither up nor down."""
    path = tmp_path / "gap.db"
    writer = HistoryWriter(path, TOPOLOGY)
    writer.start()
    for r in results():
        if not T0 + 7200 <= r.started < T0 + 10800:
            writer.publish(r)
    writer.flush()
    writer.close()
    a = build(StoreSource(path), SITES, T0, T0 + DAY, now=T0 + 2 * DAY).rows[0]
    assert a.observed == DAY - 3600 and a.coverage == pytest.approx(23 / 24)
    assert a.availability == pytest.approx(1 - 750 / (DAY - 3600))
