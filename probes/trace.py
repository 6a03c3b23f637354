"""Traceroute probe, for diagnosis: which hop on the way to a center stops answering.

It uses icmplib's ICMP traceroute, which needs a raw socket and blocks (its name lookup too). It runs
in a worker process (`probes.trace_worker`), killed at the check's deadline whatever it is doing, so
a trace never outlives its run; a thread could not be stopped. The loader still insists on a timeout
covering the worst case (`TraceOptions.minimum_timeout`), so a trace to a dead end reports its hops
rather than being killed. Hops that never answered are not listed (icmplib leaves them out); the TTLs
show the gaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import time
from typing import Annotated, Any

from probes.base import Check, Duration, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.errors import PrivilegeError
from probes.schema import Rules
from probes.wording import Lang, Wording, say

HOPS = "netmon_trace_hops"

METRICS = (MetricSpec(HOPS, Kind.GAUGE, "Number of hops to the target (TTL of the last answering hop)."),)

REASONS: dict[str, Wording] = {
    "unreachable": ("target not reached", "không tới được đích"),
}
_HOPS: Wording = ("{n} hops", "{n} bước")
#: Starting the worker: a fresh interpreter importing icmplib took 0.06 s on an idle machine and
#: 0.46-0.70 s at load average 16 on 2 cores (0.1 s of CPU); 0.5 s was too little there.
WORKER_START_SECONDS = 1.0
#: An echo and its answer (or time-exceeded error), IPv4: 2 × (28 bytes of headers + 56 of payload).
ECHO_BYTES = 2 * 84


@dataclasses.dataclass(frozen=True, slots=True)
class TraceOptions(ProbeOptions):
    """``count`` echoes per TTL, TTL 1..``max_hops``, each echo waited for ``packet_timeout`` s."""

    max_hops: Annotated[int, Rules(ge=1, le=64)] = 20
    count: Annotated[int, Rules(ge=1, le=10)] = 2
    packet_timeout: Annotated[Duration, Rules(gt=0, le=10)] = 1.0

    def minimum_timeout(self) -> float:
        """Every TTL's every echo timing out, plus starting the worker: the longest a trace to a dead
        end can take."""
        return WORKER_START_SECONDS + self.max_hops * self.count * self.packet_timeout


async def _in_worker(check: Check, opts: TraceOptions) -> dict[str, Any]:
    """`probes.trace_worker`'s outcome for ``check``; killed (and TimeoutError) at its deadline, also
    killed when this run is cancelled."""
    seconds = check.remaining()
    deadline = asyncio.get_running_loop().time() + seconds
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probes.trace_worker", check.target, str(opts.count), repr(opts.packet_timeout),
        str(opts.max_hops), repr(seconds),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        async with asyncio.timeout_at(deadline):
            out, err = await worker.communicate()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    if worker.returncode != 0:
        stderr = err.decode(errors="replace")[-500:]
        raise RuntimeError(f"trace worker exited with {worker.returncode}: {stderr}")
    outcome: dict[str, Any] = json.loads(out)
    return outcome


def summary(result: Result, lang: Lang) -> str | None:
    return say(_HOPS, lang, n=len(result.details.get("hops", ()))) if result.success else None


def run_bytes(check: Check) -> int:
    """Every TTL's every echo: the worst case, a trace to a dead end."""
    assert isinstance(check.options, TraceOptions)
    return check.options.max_hops * check.options.count * ECHO_BYTES


@register("trace", TraceOptions, METRICS, reasons=REASONS, summary=summary, run_bytes=run_bytes)
async def run(check: Check) -> Result:
    """Trace the route to the target; success when the target itself answered.

    A send that fails locally (no route) ends that TTL's attempts inside icmplib, so an unroutable
    target yields no hops rather than an exception.
    """
    assert isinstance(check.options, TraceOptions)
    opts = check.options
    started = time.time()
    try:
        outcome = await _in_worker(check, opts)
    except TimeoutError:
        return check.fail("timeout", f"trace not finished within {check.timeout:g}s (worker stopped)",
                          started)
    if outcome.get("error") == "permission":
        raise PrivilegeError(
            f"traceroute needs a raw ICMP socket ({outcome['message']}): run as root or grant the capability "
            "with `setcap cap_net_raw+ep $(readlink -f $(which python3))`."
        )
    if outcome.get("error") == "dns":
        return check.fail("dns", f"cannot resolve {check.target!r}: {outcome['message']}", started)
    address: str = outcome["address"]
    if outcome.get("error") == "no_route":
        return check.fail("unreachable", f"{address} not reached: no route: {outcome['message']}", started,
                          [Measurement(HOPS, 0)], address=address, hops=[])
    hops: list[dict[str, Any]] = outcome["hops"]
    found = [Measurement(HOPS, hops[-1]["ttl"] if hops else 0)]
    if not hops or hops[-1]["address"] != address:
        last = (f"last answer from {hops[-1]['address']} at TTL {hops[-1]['ttl']}" if hops
                else "no hop answered")
        return check.fail("unreachable", f"{address} not reached within {opts.max_hops} hops ({last})",
                          started, found, address=address, hops=hops)
    return check.ok(started, found, address=address, hops=hops)
