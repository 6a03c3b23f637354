"""What each run measured, as time: the spans of observed time, up or down, per reachability check.

Availability is computed from these, not from outages (docs/report.md, "Accounting rules"):
- a run of a reachability check is a *sample* standing for the ``interval`` after it started (the
  check's own interval, from the inventory as plain values in `Topology.intervals`);
- the sample is *down* when the run failed — for ICMP, a burst in which every echo was lost; a burst
  with partial loss is up (its loss is reported as loss, not as downtime);
- consecutive samples in the same state extend one span; a change of state starts a new span at the
  run that saw it (cutting the previous span there); a run arriving later than half an interval
  after the span's end starts a new span, so the time nobody observed (the prober was down, the
  check was added later) is in no span at all and is never counted as up.

So a flapping link that is down 30 s of every 60 s reads ~50 % even though no two consecutive runs
fail and no outage ever opens; that instability is what a planner must see. This module is pure (no
I/O); `exporters.history` persists what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from probes.base import Result

#: A run later than this fraction of an interval after the span's end starts a new span (a gap).
GAP_SLACK = 0.5


@dataclass(slots=True)
class SampleSpan:
    """``[start, end)`` of one check on one subject (``link`` "" for hubs), all up or all down."""

    site: str
    link: str
    check: str
    start: float
    end: float
    down: bool
    id: int | None = None


class SampleTracker:
    """Coalesces samples into spans; `observe` returns the spans it created or changed."""

    def __init__(self, intervals: Mapping[str, float], default_interval: float = 30.0,
                 probes: tuple[str, ...] = ("icmp",)):
        self.intervals = intervals
        self.default_interval = default_interval
        self.probes = probes
        self._current: dict[tuple[str, str], SampleSpan] = {}

    def current(self) -> list[SampleSpan]:
        """The span each check is in now (the ones a reopened store must receive again)."""
        return list(self._current.values())

    def interval(self, result: Result) -> float:
        return self.intervals.get(result.key, self.default_interval)

    def observe(self, result: Result) -> list[SampleSpan]:
        if result.probe not in self.probes:
            return []
        intervals = self.intervals  # `interval`, inline: this runs for every result
        interval = intervals.get(result.key, self.default_interval) if intervals else self.default_interval
        t, down = result.started, not result.success
        cur = self._current.get((result.site, result.check))
        if cur is not None and t < cur.start:
            return []  # a run older than the span it would join (clock step): nothing to add
        if cur is not None and t <= cur.end + GAP_SLACK * interval:
            if cur.down == down:
                cur.end = max(cur.end, t + interval)
                return [cur]
            cur.end = max(cur.start, min(cur.end, t))
            return [cur, self._open(result, interval)]
        return [self._open(result, interval)]

    def _open(self, result: Result, interval: float) -> SampleSpan:
        span = SampleSpan(result.site, result.link, result.check, result.started,
                          result.started + interval, not result.success)
        self._current[(result.site, result.check)] = span
        return span
