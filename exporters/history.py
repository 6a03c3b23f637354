"""The embedded history store: a `Result` sink that keeps outages and rollups in SQLite for planners.

`HistoryWriter` is called on the event loop for every Result (like the Prometheus collector) and
only appends to a queue. A writer thread takes whatever has queued for up to ``flush_every`` seconds
(or ``batch_max`` results), turns it into outage changes (`exporters.history_outages`) and rollup
deltas (`exporters.history_rollup`), and commits the lot as one transaction. A killed process
therefore loses at most the batch being collected, and WAL keeps the file consistent.

Retention (`Retention`) runs at start and hourly in the same thread: hourly rows are kept for
``hourly_days``, daily rows and outages for ``daily_days``.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exporters.history_outages import Outage, OutageTracker, Topology, Window
from exporters.history_rollup import RollupBatch
from exporters.history_samples import SampleSpan, SampleTracker
from exporters.history_schema import connect
from probes.base import Result

log = logging.getLogger("netmon.history")

__all__ = ["HistoryWriter", "Outage", "Retention", "Topology", "Window", "ingest", "load_open"]


@dataclass(frozen=True, slots=True)
class Retention:
    hourly_days: float = 90.0
    daily_days: float = 5 * 366.0

    def apply(self, conn: sqlite3.Connection, now: float) -> None:
        hourly = now - self.hourly_days * 86400
        daily = now - self.daily_days * 86400
        with _transaction(conn):
            conn.execute("DELETE FROM rollup_hour WHERE ts < ?", (hourly,))
            conn.execute("DELETE FROM rtt_hour WHERE ts < ?", (hourly,))
            conn.execute("DELETE FROM rollup_day WHERE ts < ?", (daily,))
            conn.execute("DELETE FROM rtt_day WHERE ts < ?", (daily,))
            conn.execute('DELETE FROM outages WHERE "end" < ?', (daily,))
            conn.execute("DELETE FROM reclassifications WHERE outage_id NOT IN (SELECT id FROM outages)")
            conn.execute('DELETE FROM samples WHERE "end" < ?', (daily,))


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def load_open(conn: sqlite3.Connection) -> list[Outage]:
    rows = conn.execute(
        'SELECT id, site, link, start, last_seen, cause, failures FROM outages WHERE "end" IS NULL'
    ).fetchall()
    return [
        Outage(site, link, start, last_seen, None, cause, failures, oid)
        for oid, site, link, start, last_seen, cause, failures in rows
    ]


def save_outages(conn: sqlite3.Connection, outages: Iterable[Outage]) -> None:
    for o in outages:
        if o.id is None:
            cur = conn.execute(
                'INSERT INTO outages (site, link, start, "end", last_seen, cause, failures) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (o.site, o.link, o.start, o.end, o.last_seen, o.cause, o.failures),
            )
            o.id = cur.lastrowid
        else:
            conn.execute(
                'UPDATE outages SET "end" = ?, last_seen = ?, cause = ?, failures = ? WHERE id = ?',
                (o.end, o.last_seen, o.cause, o.failures, o.id),
            )


def save_maintenance(conn: sqlite3.Connection, windows: Iterable[Window]) -> None:
    conn.execute("DELETE FROM maintenance")
    conn.executemany(
        'INSERT INTO maintenance (site, start, "end", reason) VALUES (?, ?, ?, ?)',
        ((w.site, w.start, w.end, w.reason) for w in windows),
    )


def save_samples(conn: sqlite3.Connection, spans: Iterable[SampleSpan]) -> None:
    for s in spans:
        if s.id is None:
            cur = conn.execute(
                'INSERT INTO samples (site, link, check_id, start, "end", down) VALUES (?, ?, ?, ?, ?, ?)',
                (s.site, s.link, s.check, s.start, s.end, int(s.down)),
            )
            s.id = cur.lastrowid
        else:
            conn.execute('UPDATE samples SET "end" = ? WHERE id = ?', (s.end, s.id))


def ingest(
    conn: sqlite3.Connection, tracker: OutageTracker, results: Iterable[Result], samples: SampleTracker
) -> int:
    """Apply ``results`` to the store as one transaction; return how many were applied."""
    rollups = RollupBatch()
    changed: dict[int, Outage] = {}
    spans: dict[int, SampleSpan] = {}
    count = 0
    for result in results:
        rollups.add(result)
        for o in tracker.observe(result):
            changed[id(o)] = o
        for s in samples.observe(result):
            spans[id(s)] = s
        count += 1
    with _transaction(conn):
        rollups.write(conn)
        save_outages(conn, changed.values())
        save_samples(conn, spans.values())
    return count


_STOP = object()


class HistoryWriter:
    """The sink: ``writer(result)`` never blocks; a thread owns the connection and commits batches."""

    def __init__(
        self,
        path: str | Path,
        topology: Topology | None = None,
        open_after: int = 2,
        flush_every: float = 1.0,
        batch_max: int = 20_000,
        retention: Retention | None = None,
        probes: tuple[str, ...] = ("icmp",),
    ):
        self.path = Path(path)
        self.tracker = OutageTracker(topology, open_after=open_after, probes=probes)
        self.samples = SampleTracker(self.tracker.topology.intervals, probes=probes)
        self.flush_every = flush_every
        self.batch_max = batch_max
        self.retention = retention or Retention()
        self.committed = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __call__(self, result: Result) -> None:
        self._queue.put(result)

    def start(self) -> None:
        """Open (and migrate) the store in the writer thread; raise here if that fails."""
        self._thread = threading.Thread(target=self._run, name="netmon-history", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def set_topology(self, topology: Topology) -> None:
        """Hand a reloaded inventory's hubs and maintenance windows to the writer thread."""
        self._queue.put(topology)

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything queued before this call is committed."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise TimeoutError("history writer did not flush in time")

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        try:
            conn = connect(self.path)
            self.tracker.resume(load_open(conn))
            with _transaction(conn):
                save_outages(conn, self.tracker.close_stale(time.time()))
                save_maintenance(conn, self.tracker.topology.maintenance)
            self.retention.apply(conn, time.time())
        except BaseException as exc:  # handed to start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        next_retention = time.monotonic() + 3600
        try:
            while self._batch(conn):
                if time.monotonic() >= next_retention:
                    self.retention.apply(conn, time.time())
                    next_retention = time.monotonic() + 3600
        finally:
            conn.close()

    def _batch(self, conn: sqlite3.Connection) -> bool:
        """Collect and commit one batch; False once told to stop."""
        results: list[Result] = []
        waiters: list[threading.Event] = []
        running = True
        try:
            item = self._queue.get(timeout=60)
        except queue.Empty:
            return True
        deadline = time.monotonic() + self.flush_every
        while True:
            if item is _STOP:
                running = False
            elif isinstance(item, Result):
                results.append(item)
            elif isinstance(item, threading.Event):
                waiters.append(item)
            elif isinstance(item, Topology):
                self.tracker.topology = item
                self.samples.intervals = item.intervals
                with _transaction(conn):
                    save_maintenance(conn, item.maintenance)
            if not running or waiters or len(results) >= self.batch_max:
                break
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        if results:
            try:
                self.committed += ingest(conn, self.tracker, results, self.samples)
            except sqlite3.Error:
                log.exception("history: dropped a batch of %d results", len(results))
        for w in waiters:
            w.set()
        return running
