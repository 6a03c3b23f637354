"""`netmon lab up|down|status|set|reset|reboot`: the simulated province (see docs/lab.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from netmon.lab import control, scenario
from netmon.lab.netns import LabError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="the simulated province: namespaces, impaired links, services (root)")
    lab = p.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    up = lab.add_parser("up", help="build the province from the inventory and start its daemon")
    up.add_argument("--scenario", default="calm", help="preset (calm, province-day, storm) or YAML file")
    up.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    up.set_defaults(func=run_up)
    down = lab.add_parser("down", help="remove everything the lab made (also after a crash)")
    down.set_defaults(func=run_down)
    status = lab.add_parser("status", help="what is down, impaired and overridden right now")
    status.add_argument("--json", action="store_true", help="print the daemon's full status as JSON")
    status.set_defaults(func=run_status)
    s = lab.add_parser("set", help="change the running scenario, e.g. `set chieng-mung loss=0.2 delay=80ms`")
    s.add_argument("target", help="SITE (its primary link), SITE/LINK, HUB, a service id, dns, "
                                       "or SITE/DEVICE")
    s.add_argument("values", nargs="+", metavar="KEY=VALUE",
                   help="delay, jitter, loss, down, flap (links); status, latency, cert_days (services); "
                        "on_battery (a UPS)")
    s.set_defaults(func=run_set)
    lab.add_parser("reset", help="undo every `lab set`").set_defaults(func=run_reset)
    r = lab.add_parser("reboot", help="restart a device's SNMP agent, e.g. `reboot chieng-mung/cpe`")
    r.add_argument("device", help="SITE/DEVICE of the inventory")
    r.set_defaults(func=run_reboot)


def _running() -> control.Lab:
    lab = control.current()
    if lab is None:
        raise LabError("no lab is up: start one with `netmon lab up` (or `netmon demo`)")
    return lab


def run_up(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    lab, took = control.up(args.config or DEFAULT_CONFIG, args.scenario)
    print(f"lab up in {took:.1f} s (scenario {args.scenario}, daemon pid {lab.pid})")
    print(f"lab CA: {lab.ca_file} (the shipped inventory's services trust it as their ca_file)")
    return 0


def run_down(args: argparse.Namespace) -> int:
    print(f"lab down in {control.down():.1f} s")
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = _running().status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return 0
    path = Path(status["scenario"])
    shown = path.stem if path.parent == scenario.PRESETS else path  # a preset by the name `lab up` took
    print(f"scenario {shown}, up {status['uptime']:.0f} s, daemon pid {status['pid']}")
    print(f"down: {', '.join(status['down']) or 'nothing'}")
    if status.get("secure_down"):  # the encryptors that failed while their lines stay up
        print(f"secure channels down: {', '.join(status['secure_down'])}")
    print(f"impaired destinations: {len(status['impaired'])}; packets through the delay path: "
          f"{status['held_packets']}")
    for target, values in sorted(status["overrides"].items()):
        print(f"set {target}: {', '.join(f'{k}={v}' for k, v in values.items())}")
    for sid, values in status["services"].items():
        print(f"service {sid}: {', '.join(f'{k}={v}' for k, v in values.items())}")
    devices = status.get("devices", {})
    battery = [key for key, d in sorted(devices.items()) if d["on_battery"]]
    print(f"SNMP agents: {len(devices)} (credentials in {status.get('snmp_secrets')}); "
          f"on battery: {', '.join(battery) or 'none'}")
    print(f"CA: {status['ca_file']}")
    return 0


def parse_values(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LabError(f"expected KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def run_set(args: argparse.Namespace) -> int:
    _running().set(args.target, **parse_values(args.values))
    print(f"{args.target}: {' '.join(args.values)}")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    _running().reset()
    print("back to the scenario as loaded")
    return 0


def run_reboot(args: argparse.Namespace) -> int:
    _running().reboot(args.device)
    print(f"{args.device} rebooted (its agent restarted)")
    return 0
