"""Day rows built from closed hours (schema version 4): the figures a planner reads do not depend on
whether or when the hours were rolled up, and a store written before version 4 migrates to the same."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from exporters.history import HistoryWriter
from exporters.history_rollup import hour_start
from exporters.history_schema import SCHEMA_VERSION, connect
from netmon.report import formats
from netmon.report.compute import build
from netmon.report.store import StoreSource
from probes.base import Result
from tests.exporters.history_scenario import SITES, T0, TOPOLOGY, results

DAY = 86400.0
#: Whole days (day rows), hours at either end (hour rows), the second day alone.
WINDOWS = ((T0 - DAY, T0 + 2 * DAY), (T0, T0 + DAY), (T0 + 5400, T0 + DAY + 7200), (T0 + DAY, T0 + 2 * DAY))


def write(path: Path, batch: Iterable[Result]) -> None:
    writer = HistoryWriter(path, TOPOLOGY)
    writer.start()
    for r in batch:
        writer.publish(r)
    writer.flush()
    writer.close()


def figures(path: Path) -> list[str]:
    """Every figure `netmon report --format json` gives for `WINDOWS`, per site and per link type."""
    source = StoreSource(path)
    try:
        return [formats.to_json(build(source, SITES, start, end, now=T0 + 3 * DAY, by=by))
                for start, end in WINDOWS for by in ("site", "link-type")]
    finally:
        source.close()


def second_session() -> list[Result]:
    """A day later, plus ban-a's backfilled runs of hours already rolled up (an agent's backlog)."""
    later = [dataclasses.replace(r, started=r.started + DAY) for r in results()]
    late = [dataclasses.replace(r, check="icmp-backfill") for r in results()
            if r.site == "ban-a" and T0 + 36000 <= r.started < T0 + 43200]
    return later + late


def test_day_figures_do_not_depend_on_when_the_hours_are_rolled_up(tmp_path: Path) -> None:
    rolled = tmp_path / "rolled.db"
    write(rolled, results())  # the scenario's hours are long over: rolled up in the same commit
    conn = sqlite3.connect(rolled)
    assert conn.execute("SELECT SUM(runs) FROM rollup_day").fetchone() == (len(results()),)
    conn.close()
    # The same store as a writer stopped before any roll leaves it: every hour only in its hour rows.
    unrolled = tmp_path / "unrolled.db"
    shutil.copy(rolled, unrolled)
    conn = sqlite3.connect(unrolled)
    with conn:
        conn.execute("DELETE FROM rollup_day")
        conn.execute("DELETE FROM rtt_day")
        conn.execute("UPDATE rolled_up SET upto = 0")
    conn.close()
    assert figures(unrolled) == figures(rolled)
    write(unrolled, [])  # restarting rolls them up
    write(rolled, [])  # (a restart closes what was left open: the same on both)
    conn = sqlite3.connect(unrolled)
    assert conn.execute("SELECT SUM(runs) FROM rollup_day").fetchone() == (len(results()),)
    conn.close()
    assert figures(unrolled) == figures(rolled)


def test_a_version_3_store_migrates_and_reports_the_same_figures(tmp_path: Path) -> None:
    """Version 3 upserted every result into its hour and its day rows: its file is a version 4 store
    whose hours are all rolled up, without ``rolled_up`` and the views."""
    new = tmp_path / "new.db"
    write(new, results())
    old = tmp_path / "old.db"
    shutil.copy(new, old)
    conn = sqlite3.connect(old)
    conn.executescript("DROP VIEW day_rollups; DROP VIEW day_rtt; DROP TABLE rolled_up; PRAGMA user_version = 3")
    conn.close()
    assert figures(old) == figures(new)  # read-only, as `netmon report` opens it: not migrated
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone() == (3,)

    conn = connect(old)  # as `netmon run` opens it: migrated
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (4,)
    # every hour it holds was in its day rows already: none is rolled up twice
    assert conn.execute("SELECT upto FROM rolled_up").fetchone() == (hour_start(T0 + DAY - 1) + 3600,)
    conn.close()
    assert figures(old) == figures(new)

    write(new, second_session())
    write(old, second_session())
    assert figures(old) == figures(new)
    assert '"runs": 6000' in figures(new)[0]  # ban-a: two days and 240 backfilled runs
