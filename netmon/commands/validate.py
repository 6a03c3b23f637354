"""`netmon validate [PATH]`: check an inventory and print what it holds, or every error in it."""

from __future__ import annotations

import argparse
import sys

from netmon.inventory import ConfigError, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check an inventory file; exit 1 listing every error")
    p.add_argument("path", nargs="?", default=None, help="inventory file (default: config/communes.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    path = args.path or DEFAULT_CONFIG
    try:
        inventory = load(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.issues)} error(s)", file=sys.stderr)
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    c = inventory.counts()
    print(f"{path}: OK — {c['sites']} sites, {c['hubs']} hubs, {c['links']} links, "
          f"{c['checks']} checks, {c['services']} services")
    return 0
