"""`netmon validate [PATH]`: check an inventory and print what it holds, or every error in it."""

from __future__ import annotations

import argparse
import sys

from netmon import i18n
from netmon.inventory import ConfigError, load

TEXT: dict[str, tuple[str, str]] = {
    "ok": ("{path}: OK — {sites} sites, {hubs} hubs, {links} links, {checks} checks, {services} services",
           "{path}: hợp lệ — {sites} điểm, {hubs} trạm, {links} đường truyền, {checks} phép kiểm tra, "
           "{services} dịch vụ"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check an inventory file; exit 1 listing every error")
    p.add_argument("path", nargs="?", default=None, help="inventory file (default: config/communes.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    path = args.path or DEFAULT_CONFIG
    lang = i18n.lang()
    try:
        inventory = load(path)
    except ConfigError as exc:
        print(exc.heading(path, lang), file=sys.stderr)
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    print(i18n.text(TEXT, "ok", lang, path=path, **inventory.counts()))
    return 0
