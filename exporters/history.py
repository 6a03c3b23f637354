"""The embedded history store: a `Result` sink that keeps outages and rollups in SQLite for planners.

`HistoryWriter.publish` is called on the event loop for every Result (like the Prometheus collector)
and folds it at once into what is pending: the check's rollup sums for its hour, its sample span, its
outage state (`exporters.history_rollup`, `exporters.history_samples`, `exporters.history_outages`).
No Result is kept, so nothing per result waits for a thread or for the garbage collector. A writer
thread owns the connection and commits, each as one transaction:
- every ``flush_every`` seconds (1 s), the outages opened, extended or closed (and the maintenance
  windows): the outage list a report reads, kept within a second;
- every ``rollup_every`` seconds (60 s), the rollup sums and the sample spans together, so a check's
  observed time never runs ahead of its counts; also on `flush`, on `close` and after a failed commit.

What a killed process (``kill -9``) loses; WAL keeps the file consistent whatever the moment:
outage changes of the last ``flush_every`` at most; rollup counts and observed time of the last
``rollup_every`` at most (plus a commit's duration). Those lost seconds are in no sample span, so a
report reads them as not observed, never as up; an outage committed before the kill stays.

Retention (`Retention`) runs at start and hourly in the same thread: hourly rows are kept for
``hourly_days`` (rolled up into their day rows first), daily rows and outages for ``daily_days``.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from exporters.history_outages import Outage, OutageTracker, Topology, Window
from exporters.history_rollup import PendingRollups, TakenRollups, roll
from exporters.history_samples import SampleSpan, SampleTracker
from exporters.history_schema import SchemaTooNew, connect
from exporters.sink import InventoryFacts
from probes.base import Result

log = logging.getLogger("netmon.history")

__all__ = ["HistoryStatus", "HistoryWriter", "Outage", "Retention", "Topology", "Window", "load_open"]


@dataclass(frozen=True, slots=True)
class Retention:
    hourly_days: float = 90.0
    daily_days: float = 5 * 366.0

    def apply(self, conn: sqlite3.Connection, now: float) -> None:
        hourly = now - self.hourly_days * 86400
        daily = now - self.daily_days * 86400
        with _transaction(conn):
            roll(conn, now)  # an hour row's figures are in its day row before it goes
            conn.execute("DELETE FROM rollup_hour WHERE ts < ?", (hourly,))
            conn.execute("DELETE FROM rtt_hour WHERE ts < ?", (hourly,))
            conn.execute("DELETE FROM rollup_day WHERE ts < ?", (daily,))
            conn.execute("DELETE FROM rtt_day WHERE ts < ?", (daily,))
            conn.execute('DELETE FROM outages WHERE "end" < ?', (daily,))
            conn.execute("DELETE FROM reclassifications WHERE outage_id NOT IN (SELECT id FROM outages)")
            conn.execute('DELETE FROM samples WHERE "end" < ?', (daily,))


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection.

    SQLite may already have rolled back by itself (``SQLITE_FULL`` during ``COMMIT``): then there is
    nothing left to roll back, and the original error is what the caller sees.
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def load_open(conn: sqlite3.Connection) -> list[Outage]:
    rows = conn.execute(
        'SELECT id, site, link, start, last_seen, cause, failures FROM outages WHERE "end" IS NULL'
    ).fetchall()
    return [
        Outage(site, link, start, last_seen, None, cause, failures, oid)
        for oid, site, link, start, last_seen, cause, failures in rows
    ]


def save_outages(conn: sqlite3.Connection, outages: Iterable[Outage], inserted: list[Outage]) -> None:
    """Insert new outages (their row id goes into ``o.id`` and ``o`` into ``inserted``), update others.

    If the transaction then fails, the caller must reset the ids in ``inserted``: a row id that was
    never committed is handed out again, and a later outage would overwrite this one's row.
    """
    for o in outages:
        if o.id is None:
            cur = conn.execute(
                'INSERT INTO outages (site, link, start, "end", last_seen, cause, failures) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (o.site, o.link, o.start, o.end, o.last_seen, o.cause, o.failures),
            )
            o.id = cur.lastrowid
            inserted.append(o)
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


def save_samples(conn: sqlite3.Connection, spans: Sequence[SampleSpan], ends: Sequence[float],
                 inserted: list[SampleSpan]) -> None:
    """Like `save_outages`, for spans and their ends when taken: new spans get their row id and go into
    ``inserted`` (reset on failure). The end is the one taken with the batch's rollups, not the span's
    end now: the loop may have extended it since, by results whose counts are in the next batch. The
    updates' parameters are made one at a time as SQLite binds them (a check's span is extended every
    minute: a list of them was 50,000 tuples alive through the commit)."""
    conn.executemany('UPDATE samples SET "end" = ? WHERE id = ?',
                     ((end, s.id) for s, end in zip(spans, ends, strict=True) if s.id is not None))
    for s, end in zip(spans, ends, strict=True):
        if s.id is None:
            cur = conn.execute(
                'INSERT INTO samples (site, link, check_id, start, "end", down) VALUES (?, ?, ?, ?, ?, ?)',
                (s.site, s.link, s.check, s.start, end, int(s.down)),
            )
            s.id = cur.lastrowid
            inserted.append(s)


class _Pending:
    """What was measured but is not committed yet: rollup sums, sample spans, outages, maintenance.

    Raw results are never kept: memory grows with the number of checks, check-hours pending and
    outages, not runs. Filled by `HistoryWriter.publish` (under its lock); the writer thread takes a
    `_Batch` out of it.
    """

    def __init__(self) -> None:
        self.rollups = PendingRollups()
        self.spans: dict[int, SampleSpan] = {}
        self.outages: dict[int, Outage] = {}
        self.maintenance: tuple[Window, ...] | None = None
        self.results = 0  # results whose sums and spans are in here

    def absorb(self, tracker: OutageTracker, samples: SampleTracker, result: Result, max_rows: int) -> bool:
        """Fold ``result`` in; False if its rollup was left out (``max_rows`` pending already)."""
        added = self.rollups.add(result, max_rows)
        for o in tracker.observe(result):
            self.outages[id(o)] = o
        for span in samples.observe(result):
            self.spans[id(span)] = span
        self.results += 1
        return added

    def take(self, everything: bool, now: float) -> _Batch:
        """What to commit now: the outage changes and maintenance always; with ``everything`` the
        rollup sums and sample spans too (each span with its end now, the end its counts support).
        The sums are taken as numbers and reset in place (`PendingRollups.take`): the caller holds
        the lock the event loop publishes under, for ~1 µs a check."""
        batch = _Batch(self.outages, self.maintenance)
        self.outages, self.maintenance = {}, None
        if everything:
            batch.rollups, batch.results = self.rollups.take(now), self.results
            batch.spans = list(self.spans.values())
            batch.ends = [s.end for s in batch.spans]
            self.spans, self.results = {}, 0
        return batch

    def give_back(self, batch: _Batch) -> None:
        """Take back a batch whose commit failed, merged with what arrived since (for the next try)."""
        for key, o in batch.outages.items():
            self.outages.setdefault(key, o)
        if self.maintenance is None:
            self.maintenance = batch.maintenance
        self.rollups.give_back(batch.rollups)
        for span in batch.spans:
            self.spans.setdefault(id(span), span)
        self.results += batch.results


class _Batch:
    """One transaction's worth, taken out of `_Pending` under the lock and written without it."""

    def __init__(self, outages: dict[int, Outage], maintenance: tuple[Window, ...] | None) -> None:
        self.outages = outages
        self.maintenance = maintenance
        self.rollups = TakenRollups()
        self.spans: list[SampleSpan] = []
        self.ends: list[float] = []  # each span's end when taken
        self.results = 0

    def __bool__(self) -> bool:
        return bool(self.results or self.outages or self.spans or self.maintenance is not None)

    def commit(self, conn: sqlite3.Connection, now: float | None = None) -> None:
        """Write it all in one transaction (rolling up the hours over at ``now``, default the clock);
        on error the row ids handed out are taken back and the error raised (`_Pending.give_back`)."""
        inserted: list[Outage] = []
        inserted_spans: list[SampleSpan] = []
        try:
            with _transaction(conn):
                self.rollups.write(conn, time.time() if now is None else now)
                save_outages(conn, self.outages.values(), inserted)
                save_samples(conn, self.spans, self.ends, inserted_spans)
                if self.maintenance is not None:
                    save_maintenance(conn, self.maintenance)
        except BaseException:
            for o in inserted:
                o.id = None
            for span in inserted_spans:
                span.id = None
            raise


@dataclass
class HistoryStatus:
    """The store as the writer sees it, for health metrics and /-/healthy (read from other threads).

    ``problem`` is empty while the store is open and the last commit succeeded; otherwise it says what
    is wrong and what to do, for an operator.
    """

    path: str
    problem: str = "not opened yet"
    committed: int = 0
    pending: int = 0
    dropped: int = 0
    write_errors: int = 0
    reopened: int = 0
    last_commit: float = 0.0


#: How long stopping waits for the last commit; `netmon run` stops within this plus the check timeouts.
CLOSE_SECONDS = 10.0
#: How often rollup sums and sample spans are committed (``HistoryWriter.rollup_every``, `netmon run
#: --history-rollup-every`): what a killed process may lose of them. Once a minute, a check run every
#: 30 s costs one row write per two results; keep it well under ``history_rollup.ROLL_AFTER`` (120 s),
#: or an hour's last sums arrive after the hour was rolled up and cost a day row write each.
ROLLUP_EVERY = 60.0


_STOP = object()


class HistoryWriter:
    """A `exporters.sink.Sink`: ``publish`` never blocks; a thread owns the connection and commits batches.

    The store serves planners; metrics and alerts must never depend on it. So nothing here stops the
    service: a store that cannot be opened (damaged file, a directory at the path, no permission) or
    written (disk full) is reported in `status` and logged once with the path and what to do, and
    the thread retries every ``retry_every`` seconds. Until then measurements accumulate as rollup
    deltas and outages (`_Pending`), bounded by ``max_pending_rows``; past that, results needing a new
    row are left out of the rollups and counted as dropped (their outages and observed time are kept).
    A store file deleted or replaced while open is noticed before each commit (device and inode)
    and reopened, so later data is not written into a file nobody can read.
    """

    def __init__(
        self,
        path: str | Path,
        topology: Topology | None = None,
        open_after: int = 2,
        flush_every: float = 1.0,
        rollup_every: float = ROLLUP_EVERY,
        retention: Retention | None = None,
        probes: tuple[str, ...] = ("icmp",),
        retry_every: float = 30.0,
        max_pending_rows: int = 200_000,
        owner: tuple[int, int] | None = None,
    ):
        self.path = Path(path).absolute()  # every message names the file as an operator finds it
        self.tracker = OutageTracker(topology, open_after=open_after, probes=probes)
        self.samples = SampleTracker(self.tracker.topology.intervals, probes=probes)
        self.flush_every = flush_every
        self.rollup_every = rollup_every
        self.retention = retention or Retention()
        self.retry_every = retry_every
        self.max_pending_rows = max_pending_rows
        self.owner = owner
        self.status = HistoryStatus(str(self.path))
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()  # flush requests and the stop
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()  # `_pending` and the trackers: publish (any thread) vs the writer
        self._pending = _Pending()
        self._file: tuple[int, int] | None = None  # (st_dev, st_ino) of the open store
        self._resumed = False

    @property
    def committed(self) -> int:
        return self.status.committed

    def publish(self, result: Result) -> None:
        """Fold ``result`` into what is pending; never waits for the disk (the lock is held by the
        writer only to take a batch out, never while writing)."""
        with self._lock:
            if not self._pending.absorb(self.tracker, self.samples, result, self.max_pending_rows):
                self.status.dropped += 1

    def on_inventory(self, facts: InventoryFacts) -> None:
        self.set_topology(facts.topology)

    def start(self) -> None:
        """Start the thread and wait for its first attempt to open (and migrate) the store.

        Never raises: a store that cannot be opened is in `status` and the log, and retried.
        """
        self._thread = threading.Thread(target=self._run, name="netmon-history", daemon=True)
        self._thread.start()
        self._ready.wait()

    def set_topology(self, topology: Topology) -> None:
        """Take a reloaded inventory's hubs, intervals and maintenance windows (for the results after it)."""
        with self._lock:
            self.tracker.topology = topology
            self.samples.intervals = topology.intervals
            self._pending.maintenance = topology.maintenance

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything published before this call was offered to the store (see `status`):
        rollup sums and spans too, without waiting for ``rollup_every``."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise TimeoutError("history writer did not flush in time")

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Commit everything pending and stop the thread, waiting ``timeout`` seconds at most.

        A write to a frozen or dead disk sleeps in the kernel until the disk comes back; shutdown must
        not wait for it (it once took 30 s, then a supervisor's SIGKILL). The thread is left behind,
        and the log says what was not saved.
        """
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            unsaved = self._pending.results
            log.error("history store %s: writing did not finish within %gs (a frozen or failing disk?); "
                      "about %d results not saved, stopping without them", self.path, timeout, unsaved)
        self._thread = None

    def _run(self) -> None:
        conn = self._open()
        self._ready.set()
        next_open = time.monotonic() + self.retry_every
        next_retention = time.monotonic() + 3600
        next_rollup = time.monotonic() + self.rollup_every
        running = True
        while running:
            if conn is None and time.monotonic() >= next_open:
                conn = self._open()
                next_open = time.monotonic() + self.retry_every
            wait = self.flush_every if conn is None else min(self.flush_every, next_rollup - time.monotonic())
            running, waiters = self._wait(max(0.0, wait))
            if conn is not None:
                everything = bool(waiters) or not running or time.monotonic() >= next_rollup
                conn, committed = self._commit(conn, everything)
                if everything:
                    # a failed commit keeps everything pending and is tried again at the next wake-up
                    next_rollup = time.monotonic() + (self.rollup_every if committed else self.flush_every)
                if conn is not None and time.monotonic() >= next_retention:
                    self._guard(conn, lambda c: self.retention.apply(c, time.time()), "retention")
                    next_retention = time.monotonic() + 3600
            else:
                next_rollup = 0.0  # a store that cannot be opened gets everything pending once it opens
            self.status.pending = self._pending.results
            for w in waiters:
                w.set()
        if conn is not None:
            conn.close()

    def _open(self, replaced: bool = False) -> sqlite3.Connection | None:
        """Open the store and take over what it holds; None (problem logged) if that fails.

        ``replaced``: the file we had was deleted or replaced. The new one may even get the old inode
        number back (file systems reuse them), so this is said, not inferred.
        """
        conn = None
        try:
            new_dir = not self.path.parent.exists()
            conn = connect(self.path)
            self._protect(new_dir)
            info = os.stat(self.path)
            stored = [] if self._resumed else load_open(conn)  # before the lock: publish never waits on I/O
            with self._lock:
                self._take_over(stored, replaced or self._file != (info.st_dev, info.st_ino))
            self._file = (info.st_dev, info.st_ino)
        except (sqlite3.Error, OSError, SchemaTooNew) as exc:
            if conn is not None:
                conn.close()
            self._problem(f"cannot open {self.path}: {_describe(exc)}. {_advice(exc, self.path)}")
            return None
        self._healthy(f"history store {self.path} open")
        self._guard(conn, lambda c: self.retention.apply(c, time.time()), "retention")
        return conn

    def _take_over(self, stored: list[Outage], new_file: bool) -> None:
        """Resume the outages a previous run left open (``stored``, at the first open), or, in a
        ``new_file`` after the old one was deleted or replaced, write afresh what were rows of the old one."""
        pending = self._pending
        if not self._resumed:
            mine = {(o.site, o.link) for o in self.tracker.open_outages()}
            self.tracker.resume(o for o in stored if (o.site, o.link) not in mine)
            for o in self.tracker.close_stale(time.time()):
                pending.outages[id(o)] = o
            self._resumed = True
        elif new_file:
            # Outages and sample spans still open, or changed since the last commit, were rows of the
            # old file; they are written into the new one afresh.
            for o in [*self.tracker.open_outages(), *pending.outages.values()]:
                o.id = None
                pending.outages[id(o)] = o
            for span in [*self.samples.current(), *pending.spans.values()]:
                span.id = None
                pending.spans[id(span)] = span
        pending.maintenance = self.tracker.topology.maintenance

    def _protect(self, new_dir: bool) -> None:
        """Outages and site names are for the province's staff: no access for others (0640, a new
        directory 0750), and owned by ``owner`` (``netmon run --user``: the store is opened as root,
        before privileges are dropped, and the user must still write, checkpoint and recreate it)."""
        files = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
        for path in files:
            if path.exists():
                path.chmod(0o640)
        if new_dir:
            self.path.parent.chmod(0o750)
        if self.owner is not None:
            for path in [*files, *([self.path.parent] if new_dir else [])]:
                if path.exists():
                    os.chown(path, *self.owner)

    def _wait(self, timeout: float) -> tuple[bool, list[threading.Event]]:
        """Sleep up to ``timeout`` for flush requests or the stop; (still running, flush waiters)."""
        waiters: list[threading.Event] = []
        try:
            item = self._queue.get(timeout=timeout)
            while True:
                if item is _STOP:
                    return False, waiters
                assert isinstance(item, threading.Event)
                waiters.append(item)
                item = self._queue.get_nowait()
        except queue.Empty:
            return True, waiters

    def _commit(self, conn: sqlite3.Connection, everything: bool) -> tuple[sqlite3.Connection | None, bool]:
        """Commit the pending outage changes, with ``everything`` the rollup sums and spans too (reopening
        first if the file was deleted or replaced); (the connection to keep using, or None when the
        store must be reopened; whether it committed)."""
        if self._replaced():
            conn.close()
            self.status.reopened += 1
            log.error("history store %s was deleted or replaced while netmon was writing it: reopening "
                      "(what was written into the old file is gone with it; do not delete the store of a "
                      "running netmon, stop it first)", self.path)
            reopened = self._open(replaced=True)
            if reopened is None:
                return None, False
            conn = reopened
        with self._lock:
            batch = self._pending.take(everything, time.time())
        if not batch:
            return conn, True
        if not self._guard(conn, batch.commit, f"{batch.results} results not saved yet, kept in memory"):
            with self._lock:
                self._pending.give_back(batch)
            return conn, False
        self.status.committed += batch.results
        self.status.last_commit = time.time()
        return conn, True

    def _guard(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], object],
               what: str) -> bool:
        """Run ``write``; on a database error record and log the problem (once) instead of dying."""
        try:
            write(conn)
        except sqlite3.Error as exc:
            self.status.write_errors += 1
            self._problem(f"cannot write {self.path}: {_describe(exc)} ({what}). {_advice(exc, self.path)}")
            return False
        self._healthy(f"history store {self.path} writable again")
        return True

    def _replaced(self) -> bool:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return True
        return self._file != (info.st_dev, info.st_ino)

    def _problem(self, problem: str) -> None:
        """Record ``problem``; log it when it is new (a retry every few seconds must not fill the disk)."""
        if problem != self.status.problem:
            log.error("%s Metrics and alerts are not affected; netmon retries every %gs.", problem,
                      self.retry_every)
        self.status.problem = problem

    def _healthy(self, message: str) -> None:
        if self.status.problem and self.status.problem != "not opened yet":
            log.warning("%s: the problem is gone", message)
        self.status.problem = ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _advice(exc: BaseException, path: Path) -> str:
    """What an operator does about ``exc`` (docs/runbook.md#historystorefailing says more)."""
    text = str(exc).lower()
    if isinstance(exc, SchemaTooNew):
        return "Upgrade netmon, or point --history at another file."
    if "full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return f"Free disk space on the file system of {path.parent}; nothing is lost until then."
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return f"Give netmon's user write access to {path} and {path.parent}."
    if path.is_dir():
        return f"{path} is a directory: point --history at a file, or move the directory away."
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"The file is damaged: move it aside (mv {path} {path}.damaged; keep it for recovery "
                "with sqlite3 .recover) and netmon starts a new one.")
    return "See docs/runbook.md, section HistoryStoreFailing."
