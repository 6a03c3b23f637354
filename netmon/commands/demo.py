"""`netmon demo`: the simulated province on a typical day, monitored, in one command (needs root).

Brings the lab up with the ``province-day`` preset, runs the monitoring service against the shipped
inventory with /metrics on 127.0.0.1:9813, prints what to look at, and on Ctrl-C tears it all down.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from netmon.inventory import load
from netmon.lab import control, scenario
from netmon.service import Service

PRESET = "province-day"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulated province (province-day) + netmon run + /metrics; Ctrl-C ends")
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--scenario", default=PRESET, help=f"scenario preset or file (default: {PRESET})")
    p.add_argument("--listen", default="127.0.0.1:9813", help="address for /metrics (default 127.0.0.1:9813)")
    p.set_defaults(func=run)


def guide(config: str, scenario_name: str, listen: str) -> str:
    """What this scenario does and where to see it in /metrics."""
    spec = scenario.load(scenario_name, load(config))
    metrics = f"curl -s http://{listen}/metrics | grep"
    lines = [f"netmon demo — scenario {scenario_name}: {spec.description}", "",
             f"  metrics:      http://{listen}/metrics  (first results within one interval)",
             f"  RTT:          {metrics} '^netmon_icmp_rtt_seconds_sum'",
             f"  loss:         {metrics} '^netmon_icmp_packet_loss_ratio'",
             f"  up or not:    {metrics} '^netmon_probe_success' | grep ' 0$'",
             f"  services:     {metrics} -E '^netmon_(http_status_code|tls_cert_expiry)'",
             "  cut a link:   netmon lab set chieng-mung down=true   (undo: netmon lab reset)",
             "  a hub down:   netmon lab set hub-moc-chau down=true", ""]
    for target, b in spec.links.items():
        lines.append(f"  {target}: {b.model_dump_json(exclude_unset=True)}")
    for target, s in spec.services.items():
        lines.append(f"  service {target}: {s.model_dump_json(exclude_unset=True)}")
    lines += ["", "Ctrl-C stops netmon and removes the simulated province."]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    config = args.config or DEFAULT_CONFIG
    text = guide(config, args.scenario, args.listen)  # validates inventory and scenario before any change
    lab, took = control.up(config, args.scenario)
    try:
        # The http probe verifies certificates against the default store; make that the lab's CA.
        os.environ["SSL_CERT_FILE"] = str(lab.ca_file)
        print(f"simulated province up in {took:.1f} s\n\n{text}", flush=True)

        async def main() -> None:
            await Service(config, args.listen).run()

        asyncio.run(main())
    finally:
        control.down()
    return 0
