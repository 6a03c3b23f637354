"""The `netmon` command. Each subcommand is a module in `netmon.commands` with a ``register`` function,
discovered at start, so adding a command is adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from netmon import __version__, commands
from probes.errors import NetmonError

DEFAULT_CONFIG = os.environ.get("NETMON_CONFIG", "config/communes.yaml")
#: Long-running commands log progress at INFO; interactive ones keep the terminal for their output.
SERVICE_COMMANDS = frozenset({"run", "demo", "lab", "agent"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netmon",
        description="Link, service and equipment monitoring for Son La's commune service centers.",
    )
    parser.add_argument("--version", action="version", version=f"netmon {__version__}")
    parser.add_argument("--lang", choices=("en", "vi"), default=None,
                        help="language of verdicts, summaries and reports (default: $NETMON_LANG or en)")
    parser.add_argument("--log-level", default=os.environ.get("NETMON_LOG_LEVEL"),
                        help="DEBUG, INFO, WARNING or ERROR (default: INFO for services, WARNING for "
                             "interactive commands)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lang:
        os.environ["NETMON_LANG"] = args.lang
    service = args.command in SERVICE_COMMANDS
    level = args.log_level or ("INFO" if service else "WARNING")
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO: noise in a service log, and a secret leak risk in URLs.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 3
    try:
        return int(args.func(args) or 0)
    except NetmonError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
