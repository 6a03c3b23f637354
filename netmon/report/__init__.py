"""`netmon report`: availability, outages and link quality for planners, from the history store or
from Prometheus. `inventory_sites` and `inventory_topology` turn the inventory into the plain values
the layers below (`exporters.history`, the report maths) take.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporters.history_outages import Topology, Window
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


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def inventory_topology(inventory: Inventory) -> Topology:
    """Hubs behind each site/link, and maintenance windows if the inventory has a ``maintenance:``
    list (entries with ``site`` or ``hub``, ``start``, ``end``, optional ``reason``); without one,
    none."""
    upstream: dict[str, str] = {}
    for s in inventory.sites:
        upstream[s.slug] = s.upstream
        for lk in s.links:
            if lk.upstream:
                upstream[f"{s.slug}/{lk.id}"] = lk.upstream
    windows = []
    for w in getattr(inventory.spec, "maintenance", None) or ():

        def get(key: str, w: Any = w) -> Any:
            return w.get(key) if isinstance(w, dict) else getattr(w, key, None)

        owner = str(get("site") or get("hub") or "")
        windows.append(
            Window(owner, _timestamp(get("start")), _timestamp(get("end")), str(get("reason") or ""))
        )
    return Topology(upstream=upstream, maintenance=tuple(windows))


#: Where `netmon run` keeps the history store and `netmon report` reads it: ``$NETMON_DATA_DIR/history.db``,
#: else ``./var/netmon/history.db`` (relative to the working directory, like the default config).
DEFAULT_HISTORY = str(Path(os.environ.get("NETMON_DATA_DIR", "var/netmon")) / "history.db")
