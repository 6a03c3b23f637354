"""A small province for the alerting tests: two hubs, five centers, all on loopback addresses.

Every node is probed with a TCP check against ``<its 127.x address>:<port>``, so a test cuts a
"link" by closing the listener on that address and restores it by listening again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATACENTER = "trung-tam-du-lieu"


@dataclass(frozen=True)
class Node:
    slug: str
    name: str
    address: str
    upstream: str = ""
    link_type: str = "fiber"


HUBS = (Node("hub-a", "Trạm tập trung VNPT A", "127.0.1.1"), Node("hub-b", "Trạm tập trung VNPT B", "127.0.2.1"))
SITES = (
    Node("chieng-coi", "Chiềng Cơi", "127.0.1.11", "hub-a"),
    Node("ta-xua", "Tà Xùa", "127.0.1.12", "hub-a"),
    Node("muong-lan", "Mường Lạn", "127.0.1.13", "hub-a", "vsat"),
    Node("muong-bu", "Mường Bú", "127.0.2.11", "hub-b"),
    Node("ngoc-chien", "Ngọc Chiến", "127.0.2.12", "hub-b"),
)
CANARY = Node(DATACENTER, "Trung tâm Dữ liệu tỉnh Sơn La", "127.0.0.1")


def _limits(unreachable_after: str) -> dict[str, Any]:
    return {"rtt_degraded": "50ms", "rtt_down": "300ms", "loss_degraded": 0.02, "loss_down": 0.5,
            "jitter_degraded": "10ms", "unreachable_after": unreachable_after}


def spec(port: int, unreachable_after: str = "6s", vsat_unreachable_after: str = "10s",
         interval: str = "1s", maintenance: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The inventory as data; ``maintenance`` maps a site slug or hub id to its windows."""
    windows = maintenance or {}

    def check(node: Node) -> dict[str, Any]:
        return {"id": "cpe-tcp" if node.upstream else "tcp", "probe": "tcp", "port": port,
                **({"link": "primary"} if node.upstream else {"target": node.address})}

    return {
        "version": 1,
        "defaults": {"interval": interval, "timeout": "500ms",
                     "link_types": {"fiber": _limits(unreachable_after), "vsat": _limits(vsat_unreachable_after)}},
        "datacenter": {"slug": DATACENTER, "name": CANARY.name, "address": CANARY.address,
                       "location": {"lat": 21.3256, "lon": 103.9188},
                       "checks": [{"id": "canary-core", "probe": "tcp", "target": f"{CANARY.address}:{port}"}]},
        "hubs": [{"id": h.slug, "name": h.name, "district": f"Huyện {h.slug}", "address": h.address,
                  "checks": [check(h)], **({"maintenance": windows[h.slug]} if h.slug in windows else {})}
                 for h in HUBS],
        "sites": [{"slug": s.slug, "name": s.name, "kind": "commune", "admin_code": f"{i:05d}",
                   "district": "Huyện A", "location": {"lat": 21.3, "lon": 103.9}, "upstream": s.upstream,
                   "links": [{"id": "primary", "type": s.link_type, "isp": "VNPT", "since": "2020-01-01",
                              "cpe": s.address}],
                   "checks": [check(s)], **({"maintenance": windows[s.slug]} if s.slug in windows else {})}
                  for i, s in enumerate(SITES, start=4000)],
    }


def write(path: Path, port: int, **kwargs: Any) -> Path:
    path.write_text(yaml.safe_dump(spec(port, **kwargs), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
