"""`netmon report`: availability, outages and link quality for planners, from the history store or
from Prometheus. `inventory_sites` and `inventory_topology` turn the inventory into the plain values
the layers below (`exporters.history`, the report maths) take.
"""

from __future__ import annotations

import os
from pathlib import Path

from exporters.history_outages import Topology
from netmon.inventory import Inventory, maintenance
from netmon.report.data import LinkInfo, SiteInfo


def inventory_sites(inventory: Inventory) -> list[SiteInfo]:
    return [
        SiteInfo(
            s.slug,
            s.name,
            s.kind,
            s.district,
            s.upstream,
            s.location.lat,
            s.location.lon,
            tuple(LinkInfo(lk.id, lk.type, lk.isp, lk.since, lk.role) for lk in s.links),
        )
        for s in inventory.sites
    ]


def inventory_topology(inventory: Inventory, now: float) -> Topology:
    """Hubs behind each site/link, the sites' and hubs' maintenance windows expanded by
    `netmon.inventory.maintenance` over its horizon around ``now``, and each check's interval."""
    upstream: dict[str, str] = {}
    for s in inventory.sites:
        upstream[s.slug] = s.upstream
        for lk in s.links:
            if lk.upstream:
                upstream[f"{s.slug}/{lk.id}"] = lk.upstream
    horizon = (now - maintenance.HORIZON_PAST, now + maintenance.HORIZON_AHEAD)
    return Topology(
        upstream=upstream,
        maintenance=maintenance.windows(inventory, *horizon),
        intervals={c.key: c.interval for c in inventory.checks},
    )


#: Where `netmon run` keeps the history store and `netmon report` reads it: ``$NETMON_DATA_DIR/history.db``,
#: else ``./var/netmon/history.db`` (relative to the working directory, like the default config).
DEFAULT_HISTORY = str(Path(os.environ.get("NETMON_DATA_DIR", "var/netmon")) / "history.db")
