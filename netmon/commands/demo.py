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


def guide(config: str, scenario_name: str, listen: str, keep_lab: bool = False) -> str:
    """What this scenario does and where to see it in /metrics."""
    from netmon.cli import invocation

    spec = scenario.load(scenario_name, load(config))
    netmon = invocation()
    metrics = f"curl -s http://{listen}/metrics | grep"
    lines = [f"netmon demo — scenario {scenario_name}: {spec.description}", "",
             f"  metrics:      http://{listen}/metrics  (first results within one interval)",
             f"  RTT:          {metrics} '^netmon_icmp_rtt_seconds_sum'",
             f"  loss:         {metrics} '^netmon_icmp_packet_loss_ratio'   (last burst)",
             f"  loss so far:  {metrics} -E '^netmon_icmp_packets_(sent|received)_total'",
             f"  up or not:    {metrics} '^netmon_probe_success' | grep ' 0$'",
             f"  services:     {metrics} -E '^netmon_(http_status_code|tls_cert_expiry)'",
             f"  equipment:    {metrics} -E '^netmon_(snmp_up|ups_on_battery|device_reboots_total)'"
             "   (first poll within 60 s)",
             f"  interfaces:   {metrics} '^netmon_interface_oper_up'",
             f"  one site:     {netmon} snmp to-hieu   (CPE, UPS and 4G router health)",
             f"  cut a link:   {netmon} lab set chieng-mung down=true   (undo: {netmon} lab reset)",
             f"  a hub down:   {netmon} lab set hub-moc-chau down=true",
             f"  power cut:    {netmon} lab set to-hieu/ups on_battery=true",
             f"  reboot:       {netmon} lab reboot to-hieu/cpe",
             f"  diagnose:     {netmon} probe moc-son   (verdicts and a one-line diagnosis)", ""]
    for target, b in spec.links.items():
        lines.append(f"  {target}: {b.model_dump_json(exclude_unset=True)}")
    for target, s in spec.services.items():
        lines.append(f"  service {target}: {s.model_dump_json(exclude_unset=True)}")
    for target, d in spec.devices.items():
        lines.append(f"  device {target}: {d.model_dump_json(exclude_unset=True)}")
    ending = " (the lab stays up)." if keep_lab else " and removes the simulated province."
    lines += ["", "Ctrl-C stops netmon" + ending]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    config = args.config or DEFAULT_CONFIG
    check_listen(args.listen)  # a busy port is one line now, not a traceback after the lab is built
    if args.reuse_lab:
        lab = control.current()
        if lab is None:
            raise control.LabError("no_lab_reuse")
        text = guide(config, str(lab.status().get("scenario", args.scenario)), args.listen, keep_lab=True)
        _monitor(config, args.listen, lab, f"monitoring the running lab (daemon pid {lab.pid})\n\n{text}",
                 args.board)
        return 0
    text = guide(config, args.scenario, args.listen)  # validates inventory and scenario before any change
    lab, took = control.up(config, args.scenario)
    try:
        _monitor(config, args.listen, lab, f"simulated province up in {took:.1f} s\n\n{text}", args.board)
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
    from netmon.i18n import lang, text

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
