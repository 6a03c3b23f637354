"""The history store's pending sums: true to what was published, and made once per check.

The writer keeps each check's sums from one rollup period to the next and resets them in place
(`exporters.history_rollup.PendingRollups`); a commit takes them as numbers and a failed one gives them
back. The truth here is the published results themselves, summed independently of the store's code.
"""

from __future__ import annotations

import gc
import random
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from exporters.history import HistoryWriter, _Pending
from exporters.history_outages import OutageTracker, Topology
from exporters.history_rollup import PendingRollups, day_start, hour_start, rtt_bucket
from exporters.history_samples import SampleTracker
from exporters.history_schema import connect
from probes import icmp
from probes.base import Measurement, Result

T0 = 1_767_200_000.0  # 2025-12-31 16:53 UTC: the runs cross hours and a local day
INTERVAL = 30.0


def ping(site: str, check: str, started: float, rtts: list[float], jitter: float | None,
         summary_only: bool = False) -> Result:
    """An ICMP run that got ``rtts`` out of 3 echoes (none: failed, total loss); ``summary_only``: its
    echoes' median and average without the echoes (the average is what the store must take)."""
    ms = [] if summary_only else [Measurement(icmp.RTT, r) for r in rtts]
    ms.append(Measurement(icmp.LOSS, 1 - len(rtts) / 3))
    if jitter is not None:
        ms.append(Measurement(icmp.JITTER, jitter))
    if rtts:
        ms += [Measurement(icmp.RTT_MEDIAN, sorted(rtts)[len(rtts) // 2]),
               Measurement(icmp.RTT_AVG, sum(rtts) / len(rtts))]
    return Result(site, check, "icmp", "198.18.0.1", "primary", bool(rtts), started, 0.1,
                  measurements=tuple(ms))


def test_sums_spans_and_histograms_are_what_was_published_over_many_periods(tmp_path: Path) -> None:
    """60 checks on random schedules (phases, missed runs, failures, loss, runs with summaries but no
    per-echo RTTs) for ~2.5 hours, committed at random moments; a third of the commits fail (the store
    locked by another writer) and give their sums back; late results of hours already rolled up into days
    arrive too. Every hour row, RTT bucket, day row and observed second must equal the published results'
    own sums."""
    rng = random.Random(16)
    checks = [(f"ban-{i // 3}", f"icmp-{i % 3}") for i in range(60)]
    phase = {c: rng.uniform(0, INTERVAL) for c in checks}
    intervals = {f"{s}/{c}": INTERVAL for s, c in checks}
    pending = _Pending()
    outages, samples = OutageTracker(Topology(intervals=intervals)), SampleTracker(intervals)
    hours: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0, 0.0, 0])
    buckets: Counter[tuple[str, str, int, int]] = Counter()
    observed: Counter[tuple[str, str, bool]] = Counter()
    late: list[Result] = []
    path = tmp_path / "history.db"
    conn = connect(path)
    conn.execute("PRAGMA busy_timeout = 0")  # a locked store fails the commit at once
    failed = committed = 0

    def publish(r: Result) -> None:
        pending.absorb(outages, samples, r, 10**9)
        row = hours[(r.site, r.check, hour_start(r.started))]
        row[0] += 1
        row[1] += r.success
        rtts = [m.value for m in r.measurements if m.name == icmp.RTT] or [
            m.value for m in r.measurements if m.name == icmp.RTT_AVG]
        for value in rtts:
            buckets[(r.site, r.check, hour_start(r.started), rtt_bucket(value))] += 1
        loss, jitter = r.value(icmp.LOSS), r.value(icmp.JITTER)
        if loss is not None:
            row[2] += loss
            row[3] += 1
        if jitter is not None:
            row[4] += jitter
            row[5] += 1
        if r.probe == "icmp":
            observed[(r.site, r.check, r.success)] += INTERVAL

    def commit(now: float) -> None:
        nonlocal failed, committed
        batch = pending.take(True, now)
        if rng.random() < 1 / 3:
            with locked(path), pytest.raises(sqlite3.OperationalError):
                batch.commit(conn, now)
            pending.give_back(batch)
            failed += 1
        else:
            batch.commit(conn, now)
            committed += 1

    steps = int(2.5 * 3600 / INTERVAL)
    for k in range(steps):
        for c in checks:
            if rng.random() < 0.05:
                continue  # a missed run: a gap, not observed
            t = T0 + k * INTERVAL + phase[c]
            echoes = rng.choice([3, 3, 3, 2, 0])
            rtts = [rng.lognormvariate(-4, 1) for _ in range(echoes)]
            publish(ping(*c, t, rtts, rng.uniform(0, 0.01) if echoes >= 2 else None, rng.random() < 0.1))
            if rng.random() < 0.01:
                late.append(Result(c[0], "web", "http", "http://198.18.0.1/", "primary", True, t, 0.2))
        if k % 100 == 99:  # an agent's backlog: runs of hours that may be rolled up into days already
            for r in late:
                publish(r)
            late.clear()
        if rng.random() < 0.4:
            commit(T0 + (k + 1) * INTERVAL)
    commit(T0 + steps * INTERVAL + 4000)  # every hour over and rolled up
    while pending.results:
        commit(T0 + steps * INTERVAL + 4000)
    assert failed >= 10 and committed >= 20

    stored = {(s, c, ts): list(figures) for s, c, ts, *figures in conn.execute(
        "SELECT site, check_id, ts, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n FROM rollup_hour")}
    assert stored.keys() == hours.keys()
    for key, truth in hours.items():
        assert stored[key] == pytest.approx(truth), key
    assert Counter({(s, c, ts, b): n for s, c, ts, b, n in conn.execute(
        "SELECT site, check_id, ts, bucket, n FROM rtt_hour")}) == buckets
    days: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0] * 6)
    for (s, c, ts), truth in hours.items():
        days[(s, c, day_start(ts))] = [a + b for a, b in zip(days[(s, c, day_start(ts))], truth, strict=True)]
    stored_days = {(s, c, ts): list(figures) for s, c, ts, *figures in conn.execute(
        "SELECT site, check_id, ts, SUM(runs), SUM(ok), SUM(loss_sum), SUM(loss_n), SUM(jitter_sum), "
        "SUM(jitter_n) FROM day_rollups GROUP BY site, check_id, ts")}
    assert stored_days.keys() == days.keys()
    for key, truth in days.items():
        assert stored_days[key] == pytest.approx(truth), key
    spans: Counter[tuple[str, str, bool]] = Counter()
    for s, c, start, end, down in conn.execute('SELECT site, check_id, start, "end", down FROM samples'):
        spans[(s, c, not down)] += end - start
    assert spans.keys() == observed.keys()
    for key, seconds in observed.items():
        assert spans[key] == pytest.approx(seconds), key


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another writer holding the store's write lock: the writer's commit fails, as on a busy disk."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_steady_rollup_period_makes_no_tracked_object_per_check(tmp_path: Path) -> None:
    """Once every check has its sums, a period of results leaves nothing new for the collector to walk:
    at 50,000 checks the sums made anew each period were 100,000 objects living a minute each, a third
    of the young collections (bench/README.md, Scale)."""
    n = 3000
    writer = HistoryWriter(tmp_path / "history.db")
    writer.start()
    hour = hour_start(T0) + 60
    try:
        for period in range(3):
            runs = [ping(f"ban-{i}", "icmp", hour + period * INTERVAL, [0.01, 0.012, 0.02], 0.001)
                    for i in range(n)]
            if period == 2:
                gc.collect()
                gc.freeze()  # everything alive now, as `netmon run` does once every check has run
            for r in runs:
                writer.publish(r)
            if period < 2:
                writer.flush()
        gc.collect()
        made = len(gc.get_objects())
    finally:
        gc.unfreeze()
        writer.close()
    assert made < n / 10, f"{made} tracked objects made by one period of {n} checks' results"


def test_a_check_that_stopped_running_loses_its_sums_within_two_hours() -> None:
    """Sums kept per check must not outlive the check (removed by a reload): one idle for over an hour
    is dropped at the next take, and one still running keeps its own."""
    pending = PendingRollups()
    t = hour_start(T0)
    for check in ("icmp-gone", "icmp-kept"):
        pending.add(ping("ban-a", check, t + 10, [0.01], None))
    pending.take(t + 60)
    for k in range(1, 5):  # only icmp-kept runs from now on, for two hours
        pending.add(ping("ban-a", "icmp-kept", t + k * 1800, [0.01], None))
        pending.take(t + k * 1800 + 60)
    assert set(pending._checks) == {("ban-a", "icmp-kept")}
