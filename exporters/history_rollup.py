"""Hourly and daily rollups per check, accumulated in memory for one batch and added to the store.

Each batch adds its deltas to the hour rows with ``INSERT ... ON CONFLICT DO UPDATE SET runs = runs +
...``, so a batch is all-or-nothing with its transaction and rows of the current hour grow as results
arrive. Day rows are not written per result (that was half of the writer's upserts): once an hour is
over (`ROLL_AFTER`), `roll` adds its hour rows to their day rows inside SQLite, and ``rolled_up.upto``
says up to which hour that has been done. A result for an hour already rolled up (late, or from an
agent's backlog) adds to both its hour and its day rows. Readers take the day rows plus the hours not
rolled up yet (the ``day_rollups`` / ``day_rtt`` views), so figures never depend on when a roll ran.

RTT percentiles must merge across checks, sites and days, which averages cannot do: each row keeps
a histogram with logarithmic buckets (ratio 1.1, 0.5 ms to ~7 s), so a percentile read back is the
bucket's geometric middle, within ±5 % of the true value. Days are local days in Asia/Ho_Chi_Minh
(UTC+7 all year, no daylight saving), which is what a planner means by "that Tuesday"; an hour
(UTC) lies in exactly one local day.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Self

from probes import icmp
from probes.base import Result

RTT_MIN = 0.0005
RTT_RATIO = 1.1
RTT_BUCKETS = 100
_LN_RATIO = math.log(RTT_RATIO)
LOCAL_OFFSET = 7 * 3600
#: How long after an hour ends its rows are added to their day's: results of the hour still arriving
#: then (a slow check's timeout, a queue) add to the day row one by one, which is right but costs more.
ROLL_AFTER = 120
#: The local day an hour row belongs to, in SQL: the ``ts`` of its day row.
DAY_OF_HOUR = f"(ts + {LOCAL_OFFSET}) / 86400 * 86400 - {LOCAL_OFFSET}"

#: Summaries standing in for per-echo RTTs when a result has none.
RTT_FALLBACKS = (icmp.RTT_AVG, icmp.RTT_MEDIAN)


def rtt_bucket(seconds: float) -> int:
    if seconds <= RTT_MIN:
        return 0
    return min(RTT_BUCKETS - 1, int(math.log(seconds / RTT_MIN) / _LN_RATIO))


def bucket_value(bucket: int) -> float:
    """Representative RTT of ``bucket`` (geometric middle of its bounds)."""
    return RTT_MIN * RTT_RATIO ** (bucket + 0.5)


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0-1) of a bucket → count histogram, or None if it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))


def hour_start(t: float) -> int:
    return int(t // 3600 * 3600)


def day_start(t: float) -> int:
    """UTC timestamp of the local (UTC+7) midnight starting the day that contains ``t``."""
    return int((t + LOCAL_OFFSET) // 86400 * 86400 - LOCAL_OFFSET)


@dataclass(slots=True, kw_only=True)
class RunSums:
    """The additive sums a rollup row holds, so rows of any grain, check or site add up by `merge`."""

    runs: int = 0
    ok: int = 0
    loss_sum: float = 0.0
    loss_n: int = 0
    jitter_sum: float = 0.0
    jitter_n: int = 0
    rtt: Counter[int] = field(default_factory=Counter)

    def merge(self, other: Self) -> None:
        _add_sums(self, other)


class _Delta:
    """One check-hour's sums in a batch: the figures of `RunSums`, but a plain class with a plain dict
    histogram, since the event loop builds one per check and batch (a dataclass with a `Counter` took
    ~4 µs to build, more than adding a result to it)."""

    __slots__ = ("check", "jitter_n", "jitter_sum", "link", "loss_n", "loss_sum", "ok", "probe", "rtt",
                 "runs", "site")

    def __init__(self, site: str, link: str, check: str, probe: str) -> None:
        self.site, self.link, self.check, self.probe = site, link, check, probe
        self.runs = self.ok = self.loss_n = self.jitter_n = 0
        self.loss_sum = self.jitter_sum = 0.0
        self.rtt: dict[int, int] = {}

    def add(self, result: Result) -> None:
        """Add one run, reading its measurements in one pass (this runs on the event loop for every
        result): its RTTs are its per-echo observations, else its summary average, else its median;
        its loss is the measured one, else for a failed ICMP run total loss (0 for one that succeeded)."""
        self.runs += 1
        if result.success:
            self.ok += 1
        lost = jitter = None
        fallback: list[float | None] = [None, None]
        rtt = self.rtt
        echoes = 0
        for m in result.measurements:
            field_ = _FIELDS.get(m[0])
            if field_ is None:
                continue
            if field_ == _RTT:
                bucket = rtt_bucket(m[1])
                rtt[bucket] = rtt.get(bucket, 0) + 1
                echoes += 1
            elif field_ == _LOSS:
                if lost is None:
                    lost = m[1]
            elif field_ == _JITTER:
                if jitter is None:
                    jitter = m[1]
            elif fallback[field_ - _FALLBACK] is None:
                fallback[field_ - _FALLBACK] = m[1]
        if lost is None and result.probe == "icmp":
            lost = 0.0 if result.success else 1.0
        if lost is not None:
            self.loss_sum += lost
            self.loss_n += 1
        if jitter is not None:
            self.jitter_sum += jitter
            self.jitter_n += 1
        if not echoes:
            value = fallback[0] if fallback[0] is not None else fallback[1]
            if value is not None:
                bucket = rtt_bucket(value)
                rtt[bucket] = rtt.get(bucket, 0) + 1

    def merge(self, other: _Delta) -> None:
        """Add ``other``'s sums to these; its link and probe win (the later ones, as in the upserts)."""
        _add_sums(self, other)
        self.link, self.probe = other.link, other.probe


#: The additive figures of a rollup row besides its RTT histogram, for every kind of row that holds them.
_SUMS = ("runs", "ok", "loss_sum", "loss_n", "jitter_sum", "jitter_n")


def _add_sums(into: RunSums | _Delta, other: RunSums | _Delta) -> None:
    """Add ``other``'s figures and RTT histogram to ``into``'s: the one rule by which rows of any grain,
    check or site (`RunSums`) and a batch's pending sums (`_Delta`) add up."""
    for name in _SUMS:
        setattr(into, name, getattr(into, name) + getattr(other, name))
    rtt = into.rtt
    for bucket, n in other.rtt.items():
        rtt[bucket] = rtt.get(bucket, 0) + n


#: What `_Delta.add` reads, by measurement name: the per-echo RTTs, loss, jitter, then the summaries of
#: `RTT_FALLBACKS` in their order.
_RTT, _LOSS, _JITTER, _FALLBACK = 0, 1, 2, 3
_FIELDS = {icmp.RTT: _RTT, icmp.LOSS: _LOSS, icmp.JITTER: _JITTER,
           **{name: _FALLBACK + i for i, name in enumerate(RTT_FALLBACKS)}}


class RollupBatch:
    """Hour deltas for one batch, keyed by (site, check, hour start)."""

    def __init__(self) -> None:
        self._deltas: dict[tuple[str, str, int], _Delta] = {}

    def __len__(self) -> int:
        return len(self._deltas)

    def add(self, result: Result, max_rows: float = math.inf) -> bool:
        """Add ``result`` to its check-hour's delta; False (left out) if that needs a new row and there
        are ``max_rows`` already."""
        key = (result.site, result.check, int(result.started // 3600 * 3600))  # `hour_start`, inline
        d = self._deltas.get(key)
        if d is None:
            if len(self._deltas) >= max_rows:
                return False
            d = self._deltas[key] = _Delta(result.site, result.link, result.check, result.probe)
        d.add(result)
        return True

    def merge(self, older: RollupBatch) -> None:
        """Add the deltas of an ``older`` batch (one whose commit failed, taken back) to these; the
        newer link and probe win, as in the store's upserts."""
        for key, old in older._deltas.items():
            new = self._deltas.get(key)
            if new is not None:
                old.merge(new)
            self._deltas[key] = old

    def write(self, conn: sqlite3.Connection, now: float) -> None:
        """Add every delta to the store (inside the caller's transaction) and roll up the hours over
        at ``now``; keeps the deltas until `clear`."""
        upto = rolled_upto(conn)
        late: dict[tuple[str, str, int], _Delta] = {}
        for (site, check, ts), d in self._deltas.items():
            if ts < upto:
                day = late.get((site, check, day_start(ts)))
                if day is None:
                    day = late[(site, check, day_start(ts))] = _Delta(site, d.link, check, d.probe)
                day.merge(d)
        for grain, deltas in (("hour", self._deltas), ("day", late)):
            conn.executemany(
                _UPSERT_ROLLUP.format(grain=grain),
                [(site, d.link, check, d.probe, ts, d.runs, d.ok, d.loss_sum, d.loss_n, d.jitter_sum,
                  d.jitter_n) for (site, check, ts), d in deltas.items()],
            )
            conn.executemany(_UPSERT_RTT.format(grain=grain), _rtt_rows(deltas))
        roll(conn, now, upto)

    def clear(self) -> None:
        """Forget the deltas once their transaction committed (not before: a failed commit retries)."""
        self._deltas.clear()


def _rtt_rows(deltas: Mapping[tuple[str, str, int], _Delta]) -> Iterable[tuple[object, ...]]:
    for (site, check, ts), d in deltas.items():
        for bucket, n in d.rtt.items():
            yield (site, check, ts, bucket, n)


def rolled_upto(conn: sqlite3.Connection) -> float:
    """Start of the first hour whose rows are not in the day rows yet (`math.inf` for a store from
    before schema version 4, opened read-only: it wrote every result into its day rows)."""
    try:
        row = conn.execute("SELECT upto FROM rolled_up").fetchone()
    except sqlite3.OperationalError:  # no such table
        return math.inf
    return float(row[0])


def roll(conn: sqlite3.Connection, now: float, upto: float | None = None) -> None:
    """Add the hour rows of every hour over at ``now`` (`ROLL_AFTER` included) and not rolled up yet to
    their day rows, and move ``rolled_up.upto`` past them (inside the caller's transaction)."""
    upto = rolled_upto(conn) if upto is None else upto
    until = hour_start(now - ROLL_AFTER)
    if until <= upto:
        return
    conn.execute(_ROLL_ROLLUP.format(day=DAY_OF_HOUR), (upto, until))
    conn.execute(_ROLL_RTT.format(day=DAY_OF_HOUR), (upto, until))
    conn.execute("UPDATE rolled_up SET upto = ?", (until,))


#: Adds a rollup row to the one already there: the per-batch upsert and the hourly roll both end in it.
_ADD_ROLLUP = """
ON CONFLICT (ts, site, check_id) DO UPDATE SET
    runs = runs + excluded.runs, ok = ok + excluded.ok,
    loss_sum = loss_sum + excluded.loss_sum, loss_n = loss_n + excluded.loss_n,
    jitter_sum = jitter_sum + excluded.jitter_sum, jitter_n = jitter_n + excluded.jitter_n,
    link = excluded.link, probe = excluded.probe"""

_UPSERT_ROLLUP = """
INSERT INTO rollup_{grain} (site, link, check_id, probe, ts, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
""" + _ADD_ROLLUP

_UPSERT_RTT = """
INSERT INTO rtt_{grain} (site, check_id, ts, bucket, n) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (ts, site, check_id, bucket) DO UPDATE SET n = n + excluded.n"""

#: The last hour's link and probe win, as they do in the per-batch upserts (SQLite takes the bare
#: columns of an aggregate query from the row of its MAX).
_ROLL_ROLLUP = """
INSERT INTO rollup_day (site, link, check_id, probe, ts, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n)
SELECT site, link, check_id, probe, day, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n FROM (
    SELECT site, link, check_id, probe, {day} AS day, SUM(runs) AS runs, SUM(ok) AS ok,
        SUM(loss_sum) AS loss_sum, SUM(loss_n) AS loss_n, SUM(jitter_sum) AS jitter_sum,
        SUM(jitter_n) AS jitter_n, MAX(ts)
    FROM rollup_hour WHERE ts >= ? AND ts < ? GROUP BY site, check_id, day)
WHERE true
""" + _ADD_ROLLUP

_ROLL_RTT = """
INSERT INTO rtt_day (site, check_id, ts, bucket, n)
SELECT site, check_id, {day}, bucket, SUM(n) FROM rtt_hour WHERE ts >= ? AND ts < ?
GROUP BY site, check_id, {day}, bucket
ON CONFLICT (ts, site, check_id, bucket) DO UPDATE SET n = n + excluded.n"""
