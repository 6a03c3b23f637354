"""`netmon lab up|down|status|set|reset|reboot`: the simulated province (see docs/lab.md)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

from netmon.i18n import lang, text
from netmon.lab import control, holder, scenario
from netmon.lab.netns import LabError
from probes.wording import duration

#: What `netmon lab` prints; its errors are `LabError`s, worded in `netmon.lab.netns.MESSAGES`.
_TEXT = {
    "up": ("lab up in {took:.1f} s (scenario {scenario}, daemon pid {pid})",
           "lab đã chạy sau {took:.1f} giây (kịch bản {scenario}, tiến trình nền pid {pid})"),
    "ca": ("lab CA: {path} (the shipped inventory's services trust it as their ca_file)",
           "CA của lab: {path} (các dịch vụ của danh mục đi kèm tin nó qua ca_file)"),
    "down": ("lab down in {took:.1f} s", "đã gỡ lab sau {took:.1f} giây"),
    "status": ("scenario {scenario}, up {uptime}, daemon pid {pid}",
               "kịch bản {scenario}, đã chạy {uptime}, tiến trình nền pid {pid}"),
    "down_now": ("down: {names}", "mất kết nối: {names}"),
    "secure_down": ("secure channels down: {names}", "kênh bảo mật mất: {names}"),
    "impaired": ("impaired destinations: {n}; packets through the delay path: {held}",
                 "đích bị suy giảm: {n}; gói tin qua đường làm trễ: {held}"),
    # the lab's own fault, if any: packets it delayed by more than the scenario says
    # (``slept``: late because the machine did not run the holder — the VM's, not the lab's; docs/lab.md)
    "late": ("packets released late (over {limit} ms) by the delay path: {late} ({slept} of them while the "
             "machine did not run the lab), worst by {worst} ms; {priority}",
             "gói bị thả muộn (quá {limit} ms) bởi đường làm trễ: {late} ({slept} trong số đó khi máy không "
             "chạy lab), muộn nhất {worst} ms; {priority}"),
    # `status --flow`: one flow's packets through the delay path (`netmon.lab.holder.Holder.flow`)
    "flow": ("delay path, packets to or from {flow}: {released} among its last {kept} releases, {waiting} "
             "held now",
             "đường làm trễ, gói tin đến hoặc từ {flow}: {released} trong {kept} lần thả gần nhất, {waiting} "
             "gói đang giữ"),
    "released": ("{at} {protocol} {source} → {destination}: held {held} ms for a delay of {delay} ms{late}",
                 "{at} {protocol} {source} → {destination}: giữ {held} ms cho độ trễ {delay} ms{late}"),
    "late_by": (", late by {late} ms", ", muộn {late} ms"),
    "slept_by": (", late by {late} ms (the machine did not run the lab)",
                 ", muộn {late} ms (máy không chạy lab)"),
    "held_now": ("{at} {protocol} {source} → {destination}: held {held} ms so far for a delay of {delay} ms",
                 "{at} {protocol} {source} → {destination}: đã giữ {held} ms cho độ trễ {delay} ms"),
    "realtime": ("real-time priority", "ưu tiên thời gian thực"),
    "no_realtime": ("no real-time priority (see the daemon log)",
                    "không có ưu tiên thời gian thực (xem nhật ký tiến trình nền)"),
    "override": ("set {target}: {values}", "đã đặt {target}: {values}"),
    "service": ("service {sid}: {values}", "dịch vụ {sid}: {values}"),
    "agents": ("SNMP agents: {n} (credentials in {secrets}); on battery: {battery}",
               "tác tử SNMP: {n} (thông tin xác thực trong {secrets}); đang chạy pin: {battery}"),
    "nothing": ("nothing", "không có"),
    "none": ("none", "không có"),
    "reset": ("back to the scenario as loaded", "đã trở về kịch bản như lúc nạp"),
    "rebooted": ("{device} rebooted (its agent restarted)",
                 "{device} đã khởi động lại (tác tử của nó chạy lại)"),
}


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
    status.add_argument("--flow", metavar="ADDRESS[:PORT]",
                        help="instead: the delay path's last releases of the packets to or from ADDRESS "
                             "(and PORT), and those it holds now")
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
        raise LabError("no_lab")
    return lab


def run_up(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    lab, took = control.up(args.config or DEFAULT_CONFIG, args.scenario)
    print(text(_TEXT, "up", lang(), took=took, scenario=args.scenario, pid=lab.pid))
    print(text(_TEXT, "ca", lang(), path=lab.ca_file))
    return 0


def run_down(args: argparse.Namespace) -> int:
    print(text(_TEXT, "down", lang(), took=control.down()))
    return 0


def _flow(value: str) -> tuple[str, int | None]:
    address, sep, port = value.partition(":")
    try:
        ipaddress.IPv4Address(address)
        number = int(port) if sep else None
    except ValueError:
        raise LabError("flow", value=value) from None
    if number is not None and not 0 < number < 65536:
        raise LabError("flow", value=value)
    return address, number


def run_flow(args: argparse.Namespace) -> int:
    """`status --flow`: what the delay path did to one flow's packets, one line each, oldest first."""
    address, port = _flow(args.flow)  # a typing error is said before the lab is looked for
    flow = _running().flow(address, port)
    if args.json:
        print(json.dumps(flow, indent=2, sort_keys=True))
        return 0
    language = lang()

    def line(key: str, packet: dict[str, Any], **values: object) -> str:
        arrived = packet["arrived"]
        at = time.strftime("%H:%M:%S", time.localtime(arrived)) + f".{int(arrived % 1 * 1000):03d}"
        return text(_TEXT, key, language, at=at, protocol=packet["protocol"], source=packet["source"],
                    destination=packet["destination"], held=f"{packet['held'] * 1000:.1f}",
                    delay=f"{packet['delay'] * 1000:.1f}", **values)

    print(text(_TEXT, "flow", language, flow=args.flow, released=len(flow["released"]), kept=flow["kept"],
               waiting=len(flow["waiting"])))
    for packet in flow["released"]:
        verdict = "slept_by" if packet["slept"] else "late_by"
        late = "" if packet["late"] <= holder.LATE else text(_TEXT, verdict, language,
                                                             late=f"{packet['late'] * 1000:.1f}")
        print(line("released", packet, late=late))
    for packet in flow["waiting"]:
        print(line("held_now", packet))
    return 0


def run_status(args: argparse.Namespace) -> int:
    if args.flow:
        return run_flow(args)
    status = _running().status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return 0
    path = Path(status["scenario"])
    shown = path.stem if path.parent == scenario.PRESETS else path  # a preset by the name `lab up` took
    language = lang()

    def say(key: str, **values: object) -> None:
        print(text(_TEXT, key, language, **values))

    def pairs(values: dict[str, object]) -> str:
        return ", ".join(f"{k}={v}" for k, v in values.items())

    say("status", scenario=shown, uptime=duration(status["uptime"], language), pid=status["pid"])
    say("down_now", names=", ".join(status["down"]) or text(_TEXT, "nothing", language))
    if status.get("secure_down"):  # the encryptors that failed while their lines stay up
        say("secure_down", names=", ".join(status["secure_down"]))
    held = status["delay_path"]
    say("impaired", n=len(status["impaired"]), held=held["held"])
    say("late", limit=f"{holder.LATE * 1000:g}", late=held["late"], slept=held["slept"],
        worst=f"{held['worst_late'] * 1000:.1f}",
        priority=text(_TEXT, "realtime" if held["realtime"] else "no_realtime", language))
    for target, values in sorted(status["overrides"].items()):
        say("override", target=target, values=pairs(values))
    for sid, values in status["services"].items():
        say("service", sid=sid, values=pairs(values))
    devices = status.get("devices", {})
    battery = [key for key, d in sorted(devices.items()) if d["on_battery"]]
    say("agents", n=len(devices), secrets=status.get("snmp_secrets"),
        battery=", ".join(battery) or text(_TEXT, "none", language))
    print(f"CA: {status['ca_file']}")
    return 0


def parse_values(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LabError("key_value", pair=pair)
        out[key] = value
    return out


def run_set(args: argparse.Namespace) -> int:
    values = parse_values(args.values)  # a typing error is said before the lab is looked for
    _running().set(args.target, **values)
    print(f"{args.target}: {' '.join(args.values)}")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    _running().reset()
    print(text(_TEXT, "reset", lang()))
    return 0


def run_reboot(args: argparse.Namespace) -> int:
    _running().reboot(args.device)
    print(text(_TEXT, "rebooted", lang(), device=args.device))
    return 0
