"""Scheduler behaviour with a test probe whose duration we control."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Sequence

import pytest

from netmon.inventory import load
from netmon.scheduler import Scheduler, phase, slot_of
from probes import base
from tests.support import ROOT


@dataclasses.dataclass(frozen=True, slots=True)
class SleepOptions(base.ProbeOptions):
    delay: float = 0.0


if "test-sleep" not in base.registry():

    @base.register("test-sleep", SleepOptions)
    async def _sleep(check: base.Check) -> base.Result:
        started = time.time()
        assert isinstance(check.options, SleepOptions)
        await asyncio.sleep(check.options.delay)
        return check.ok(started)


@dataclasses.dataclass(frozen=True, slots=True)
class ScriptedOptions(base.ProbeOptions):
    """Runs of the check (counting re-tests) that fail; the re-test options are marked."""

    failing: tuple[int, ...] = ()
    retest: bool = False

    def confirmation(self) -> ScriptedOptions:
        return dataclasses.replace(self, retest=True)


#: Per check id, whether each run so far was a re-test.
RUNS: dict[str, list[bool]] = {}

if "test-scripted" not in base.registry():

    @base.register("test-scripted", ScriptedOptions)
    async def _scripted(check: base.Check) -> base.Result:
        started = time.time()
        assert isinstance(check.options, ScriptedOptions)
        runs = RUNS.setdefault(check.id, [])
        runs.append(check.options.retest)
        if len(runs) - 1 in check.options.failing:
            return check.fail("timeout", "scripted failure", started)
        return check.ok(started)


#: Each call of the sweeping test probe: the keys it was handed, and whether they were re-tests.
SWEEPS: list[tuple[list[str], bool]] = []


async def _sweep(checks: Sequence[base.Check]) -> list[base.Result]:
    assert all(isinstance(c.options, ScriptedOptions) for c in checks)
    SWEEPS.append(([c.key for c in checks], any(c.options.retest for c in checks)))  # type: ignore[attr-defined]
    return list(await asyncio.gather(*(_scripted(c) for c in checks)))


if "test-sweep" not in base.registry():

    @base.register("test-sweep", ScriptedOptions, sweep=_sweep)
    async def _one(check: base.Check) -> base.Result:
        return (await _sweep([check]))[0]


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
    # bounded by its 0.5 s timeout, not by the probe (the first one: a run and its re-test, 0.5 s each)
    assert all(r.duration < 2.0 for r in hang)
    fast_starts = sorted(r.started for r in results if r.check == "fast")
    gaps = [b - a for a, b in itertools.pairwise(fast_starts)]
    assert all(0.5 < g < 1.5 for g in gaps), gaps  # still on its 1 s interval


async def test_overrunning_check_is_skipped_and_counted_not_stacked() -> None:
    overrun = _check("slow", 2.5, interval=1.0, timeout=10.0)
    scheduler, _ = await _collect([overrun, _check("fast", 0.0)], until="slow", count=1)
    assert scheduler.stats.skipped.get("s/slow", 0) >= 1
    assert scheduler.stats.skipped.get("s/fast", 0) == 0
    scheduler.apply([_check("fast", 0.0)])  # a reload removes the slow check: its count goes too
    assert "s/slow" not in scheduler.stats.skipped


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


def test_a_sites_reachability_checks_are_spread_over_the_interval() -> None:
    """Two checks of a center run interval/2 apart (a cut is first seen within 15 s of 30); hashed phases
    put bac-yen's echo and TCP checks 0.9 s apart, so a cut just after them waited 29 s to be seen."""
    inventory = load(ROOT / "config" / "communes.yaml")
    by_site: dict[tuple[str, float], list[float]] = {}
    for check in inventory.checks:
        if check.link not in ("", "agent") and check.probe != "snmp":
            by_site.setdefault((check.site, check.interval), []).append(phase(check))
    assert len(by_site) >= 75
    for (site, interval), phases in by_site.items():
        ordered = sorted(phases)
        gaps = [(b - a) % interval or interval for a, b in zip(ordered, ordered[1:] + ordered[:1], strict=True)]
        assert max(gaps) == pytest.approx(interval / len(phases)), (site, phases)


async def test_a_first_failure_is_retested_at_once_and_only_the_retest_is_published() -> None:
    """Confirm on failure: run 1 fails, its immediate re-test (run 2) succeeds: nothing reported down.
    A lasting failure from run 1 on is re-tested once, then reported on every run without re-tests."""
    blip = base.Check(site="s", id="blip", probe="test-scripted", target="x",
                      options=ScriptedOptions(failing=(1,)), interval=1.5, timeout=0.3)
    cut = base.Check(site="s", id="cut", probe="test-scripted", target="x",
                     options=ScriptedOptions(failing=tuple(range(1, 100))), interval=1.5, timeout=0.3)
    # a re-test that cannot finish before the next run (0.3 s timeout + grace > 0.5 s) is not run
    tight = base.Check(site="s", id="tight", probe="test-scripted", target="x",
                       options=ScriptedOptions(failing=(1,)), interval=0.5, timeout=0.3)
    RUNS.clear()
    scheduler, results = await _collect([blip, cut, tight], until="cut", count=5)
    assert [r.success for r in results if r.check == "blip"][:3] == [True, True, True]
    assert RUNS["blip"][:4] == [False, False, True, False]  # run 2 was the re-test of run 1
    assert [r.success for r in results if r.check == "cut"][:5] == [True, False, False, False, False]
    assert RUNS["cut"][:5] == [False, False, True, False, False]  # one re-test per outage, not per run
    assert scheduler.stats.confirmations == 2
    assert [r.success for r in results if r.check == "tight"][:2] == [True, False]
    assert True not in RUNS["tight"]
    assert scheduler.stats.skipped == {}
    # The confirmed down is published as starting with the first failed run, not its re-test.
    first_down = next(r for r in results if r.check == "cut" and not r.success)
    previous = max(r.started for r in results if r.check == "cut" and r.success and r.started < first_down.started)
    assert first_down.started - previous == pytest.approx(1.5, abs=0.2)  # one interval, no re-test delay


def test_icmp_confirmation_is_a_denser_burst() -> None:
    from probes.icmp import IcmpOptions

    usual = IcmpOptions(count=5, spacing=0.2, packet_timeout=1.0)
    retest = usual.confirmation()
    assert (retest.count, retest.spacing, retest.packet_timeout) == (10, 0.05, 1.0)
    assert retest.minimum_timeout() <= usual.minimum_timeout()  # fits wherever the usual run fits


async def test_a_slots_checks_of_a_sweeping_probe_run_as_one_sweep_confirmed_together() -> None:
    """A probe with a sweep (ICMP) gets each slot's checks in one call; a first failure is re-tested
    as one sweep of re-tests, published after the others and only as the re-test."""
    RUNS.clear()
    SWEEPS.clear()
    checks = [base.Check(site="s", id=f"c{i}", probe="test-sweep", target="x",
                         options=ScriptedOptions(failing=(1,) if i % 3 == 0 else ()), interval=1.5, timeout=0.3)
              for i in range(60)]
    scheduler, results = await _collect(checks, until="c0", count=3)
    first_round = [keys for keys, retest in SWEEPS if not retest][:len({slot_of(c) for c in checks})]
    slots = [{slot_of(c) for c in checks if c.key in keys} for keys in first_round]
    assert all(len(s) == 1 for s in slots), slots  # one sweep per slot...
    assert len({s.pop() for s in slots}) == len(first_round)  # ...and one slot per sweep
    assert sorted(k for keys in first_round for k in keys) == sorted(c.key for c in checks)
    retests = [keys for keys, retest in SWEEPS if retest]
    assert sorted(k for keys in retests for k in keys) == sorted(c.key for c in checks[::3])
    assert scheduler.stats.confirmations == 20
    assert all(r.success for r in results)  # every failure was a blip its re-test did not confirm
    assert scheduler.stats.lag.total >= 0 and sum(scheduler.stats.lag.counts) >= 120
    assert scheduler.stats.skipped == {}


async def _hang(checks: Sequence[base.Check]) -> list[base.Result]:
    await asyncio.sleep(3600)
    raise AssertionError("a sweep never gets here")


if "test-hang" not in base.registry():

    @base.register("test-hang", ScriptedOptions, sweep=_hang)
    async def _hang_one(check: base.Check) -> base.Result:
        return (await _hang([check]))[0]


async def test_a_hanging_sweep_fails_each_of_its_checks_at_the_deadline() -> None:
    stuck = [base.Check(site="s", id=f"stuck{i}", probe="test-hang", target="x", options=ScriptedOptions(),
                        interval=1.0, timeout=0.4) for i in range(5)]
    scheduler, results = await _collect(stuck, until="stuck0", count=2)
    assert {r.check for r in results} == {c.id for c in stuck}
    assert all(r.reason == "timeout" and 0.4 <= r.duration < 0.4 + 0.5 for r in results)
    assert scheduler.stats.skipped == {}
