"""Runs every check on its interval with APScheduler 3 as the clock, and applies reloads as a diff.

- Each interval is cut into slots of `SLOT_SECONDS`; a check belongs to the slot of its stable phase
  (a hash of its key), so starts are spread evenly, and phases are aligned to the Unix epoch, so a
  restart or a reload keeps every check's phase. APScheduler holds one job per occupied slot, not one
  per check: 20,000 checks at 30 s are 300 jobs and ten wake-ups a second (with one job per check,
  APScheduler's own bookkeeping was the bottleneck — bench/README.md, Scale).
- A slot's job starts one task per due check. A check still running when it is due again is skipped
  and counted, never stacked.
- A global semaphore bounds how many checks hold their own sockets at once. ICMP checks are not
  bounded by it: their bursts share the engine's one socket per family and its global send pacing,
  so 700 of them in flight cost 700 futures, not 700 sockets.
- Lag is measured from a check's scheduled start to the moment its probe really starts (after the
  semaphore), so a start delayed by the bound shows as lag, not only a late timer.
- `apply` swaps in a new inventory's checks: unchanged checks keep running untouched.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporters.prometheus import Buckets
from netmon.runner import GRACE_SECONDS, run_check
from probes.base import Check, Result

log = logging.getLogger("netmon.scheduler")
# APScheduler logs two INFO lines per job run: ten slots a second would drown the service's own log.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

Sink = Callable[[Result], None]

LAG_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Granularity of start times: checks whose phases fall in the same slot start together.
SLOT_SECONDS = 0.1
#: Probes multiplexed on a shared engine (no socket per run); the concurrency bound does not apply.
SHARED_ENGINE_PROBES = frozenset({"icmp"})

_Slot = tuple[float, int]  # (interval, index of the slot within the interval)


class SchedulerStats:
    """What the scheduler knows about its own health; `netmon.health` exports it."""

    def __init__(self) -> None:
        self.lag = Buckets.with_bounds(LAG_BOUNDS)
        self.skipped: dict[str, int] = {}
        self.runs = 0


def phase(check: Check) -> float:
    """Stable offset of ``check`` within its interval (from the epoch), in seconds."""
    return (zlib.crc32(check.key.encode()) % 10_000) / 10_000 * check.interval


def slot_of(check: Check) -> _Slot:
    slots = max(1, round(check.interval / SLOT_SECONDS))
    return check.interval, min(slots - 1, int(phase(check) / check.interval * slots))


class Scheduler:
    """Owns the APScheduler instance, the slots, the concurrency bound and the result sinks."""

    def __init__(self, sinks: Iterable[Sink], max_concurrency: int = 256):
        self._sinks = list(sinks)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._checks: dict[str, Check] = {}
        self._slots: dict[_Slot, dict[str, Check]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self.stats = SchedulerStats()
        self._aps = AsyncIOScheduler(timezone=UTC)

    @property
    def checks(self) -> dict[str, Check]:
        return dict(self._checks)

    def start(self) -> None:
        self._stopping = False
        self._aps.start()

    async def stop(self) -> None:
        """Stop scheduling and wait for running checks to finish (they are bounded by timeouts).

        AsyncIOScheduler defers its shutdown to a later loop iteration, so a slot may still fire after
        this is called: `_fire` starts nothing once stopping. A check still running after its deadline
        is cancelled and awaited here, so none is left for ``asyncio.run`` to cancel at exit.
        """
        self._stopping = True
        self._aps.shutdown(wait=False)
        pending = list(self._running.values())
        if not pending:
            return
        deadline = max((c.timeout for c in self._checks.values()), default=1) + GRACE_SECONDS
        _, late = await asyncio.wait(pending, timeout=deadline)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def apply(self, checks: Iterable[Check]) -> tuple[int, int, int]:
        """Make the scheduled set equal to ``checks``; returns (added, changed, removed)."""
        wanted = {c.key: c for c in checks}
        removed = [k for k in self._checks if k not in wanted]
        for key in removed:
            self._unslot(self._checks.pop(key))
        added = changed = 0
        for key, check in wanted.items():
            current = self._checks.get(key)
            if current == check:
                continue
            if current is None:
                added += 1
            else:
                changed += 1
                self._unslot(current)
            self._checks[key] = check
            slot = slot_of(check)
            members = self._slots.get(slot)
            if members is None:
                members = self._slots[slot] = {}
                self._add_slot_job(slot)
            members[key] = check
        return added, changed, len(removed)

    def _add_slot_job(self, slot: _Slot) -> None:
        interval, index = slot
        # Fire times are epoch + offset + k * interval: the same wall-clock phase in every process.
        offset = index * interval / max(1, round(interval / SLOT_SECONDS))
        self._aps.add_job(
            self._fire, IntervalTrigger(seconds=interval, start_date=datetime.fromtimestamp(offset, UTC),
                                        timezone=UTC),
            args=(slot, offset), id=_job_id(slot), name=_job_id(slot),
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )

    def _unslot(self, check: Check) -> None:
        slot = slot_of(check)
        members = self._slots[slot]
        del members[check.key]
        if not members:
            del self._slots[slot]
            self._aps.remove_job(_job_id(slot))

    async def _fire(self, slot: _Slot, offset: float) -> None:
        """Start every check of ``slot`` that is not still running from its previous turn."""
        if self._stopping:
            return
        interval = slot[0]
        now = time.time()
        scheduled = offset + math.floor((now - offset) / interval) * interval
        for key, check in self._slots.get(slot, {}).items():
            if key in self._running:
                self.stats.skipped[key] = self.stats.skipped.get(key, 0) + 1
                log.warning("check %s still running when due again: skipped", key)
                continue
            task = asyncio.create_task(self._run(check, scheduled), name=f"check:{key}")
            self._running[key] = task
            task.add_done_callback(functools.partial(self._finished, key))

    def _finished(self, key: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)

    async def _run(self, check: Check, scheduled: float) -> None:
        if check.probe in SHARED_ENGINE_PROBES:
            self.stats.lag.observe(max(0.0, time.time() - scheduled))
            result = await run_check(check)
        else:
            async with self._semaphore:
                self.stats.lag.observe(max(0.0, time.time() - scheduled))
                result = await run_check(check)
        self.stats.runs += 1
        for sink in self._sinks:
            try:
                sink(result)
            except Exception:  # a broken sink must not stop probing or the other sinks
                log.exception("result sink %r failed", sink)


def _job_id(slot: _Slot) -> str:
    return f"slot:{slot[0]:g}s:{slot[1]}"
