"""The runner stamps each run's absolute deadline; the probe bounds its work by what is left of it."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from netmon.runner import GRACE_SECONDS, run_check
from probes import base


@dataclasses.dataclass(frozen=True, slots=True)
class NapOptions(base.ProbeOptions):
    nap: float = 0.0


if "test-nap" not in base.registry():
    @base.register("test-nap", NapOptions)
    async def _nap(check: base.Check) -> base.Result:
        """Reports the budget it had on entry, then naps and reports before its deadline if it must."""
        started = time.time()
        assert isinstance(check.options, NapOptions)
        had = check.remaining()
        try:
            async with asyncio.timeout(check.remaining()):
                await asyncio.sleep(check.options.nap)
        except TimeoutError:
            return check.fail("timeout", "deadline", started, had=had, left=check.remaining())
        return check.ok(started, had=had)


def _check(nap: float, timeout: float) -> base.Check:
    return base.Check(site="s", id="nap", probe="test-nap", target="x", options=NapOptions(nap=nap),
                      timeout=timeout)


async def test_a_run_starts_with_its_whole_timeout_and_reports_before_the_backstop() -> None:
    fast = await run_check(_check(0.0, 0.5))
    assert fast.success and 0.45 < fast.details["had"] <= 0.5
    begin = time.monotonic()
    slow = await run_check(_check(10.0, 0.4))
    elapsed = time.monotonic() - begin
    # The probe's own report ("deadline", with its details), not the runner's backstop message.
    assert (slow.reason, slow.error) == ("timeout", "deadline") and slow.details["left"] == 0.0
    assert 0.4 <= elapsed < 0.4 + GRACE_SECONDS


def test_outside_a_run_a_probe_has_its_whole_timeout() -> None:
    assert _check(0.0, 3.0).remaining() == 3.0


def test_a_stamped_check_keeps_every_field() -> None:
    """`Check.stamped` (the runner's per-run copy, without `dataclasses.replace`) keeps every field."""
    check = base.Check(site="muong-la", id="icmp", probe="icmp", target="198.18.1.7", options=NapOptions(nap=1),
                       interval=60.0, timeout=9.0, link="backup", labels={"district": "Mường La"}, phase=12.5)
    stamped = check.stamped(123.0)
    defaults = base.Check(site="", id="", probe="", target="", options=base.ProbeOptions())
    for f in dataclasses.fields(base.Check):
        if f.name != "deadline":
            assert getattr(stamped, f.name) == getattr(check, f.name) != getattr(defaults, f.name), f.name
    assert stamped == check and stamped.deadline == 123.0 and check.deadline is None
