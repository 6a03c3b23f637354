"""The one place that derives, from an `Inventory`, the plain facts the sinks publish.

Sites' and links' static labels (``netmon_site_info``, ``netmon_link_info``), the link types' limits
(``netmon_link_threshold``), the checks that export histograms,
and the topology the history needs (hubs behind each site or link, maintenance windows expanded by
`netmon.inventory.maintenance`, each check's interval). Exporters never see the inventory model; the
service calls `derive` on every installed inventory and hands the result to every sink.
"""

from __future__ import annotations

from collections.abc import Collection

from exporters.history_outages import Topology
from exporters.sink import InventoryFacts
from netmon.inventory import Inventory, maintenance
from netmon.inventory.model import SECURE_CHECK, Link


def derive(inventory: Inventory, now: float, owned: Collection[str] | None = None,
           publish_sites: bool = True) -> InventoryFacts:
    """The facts of ``inventory`` for a process running the checks ``owned`` (None: all of them).

    ``publish_sites`` is false on every shard but the first: one ``netmon_site_info``,
    ``netmon_link_info`` and ``netmon_link_threshold`` series each across the shards keeps joins one-to-one.
    """
    keys = frozenset(c.key for c in inventory.checks) if owned is None else frozenset(owned)
    return InventoryFacts(
        owned=keys, sites=tuple(site_labels(inventory)) if publish_sites else (),
        thresholds=link_thresholds(inventory) if publish_sites else {},
        links=tuple(link_labels(inventory)) if publish_sites else (), histograms=inventory.histograms & keys,
        topology=inventory_topology(inventory, now), inventory=inventory)


def site_labels(inventory: Inventory) -> list[dict[str, str]]:
    """``netmon_site_info`` label sets: sites, hubs and the data center."""
    return [
        {
            "site": n.slug, "name": n.name, "kind": n.kind, "district": n.district,
            "link_type": n.link_type, "isp": n.isp, "upstream": n.upstream,
            "lat": "" if n.lat is None else f"{n.lat:.4f}", "lon": "" if n.lon is None else f"{n.lon:.4f}",
        }
        for n in inventory.nodes
    ]


def link_labels(inventory: Inventory) -> list[dict[str, str]]:
    """``netmon_link_info`` label sets: every site's links, with the type their limits come from."""
    return [{"site": s.slug, "link": lk.id, "link_type": lk.type, "isp": lk.isp, "role": lk.role}
            for s in inventory.sites for lk in s.links]


def link_thresholds(inventory: Inventory) -> dict[str, dict[str, float]]:
    """Link type → its limits, for the types the inventory's links use."""
    used = {lk.type for s in inventory.sites for lk in s.links}
    return {lt: {k: float(v) for k, v in limits.model_dump().items()}
            for lt, limits in inventory.spec.defaults.link_types.items() if lt in used}


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
    return Topology(upstream=upstream, maintenance=maintenance.windows(inventory, *horizon),
                    intervals={c.key: c.interval for c in inventory.checks},
                    secure={f"{s.slug}/{SECURE_CHECK}": _primary(s.links) for s in inventory.sites
                            if s.secure_channel})


def _primary(links: list[Link]) -> str:
    """The link a site's secure channel rides (`SecureChannel`: its primary)."""
    return next((lk.id for lk in links if lk.role == "primary"), links[0].id)
