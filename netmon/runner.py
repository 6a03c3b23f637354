"""Runs one check once: the single entry point shared by the scheduler and the CLI.

The runner, not the probe, owns the overall deadline and turns a probe's bug into a failed `Result`,
so one misbehaving check can never stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time

from probes import base
from probes.errors import PrivilegeError

log = logging.getLogger("netmon.runner")

#: Probes bound their own work by ``check.timeout`` and report what they measured before giving up
#: (an HTTP timeout still carries its DNS and connect phases). The runner's deadline is a backstop a
#: little later, for a probe that fails to honour its timeout.
GRACE_SECONDS = 0.25


async def run_check(check: base.Check) -> base.Result:
    """Run ``check`` within its timeout (plus a small grace); always returns a `Result`, never raises."""
    started = time.time()
    probe = base.get(check.probe)
    try:
        async with asyncio.timeout(check.timeout + GRACE_SECONDS):
            return await probe.run(check)
    except TimeoutError:
        return check.fail("timeout", f"no answer within {check.timeout:g}s", started)
    except asyncio.CancelledError:
        raise
    except PrivilegeError as exc:  # nothing was measured: "cannot measure", with the fix, never "down"
        return check.fail("no_permission", str(exc), started)
    except Exception as exc:  # a probe bug must cost one result, not the scheduler
        log.exception("probe %s crashed on %s", check.probe, check.key)
        return check.fail("probe_error", f"{type(exc).__name__}: {exc}", started)
