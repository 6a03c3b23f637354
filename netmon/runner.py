"""Runs checks: one check once (`run_check`, shared by the scheduler and the CLI), or many checks of
one probe as one sweep (`run_checks`, the scheduler's path for a slot's ICMP checks).

The runner, not the probe, owns the overall deadline and turns a probe's bug into a failed `Result`,
so one misbehaving check can never stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from probes import base
from probes.errors import PrivilegeError

log = logging.getLogger("netmon.runner")

#: Probes bound their own work by ``check.timeout`` and report what they measured before giving up
#: (an HTTP timeout still carries its DNS and connect phases). The runner's deadline is a backstop a
#: little later, for a probe that fails to honour its timeout.
GRACE_SECONDS = 0.25
#: Repeated probe crashes are summed into one log line per this many seconds at most.
REPEAT_LOG_SECONDS = 60.0


class _CrashLog:
    """A probe crash's traceback once per check and exception type, then one summary line per
    `REPEAT_LOG_SECONDS`: a probe that crashes on every run of thousands of checks would otherwise
    write tracebacks until the disk is full. ``netmon_probe_failures_total{reason="probe_error"}``
    counts every crash."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._repeats = 0
        self._next_summary = 0.0

    def report(self, check: base.Check, exc: Exception) -> None:
        """Call from the ``except`` block (the traceback is the one being handled)."""
        kind = (check.key, type(exc).__name__)
        if kind not in self._seen:
            self._seen.add(kind)
            log.exception("probe %s crashed on %s", check.probe, check.key)
            return
        self._repeats += 1
        now = time.monotonic()
        if now >= self._next_summary:
            log.error("%d more probe crash(es) since the last such line (each traceback is logged once per "
                      "check and error); next summary in %gs at the earliest",
                      self._repeats, REPEAT_LOG_SECONDS)
            self._repeats = 0
            self._next_summary = now + REPEAT_LOG_SECONDS


_CRASHES = _CrashLog()


async def run_check(check: base.Check) -> base.Result:
    """Run ``check`` within its timeout (plus a small grace); always returns a `Result`, never raises."""
    return (await run_checks([check]))[0]


async def run_checks(checks: Sequence[base.Check]) -> list[base.Result]:
    """Run ``checks`` (all of one probe) at once; a `Result` per check, in order, never raises.

    A probe that declares a sweep gets them in one call, each stamped with its own deadline; the
    backstop is then the latest deadline plus the grace, and a sweep that misses it or crashes fails
    every check it held (the ICMP engine ends each burst by itself, within its check's timeout).
    Other probes run each check on its own.
    """
    if not checks:
        return []
    probe = base.get(checks[0].probe)
    if probe.sweep is None and len(checks) > 1:
        return list(await asyncio.gather(*(run_check(c) for c in checks)))
    started = time.time()
    now = time.monotonic()
    stamped = [c.stamped(now + c.timeout) for c in checks]
    try:
        async with asyncio.timeout(max(c.timeout for c in checks) + GRACE_SECONDS):
            if probe.sweep is not None:
                return await probe.sweep(stamped)
            return [await probe.run(stamped[0])]
    except TimeoutError:
        return [c.fail("timeout", f"no answer within {c.timeout:g}s", started) for c in checks]
    except asyncio.CancelledError:
        raise
    except PrivilegeError as exc:  # nothing was measured: "cannot measure", with the fix, never "down"
        return [c.fail("no_permission", str(exc), started) for c in checks]
    except Exception as exc:  # a probe bug must cost its results, not the scheduler
        _CRASHES.report(checks[0], exc)
        return [c.fail("probe_error", f"{type(exc).__name__}: {exc}", started) for c in checks]
