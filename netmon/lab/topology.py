"""The simulated province's wiring, derived from the inventory: data center → hub → site, routed.

Namespaces: ``nml-dc`` (the data center side: VNPT core gateway, services, DNS, and the one place
every probe packet is forwarded through, so impairments live there), ``nml-<hub id>`` per hub and
``nml-<site slug>`` per site. netmon itself stays in the root namespace: a veth ``nml-dc`` holds the
prober address (the inventory's datacenter address, /24) and routes 198.18.0.0/16 and 198.19.0.0/16
into the lab, more specific than the 198.18.0.0/15 blackhole installed first.

Links are unnumbered point-to-point veths: each end carries only an inventory address as /32 (hub
198.18.H.1, CPE 198.19.H.N), with host routes across. No transit block is needed and a traceroute
shows exactly the inventory's hops. A site's replies leave over the link their source address belongs
to (one policy-routing table per link), so a backup CPE answers over the backup link.

In the site namespace a link's interface is named after the link (``primary``, ``backup``: the ifName
the site's SNMP agents report); devices with an address of their own (a UPS) hold it on the site
namespace's ``lo`` (this kernel has no dummy interfaces), reached over the primary link.

Secure channels (a site's ``secure_channel``): ``nml-sec`` is the data center's encryptor, a box on
its own port of ``nml-dc`` (198.18.240.1/32); each such site's encryptor is a WireGuard interface in
the site namespace holding the site's tunnel address. The tunnel's UDP rides the site's line through
``nml-dc``, so the line's impairments and cuts reach the channel too. `netmon.lab.tunnels` starts
them (userspace wireguard-go: this kernel has neither WireGuard nor ESP/AH transforms).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from netmon.inventory import Inventory
from netmon.lab import netns
from netmon.lab.netns import PREFIX, LabError

LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")
DC_NS = f"{PREFIX}dc"
ROOT_IF = f"{PREFIX}dc"
#: Routes the root namespace sends into the lab; both more specific than the /15 blackhole.
ROOT_ROUTES = ("198.18.0.0/16", "198.19.0.0/16")
SEC_NS = f"{PREFIX}sec"
#: The data center encryptor's address (its port on nml-dc) and the block of every tunnel address.
SEC_ADDRESS = "198.18.240.1"
TUNNEL_RANGE = "198.18.240.0/20"
#: Metric of a hub's fallback route to each of its CPEs, behind the link's own host route (metric 0).
UNREACHABLE_METRIC = 4096


@dataclass(frozen=True)
class HubPlan:
    id: str
    address: str
    ns: str
    dc_if: str  # in nml-dc, facing the hub


@dataclass(frozen=True)
class LinkPlan:
    site: str
    link: str
    role: str
    type: str
    cpe: str
    hub: HubPlan
    site_ns: str
    ifname: str  # the hub namespace's end
    table: int
    site_if: str = ""  # the site namespace's end, named after the link
    #: Device addresses of the site that are not a link's CPE (a UPS), reached over this link.
    lan: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.site}/{self.link}"

    @property
    def addresses(self) -> tuple[str, ...]:
        """Everything reached over this link: its CPE, then any device addresses behind it."""
        return (self.cpe, *self.lan)


@dataclass(frozen=True)
class TunnelPlan:
    """One site's encrypted tunnel to the data center: its encryptor's interface, address and line."""

    site: str
    address: str
    link: LinkPlan
    ifname: str  # unique machine-wide: wireguard-go's control socket is named after it
    table: int

    @property
    def site_ns(self) -> str:
        return self.link.site_ns


@dataclass(frozen=True)
class Plan:
    prober: str
    gateway: str
    #: Service id → (address, port, tls?) parsed from the inventory's URLs.
    services: dict[str, tuple[str, int, bool]]
    dns: tuple[str, ...]
    hubs: tuple[HubPlan, ...]
    links: tuple[LinkPlan, ...]
    sites: dict[str, str] = field(default_factory=dict)  # slug → namespace
    tunnels: tuple[TunnelPlan, ...] = ()

    @property
    def namespaces(self) -> list[str]:
        return [DC_NS, *(h.ns for h in self.hubs), *self.sites.values(), *([SEC_NS] if self.tunnels else [])]

    def tunnel(self, site: str) -> TunnelPlan | None:
        return next((t for t in self.tunnels if t.site == site), None)

    def hub(self, hub_id: str) -> HubPlan:
        return next(h for h in self.hubs if h.id == hub_id)

    def primary(self, site: str) -> LinkPlan:
        links = [lk for lk in self.links if lk.site == site]
        return next((lk for lk in links if lk.role == "primary"), links[0])

    def addresses(self) -> list[str]:
        return [self.prober, self.gateway, *(a for a, _, _ in self.services.values()), *self.dns,
                *(h.address for h in self.hubs), *(a for lk in self.links for a in lk.addresses),
                *(t.address for t in self.tunnels)]

    # -- link state: the far end goes down, so the near end keeps its address and sees NO-CARRIER --
    def hub_up_lines(self, hub: HubPlan) -> list[str]:
        return ["link set uplink up", f"route replace {self.gateway}/32 dev uplink",
                f"route replace default via {self.gateway} dev uplink"]

    def link_up_lines(self, link: LinkPlan) -> list[str]:
        return [f"link set {link.ifname} up",
                *(f"route replace {a}/32 dev {link.ifname}" for a in link.addresses)]


def in_lab(address: str) -> bool:
    """Whether the lab simulates ``address``; a device elsewhere (a test's loopback agent) is left alone."""
    return ipaddress.ip_address(address) in LAB_RANGE


def plan(inventory: Inventory) -> Plan:
    """Derive the lab's wiring from an inventory; refuses any address outside 198.18.0.0/15."""
    spec = inventory.spec
    prober = spec.datacenter.address
    gateway = str(next(ipaddress.ip_network(f"{prober}/24", strict=False).hosts()))
    services = {}
    for s in spec.services:
        url = urlsplit(s.url)
        tls = url.scheme == "https"
        services[s.id] = (url.hostname or "", url.port or (443 if tls else 80), tls)
    dns = tuple(sorted({c.target for c in inventory.checks if c.probe == "dns"}))
    hubs = tuple(HubPlan(h.id, h.address, f"{PREFIX}{h.id}", f"h{i}") for i, h in enumerate(spec.hubs))
    by_id = {h.id: h for h in hubs}
    links: list[LinkPlan] = []
    sites: dict[str, str] = {}
    for site in spec.sites:
        sites[site.slug] = f"{PREFIX}{site.slug}"
        lan = tuple(sorted({d.address for d in site.devices if d.address and in_lab(d.address)}
                           - {link.cpe for link in site.links}))
        primary = next((lk for lk in site.links if lk.role == "primary"), site.links[0])
        for link in site.links:
            n = len(links)
            site_if = link.id if len(link.id) <= 15 and link.id != "lo" else f"l{n}"
            links.append(LinkPlan(site.slug, link.id, link.role, link.type, link.cpe,
                                  by_id[link.upstream or site.upstream], sites[site.slug], f"l{n}", 100 + n,
                                  site_if, lan if link is primary else ()))
    tunnels: list[TunnelPlan] = []
    for site in spec.sites:
        if (channel := site.secure_channel) is not None:
            over = next(lk for lk in links if lk.site == site.slug and lk.role == "primary")
            n = len(tunnels)
            tunnels.append(TunnelPlan(site.slug, channel.address, over, f"{PREFIX}s{n}", 1000 + n))
    result = Plan(prober, gateway, services, dns, hubs, tuple(links), sites, tuple(tunnels))
    block = ipaddress.ip_network(TUNNEL_RANGE)
    strays = [t.address for t in tunnels if ipaddress.ip_address(t.address) not in block]
    if strays:
        raise LabError("tunnel_range", block=TUNNEL_RANGE, addresses=", ".join(strays[:5]))
    outside = [a for a in result.addresses() if a and ipaddress.ip_address(a) not in LAB_RANGE]
    if outside:
        raise LabError("outside", addresses=", ".join(outside[:5]))
    clash = {ns for ns in result.namespaces if result.namespaces.count(ns) > 1}
    if clash:
        raise LabError("collide", names=", ".join(sorted(clash)))
    return result


def build(p: Plan) -> None:
    """Create every namespace, veth, address and route (callers tear down on failure)."""
    root = [f"netns add {ns}" for ns in p.namespaces]
    root.append(f"link add name {ROOT_IF} type veth peer name root netns {DC_NS}")
    root += [f"link add name {h.dc_if} netns {DC_NS} type veth peer name uplink netns {h.ns}" for h in p.hubs]
    root += [f"link add name {lk.ifname} netns {lk.hub.ns} type veth "
             f"peer name {lk.site_if} netns {lk.site_ns}" for lk in p.links]
    netns.ip_batch(root)

    dc = ["link set lo up", f"addr add {p.gateway}/24 dev root", "link set root up"]
    dc += [f"addr add {a}/32 dev root" for a in sorted({*(a for a, _, _ in p.services.values()), *p.dns})]
    for h in p.hubs:
        dc += [f"link set {h.dc_if} up", f"route add {h.address}/32 dev {h.dc_if}"]
    dc += [f"route add {a}/32 via {lk.hub.address} dev {lk.hub.dc_if}"
           for lk in p.links for a in lk.addresses]
    netns.ip_batch(dc, DC_NS)

    for h in p.hubs:
        lines = ["link set lo up", f"addr add {h.address}/32 dev uplink", *p.hub_up_lines(h)]
        for lk in (lk for lk in p.links if lk.hub is h):
            # When the link is down its host route goes; without this fallback the hub would bounce
            # the packet to its default route (the gateway, which sends it back: a TTL-exceeded loop).
            # A real hub answers "host unreachable" for a CPE it cannot reach, so traces stop there.
            lines += [*p.link_up_lines(lk),
                      *(f"route add unreachable {a}/32 metric {UNREACHABLE_METRIC}" for a in lk.addresses)]
        netns.ip_batch(lines, h.ns)

    for slug, ns in p.sites.items():
        lines = ["link set lo up"]
        for lk in (lk for lk in p.links if lk.site == slug):
            lines += [f"addr add {lk.cpe}/32 dev {lk.site_if}", f"link set {lk.site_if} up",
                      f"route add {lk.hub.address}/32 dev {lk.site_if} table {lk.table}",
                      f"route add default via {lk.hub.address} dev {lk.site_if} table {lk.table}",
                      f"rule add from {lk.cpe} lookup {lk.table}"]
        primary = p.primary(slug)
        lines += [f"route add {primary.hub.address}/32 dev {primary.site_if}",
                  f"route add default via {primary.hub.address} dev {primary.site_if}"]
        lines += [f"addr add {a}/32 dev lo" for a in primary.lan]
        netns.ip_batch(lines, ns)

    if p.tunnels:
        netns.ip_batch([f"link add name sec netns {DC_NS} type veth peer name uplink netns {SEC_NS}"])
        netns.ip_batch(["link set sec up", f"route add {SEC_ADDRESS}/32 dev sec",
                        f"route add {TUNNEL_RANGE} via {SEC_ADDRESS} dev sec"], DC_NS)
        netns.ip_batch(["link set lo up", f"addr add {SEC_ADDRESS}/32 dev uplink", "link set uplink up",
                        f"route add {p.gateway}/32 dev uplink",
                        f"route add default via {p.gateway} dev uplink"], SEC_NS)
    for ns in (DC_NS, *(h.ns for h in p.hubs), *([SEC_NS] if p.tunnels else [])):
        netns.set_sysctl(ns, "net.ipv4.ip_forward", "1")
        # Linux sends at most one ICMP error a second per peer after a burst of 6: an ICMP burst to a
        # dead CPE would use them up and the trace after it would lose its hops at random.
        netns.set_sysctl(ns, "net.ipv4.icmp_ratelimit", "0")
    netns.ip_batch([f"addr add {p.prober}/24 dev {ROOT_IF}", f"link set {ROOT_IF} up",
                    *(f"route replace {r} via {p.gateway} dev {ROOT_IF}" for r in ROOT_ROUTES)])


def up(p: Plan) -> float:
    """Blackhole first, then the topology; on any failure everything is removed again. Returns seconds."""
    started = time.monotonic()
    netns.require_privileges()
    netns.ensure_blackhole()
    netns.remove_all()  # leftovers of a crashed run
    try:
        build(p)
    except BaseException:
        netns.remove_all()
        raise
    return time.monotonic() - started
