"""`netmon ping TARGET`: an ICMP burst to any address, or to a site or hub named as `netmon probe` takes
it, judged like a site's link check."""

from __future__ import annotations

import argparse

from netmon.diagnose import command, lookup, plan
from netmon.inventory import Inventory
from netmon.inventory.model import LINK_TYPES, Thresholds
from probes import base


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
    spec = inventory.spec if inventory else None
    target = lookup.address(spec, args.target)
    probe = base.get("icmp")
    check = base.Check(site="adhoc", id="ping", probe="icmp", target=target,
                       options=base.options(probe.options, {}))
    check = plan.with_count(check, args.count or getattr(check.options, "count", None))
    row = plan.Row("adhoc", check, limits(inventory, target, args.link_type))
    title = command.adhoc_title("ping", args.target, target, spec)
    return command.execute(args, plan.Plan(None, (row,)), spec, title, "ping")


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
