"""The agent's durable buffer: every Result is committed here before anything tries to send it.

SQLite in WAL mode with ``synchronous=FULL``: a commit has reached the disk when `append` returns, so
a kill -9, a power cut or a reboot loses nothing that was appended. Sequence numbers come from
``AUTOINCREMENT`` and are never reused, even after the rows below them are gone: the central side
deduplicates on (agent, sequence).

A row leaves the buffer in one of two ways only: acknowledged by the central side (`ack`), or dropped
because the buffer is over its size cap — oldest first, and every drop is added to a persistent
counter the agent reports with each batch.

Each check's running totals (failed runs by reason, echoes sent and received, histogram buckets:
`exporters.totals`) are counted here, in commit order, and kept in the ``totals`` table in the same
transaction as the result, whose body carries them: a restart or a kill -9 continues every counter
where the last committed result left it — never a reset, never a step counted twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from exporters.totals import Totals
from netmon.agent import wire
from probes import base
from probes.base import MetricSpec, Result

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS results (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, committed REAL NOT NULL, size INTEGER NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS results_committed ON results (committed)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta VALUES ('dropped', 0)",
    # Each check's totals after its last committed result (identity: JSON list; totals: wire form).
    "CREATE TABLE IF NOT EXISTS totals (key TEXT PRIMARY KEY, identity TEXT NOT NULL, body TEXT NOT NULL)",
)


class Buffer:
    """One connection, used from the agent's event loop only."""

    def __init__(self, path: str | Path, max_bytes: int, histograms: Collection[str] = ()):
        """``histograms``: keys of the checks whose observations are counted into histogram buckets."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._db = sqlite3.connect(str(self.path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on a power cut, and a power
        # cut is exactly what this buffer is for.
        self._db.execute("PRAGMA synchronous = FULL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self.bytes, self.held = self._db.execute(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM results").fetchone()
        #: Results appended by this process (the buffer's lifetime total is the last sequence number).
        self.appended = 0
        self.histograms = frozenset(histograms)
        self._totals = {key: Totals.load(json.loads(body), tuple(json.loads(identity)))
                        for key, identity, body in self._db.execute("SELECT key, identity, body FROM totals")}
        self._specs: dict[str, dict[str, MetricSpec]] = {}

    @property
    def dropped(self) -> int:
        return self.meta("dropped")

    def meta(self, key: str, default: int = 0) -> int:
        """A counter or state value that must outlive the process (drops, bytes sent, the budget)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def set_meta(self, **values: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values.items())
        self._db.execute("COMMIT")

    @property
    def last_seq(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
        return int(row[0]) if row else 0

    @property
    def low(self) -> int:
        """The lowest sequence number still held; every lower one was delivered or dropped."""
        row = self._db.execute("SELECT MIN(seq) FROM results").fetchone()
        return int(row[0]) if row[0] is not None else self.last_seq + 1

    def totals(self, key: str) -> Totals | None:
        """The check's totals after its last committed result."""
        return self._totals.get(key)

    def append(self, result: Result) -> int:
        """Commit ``result`` with its check's totals after it (durably) and return its sequence number;
        drop the oldest over the cap."""
        totals = (self._totals.get(result.key) or Totals(())).add(
            result, self._probe_specs(result.probe), result.key in self.histograms)
        body = wire.dump(result, totals)
        size = len(body.encode())
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq = self._db.execute("INSERT INTO results (committed, size, body) VALUES (?, ?, ?)",
                                   (time.time(), size, body)).lastrowid
            if totals:
                self._db.execute(
                    "INSERT INTO totals VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "identity = excluded.identity, body = excluded.body",
                    (result.key, json.dumps(totals.identity), json.dumps(totals.dump(), ensure_ascii=False)))
            self.bytes += size
            self.held += 1
            dropped = 0
            while self.bytes > self.max_bytes and self.held > 1:
                row = self._db.execute("SELECT seq, size FROM results ORDER BY seq LIMIT 1").fetchone()
                self._db.execute("DELETE FROM results WHERE seq = ?", (row[0],))
                self.bytes -= row[1]
                self.held -= 1
                dropped += 1
            if dropped:
                self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (dropped,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self.bytes, self.held = self._db.execute(
                "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM results").fetchone()
            raise
        self.appended += 1
        self._totals[result.key] = totals
        assert seq is not None
        return seq

    def _probe_specs(self, probe: str) -> dict[str, MetricSpec]:
        specs = self._specs.get(probe)
        if specs is None:
            known = base.registry().get(probe)
            specs = self._specs[probe] = {s.name: s for s in known.metrics} if known else {}
        return specs

    def take(self, live_since: float, max_bytes: int) -> list[tuple[int, str]]:
        """The next batch: live results (committed at or after ``live_since``) first, then the oldest
        backlog behind them, in sequence order within each part, up to ``max_bytes`` of JSON (at least
        one result)."""
        out: list[tuple[int, str]] = []
        size = 0
        queries = ("SELECT seq, size, body FROM results WHERE committed >= ? ORDER BY seq",
                   "SELECT seq, size, body FROM results WHERE committed < ? ORDER BY seq")
        for query in queries:
            for seq, row_size, body in self._db.execute(query, (live_since,)):
                if out and size + row_size > max_bytes:
                    return out
                out.append((seq, body))
                size += row_size
        return out

    def ack(self, seqs: Iterable[int]) -> None:
        """The central side has these: remove them."""
        seqs = list(seqs)
        if not seqs:
            return
        self._db.execute("BEGIN IMMEDIATE")
        marks = ",".join("?" * len(seqs))
        freed, count = self._db.execute(
            f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM results WHERE seq IN ({marks})", seqs).fetchone()
        self._db.execute(f"DELETE FROM results WHERE seq IN ({marks})", seqs)
        self._db.execute("COMMIT")
        self.bytes -= freed
        self.held -= count

    def close(self) -> None:
        self._db.close()
