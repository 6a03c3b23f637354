"""Traceroute probe, for diagnosis: which hop on the way to a center stops answering.

It uses icmplib's ICMP traceroute, which needs a raw socket and blocks, so it runs in a worker thread.
Hops that never answered are not listed (icmplib leaves them out); the TTLs show the gaps.

A thread cannot be cancelled, so the bound is by construction: `TraceOptions.minimum_timeout` is the
worst case (every TTL's every echo timing out) and no trace runs with less (the loader rejects a
shorter timeout; `netmon trace` adds a margin). Only a blocking name lookup can outlast it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import icmplib
from pydantic import Field

from probes.base import Check, Duration, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.errors import PrivilegeError
from probes.wording import Lang, Wording, say

HOPS = "netmon_trace_hops"

METRICS = (MetricSpec(HOPS, Kind.GAUGE, "Number of hops to the target (TTL of the last answering hop)."),)

REASONS: dict[str, Wording] = {
    "unreachable": ("target not reached", "không tới được đích"),
}
_HOPS: Wording = ("{n} hops", "{n} bước")
#: An echo and its answer (or time-exceeded error), IPv4: 2 × (28 bytes of headers + 56 of payload).
ECHO_BYTES = 2 * 84


class TraceOptions(ProbeOptions):
    """``count`` echoes per TTL, TTL 1..``max_hops``, each echo waited for ``packet_timeout`` s."""

    max_hops: int = Field(default=20, ge=1, le=64)
    count: int = Field(default=2, ge=1, le=10)
    packet_timeout: Duration = Field(default=1.0, gt=0, le=10)

    def minimum_timeout(self) -> float:
        """Every TTL's every echo timing out: the longest a trace to a dead end can take."""
        return self.max_hops * self.count * self.packet_timeout


def _hop(hop: icmplib.Hop) -> dict[str, Any]:
    return {
        "ttl": hop.distance,
        "address": hop.address,
        "rtt_avg_seconds": hop.avg_rtt / 1000,  # icmplib speaks milliseconds
        "loss_ratio": hop.packet_loss,
    }


def _trace(target: str, opts: TraceOptions) -> tuple[str, list[icmplib.Hop]]:
    """Resolve once, then trace (blocking; runs in a worker thread)."""
    address = str(icmplib.resolve(target)[0]) if icmplib.is_hostname(target) else target
    hops = icmplib.traceroute(address, count=opts.count, interval=0.0, timeout=opts.packet_timeout,
                              max_hops=opts.max_hops, fast=True)
    return address, hops


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
        address, hops = await asyncio.to_thread(_trace, check.target, opts)
    except icmplib.SocketPermissionError as exc:
        raise PrivilegeError(
            f"traceroute needs a raw ICMP socket ({exc}): run as root or grant the capability with "
            "`setcap cap_net_raw+ep $(readlink -f $(which python3))`."
        ) from exc
    except icmplib.NameLookupError as exc:
        return check.fail("dns", f"cannot resolve {check.target!r}: {exc}", started)
    listed = [_hop(h) for h in hops]
    found = [Measurement(HOPS, hops[-1].distance if hops else 0)]
    if not hops or hops[-1].address != address:
        last = (f"last answer from {hops[-1].address} at TTL {hops[-1].distance}" if hops
                else "no hop answered")
        return check.fail("unreachable", f"{address} not reached within {opts.max_hops} hops ({last})",
                          started, found, address=address, hops=listed)
    return check.ok(started, found, address=address, hops=listed)
