"""The history store's SQLite schema, versioned with ``PRAGMA user_version`` and migrated on open.

Why SQLite in WAL mode: one file a planner can copy, readers (``netmon report``) never block the
writer, and a committed transaction survives a killed process. ``synchronous=NORMAL`` is enough for
that: in WAL mode it can only lose the last commits on an OS crash or power cut, never corrupt.

Tables (times are unix seconds, UTC):
- ``outages``: one row per outage of a site's link (``link`` is "" for hubs and the data center);
  ``end`` is NULL while it is open, ``last_seen`` is the last failed run we saw.
- ``rollup_hour`` / ``rollup_day``: per check and per hour / per local day (Asia/Ho_Chi_Minh, UTC+7,
  no DST): runs, successes, loss and jitter sums; ``rtt_hour`` / ``rtt_day`` hold the RTT histogram
  of the same rows as (bucket, count) pairs so percentiles can be merged across sites and days in SQL.
  Their keys start with ``ts``: a report reads a time range and the writer appends to the newest
  period, so both touch contiguous pages.
- ``maintenance``: planned windows per site or hub, copied from the inventory so a report on the
  database alone still knows them.
- ``reclassifications`` (version 2): a planner's after-the-fact verdict on an outage (``as_cause``
  maintenance/power/provider/not-outage, or NULL when only the ticket/actions are recorded), with who,
  when and why. Append-only: the outage row keeps its original cause and the latest entry wins.
- ``samples`` (version 3): the observed time of each reachability check as spans, up or down
  (`exporters.history_samples`); availability and coverage are computed from them. A store from
  before has none for its earlier days: that time reads as not observed, which it is, for the report.
- ``rolled_up`` (version 4): one row, ``upto``: the day rows hold every hour row before it
  (`exporters.history_rollup.roll`); the writer no longer upserts the day rows for every result. A
  store from before gets the hour after its newest hour row (it wrote every result into both). The
  views ``day_rollups`` / ``day_rtt`` are the day rows plus the hours not rolled up yet, with the
  day rows' columns: what every reader of days uses.

A migration is a list of statements taking version ``i`` to ``i + 1``; add one at the end, never
edit a released one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from exporters.history_rollup import DAY_OF_HOUR

_ROLLUP_COLUMNS = """
    site TEXT NOT NULL, link TEXT NOT NULL, check_id TEXT NOT NULL, probe TEXT NOT NULL,
    ts INTEGER NOT NULL, runs INTEGER NOT NULL, ok INTEGER NOT NULL,
    loss_sum REAL NOT NULL, loss_n INTEGER NOT NULL, jitter_sum REAL NOT NULL, jitter_n INTEGER NOT NULL,
    PRIMARY KEY (ts, site, check_id)"""

_FIGURES = "runs, ok, loss_sum, loss_n, jitter_sum, jitter_n"
_NOT_ROLLED = "WHERE ts >= (SELECT upto FROM rolled_up)"

_RTT_COLUMNS = """
    site TEXT NOT NULL, check_id TEXT NOT NULL, ts INTEGER NOT NULL, bucket INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (ts, site, check_id, bucket)"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE outages (
            id INTEGER PRIMARY KEY, site TEXT NOT NULL, link TEXT NOT NULL, start REAL NOT NULL,
            "end" REAL, last_seen REAL NOT NULL, cause TEXT NOT NULL, failures INTEGER NOT NULL)""",
        "CREATE INDEX outages_start ON outages (start)",
        """CREATE INDEX outages_open ON outages ("end") WHERE "end" IS NULL""",
        f"CREATE TABLE rollup_hour ({_ROLLUP_COLUMNS}) WITHOUT ROWID",
        f"CREATE TABLE rollup_day ({_ROLLUP_COLUMNS}) WITHOUT ROWID",
        f"CREATE TABLE rtt_hour ({_RTT_COLUMNS}) WITHOUT ROWID",
        f"CREATE TABLE rtt_day ({_RTT_COLUMNS}) WITHOUT ROWID",
        """CREATE TABLE maintenance (
            site TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, reason TEXT NOT NULL DEFAULT '')""",
    ),
    (
        """CREATE TABLE reclassifications (
            id INTEGER PRIMARY KEY, outage_id INTEGER NOT NULL REFERENCES outages (id),
            as_cause TEXT, reason TEXT NOT NULL, by TEXT NOT NULL, at REAL NOT NULL,
            ticket TEXT, actions TEXT)""",
        "CREATE INDEX reclassifications_outage ON reclassifications (outage_id)",
    ),
    (
        """CREATE TABLE samples (
            id INTEGER PRIMARY KEY, site TEXT NOT NULL, link TEXT NOT NULL, check_id TEXT NOT NULL,
            start REAL NOT NULL, "end" REAL NOT NULL, down INTEGER NOT NULL)""",
        'CREATE INDEX samples_end ON samples ("end")',
    ),
    (
        "CREATE TABLE rolled_up (upto INTEGER NOT NULL)",
        "INSERT INTO rolled_up SELECT COALESCE(MAX(ts) + 3600, 0) FROM rollup_hour",
        f"""CREATE VIEW day_rollups AS
            SELECT site, link, check_id, probe, ts, {_FIGURES} FROM rollup_day
            UNION ALL
            SELECT site, link, check_id, probe, {DAY_OF_HOUR}, {_FIGURES} FROM rollup_hour {_NOT_ROLLED}""",
        f"""CREATE VIEW day_rtt AS
            SELECT site, check_id, ts, bucket, n FROM rtt_day
            UNION ALL
            SELECT site, check_id, {DAY_OF_HOUR}, bucket, n FROM rtt_hour {_NOT_ROLLED}""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer netmon; refusing to touch it protects its data."""

    def __init__(self, path: str, found: int):
        super().__init__(
            f"{path}: history schema version {found} is newer than this netmon "
            f"understands ({SCHEMA_VERSION}); upgrade netmon"
        )


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the store at ``path``.

    ``readonly`` opens an existing file without migrating it, for reports.
    """
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 10000")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        conn.close()
        raise SchemaTooNew(str(path), version)
    if not readonly:
        migrate(conn, version)
    return conn


def day_tables(conn: sqlite3.Connection) -> tuple[str, str]:
    """Where a reader finds (rollups, RTT histograms) per local day: the views of version 4, or the
    day tables of an older store opened read-only (not migrated; it wrote every result into them)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= 4:
        return "day_rollups", "day_rtt"
    return "rollup_day", "rtt_day"


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply every migration after ``version``, each in its own transaction with its version bump."""
    for target in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
