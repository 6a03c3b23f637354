"""Runs one check once: the single entry point shared by the scheduler and the CLI.

The runner, not the probe, owns the overall deadline and turns a probe's bug into a failed `Result`,
so one misbehaving check can never stop the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

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
    started = time.time()
    probe = base.get(check.probe)
    deadline = time.monotonic() + check.timeout
    try:
        async with asyncio.timeout(check.timeout + GRACE_SECONDS):
            return await probe.run(dataclasses.replace(check, deadline=deadline))
    except TimeoutError:
        return check.fail("timeout", f"no answer within {check.timeout:g}s", started)
    except asyncio.CancelledError:
        raise
    except PrivilegeError as exc:  # nothing was measured: "cannot measure", with the fix, never "down"
        return check.fail("no_permission", str(exc), started)
    except Exception as exc:  # a probe bug must cost one result, not the scheduler
        _CRASHES.report(check, exc)
        return check.fail("probe_error", f"{type(exc).__name__}: {exc}", started)
