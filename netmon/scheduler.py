"""Runs every check on its interval on the event loop's monotonic clock, and applies reloads as a diff.

- Each interval is cut into slots of `SLOT_SECONDS`; a check belongs to the slot of its stable phase
  (a hash of its key), so starts are spread evenly, and phases are aligned to the Unix epoch when a
  slot is armed, so a restart or a reload keeps every check's phase. One loop timer per occupied slot,
  not per check: 20,000 checks at 30 s are 300 timers and ten wake-ups a second (with one job per
  check, APScheduler's bookkeeping was the bottleneck — bench/README.md, Scale).
- After arming, a slot's timer runs on the monotonic clock (``loop.time()``): a wall clock stepped
  backwards (NTP, a drifting RTC) used to stop every check until the wall clock caught up again, as
  APScheduler waits for wall-clock fire times. Result timestamps stay wall-clock.
- A slot's job starts one task per due check, except for probes that declare a sweep (ICMP): all of
  a slot's checks of such a probe run as one task and one engine sweep, their results published as
  one block. A task, a future and a coroutine chain per check was most of the cost of the ICMP path
  next to fping (bench/README.md, ICMP sweep). A check still running when it is due again is skipped
  and counted, never stacked; a check of a sweep counts as running until its result is published.
- A global semaphore bounds how many checks hold their own sockets at once. Probes that declare a
  shared engine (ICMP) are not bounded by it: their bursts share the engine's one socket per family
  and its global send pacing, so 700 of them in flight cost 700 futures, not 700 sockets.
- Lag is measured from a check's scheduled start to the moment its probe really starts (after the
  semaphore), so a start delayed by the bound shows as lag, not only a late timer.
- Confirm on failure (as OpenNMS and Checkmk do): the first failed run after a success is re-tested at
  once, when the re-test can finish before the check is due again, with the probe's confirmation
  options (a denser burst for ICMP), and only the re-test's result is published. A reported down is
  therefore a confirmed one, which lets the alert rules fire on it without minutes of ``for:``; later
  failures of an outage are not re-tested (metered links).
- `apply` swaps in a new inventory's checks: unchanged checks keep running untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterable

from exporters.prometheus import Buckets
from netmon.runner import GRACE_SECONDS, run_checks
from probes import base
from probes.base import Check, Result

log = logging.getLogger("netmon.scheduler")

#: Where each result goes: the sinks' ``publish`` methods.
Publish = Callable[[Result], None]

LAG_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Granularity of start times: checks whose phases fall in the same slot start together.
SLOT_SECONDS = 0.1

#: Skipped runs are logged as one summary per this many seconds at most.
SKIP_LOG_SECONDS = 60.0

_Slot = tuple[float, int]  # (interval, index of the slot within the interval)


class SchedulerStats:
    """What the scheduler knows about its own health; `netmon.health` exports it."""

    def __init__(self) -> None:
        self.lag = Buckets.with_bounds(LAG_BOUNDS)
        self.skipped: dict[str, int] = {}
        self.runs = 0
        #: Re-tests run after a first failure (confirm on failure).
        self.confirmations = 0
        #: Monotonic time of the last completed run (or of the start): "are checks running at all?"
        self.last_run = time.monotonic()


def phase(check: Check) -> float:
    """Stable offset of ``check`` within its interval (from the epoch), in seconds: the one the inventory
    gave it, else from its key's hash."""
    if check.phase is not None:
        return check.phase
    return (zlib.crc32(check.key.encode()) % 10_000) / 10_000 * check.interval


def slot_of(check: Check) -> _Slot:
    slots = max(1, round(check.interval / SLOT_SECONDS))
    return check.interval, min(slots - 1, int(phase(check) / check.interval * slots))


class Scheduler:
    """Owns the slots and their loop timers, the concurrency bound and the result sinks."""

    def __init__(self, sinks: Iterable[Publish], max_concurrency: int = 256):
        self._sinks = list(sinks)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._checks: dict[str, Check] = {}
        self._slots: dict[_Slot, dict[str, Check]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        #: Whether each check's last published result succeeded (absent: no result yet).
        self._succeeded: dict[str, bool] = {}
        self._stopping = True
        self._timers: dict[_Slot, asyncio.TimerHandle] = {}
        self._skips_unlogged: dict[str, int] = {}
        self._next_skip_log = 0.0
        self.stats = SchedulerStats()

    @property
    def checks(self) -> dict[str, Check]:
        return dict(self._checks)

    def start(self) -> None:
        """Arm every slot on the running loop (slots added later are armed as they come)."""
        self._stopping = False
        self.stats.last_run = time.monotonic()
        for slot in self._slots:
            self._arm(slot)

    async def stop(self) -> None:
        """Stop scheduling and wait for running checks to finish (they are bounded by timeouts).

        A check still running after its deadline is cancelled and awaited here, so none is left for
        ``asyncio.run`` to cancel at exit.
        """
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        pending = set(self._running.values())
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
            self._succeeded.pop(key, None)
            self.stats.skipped.pop(key, None)  # a removed check's series must go with it
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
                if not self._stopping:
                    self._arm(slot)
            members[key] = check
        return added, changed, len(removed)

    def _arm(self, slot: _Slot) -> None:
        """Set ``slot``'s first timer at its next wall-clock phase (epoch + offset + k * interval, the
        same phase in every process), converted once to the loop's monotonic clock."""
        interval, index = slot
        offset = index * interval / max(1, round(interval / SLOT_SECONDS))
        loop = asyncio.get_running_loop()
        wall, mono = time.time(), loop.time()
        due = mono + offset + math.ceil((wall - offset) / interval) * interval - wall
        self._timers[slot] = loop.call_at(due, self._tick, slot, due)

    def _tick(self, slot: _Slot, due: float) -> None:
        """Fire ``slot`` and set its next timer; turns missed while the loop was blocked coalesce."""
        if self._stopping or slot not in self._slots:
            return
        self._fire(slot, due)
        loop = asyncio.get_running_loop()
        interval = slot[0]
        following = due + interval * max(1, math.ceil((loop.time() - due) / interval))
        self._timers[slot] = loop.call_at(following, self._tick, slot, following)

    def _unslot(self, check: Check) -> None:
        slot = slot_of(check)
        members = self._slots[slot]
        del members[check.key]
        if not members:
            del self._slots[slot]
            timer = self._timers.pop(slot, None)
            if timer is not None:
                timer.cancel()

    def _fire(self, slot: _Slot, scheduled: float) -> None:
        """Start every check of ``slot`` that is not still running from its previous turn."""
        sweeps: dict[str, list[Check]] = {}
        swept: dict[str, bool] = {}  # probe → whether it sweeps, asked once per slot
        for key, check in self._slots[slot].items():
            if key in self._running:
                self.stats.skipped[key] = self.stats.skipped.get(key, 0) + 1
                self._log_skip(key)
                continue
            sweeps_it = swept.get(check.probe)
            if sweeps_it is None:
                sweeps_it = swept[check.probe] = base.get(check.probe).sweep is not None
            if sweeps_it:
                sweeps.setdefault(check.probe, []).append(check)
            else:
                self._start([check], scheduled)
        for checks in sweeps.values():
            self._start(checks, scheduled)

    def _start(self, checks: list[Check], scheduled: float) -> None:
        task = asyncio.create_task(self._run(checks, scheduled), name=f"check:{checks[0].key}")
        for check in checks:
            self._running[check.key] = task
        task.add_done_callback(functools.partial(self._finished, checks))

    def _log_skip(self, key: str) -> None:
        """One warning per `SKIP_LOG_SECONDS` at most, summing up the skips since the last one.

        A warning per skip was 3.4 MB of log in 40 s with a few hundred overrunning checks (~7 GB a day,
        enough to fill the disk under the history store); the counter has every skip.
        """
        self._skips_unlogged[key] = self._skips_unlogged.get(key, 0) + 1
        now = time.monotonic()
        if now < self._next_skip_log:
            return
        runs, checks = sum(self._skips_unlogged.values()), len(self._skips_unlogged)
        worst = sorted(self._skips_unlogged, key=self._skips_unlogged.__getitem__, reverse=True)[:3]
        log.warning("%d run(s) of %d check(s) skipped since the last such warning, still running when due "
                    "again (e.g. %s): timeouts too close to intervals, or --max-concurrency too low; "
                    "netmon_checks_skipped_total has every one; next summary in %gs at the earliest",
                    runs, checks, ", ".join(worst), SKIP_LOG_SECONDS)
        self._skips_unlogged.clear()
        self._next_skip_log = now + SKIP_LOG_SECONDS

    def _finished(self, checks: list[Check], task: asyncio.Task[None]) -> None:
        for check in checks:  # normally gone already, as published; not after a crash or a cancel
            if self._running.get(check.key) is task:
                del self._running[check.key]

    async def _run(self, checks: list[Check], scheduled: float) -> None:
        if base.get(checks[0].probe).shares_engine:  # no socket of its own: the bound does not apply
            await self._confirmed(checks, scheduled)
        else:
            async with self._semaphore:
                await self._confirmed(checks, scheduled)

    async def _confirmed(self, checks: list[Check], scheduled: float) -> None:
        """Run ``checks`` and publish their results; a first failure (after a success, or the very first
        run) is re-tested first, when the re-test can finish before the check is due again (else it
        would skip the next run). The others' results are published before the re-tests run."""
        started = time.monotonic()
        self.stats.lag.observe(max(0.0, started - scheduled), len(checks))
        results = await run_checks(checks)
        elapsed = time.monotonic() - started
        final: list[Result] = []
        doubted: list[tuple[Check, Result]] = []
        for check, result in zip(checks, results, strict=True):
            if (result.success or not self._succeeded.get(check.key, True)
                    or elapsed + check.timeout + GRACE_SECONDS > check.interval):
                final.append(result)
            else:
                doubted.append((check, result))
        self._publish(final)
        if not doubted:
            return
        self.stats.confirmations += len(doubted)
        retests = await run_checks([dataclasses.replace(c, options=c.options.confirmation())
                                    for c, _ in doubted])
        confirmed = []
        for (check, result), retest in zip(doubted, retests, strict=True):
            if retest.success:
                log.info("check %s failed (%s), its re-test succeeded: not reported", check.key,
                         result.reason)
            # Published as the run that started it: a confirmed down was seen from the first failed burst
            # (the history's outage and down time start there, not a re-test later).
            confirmed.append(dataclasses.replace(retest, started=result.started,
                                                 duration=retest.started + retest.duration - result.started))
        self._publish(confirmed)

    def _publish(self, results: list[Result]) -> None:
        """Hand a block of results to every sink; the checks are no longer running."""
        now = time.monotonic()
        for result in results:
            key = result.key
            self._running.pop(key, None)
            self._succeeded[key] = result.success
        self.stats.runs += len(results)
        self.stats.last_run = now
        for sink in self._sinks:
            for result in results:
                try:
                    sink(result)
                except Exception:  # a broken sink must not stop probing or the other sinks
                    log.exception("result sink %r failed", sink)
