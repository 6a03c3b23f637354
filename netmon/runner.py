"""Runs one check once: the single entry point shared by the scheduler and the CLI.

The runner, not the probe, owns the overall deadline and turns a probe's bug into a failed `Result`,
so one misbehaving check can never stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time

from probes import base

log = logging.getLogger("netmon.runner")


async def run_check(check: base.Check) -> base.Result:
    """Run ``check`` within ``check.timeout``; always returns a `Result`, never raises."""
    started = time.time()
    probe = base.get(check.probe)
    try:
        async with asyncio.timeout(check.timeout):
            return await probe.run(check)
    except TimeoutError:
        return check.fail("timeout", f"no answer within {check.timeout:g}s", started)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe bug must cost one result, not the scheduler
        log.exception("probe %s crashed on %s", check.probe, check.key)
        return check.fail("probe_error", f"{type(exc).__name__}: {exc}", started)
