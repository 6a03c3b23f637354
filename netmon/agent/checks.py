"""An agent's checks: the same inventory, seen from inside its center.

The data center's own checks are the service-level view (the document system, meetings, the portal,
the signature service, DNS and the core canary): the agent runs each of them from the center. Added to
them: an echo to the site's hub, and the site's SNMP devices (its CPE and UPS), polled over the LAN
even when the WAN link is cut. Every agent check gets the id ``agent-<id>`` and the link ``agent``: its
series and history rows sit beside the center's own view of the same site, never mixed with them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from netmon import i18n
from probes import base
from probes.base import Check
from probes.errors import NetmonError

if TYPE_CHECKING:
    from netmon.inventory import Inventory

#: The ``link`` of every agent result: the vantage point, so the history tracks it as its own subject.
AGENT_LINK = "agent"
PREFIX = "agent-"


_UNKNOWN = {"site": ("site {site!r} is not in {file} (e.g. {known}, ...)",
                     "không có điểm {site!r} trong {file} (ví dụ {known}, ...)")}


class UnknownSite(NetmonError):
    def __init__(self, site: str, inventory: Inventory):
        known = ", ".join(s.slug for s in inventory.spec.sites[:5])
        super().__init__(i18n.text(_UNKNOWN, "site", i18n.lang(), site=site, file=inventory.file,
                                   known=known))


def inside_out(inventory: Inventory, site: str) -> list[Check]:
    """The checks an agent at ``site`` runs, derived from the inventory alone."""
    spec = next((s for s in inventory.spec.sites if s.slug == site), None)
    if spec is None:
        raise UnknownSite(site, inventory)
    datacenter = inventory.spec.datacenter.slug
    mine = [c for c in inventory.checks if c.site == datacenter]
    mine += [c for c in inventory.checks if c.site == site and c.probe == "snmp"]
    hub = next(h for h in inventory.spec.hubs if h.id == spec.upstream)
    canary = next((c for c in mine if c.probe == "icmp"), None)
    if canary is not None:
        mine.append(dataclasses.replace(canary, id="hub", target=hub.address))
    return [dataclasses.replace(c, site=site, id=PREFIX + c.id, link=AGENT_LINK) for c in mine]


def histograms(inventory: Inventory, site: str, checks: Iterable[Check]) -> frozenset[str]:
    """Keys of the agent's checks whose observations (each echo's RTT) are counted as histograms: a
    check's own ``rtt_histogram`` decides, else its center's primary link type is looked up in
    ``defaults.rtt_histogram`` — the agent's echoes cross that link."""
    spec = next(s for s in inventory.spec.sites if s.slug == site)
    by_type = spec.primary.type in inventory.spec.defaults.rtt_histogram
    out = set()
    for check in checks:
        if not any(m.kind is base.Kind.OBSERVATION for m in base.get(check.probe).metrics):
            continue
        choice = check.options.histogram()
        if by_type if choice is None else choice:
            out.add(check.key)
    return frozenset(out)
