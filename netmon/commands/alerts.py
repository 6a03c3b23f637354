"""`netmon alerts generate [--check]`: write (or verify) the alerting files that follow from the inventory.
`netmon alerts bridge`: relay Alertmanager's webhooks to Telegram, Zalo OA and SMS (netmon/notify.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netmon import alerting
from netmon.inventory import ConfigError, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="alerting configuration derived from the inventory")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser("generate", help="write alerts/generated/*.yml and alerts/alertmanager.yml")
    gen.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    gen.add_argument("--alerts-dir", default="alerts", type=Path,
                     help="directory holding alertmanager.base.yml (default: alerts)")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if a generated file is missing or out of date (for CI)")
    gen.set_defaults(func=run)
    bridge = actions.add_parser("bridge", help="Alertmanager webhooks to Telegram, Zalo OA, SMS")
    bridge.add_argument("--bridge-config", required=True, type=Path, metavar="FILE",
                        help="destinations per Alertmanager receiver (see docs/runbook.md#channels)")
    bridge.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    bridge.add_argument("--listen", default="127.0.0.1:9087", help="listen address (default 127.0.0.1:9087)")
    bridge.set_defaults(func=run_bridge)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    path = args.config or DEFAULT_CONFIG
    try:
        inventory = load(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.issues)} error(s)\n{exc}", file=sys.stderr)
        return 1
    if args.check:
        stale = list(alerting.stale(inventory, args.alerts_dir))
        for file in stale:
            print(f"{file}: out of date with {path}; run `netmon alerts generate`", file=sys.stderr)
        return 1 if stale else 0
    for file in alerting.write(inventory, args.alerts_dir):
        print(f"wrote {file}")
    return 0


def run_bridge(args: argparse.Namespace) -> int:
    import signal
    import threading

    from netmon import notify
    from netmon.cli import DEFAULT_CONFIG

    path = args.config or DEFAULT_CONFIG
    try:
        inventory = load(path)
        config = notify.load_config(args.bridge_config)
    except ConfigError as exc:
        print(f"{path}: {len(exc.issues)} error(s)\n{exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    host, _, port = args.listen.rpartition(":")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with notify.serve(config, notify.site_facts(inventory), (host, int(port))) as url:
        print(f"bridge on {url}: receivers {', '.join(sorted(config.receivers))}", file=sys.stderr)
        stop.wait()
    return 0
