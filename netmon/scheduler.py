"""Runs every check on its interval with APScheduler 3, and applies reloads as a diff.

- Start times are spread across each interval by a stable hash of the check's key, so 225 checks at
  30 s do not all fire at :00 and a restart keeps each check's phase.
- A global semaphore bounds how many checks run at once.
- A check still running when it is due again is skipped and counted (``max_instances=1``), never
  stacked; late starts are measured as scheduler lag.
- `apply` swaps in a new inventory's checks: unchanged checks keep running untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporters.prometheus import Buckets
from netmon.runner import run_check
from probes.base import Check, Result

log = logging.getLogger("netmon.scheduler")

Sink = Callable[[Result], None]


LAG_BOUNDS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SchedulerStats:
    """What the scheduler knows about its own health; `netmon.health` exports it."""

    def __init__(self) -> None:
        self.lag = Buckets.with_bounds(LAG_BOUNDS)
        self.skipped: dict[str, int] = {}
        self.runs = 0


def phase(check: Check) -> float:
    """Stable offset of ``check`` within its interval, in seconds."""
    return (zlib.crc32(check.key.encode()) % 10_000) / 10_000 * check.interval


class Scheduler:
    """Owns the APScheduler instance, the concurrency bound and the result sinks."""

    def __init__(self, sinks: Iterable[Sink], max_concurrency: int = 256):
        self._sinks = list(sinks)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._checks: dict[str, Check] = {}
        self.stats = SchedulerStats()
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self._aps.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES)

    @property
    def checks(self) -> dict[str, Check]:
        return dict(self._checks)

    def start(self) -> None:
        self._aps.start()

    async def stop(self) -> None:
        """Stop scheduling and wait for running checks to finish (they are bounded by timeouts)."""
        self._aps.shutdown(wait=False)
        pending = [t for t in asyncio.all_tasks() if t.get_name().startswith("check:")]
        if pending:
            await asyncio.wait(pending, timeout=max((c.timeout for c in self._checks.values()), default=1))

    def apply(self, checks: Iterable[Check]) -> tuple[int, int, int]:
        """Make the scheduled set equal to ``checks``; returns (added, changed, removed)."""
        wanted = {c.key: c for c in checks}
        removed = [k for k in self._checks if k not in wanted]
        for key in removed:
            self._aps.remove_job(key)
            del self._checks[key]
        added = changed = 0
        now = datetime.now(UTC)
        for key, check in wanted.items():
            current = self._checks.get(key)
            if current == check:
                continue
            if current is None:
                added += 1
            else:
                changed += 1
                self._aps.remove_job(key)
            self._checks[key] = check
            # First run at the check's phase within the next interval; then every interval.
            first = now + timedelta(seconds=phase(check))
            self._aps.add_job(
                self._run,
                IntervalTrigger(seconds=check.interval, start_date=first, timezone=UTC),
                args=(check,),
                id=key,
                name=key,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(check.interval)),
                next_run_time=first,
            )
        return added, changed, len(removed)

    async def _run(self, check: Check) -> None:
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"check:{check.key}")
        async with self._semaphore:
            result = await run_check(check)
        self.stats.runs += 1
        for sink in self._sinks:
            try:
                sink(result)
            except Exception:  # a broken sink must not stop probing or the other sinks
                log.exception("result sink %r failed", sink)

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        if event.scheduled_run_times:
            scheduled = event.scheduled_run_times[-1].timestamp()
            self.stats.lag.observe(max(0.0, time.time() - scheduled))

    def _on_skipped(self, event: JobExecutionEvent) -> None:
        self.stats.skipped[event.job_id] = self.stats.skipped.get(event.job_id, 0) + 1
        log.warning("check %s still running when due again: skipped", event.job_id)
