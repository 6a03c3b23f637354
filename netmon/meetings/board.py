"""The readiness board: keeps the latest results readiness reads, checks on schedule, exports and notifies.

It is a result sink (``publish``) fed by the scheduler like the exporter and the history, rebuilt on
every inventory (``on_inventory``). Its checks are APScheduler date jobs: a meeting is set in wall-clock
time, which is exactly what APScheduler fires on (the probes, which must keep running when the wall
clock steps, run on the loop's monotonic clock instead: `netmon.scheduler`). ``misfire_grace_time`` is
`calendar.LATE`: a check missed by more (netmon was down) is skipped, never sent late; a date job runs
once, and a reload re-adds only the checks not yet run.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.packed import pack, unpack
from exporters.sink import InventoryFacts
from netmon import i18n
from netmon.inventory import Inventory
from netmon.meetings import calendar, readiness
from netmon.meetings.notify import Notifier
from probes import base
from probes.base import Measurement, Result

log = logging.getLogger("netmon.meetings")
_TEXT = {
    "no_calendar": ("{error}; meeting readiness keeps no calendar until it is fixed",
                    "{error}; kiểm tra sẵn sàng cuộc họp không có lịch nào cho đến khi sửa xong"),
}

#: A `Result` without its details, observations and numbers: its identity, reason and error, then its
#: measurements' names and labels (`_pack`).
_Packed = tuple[str, str, str, str, str, str | None, str | None,
                tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]]
#: Measurement names and labels as one shared copy per shape (`_pack`).
_SHAPES: dict[tuple[tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]],
              tuple[tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]]] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def _observations(probe: str) -> frozenset[str]:
    """The per-sample measurements of ``probe`` (ICMP's per-echo RTT): input to histograms, never read
    by a verdict."""
    specs = found.metrics if (found := base.registry().get(probe)) else ()
    return frozenset(s.name for s in specs if s.kind is base.Kind.OBSERVATION)


def _pack(result: Result, previous: _Packed | None) -> tuple[_Packed, bytes]:
    """``result`` without its details and observations: its identity, reason, error and measurements'
    names and labels (``previous`` itself while they are unchanged), and its numbers as bytes
    (success, start, duration, then the measurements' values).

    A `Result` kept for every check is ~18 tracked objects (its measurements, details, RTT list) that
    every full collection walks; nested tuples climbed to the old generation at every run. What a run
    makes and the board keeps must not be tracked at all: a tuple is until a collection walks it, and
    one replacing another adds nothing to the count that triggers young collections, so every check's
    copies waited in generation 0 (at 20,000 checks ~50,000 of a young collection's 88,000 objects were
    the board's; `exporters.packed`). The names and labels are one copy per shape, not per check.
    """
    skip = _observations(result.probe)
    kept = [m for m in result.measurements if m.name not in skip]
    names = tuple(m.name for m in kept)
    labels = tuple(m.labels for m in kept)
    if not any(labels):  # labels of their own (interfaces) would be one entry per check, kept forever
        names, labels = _SHAPES.setdefault((names, labels), (names, labels))
    fields = (result.site, result.check, result.probe, result.target, result.link, result.reason,
              result.error, names, labels)
    return (previous if fields == previous else fields), pack(
        (result.success, result.started, result.duration, *(m.value for m in kept)))


def _unpack(packed: _Packed, numbers: bytes) -> Result:
    site, check, probe, target, link, reason, error, names, labels = packed
    success, started, duration, *values = unpack(numbers)
    return Result(site, check, probe, target, link, bool(success), started, duration, reason, error,
                  tuple(Measurement(*m) for m in zip(names, values, labels, strict=True)))


class ReadinessBoard(Collector):
    def __init__(self, notifier: Notifier | None = None, clock: Callable[[], dt.datetime] = _now) -> None:
        self.notifier = notifier
        self.clock = clock
        self.done: set[calendar.ReadinessCheck] = set()
        #: Each watched check's latest result (`_pack`: its fields, and its numbers) and, for primary
        #: links (whose loss readiness judges over `readiness.WINDOW`), its bursts within the window,
        #: oldest first, packed flat (`exporters.packed`): start, sent, received, start, ...
        self.latest: dict[str, _Packed] = {}
        self.values: dict[str, bytes] = {}
        self.bursts: dict[str, bytes] = {}
        self.last: tuple[calendar.ReadinessCheck, float, list[readiness.SiteReadiness]] | None = None
        self.schedule: list[calendar.ReadinessCheck] = []
        self.watched: set[str] = set()
        self.primaries: set[str] = set()
        self.inventory: Inventory | None = None
        self.jobs = AsyncIOScheduler(timezone=dt.UTC)

    def on_inventory(self, facts: InventoryFacts) -> None:
        inventory = facts.inventory
        assert isinstance(inventory, Inventory)
        self.inventory = inventory
        self.plan = readiness.plan(inventory)
        try:
            self.schedule = calendar.schedule(inventory)
        except calendar.CalendarError as exc:
            log.error("%s", i18n.text(_TEXT, "no_calendar", i18n.lang(), error=exc))
            self.schedule = []
        self.watched = {k for name, primary, backup, ups in self.plan.sites.values()
                        for k in (primary, backup, *ups) if k} | set(self.plan.service)
        self.primaries = {primary for _, primary, _, _ in self.plan.sites.values() if primary}
        self.latest = {k: r for k, r in self.latest.items() if k in self.watched}
        self.values = {k: r for k, r in self.values.items() if k in self.watched}
        self.bursts = {k: r for k, r in self.bursts.items() if k in self.primaries}
        self._plan_jobs()

    def close(self) -> None:
        """Stop firing checks; a summary being sent finishes on its own."""
        if self.jobs.running:
            self.jobs.shutdown(wait=False)

    def publish(self, result: Result) -> None:
        key = result.key
        if key not in self.watched:
            return
        if key in self.primaries:
            since = result.started - readiness.WINDOW
            kept = unpack(self.bursts.get(key, b""))
            within = (x for i in range(0, len(kept), 3) if kept[i] >= since for x in kept[i:i + 3])
            self.bursts[key] = pack((*within, *readiness.burst(result)))
        self.latest[key], self.values[key] = _pack(result, self.latest.get(key))

    def start(self) -> None:
        """Start firing the checks (call on the running event loop)."""
        self.jobs.start()

    def _plan_jobs(self) -> None:
        self.jobs.remove_all_jobs()
        for check in calendar.upcoming(self.schedule, self.clock(), self.done):
            self.jobs.add_job(self._fire, DateTrigger(check.due), args=[check],
                              misfire_grace_time=int(calendar.LATE.total_seconds()), coalesce=True)

    async def _fire(self, check: calendar.ReadinessCheck) -> None:
        if check not in self.done:
            self.done.add(check)
            await self.check(check)

    async def check(self, check: calendar.ReadinessCheck) -> list[readiness.SiteReadiness]:
        """Judge every center now for ``check`` and tell the provincial office."""
        sites = self.readiness()
        self.last = (check, self.clock().timestamp(), sites)
        when = check.meeting.start.strftime("%H:%M %d/%m/%Y")
        texts = {lang: readiness.summary(check.meeting.title, when, check.label, sites, lang)
                 for lang in ("vi", "en")}
        log.info("meeting readiness: %s", texts["en"])
        if self.notifier is not None:
            severity = "info" if all(s.ready for s in sites) else "warning"
            labels = {"severity": severity, "meeting": check.meeting.title, "check": check.label,
                      "starts": check.meeting.start.isoformat()}
            await self.notifier.send(labels, texts["vi"], texts["en"], check.meeting.start)
        return sites

    def readiness(self) -> list[readiness.SiteReadiness]:
        """Every center judged now from what the board kept."""
        assert self.inventory is not None, "on_inventory first"
        recent = {}
        for key, latest in self.latest.items():
            kept = unpack(self.bursts.get(key, b""))
            bursts = zip(kept[0::3], kept[1::3], kept[2::3], strict=True)
            recent[key] = readiness.Recent.of(_unpack(latest, self.values[key]), bursts)
        return readiness.judge_all(self.plan, recent, self.inventory)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        upcoming = [m for m in calendar.meetings_of(self.schedule) if m.start > self.clock()]
        nxt = GaugeMetricFamily("netmon_meeting_next_start_timestamp_seconds",
                                "Start of the next scheduled provincial online meeting, unix seconds.")
        if upcoming:
            nxt.add_metric([], upcoming[0].start.timestamp())
        yield nxt
        if self.last is None:
            return
        _, at, sites = self.last
        ready = GaugeMetricFamily("netmon_meeting_ready", "1 if the center was ready at the last readiness "
                                  "check, else 0.", labels=["site"])
        for s in sites:
            ready.add_metric([s.site], 1.0 if s.ready else 0.0)
        yield ready
        when = GaugeMetricFamily("netmon_meeting_readiness_checked_timestamp_seconds",
                                 "When the last readiness check ran, unix seconds.")
        when.add_metric([], at)
        yield when
