"""The path from the data center to a site (data center → hub → CPE), traced and named.

When a link fails, "timeout" alone does not tell a technician whom to call. A traceroute from the
prober, with each hop named after the inventory host it belongs to, shows where the path stops: at
the hub (the site's last mile, radio or CPE) or before it (the hub or the backbone). The trace is the
registered ``trace`` probe, run through `run_check` like every other check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from netmon.inventory.model import InventoryFile, Site
from netmon.runner import run_check
from probes import base

#: Hops beyond the inventory's path worth waiting for (routers between the data center and a hub).
EXTRA_HOPS = 4


@dataclass(frozen=True, slots=True)
class Hop:
    ttl: int
    address: str | None
    rtt: float | None
    loss: float
    #: Inventory name of the host at ``address`` (e.g. "Trạm tập trung VNPT Mai Sơn"), else None.
    name: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class PathView:
    """A traced path to ``target`` over ``link``: the hops seen and where it stopped."""

    link: str
    target: str
    hops: tuple[Hop, ...]
    reached: bool
    error: str | None = None
    expected: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def last(self) -> Hop | None:
        """The last hop that answered."""
        return next((h for h in reversed(self.hops) if h.address and h.loss < 1.0), None)

    @property
    def stops_at(self) -> str | None:
        """Name (or address) of the last answering hop when the target was not reached."""
        if self.reached or self.last is None:
            return None
        return self.last.name or self.last.address


def directory(spec: InventoryFile) -> dict[str, tuple[str, str]]:
    """Address → (role, display name) for every host the inventory names."""
    names: dict[str, tuple[str, str]] = {spec.datacenter.address: ("datacenter", spec.datacenter.name)}
    # The data center's own ICMP targets (the canary) are its gateway: the first hop of every trace.
    for check in spec.datacenter.checks:
        if check.probe == "icmp" and check.target:
            names.setdefault(check.target, ("datacenter", f"{spec.datacenter.name} (gateway)"))
    for svc in spec.services:
        host = urlsplit(svc.url).hostname
        if host:
            names.setdefault(host, ("service", svc.name))
    for hub in spec.hubs:
        names[hub.address] = ("hub", hub.name)
    for site in spec.sites:
        for link in site.links:
            names[link.cpe] = ("cpe", f"CPE {site.name} ({link.id})")
    return names


def expected(spec: InventoryFile, site: Site, link_id: str) -> tuple[tuple[str, str, str], ...]:
    """The path the inventory says a link takes: (role, name, address) from data center to CPE."""
    link = next(lk for lk in site.links if lk.id == link_id)
    hub = next((h for h in spec.hubs if h.id == (link.upstream or site.upstream)), None)
    path = [("datacenter", spec.datacenter.name, spec.datacenter.address)]
    if hub is not None:
        path.append(("hub", hub.name, hub.address))
    path.append(("cpe", f"CPE {site.name} ({link.id})", link.cpe))
    return tuple(path)


def available() -> bool:
    return "trace" in base.registry()


def trace_check(target: str, link: str = "", site: str = "adhoc", max_hops: int | None = None,
                count: int | None = None) -> base.Check:
    """A check for the registered trace probe, with a deadline that covers every TTL timing out."""
    probe = base.get("trace")
    settings = {k: v for k, v in (("max_hops", max_hops), ("count", count)) if v is not None}
    options = base.options(probe.options, settings)
    return base.Check(site=site, id="trace", probe="trace", target=target, options=options,
                      timeout=options.minimum_timeout() + 2.0, link=link)


def view(result: base.Result, names: Mapping[str, tuple[str, str]],
         expected_path: Sequence[tuple[str, str, str]] = ()) -> PathView:
    """The trace ``result`` as a path with inventory names on its hops."""
    hops = _until_repeat(tuple(_hop(h, names.get) for h in result.details.get("hops", ())))
    address = str(result.details.get("address") or result.target)
    reached = result.success or (bool(hops) and hops[-1].address == address and hops[-1].loss < 1.0)
    return PathView(result.link, result.target, hops, reached, None if result.success else result.error,
                    tuple(expected_path))


async def trace(target: str, names: Mapping[str, tuple[str, str]], link: str,
                expected_path: Sequence[tuple[str, str, str]], site: str) -> PathView:
    """Trace a site's link: a dead link leaves every TTL past the break unanswered, each costing a
    packet timeout, so the trace goes only a few hops past the inventory's path, one echo per TTL.
    """
    check = trace_check(target, link, site, max_hops=len(expected_path) + EXTRA_HOPS, count=1)
    return view(await run_check(check), names, expected_path)


def _until_repeat(hops: tuple[Hop, ...]) -> tuple[Hop, ...]:
    """``hops`` up to the first address seen before: past it the path loops (hub → gateway → hub)
    or one router keeps answering "unreachable" for every TTL — no new hop, only noise.
    """
    seen: set[str] = set()
    for i, hop in enumerate(hops):
        if hop.address in seen:
            return hops[:i]
        if hop.address:
            seen.add(hop.address)
    return hops


def _hop(raw: Mapping[str, object], lookup: Callable[[str], tuple[str, str] | None]) -> Hop:
    address = raw.get("address")
    address = str(address) if address else None
    known = lookup(address) if address else None
    rtt = raw.get("rtt_avg_seconds")
    loss = raw.get("loss_ratio")
    return Hop(
        ttl=int(raw.get("ttl", 0)),  # type: ignore[call-overload]
        address=address,
        rtt=float(rtt) if isinstance(rtt, int | float) else None,
        loss=float(loss) if isinstance(loss, int | float) else (0.0 if address else 1.0),
        name=known[1] if known else None,
        role=known[0] if known else None,
    )
