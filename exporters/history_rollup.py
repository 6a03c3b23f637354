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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple, Self

from probes import icmp
from probes.base import Result, Shape

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
        _add_sums(self, _figures(other), other.rtt)


#: The additive figures of a rollup row besides its RTT histogram, in the store's column order.
_SUMS = ("runs", "ok", "loss_sum", "loss_n", "jitter_sum", "jitter_n")
#: A row's `_SUMS` as a tuple, read in one C call (the writer takes them for every check once a minute).
_figures = attrgetter(*_SUMS)
_WIDTH = len(_SUMS)


def _add_sums(into: RunSums | _Delta, figures: Sequence[float], rtt: Mapping[int, int]) -> None:
    """Add ``figures`` (`_SUMS`, in order) and an RTT histogram to ``into``'s: the one rule by which rows
    of any grain, check or site (`RunSums`) add up, and a failed commit's sums go back (`PendingRollups`)."""
    for name, value in zip(_SUMS, figures, strict=True):
        setattr(into, name, getattr(into, name) + value)
    histogram = into.rtt
    for bucket, n in rtt.items():
        histogram[bucket] = histogram.get(bucket, 0) + n


class _Delta:
    """One check's pending sums for one hour: the figures of `RunSums`, but a plain class with a plain
    dict histogram, built on the event loop.

    Made once per check and reset in place after each commit (`TakenRollups.take`), not made anew each
    rollup period: 50,000 checks made 100,000 tracked objects a minute that lived the minute, a third
    of the young collections at 50,000 checks (bench/README.md, Scale). Made in a check's first
    minute, they are frozen with the rest of its state (`netmon.service`) and never walked again.
    """

    __slots__ = ("check", "hour", "jitter_n", "jitter_sum", "link", "loss_n", "loss_sum", "ok", "probe",
                 "rtt", "runs", "site")

    def __init__(self, site: str, link: str, check: str, probe: str, hour: int) -> None:
        self.site, self.link, self.check, self.probe, self.hour = site, link, check, probe, hour
        self.rtt: dict[int, int] = {}
        self.reset()

    def reset(self) -> None:
        """Zero the sums (once they are taken for a commit); the histogram keeps its dict."""
        self.runs = self.ok = self.loss_n = self.jitter_n = 0
        self.loss_sum = self.jitter_sum = 0.0
        self.rtt.clear()

    def add(self, result: Result, plan: _Plan) -> None:
        """Add one run (this runs on the event loop for every result), its values read where ``plan``
        says: its RTTs are its per-echo observations, else its summary average, else its median; its loss
        is the measured one, else for a failed ICMP run total loss (0 for one that succeeded)."""
        self.runs += 1
        if result.success:
            self.ok += 1
        values = result.readings.values
        rtt = self.rtt
        for i in plan.rtts or plan.summary:
            bucket = rtt_bucket(values[i])
            rtt[bucket] = rtt.get(bucket, 0) + 1
        if plan.loss is not None:
            self.loss_sum += values[plan.loss]
            self.loss_n += 1
        elif result.probe == "icmp":
            self.loss_sum += 0.0 if result.success else 1.0
            self.loss_n += 1
        if plan.jitter is not None:
            self.jitter_sum += values[plan.jitter]
            self.jitter_n += 1


class _Plan(NamedTuple):
    """Where `_Delta.add` finds what it reads among a run's values, by position: worked out once per
    `probes.base.Shape` (an ICMP run has one of four), not by reading every measurement's name for every
    result (13 of them per ICMP run, made as `Measurement`s on the way: ~2.5 µs of the loop's time a
    result)."""

    rtts: tuple[int, ...]  # the per-echo RTTs
    summary: tuple[int, ...]  # the first of `RTT_FALLBACKS` present, if there is one
    loss: int | None
    jitter: int | None

    @staticmethod
    def of(names: Sequence[str]) -> _Plan:
        def first(name: str) -> int | None:
            return names.index(name) if name in names else None

        summaries = [i for i in map(first, RTT_FALLBACKS) if i is not None]
        return _Plan(tuple(i for i, name in enumerate(names) if name == icmp.RTT), tuple(summaries[:1]),
                     first(icmp.LOSS), first(icmp.JITTER))


class PendingRollups:
    """The hour sums not committed yet: one `_Delta` per check, kept from one rollup period to the next.

    A check's delta holds the hour its runs fall in; a run of another hour while it holds runs (the
    hour just turned, or a late result) goes to a delta of its own for that check-hour, made for the
    period and dropped when taken (``_other``). ``max_rows`` bounds the rows pending (memory while the
    store cannot be written): a run needing a new one past that is left out.
    """

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str], _Delta] = {}
        self._other: dict[tuple[str, str, int], _Delta] = {}
        self._rows = 0
        #: Plans by shape, for the shapes without labels (few: with labels there is one per device).
        self._plans: dict[Shape, _Plan] = {}

    def __len__(self) -> int:
        """Rows pending: check-hours with runs not taken yet."""
        return self._rows

    def add(self, result: Result, max_rows: float = math.inf) -> bool:
        """Add ``result`` to its check-hour's sums; False (left out) if that needs a new row and there
        are ``max_rows`` already."""
        hour = int(result.started // 3600 * 3600)  # `hour_start`, inline: this runs for every result
        d = self._checks.get((result.site, result.check))
        if d is None or not d.runs or d.hour != hour:
            d = self._row(result.site, result.link, result.check, result.probe, hour, max_rows)
            if d is None:
                return False
        shape = result.readings.shape
        plan = self._plans.get(shape)
        if plan is None:
            plan = _Plan.of(shape.names)
            if shape.plain:
                self._plans[shape] = plan
        d.add(result, plan)
        return True

    def _row(self, site: str, link: str, check: str, probe: str, hour: int, max_rows: float) -> _Delta | None:
        """The delta that takes runs of (``site``, ``check``, ``hour``) now, counted as a new row if it
        holds none; None if that is the row past ``max_rows``. The newest link and probe win."""
        d = self._checks.get((site, check))
        if d is not None and d.runs:
            if d.hour == hour:
                return d
            other = self._other.get((site, check, hour))
            if other is not None:
                return other
        if self._rows >= max_rows:
            return None
        self._rows += 1
        if d is None:
            d = self._checks[(site, check)] = _Delta(site, link, check, probe, hour)
        elif d.runs:
            d = self._other[(site, check, hour)] = _Delta(site, link, check, probe, hour)
        else:
            d.link, d.probe, d.hour = link, probe, hour
        return d

    def take(self, now: float) -> TakenRollups:
        """Take every pending row out for a commit, resetting the deltas in place; a check with none
        for over an hour (removed from the inventory, or a rare check) loses its delta."""
        taken = TakenRollups()
        idle = hour_start(now) - 3600
        gone = []
        for key, d in self._checks.items():
            if d.runs:
                taken.take(d)
            elif d.hour < idle:
                gone.append(key)
        for d in self._other.values():
            taken.take(d)
        for key in gone:
            del self._checks[key]
        self._other = {}
        self._rows = 0
        return taken

    def give_back(self, taken: TakenRollups) -> None:
        """Add back the rows of a commit that failed (the newer link and probe win)."""
        figures, rtt = taken.figures, taken.rtt
        deltas = []
        for row, (d, hour) in enumerate(zip(taken.deltas, taken.hours, strict=True)):
            into = self._row(d.site, d.link, d.check, d.probe, hour, math.inf)
            assert into is not None  # no bound
            # added at once: a check's next row must find this one holding runs
            _add_sums(into, figures[row * _WIDTH:(row + 1) * _WIDTH], {})
            deltas.append(into)
        for k in range(0, len(rtt), 3):
            histogram = deltas[rtt[k]].rtt
            histogram[rtt[k + 1]] = histogram.get(rtt[k + 1], 0) + rtt[k + 2]


class TakenRollups:
    """One commit's rows, taken out of `PendingRollups`: each row's delta (for its names), its hour, and
    its figures and RTT buckets as plain numbers in flat lists, so that taking 50,000 rows makes four
    lists, not an object per row that the young collections would walk while the commit runs."""

    __slots__ = ("deltas", "figures", "hours", "rtt")

    def __init__(self) -> None:
        self.deltas: list[_Delta] = []
        self.hours: list[int] = []
        self.figures: list[float] = []  # `_SUMS` of each row in turn
        self.rtt: list[int] = []  # (row, bucket, count) triples

    def __len__(self) -> int:
        return len(self.deltas)

    def take(self, d: _Delta) -> None:
        """Append ``d``'s row and reset it."""
        row = len(self.deltas)
        self.deltas.append(d)
        self.hours.append(d.hour)
        self.figures += _figures(d)
        rtt = self.rtt
        for bucket, n in d.rtt.items():
            rtt += (row, bucket, n)
        d.reset()

    def write(self, conn: sqlite3.Connection, now: float) -> None:
        """Add every row to the store (inside the caller's transaction) and roll up the hours over at
        ``now``. A row of an hour already rolled up is added to its day row too."""
        upto = rolled_upto(conn)
        hours = self.hours
        days = [day_start(ts) if ts < upto else None for ts in hours] if hours and min(hours) < upto else []
        for grain, stamps in (("hour", hours), ("day", days)):
            if stamps:
                conn.executemany(_UPSERT_ROLLUP.format(grain=grain), self._rollup_rows(stamps))
                conn.executemany(_UPSERT_RTT.format(grain=grain), self._rtt_rows(stamps))
        roll(conn, now, upto)

    def _rollup_rows(self, stamps: Sequence[int | None]) -> Iterator[tuple[object, ...]]:
        """The rows' parameters, made one at a time as SQLite binds them (none kept), at ``stamps``
        (None: not this grain)."""
        figures = self.figures
        for row, (d, ts) in enumerate(zip(self.deltas, stamps, strict=True)):
            if ts is not None:
                yield (d.site, d.link, d.check, d.probe, ts, *figures[row * _WIDTH:(row + 1) * _WIDTH])

    def _rtt_rows(self, stamps: Sequence[int | None]) -> Iterator[tuple[object, ...]]:
        deltas, rtt = self.deltas, self.rtt
        for k in range(0, len(rtt), 3):
            ts = stamps[rtt[k]]
            if ts is not None:
                d = deltas[rtt[k]]
                yield (d.site, d.check, ts, rtt[k + 1], rtt[k + 2])


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
