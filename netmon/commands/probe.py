"""`netmon probe SITE`: run every check on a site's path now and say what is wrong."""

from __future__ import annotations

import argparse
import os

from netmon.diagnose import baseline, budget, command, lookup, plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe", help="diagnose one site now: verdict table, path trace, one-line diagnosis",
        description="SITE is a slug, a Vietnamese name with or without diacritics, an admin code or a "
                    "hub id. Exit: 0 ok, 1 degraded, 2 down, 3 usage or configuration error.")
    p.add_argument("site", metavar="SITE")
    p.add_argument("--check", default=None, metavar="NAME", help="run only this check id")
    p.add_argument("--history", default=os.environ.get("NETMON_HISTORY"), metavar="PATH",
                   help="history store for the site's own baseline (default: $NETMON_HISTORY; optional)")
    command.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        inventory = command.load_inventory(args.config)
    except command.ConfigError as exc:
        return command.config_failed(args.config, exc)
    assert inventory is not None
    place = lookup.find(inventory.spec, args.site)
    chosen = plan.for_place(inventory, place, only=args.check, count=args.count)
    chosen = baseline.attach(chosen, args.history)
    if args.count is None and args.watch is None:  # --watch adds up its rounds; --count is the user's
        chosen = plan.sized_for_loss(chosen)
    rounds: int | None = None
    if place.site:
        allowed = budget.allowances(inventory, place.site.slug, list(place.site.links))
        chosen = budget.fit(chosen, allowed)
        if args.watch is not None:
            rounds = budget.rounds_left(chosen, allowed)
    title = f"netmon probe {place.slug} — {place.name}"
    return command.execute(args, chosen, inventory.spec, title, "probe", max_rounds=rounds)
