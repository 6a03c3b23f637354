"""The trace probe's worker process: resolve and traceroute one target, print the outcome as JSON.

icmplib's traceroute (and the name lookup before it) blocks; in a thread it could outlive a cancelled
or overdue run. In a process it can be killed, so `probes.trace` runs it here and kills it at the
check's deadline. This module imports only icmplib and `probes.noroute`, not the probe framework: a fresh
interpreter starts it in 0.06 s where importing `probes.trace` (pydantic) takes 0.16 s (idle machine).

Usage: ``python -m probes.trace_worker TARGET COUNT PACKET_TIMEOUT MAX_HOPS SECONDS``. The worker also
ends itself after SECONDS (SIGALRM), should its parent die before it could kill it.
"""

from __future__ import annotations

import json
import math
import signal
import socket
import sys
from typing import Any

import icmplib

from probes.noroute import NO_ROUTE, explain


def _hop(hop: icmplib.Hop) -> dict[str, Any]:
    return {
        "ttl": hop.distance,
        "address": hop.address,
        "rtt_avg_seconds": hop.avg_rtt / 1000,  # icmplib speaks milliseconds
        "loss_ratio": hop.packet_loss,
    }


def refused(address: str) -> str | None:
    """Why this machine will not send to ``address`` at all (a blackhole route, say), or None.

    icmplib's traceroute swallows that error on every send and reports no hop at all, which reads as
    silence on the path; connecting a UDP socket makes the same route lookup without sending a packet.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address, 33434))
        except OSError as exc:
            return explain(exc) if exc.errno in NO_ROUTE else None
    return None


def trace(target: str, count: int, packet_timeout: float, max_hops: int) -> dict[str, Any]:
    """Resolve once, then trace. Failures the parent words itself come back as ``error`` and
    ``message``: ``dns`` (name not resolved), ``permission`` (no raw socket) and ``no_route`` (this
    machine refuses to send there; with ``address``)."""
    try:
        address = str(icmplib.resolve(target)[0]) if icmplib.is_hostname(target) else target
        if (why := refused(address)) is not None:
            return {"error": "no_route", "message": why, "address": address}
        hops = icmplib.traceroute(address, count=count, interval=0.0, timeout=packet_timeout,
                                  max_hops=max_hops, fast=True)
    except icmplib.NameLookupError as exc:
        return {"error": "dns", "message": str(exc)}
    except icmplib.SocketPermissionError as exc:
        return {"error": "permission", "message": str(exc)}
    return {"address": address, "hops": [_hop(h) for h in hops]}


def main(argv: list[str]) -> None:
    target, count, packet_timeout, max_hops, seconds = argv
    signal.alarm(max(1, math.ceil(float(seconds))))
    json.dump(trace(target, int(count), float(packet_timeout), int(max_hops)), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
