"""Scheduler behaviour with a test probe whose duration we control."""

from __future__ import annotations

import asyncio
import itertools
import time

from netmon.scheduler import Scheduler, phase
from probes import base


class SleepOptions(base.ProbeOptions):
    delay: float = 0.0


if "test-sleep" not in base.registry():

    @base.register("test-sleep", SleepOptions)
    async def _sleep(check: base.Check) -> base.Result:
        started = time.time()
        assert isinstance(check.options, SleepOptions)
        await asyncio.sleep(check.options.delay)
        return check.ok(started)


def _check(name: str, delay: float, interval: float = 1.0, timeout: float = 0.5) -> base.Check:
    return base.Check(site="s", id=name, probe="test-sleep", target="x", options=SleepOptions(delay=delay),
                      interval=interval, timeout=timeout)


async def _collect(scheduler_checks: list[base.Check], until: str, count: int,
                   **kwargs: int) -> tuple[Scheduler, list[base.Result]]:
    results: list[base.Result] = []
    done = asyncio.Event()

    def sink(result: base.Result) -> None:
        results.append(result)
        if sum(1 for r in results if r.check == until) >= count:
            done.set()

    scheduler = Scheduler([sink], **kwargs)
    scheduler.start()
    scheduler.apply(scheduler_checks)
    try:
        await asyncio.wait_for(done.wait(), timeout=15)
    finally:
        await scheduler.stop()
    return scheduler, results


async def test_hanging_check_times_out_and_does_not_delay_others() -> None:
    _, results = await _collect([_check("fast", 0.0), _check("hang", 3600.0)], until="fast", count=4)
    hang = [r for r in results if r.check == "hang"]
    assert hang, "the hanging check must still produce results"
    assert all(not r.success and r.reason == "timeout" for r in hang)
    assert all(r.duration < 1.0 for r in hang)  # bounded by its 0.5 s timeout, not by the probe
    fast_starts = sorted(r.started for r in results if r.check == "fast")
    gaps = [b - a for a, b in itertools.pairwise(fast_starts)]
    assert all(0.5 < g < 1.5 for g in gaps), gaps  # still on its 1 s interval


async def test_overrunning_check_is_skipped_and_counted_not_stacked() -> None:
    overrun = _check("slow", 2.5, interval=1.0, timeout=10.0)
    scheduler, _ = await _collect([overrun, _check("fast", 0.0)], until="slow", count=1)
    assert scheduler.stats.skipped.get("s/slow", 0) >= 1
    assert scheduler.stats.skipped.get("s/fast", 0) == 0


async def test_apply_reports_diff_and_keeps_unchanged_jobs() -> None:
    scheduler = Scheduler([])
    scheduler.start()
    try:
        assert scheduler.apply([_check("a", 0), _check("b", 0)]) == (2, 0, 0)
        assert scheduler.apply([_check("a", 0), _check("b", 0.1), _check("c", 0)]) == (1, 1, 0)
        assert scheduler.apply([_check("c", 0)]) == (0, 0, 2)
        assert set(scheduler.checks) == {"s/c"}
    finally:
        await scheduler.stop()


def test_phase_is_stable_and_inside_interval() -> None:
    check = _check("a", 0, interval=30.0)
    assert phase(check) == phase(check)
    assert 0 <= phase(check) < 30.0
    phases = {round(phase(_check(f"c{i}", 0, interval=30.0))) for i in range(200)}
    assert len(phases) > 20  # spread across the interval, not bunched
