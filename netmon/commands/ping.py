"""`netmon ping TARGET`: an ICMP burst to any address, or to a site or hub named as `netmon probe` takes
it, judged like a site's link check."""

from __future__ import annotations

import argparse
import ipaddress

from netmon import i18n
from netmon.diagnose import command, lookup, path, plan
from netmon.inventory import Inventory
from netmon.inventory.model import LINK_TYPES, Thresholds
from probes import base
from probes.errors import NetmonError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ping", help="ICMP burst to any target with the probe table and verdict",
        description="TARGET is an address, a host name with its domain, or a site (slug, Vietnamese "
                    "name with or without diacritics, admin code: its primary link's CPE) or hub of the "
                    "inventory. Thresholds: those of --link-type, else of the inventory link whose CPE is "
                    "TARGET, else any loss is degraded. Exit: 0 ok, 1 degraded, 2 down, 3 usage error.")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--link-type", choices=LINK_TYPES, default=None, help="judge against this link type")
    command.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        inventory = command.load_inventory(args.config, required=False)
    except command.ConfigError as exc:
        return command.config_failed(args.config, exc)
    target = address(inventory, args.target)
    probe = base.get("icmp")
    check = base.Check(site="adhoc", id="ping", probe="icmp", target=target,
                       options=base.options(probe.options, {}))
    check = plan.with_count(check, args.count or getattr(check.options, "count", None))
    row = plan.Row("adhoc", check, limits(inventory, target, args.link_type))
    names = path.directory(inventory.spec) if inventory else {}
    known = names.get(target)
    title = f"netmon ping {args.target}" + (f" ({target})" if target != args.target else "") + (
        f" — {known[1]}" if known else "")
    spec = inventory.spec if inventory else None
    return command.execute(args, plan.Plan(None, (row,)), spec, title, "ping")


class NotAHost(NetmonError):
    """TARGET is neither an address or a host name nor a place of the inventory; usage error, exit 3."""

    exit_code = lookup.USAGE_EXIT


_TEXT = {
    "not_a_host": ("{unknown}\nTARGET is an address, a host name with its domain, or a site or hub of the "
                   "inventory; `netmon probe SITE` runs every check of a site",
                   "{unknown}\nTARGET là địa chỉ IP, tên máy có tên miền, hoặc một điểm hay trạm trong danh "
                   "mục; `netmon probe SITE` chạy mọi kiểm tra của một điểm"),
}


def address(inventory: Inventory | None, target: str) -> str:
    """What to ping for ``target``: an address as is; a site of the inventory, found as `netmon probe` finds
    it (`lookup.find`), by its primary link's CPE; a hub by its address; any other name with a dot
    (or ``localhost``) as a host name to resolve.

    A technician types the site's slug: a bare word that names no place is an error suggesting the
    closest ones, never a DNS query for a name that cannot be a host of ours."""
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        pass
    if inventory is None:
        return target
    try:
        place = lookup.find(inventory.spec, target)
    except lookup.UnknownPlace as exc:
        if "." in target or target == "localhost":
            return target
        raise NotAHost(i18n.text(_TEXT, "not_a_host", i18n.lang(), unknown=exc)) from None
    if place.hub is not None:
        return place.hub.address
    assert place.site is not None
    return next(link.cpe for link in place.site.links if link.role == "primary")


def limits(inventory: Inventory | None, target: str, link_type: str | None) -> Thresholds | None:
    """The thresholds to judge ``target`` by, or None when nothing says what is normal for it."""
    if inventory is None:
        return None
    types = inventory.spec.defaults.link_types
    if link_type is not None:
        return types.get(link_type)  # type: ignore[call-overload]
    for site in inventory.spec.sites:
        for link in site.links:
            if link.cpe == target:
                return types.get(link.type)
    return None
