"""The history store: outages with causes, rollups, the writer thread and schema migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exporters.history import HistoryWriter, Retention
from exporters.history_outages import OutageTracker, Topology, Window
from exporters.history_rollup import percentile, rtt_bucket
from exporters.history_schema import SCHEMA_VERSION, SchemaTooNew, connect
from tests.exporters.history_scenario import T0, TOPOLOGY, icmp, results, ups


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    writer = HistoryWriter(path, TOPOLOGY, retention=Retention(hourly_days=10_000, daily_days=10_000))
    writer.start()
    for r in results():
        writer.publish(r)
    writer.flush()
    writer.close()
    return path


def test_outages_have_exact_bounds_and_causes(store: Path) -> None:
    conn = sqlite3.connect(store)
    rows = conn.execute(
        'SELECT site, link, start - ?, "end" - ?, cause FROM outages ORDER BY site, start', (T0, T0)
    ).fetchall()
    assert rows == [
        ("ban-a", "primary", 3000.0, 3120.0, "link"),
        ("ban-a", "primary", 30000.0, 30600.0, "maintenance"),
        ("ban-b", "primary", 60000.0, 60330.0, "hub"),
        ("ban-b", "primary", 75030.0, 75180.0, "power"),
        ("hub-x", "", 60005.0, 60305.0, "link"),
    ]
    assert conn.execute("SELECT site, start - ?, reason FROM maintenance", (T0,)).fetchall() == [
        ("ban-a", 29990.0, "thay thiết bị")
    ]


def test_rollups_count_every_run_and_keep_rtt_histograms(store: Path) -> None:
    conn = sqlite3.connect(store)
    day = conn.execute("SELECT runs, ok, loss_sum, loss_n FROM rollup_day WHERE site = 'ban-a'").fetchall()
    assert day == [(2880, 2880 - 25, 25.0, 2880)]
    hours = conn.execute("SELECT COUNT(*), SUM(runs) FROM rollup_hour WHERE site = 'ban-b'").fetchone()
    assert hours == (25, 2881)  # 24 hours of icmp-primary + the UPS reading's own row
    hist = dict(conn.execute("SELECT bucket, SUM(n) FROM rtt_day WHERE site = 'ban-a' GROUP BY bucket"))
    assert hist == {rtt_bucket(0.010): 2 * (2880 - 25)}
    assert percentile(hist, 0.95) == pytest.approx(0.010, rel=0.05)


def test_one_failed_run_is_not_an_outage() -> None:
    tracker = OutageTracker(open_after=2)
    assert tracker.observe(icmp("ban-a", 200)) == []
    assert tracker.observe(icmp("ban-a", 201)) == []
    assert tracker.open_outages() == []


def test_open_outage_survives_restart_and_stale_ones_close_at_last_failure(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    first = HistoryWriter(path)
    first.start()
    for k in range(99, 103):  # 100, 101, 102 fail: opens an outage left open at close
        first.publish(icmp("ban-a", k))
    first.flush()
    first.close()
    conn = sqlite3.connect(path)
    assert conn.execute('SELECT COUNT(*) FROM outages WHERE "end" IS NULL').fetchone() == (1,)
    tracker = OutageTracker(max_gap=600)
    from exporters.history import load_open

    tracker.resume(load_open(connect(path)))
    # a result long after (netmon was down): the outage is closed at its last seen failure, not later
    closed = tracker.observe(icmp("ban-a", 500))
    assert [(o.start - T0, o.end - T0) for o in closed if o.end] == [(3000.0, 3060.0)]


def test_maintenance_window_of_the_hub_covers_its_sites() -> None:
    topology = Topology(upstream={"ban-a": "hub-x"}, maintenance=(Window("hub-x", T0, T0 + 3600),))
    tracker = OutageTracker(topology)
    opened = [o for k in (100, 101) for o in tracker.observe(icmp("ban-a", k))]
    assert [o.cause for o in opened] == ["maintenance"]
    assert OutageTracker(Topology(upstream={"ban-a": "hub-x"})).cause(opened[0]) == "link"


def test_schema_is_versioned_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    connect(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        connect(path)


def test_retention_drops_old_hourly_rows_and_keeps_daily(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    writer = HistoryWriter(path)
    writer.start()
    for k in range(240):
        writer.publish(icmp("ban-a", k))
    writer.flush()
    writer.close()
    conn = connect(path)
    Retention(hourly_days=1, daily_days=10_000).apply(conn, T0 + 3 * 86400)
    assert conn.execute("SELECT COUNT(*) FROM rollup_hour").fetchone() == (0,)
    assert conn.execute("SELECT SUM(runs) FROM rollup_day").fetchone() == (240,)


def test_each_run_is_a_sample_of_its_interval_coalesced_into_spans(store: Path) -> None:
    """ban-a: up, down for runs 100-103, up, run 200 down alone, ...: one span per stretch of one state."""
    conn = sqlite3.connect(store)
    spans = conn.execute(
        "SELECT start - ?, \"end\" - ?, down FROM samples WHERE site = 'ban-a' ORDER BY start", (T0, T0)
    ).fetchall()
    assert spans[:5] == [(0, 3000, 0), (3000, 3120, 1), (3120, 6000, 0), (6000, 6030, 1), (6030, 30000, 0)]
    assert spans[-1] == (30600, 86400, 0)


def test_a_sample_stands_for_its_own_checks_interval_and_a_late_run_leaves_a_gap() -> None:
    from exporters.history_samples import SampleTracker

    tracker = SampleTracker({"ban-a/icmp-primary": 60.0})
    (first,) = tracker.observe(icmp("ban-a", 0))
    tracker.observe(icmp("ban-a", 2))  # 60 s later: extends
    assert (first.start - T0, first.end - T0) == (0, 120)
    (gap,) = tracker.observe(icmp("ban-a", 10))  # 300 s later: nobody observed 120-300
    assert gap is not first and (gap.start - T0, gap.end - T0) == (300, 360)


def test_a_version_1_store_is_migrated_and_read_as_not_observed_before(tmp_path: Path) -> None:
    from exporters.history_schema import MIGRATIONS
    from netmon.report.store import StoreSource

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    assert StoreSource(path).samples(0, 2e9) == []  # read-only, before any upgrade
    connect(path).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_power_evidence_arriving_after_the_outage_re_decides_its_cause() -> None:
    # ban-b's link fails at runs 2501-2505 and comes back; only then does an edge agent deliver the UPS
    # readings it took over the LAN during the cut (on battery from run 2500).
    tracker = OutageTracker(TOPOLOGY, open_after=2)
    changed = [o for k in range(2495, 2510) for o in tracker.observe(icmp("ban-b", k))]
    assert changed[-1].end is not None and changed[-1].cause == "link"
    late = tracker.observe(ups("ban-b", 2500, on_battery=True))
    assert [(o.start, o.cause) for o in late] == [(T0 + 30 * 2501, "power")]
    assert tracker.observe(ups("ban-b", 2501, on_battery=True)) == [], "decided once"
