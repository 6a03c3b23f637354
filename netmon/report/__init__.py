"""`netmon report`: availability, outages and link quality for planners, from the history store or
from Prometheus. `inventory_sites` turns the inventory into the plain values the report maths take; the
topology comes from `netmon.facts`, the one place inventory facts are derived.
"""

from __future__ import annotations

import os
from pathlib import Path

from netmon.inventory import Inventory
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


#: Where `netmon run` keeps the history store and `netmon report` reads it: ``$NETMON_DATA_DIR/history.db``,
#: else ``./var/netmon/history.db`` (relative to the working directory, like the default config).
DEFAULT_HISTORY = str(Path(os.environ.get("NETMON_DATA_DIR", "var/netmon")) / "history.db")
