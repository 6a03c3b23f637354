"""Hourly and daily rollups per check, accumulated in memory for one batch and added to the store.

Each batch adds its deltas with ``INSERT ... ON CONFLICT DO UPDATE SET runs = runs + ...``, so a
batch is all-or-nothing with its transaction and rows of the current hour grow as results arrive.

RTT percentiles must merge across checks, sites and days, which averages cannot do: each row keeps
a histogram with logarithmic buckets (ratio 1.1, 0.5 ms to ~7 s), so a percentile read back is the
bucket's geometric middle, within ±5 % of the true value. Days are local days in Asia/Ho_Chi_Minh
(UTC+7 all year, no daylight saving), which is what a planner means by "that Tuesday".
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from probes import icmp
from probes.base import Result

RTT_MIN = 0.0005
RTT_RATIO = 1.1
RTT_BUCKETS = 100
LOCAL_OFFSET = 7 * 3600

#: Summaries standing in for per-echo RTTs when a result has none.
RTT_FALLBACKS = (icmp.RTT_AVG, icmp.RTT_MEDIAN)


def rtt_bucket(seconds: float) -> int:
    if seconds <= RTT_MIN:
        return 0
    return min(RTT_BUCKETS - 1, int(math.log(seconds / RTT_MIN) / math.log(RTT_RATIO)))


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


@dataclass(slots=True)
class _Delta:
    site: str
    link: str
    check: str
    probe: str
    runs: int = 0
    ok: int = 0
    loss_sum: float = 0.0
    loss_n: int = 0
    jitter_sum: float = 0.0
    jitter_n: int = 0
    rtt: Counter[int] = field(default_factory=Counter)


def rtts(result: Result) -> list[float]:
    """Every RTT a result carries: per-echo observations, else its summary average/median."""
    values = [m.value for m in result.measurements if m.name == icmp.RTT]
    if values:
        return values
    for name in RTT_FALLBACKS:
        value = result.value(name)
        if value is not None:
            return [value]
    return []


def loss(result: Result) -> float | None:
    """Measured loss, or total loss for an ICMP run that failed without measuring any."""
    value = result.value(icmp.LOSS)
    if value is None and result.probe == "icmp":
        return 0.0 if result.success else 1.0
    return value


class RollupBatch:
    """Deltas for one batch, keyed by (table grain, site, check, period start)."""

    def __init__(self) -> None:
        self._deltas: dict[tuple[str, str, str, int], _Delta] = {}

    def __len__(self) -> int:
        return len(self._deltas)

    def add(self, result: Result) -> None:
        values = rtts(result)
        lost = loss(result)
        jitter = result.value(icmp.JITTER)
        for grain, ts in (("hour", hour_start(result.started)), ("day", day_start(result.started))):
            key = (grain, result.site, result.check, ts)
            d = self._deltas.get(key)
            if d is None:
                d = self._deltas[key] = _Delta(result.site, result.link, result.check, result.probe)
            d.runs += 1
            d.ok += int(result.success)
            if lost is not None:
                d.loss_sum += lost
                d.loss_n += 1
            if jitter is not None:
                d.jitter_sum += jitter
                d.jitter_n += 1
            d.rtt.update(rtt_bucket(v) for v in values)

    def write(self, conn: sqlite3.Connection) -> None:
        """Add every delta to the store (inside the caller's transaction); keeps them until `clear`."""
        for grain in ("hour", "day"):
            rows = [(k, d) for k, d in self._deltas.items() if k[0] == grain]
            conn.executemany(
                _UPSERT_ROLLUP.format(grain=grain),
                (
                    (
                        d.site,
                        d.link,
                        d.check,
                        d.probe,
                        k[3],
                        d.runs,
                        d.ok,
                        d.loss_sum,
                        d.loss_n,
                        d.jitter_sum,
                        d.jitter_n,
                    )
                    for k, d in rows
                ),
            )
            conn.executemany(_UPSERT_RTT.format(grain=grain), _rtt_rows(rows))

    def clear(self) -> None:
        """Forget the deltas once their transaction committed (not before: a failed commit retries)."""
        self._deltas.clear()


def _rtt_rows(rows: Iterable[tuple[tuple[str, str, str, int], _Delta]]) -> Iterable[tuple[object, ...]]:
    for k, d in rows:
        for bucket, n in d.rtt.items():
            yield (d.site, d.check, k[3], bucket, n)


_UPSERT_ROLLUP = """
INSERT INTO rollup_{grain} (site, link, check_id, probe, ts, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (ts, site, check_id) DO UPDATE SET
    runs = runs + excluded.runs, ok = ok + excluded.ok,
    loss_sum = loss_sum + excluded.loss_sum, loss_n = loss_n + excluded.loss_n,
    jitter_sum = jitter_sum + excluded.jitter_sum, jitter_n = jitter_n + excluded.jitter_n,
    link = excluded.link, probe = excluded.probe"""

_UPSERT_RTT = """
INSERT INTO rtt_{grain} (site, check_id, ts, bucket, n) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (ts, site, check_id, bucket) DO UPDATE SET n = n + excluded.n"""
