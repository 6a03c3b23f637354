"""Warns when the inventory still holds the shipped placeholder addresses and nothing answers there.

The shipped inventory uses 198.18.0.0/15 (the benchmarking range) for every address; only the
simulated province (`netmon lab up`) routes it. Monitoring placeholders by mistake would show 75
sites "down" — so `netmon run` says so at start-up instead.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
from collections.abc import Iterable
from urllib.parse import urlsplit

from probes.base import Check

log = logging.getLogger("netmon.placeholders")

LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")


def placeholder_targets(checks: Iterable[Check]) -> list[str]:
    """Check targets that are addresses (or URL hosts) inside the placeholder range."""
    found = []
    for check in checks:
        host = urlsplit(check.target).hostname if "://" in check.target else check.target
        try:
            if ipaddress.ip_address(host or "") in LAB_RANGE:
                found.append(check.target)
        except ValueError:
            continue
    return found


def routed(address: str) -> bool:
    """True when the kernel has a real route to ``address`` (not the lab's safety blackhole)."""
    ip = shutil.which("ip")
    if ip is None:
        return True  # cannot tell; do not warn on a guess
    out = subprocess.run([ip, "-o", "route", "get", address], capture_output=True, text=True)
    return out.returncode == 0 and "blackhole" not in out.stdout and "unreachable" not in out.stdout


def warn_if_unrouted(checks: Iterable[Check]) -> None:
    targets = placeholder_targets(checks)
    if not targets:
        return
    host = urlsplit(targets[0]).hostname if "://" in targets[0] else targets[0]
    if not routed(host or ""):
        log.warning(
            "%d checks target placeholder addresses in 198.18.0.0/15 and no simulated province is up: "
            "replace them with real addresses in the inventory, or start `netmon lab up` (or `netmon demo`)",
            len(targets),
        )
