"""`netmon demo`: the simulated province on a typical day, monitored, in one command (needs root).

Brings the lab up with the ``province-day`` preset, runs the monitoring service against the shipped
inventory with /metrics on 127.0.0.1:9813, prints what to look at (links, services, and the equipment
health the lab's SNMP agents report), and on Ctrl-C tears it all down.
With ``--reuse-lab`` it monitors a lab that is already up (a trainer's ``netmon lab up --scenario
storm``, the test suite's session lab) and leaves it running: only what the demo started, it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from netmon.httpserver import check_listen
from netmon.i18n import lang, text
from netmon.inventory import load
from netmon.lab import control, scenario
from netmon.service import Daemon

PRESET = "province-day"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulated province (province-day) + netmon run + /metrics; Ctrl-C ends")
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--scenario", default=PRESET, help=f"scenario preset or file (default: {PRESET})")
    p.add_argument("--listen", default="127.0.0.1:9813", help="address for /metrics (default 127.0.0.1:9813)")
    p.add_argument("--reuse-lab", action="store_true",
                   help="monitor the lab that is already up (its own scenario) and leave it up on exit")
    p.add_argument("--board", action=argparse.BooleanOptionalAction, default=None,
                   help="the live board (default: when the output is a terminal); --no-board prints the "
                        "guide of commands instead")
    p.set_defaults(func=run)


#: The guide's words; each row is (label, note) beside the command it shows.
_TEXT = {
    "title": ("netmon demo — scenario {name}: {description}", "netmon demo — kịch bản {name}: {description}"),
    "metrics": ("metrics", "số liệu"), "metrics.note": ("first results within one interval",
                                                       "kết quả đầu tiên sau một chu kỳ"),
    "rtt": ("RTT", "độ trễ RTT"),
    "loss": ("loss", "mất gói"), "loss.note": ("last burst", "loạt gói gần nhất"),
    "loss_total": ("loss so far", "mất gói từ đầu"),
    "success": ("up or not", "hoạt động hay không"),
    "services": ("services", "dịch vụ"),
    "equipment": ("equipment", "thiết bị"), "equipment.note": ("first poll within 60 s",
                                                              "lần đọc đầu tiên trong vòng 60 giây"),
    "interfaces": ("interfaces", "cổng mạng"),
    "site": ("one site", "một điểm"), "site.note": ("CPE, UPS and 4G router health",
                                                   "tình trạng CPE, UPS và bộ định tuyến 4G"),
    "cut": ("cut a link", "cắt một đường truyền"), "cut.note": ("undo: {netmon} lab reset",
                                                              "hoàn tác: {netmon} lab reset"),
    "hub": ("a hub down", "một trạm tập trung mất"),
    "power": ("power cut", "mất điện"),
    "reboot": ("reboot", "khởi động lại"),
    "diagnose": ("diagnose", "chẩn đoán"), "diagnose.note": ("verdicts and a one-line diagnosis",
                                                            "kết luận và chẩn đoán trong một dòng"),
    "service": ("service {target}", "dịch vụ {target}"),
    "device": ("device {target}", "thiết bị {target}"),
    "stop.keep": ("Ctrl-C stops netmon (the lab stays up).", "Ctrl-C dừng netmon (lab vẫn chạy)."),
    "stop.down": ("Ctrl-C stops netmon and removes the simulated province.",
                  "Ctrl-C dừng netmon và gỡ tỉnh mô phỏng."),
    "reused": ("monitoring the running lab (daemon pid {pid})",
               "đang giám sát lab đang chạy (tiến trình nền pid {pid})"),
    "up": ("simulated province up in {took:.1f} s", "tỉnh mô phỏng đã chạy sau {took:.1f} giây"),
}


def guide(config: str, scenario_name: str, listen: str, keep_lab: bool = False) -> str:
    """What this scenario does and where to see it in /metrics, in the user's language."""
    from netmon.cli import invocation

    language = lang()
    spec = scenario.load(scenario_name, load(config))
    netmon = invocation()
    metrics = f"curl -s http://{listen}/metrics | grep"
    rows = [("metrics", f"http://{listen}/metrics"),
            ("rtt", f"{metrics} '^netmon_icmp_rtt_seconds_sum'"),
            ("loss", f"{metrics} '^netmon_icmp_packet_loss_ratio'"),
            ("loss_total", f"{metrics} -E '^netmon_icmp_packets_(sent|received)_total'"),
            ("success", f"{metrics} '^netmon_probe_success' | grep ' 0$'"),
            ("services", f"{metrics} -E '^netmon_(http_status_code|tls_cert_expiry)'"),
            ("equipment", f"{metrics} -E '^netmon_(snmp_up|ups_on_battery|device_reboots_total)'"),
            ("interfaces", f"{metrics} '^netmon_interface_oper_up'"),
            ("site", f"{netmon} snmp to-hieu"),
            ("cut", f"{netmon} lab set chieng-mung down=true"),
            ("hub", f"{netmon} lab set hub-moc-chau down=true"),
            ("power", f"{netmon} lab set to-hieu/ups on_battery=true"),
            ("reboot", f"{netmon} lab reboot to-hieu/cpe"),
            ("diagnose", f"{netmon} probe moc-son")]
    labels = {key: text(_TEXT, key, language) + ":" for key, _ in rows}
    width = max(len(label) for label in labels.values())
    lines = [text(_TEXT, "title", language, name=scenario_name, description=spec.describe(language)), ""]
    for key, command in rows:
        note = f"   ({text(_TEXT, f'{key}.note', language, netmon=netmon)})" if f"{key}.note" in _TEXT else ""
        lines.append(f"  {labels[key]:<{width}} {command}{note}")
    lines.append("")
    for target, b in spec.links.items():
        lines.append(f"  {target}: {b.model_dump_json(exclude_unset=True)}")
    for target, s in spec.services.items():
        lines.append(f"  {text(_TEXT, 'service', language, target=target)}: "
                     f"{s.model_dump_json(exclude_unset=True)}")
    for target, d in spec.devices.items():
        lines.append(f"  {text(_TEXT, 'device', language, target=target)}: "
                     f"{d.model_dump_json(exclude_unset=True)}")
    lines += ["", text(_TEXT, "stop.keep" if keep_lab else "stop.down", language)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    config = args.config or DEFAULT_CONFIG
    check_listen(args.listen)  # a busy port is one line now, not a traceback after the lab is built
    if args.reuse_lab:
        lab = control.current()
        if lab is None:
            raise control.LabError("no_lab_reuse")
        words = guide(config, str(lab.status().get("scenario", args.scenario)), args.listen, keep_lab=True)
        banner = text(_TEXT, "reused", lang(), pid=lab.pid)
        _monitor(config, args.listen, lab, f"{banner}\n\n{words}", args.board)
        return 0
    words = guide(config, args.scenario, args.listen)  # validates inventory and scenario before any change
    lab, took = control.up(config, args.scenario)
    try:
        _monitor(config, args.listen, lab, f"{text(_TEXT, 'up', lang(), took=took)}\n\n{words}", args.board)
    finally:
        control.down()
    return 0


def _monitor(config: str, listen: str, lab: control.Lab, banner: str, board: bool | None) -> None:
    """Run the monitoring service against ``lab`` until Ctrl-C, SIGTERM or SIGHUP (the terminal closed):
    each ends the demo the same way, tearing down the lab it started. On a terminal the live board
    (`netmon.board`) takes the screen, with alerts from a Prometheus on the shipped rules when one can
    run (`netmon.demo_alerts`); elsewhere the guide is printed once."""
    if not (sys.stdout.isatty() if board is None else board):
        print(banner, flush=True)

        async def plain() -> None:
            await Daemon(config, listen, hangup_stops=True).run()

        asyncio.run(plain())
        return
    from netmon import demo_alerts
    from netmon.board import CATALOG, LiveBoard, logs_to_file
    from netmon.cli import invocation

    with demo_alerts.prometheus(listen) as prometheus, logs_to_file() as log:
        live = LiveBoard(lang(), lab.status,
                         (lambda: demo_alerts.alerts(prometheus)) if prometheus else (lambda: None),
                         invocation(), log=log)

        async def main() -> None:
            screen = asyncio.create_task(live.run())
            try:
                await Daemon(config, listen, sinks=[live], hangup_stops=True).run()
            finally:
                screen.cancel()

        try:
            asyncio.run(main())
        finally:
            # The log outlives the board: say once more where it is.
            sys.stdout.write("\n" + text(CATALOG, "log", lang(), path=log) + "\n")
