"""Benchmark: SNMP polls/s and CPU per poll, netmon's collector vs Debian's prometheus-snmp-exporter.

Both poll the same agents in the same run, alternately, ``--reps`` times each (medians): either one
snmpsim process serving N simulated devices (v2c, one community each, system group + a 25-row
ifTable/ifXTable with every column, so walking only the needed columns matters) or one real Debian
snmpd (``--agent snmpd``: v2c or v3 authPriv SHA/AES, the host's own interfaces), with the `system` +
`if-mib` profiles and an equivalent hand-written snmp_exporter 0.21 module (same 3 scalars, same 12
columns, same max-repetitions).

"Per core" is polls per CPU-second of the poller process itself (user + system), which does not
depend on how fast the agent answers; polls/s (wall) is reported too. With ``--render`` netmon also
pays what snmp_exporter's CPU includes: every poll's Result is published to the /metrics collector
and the whole exposition is rendered once per pass over the devices (one scrape per poll interval).

    python -m bench.snmp_poll [--devices 500] [--seconds 20] [--concurrency 50] [--reps 5]
                              [--agent snmpsim|snmpd] [--version 2c|3] [--render]

Network: loopback only. Processes started here are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from collectors import snmp, snmp_profiles
from collectors.snmp_session import close_engines
from exporters.prometheus import ResultCollector
from probes import base
from probes.base import Check
from tests.collectors.agents import (
    COMMUNITY,
    SNMPSIM,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    answering,
    free_udp_port,
)
from tests.collectors.agents import snmpd as debian_snmpd
from tests.support import free_port, stop_process, wait_until

INTERFACES = 25


def recording(interfaces: int = INTERFACES) -> str:
    """A router's system group and full ifTable (22 columns) + ifXTable (19 columns)."""
    rows = [("1.3.6.1.2.1.1.1.0", 4, "Bench router"), ("1.3.6.1.2.1.1.3.0", 67, "123456"),
            ("1.3.6.1.2.1.1.5.0", 4, "bench")]
    for col in range(1, 23):
        for i in range(1, interfaces + 1):
            typ, val = (4, f"GigabitEthernet0/{i}") if col == 2 else (65, str(i * 1000 + col))
            if col in (1, 3, 4, 5, 7, 8):
                typ, val = 2, str(i if col == 1 else 1)
            if col == 6:
                typ, val = 4, ""
            rows.append((f"1.3.6.1.2.1.2.2.1.{col}.{i}", typ, val))
    for col in range(1, 20):
        for i in range(1, interfaces + 1):
            typ, val = 70, str(i * 10**9 + col)
            if col in (1, 18):
                typ, val = 4, f"Gi0/{i}" if col == 1 else f"uplink {i}"
            elif col in (14, 16, 17):
                typ, val = 2, "1"
            elif col == 15:
                typ, val = 66, "1000"
            elif col in (2, 3, 4, 5, 19):
                typ, val = 65, str(i)
            rows.append((f"1.3.6.1.2.1.31.1.1.1.{col}.{i}", typ, val))
    rows.sort(key=lambda r: tuple(int(p) for p in r[0].split(".")))
    return "".join(f"{o}|{t}|{v}\n" for o, t, v in rows)


def exporter_config(devices: list[str], max_repetitions: int, agent: str = "snmpsim", version: str = "2c"
                    ) -> dict:
    """snmp_exporter 0.21 modules (auth lives in the module then), one per device: snmpsim's devices
    are told apart by community; the snmpd fixture has one community and one v3 user."""
    system, ifmib = snmp_profiles.load("system"), snmp_profiles.load("if-mib")
    table = ifmib.tables[0]
    label_oids = [oid for oids in table.labels.values() for oid in oids]  # ifDescr too: same walk as ours
    lookups = [{"labels": ["ifIndex"], "labelname": name, "oid": oids[0], "type": "DisplayString"}
               for name, oids in table.labels.items()]
    metrics = [{"name": "sysUpTime", "oid": system.scalars[0].oid.rpartition(".")[0], "type": "gauge"}]
    metrics += [{"name": name, "oid": oid.rpartition(".")[0], "type": "DisplayString"}
                for name, oid in system.info.items()]
    metrics += [{"name": v.metric, "oid": v.oid, "type": "gauge", "indexes": [{"labelname": "ifIndex",
                 "type": "gauge"}], "lookups": lookups} for v in table.values]
    base = {"walk": [*label_oids, *(v.oid for v in table.values)], "get": list(system.scalar_oids()),
            "metrics": metrics, "version": 2, "max_repetitions": max_repetitions, "retries": 1,
            "timeout": "25s"}
    if version == "3":
        auth = {"username": V3_USER, "security_level": "authPriv", "password": V3_AUTH,
                "auth_protocol": "SHA", "priv_protocol": "AES", "priv_password": V3_PRIV}
        return {name: {**base, "version": 3, "auth": auth} for name in devices}
    return {name: {**base, "auth": {"community": name if agent == "snmpsim" else COMMUNITY}}
            for name in devices}


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _auth(name: str, agent: str, version: str) -> dict[str, str]:
    if version == "3":
        return {"version": "3", "user": V3_USER, "auth_protocol": "sha", "auth_key_env": "BENCH_V3_AUTH",
                "priv_protocol": "aes", "priv_key_env": "BENCH_V3_PRIV"}
    os.environ[f"BENCH_{name}"] = name if agent == "snmpsim" else COMMUNITY
    return {"version": "2c", "community_env": f"BENCH_{name}"}


async def _ours(devices: list[str], port: int, seconds: float, concurrency: int, max_repetitions: int,
                agent: str, version: str, render: bool, warm_up: bool) -> dict[str, float]:
    os.environ.update(BENCH_V3_AUTH=V3_AUTH, BENCH_V3_PRIV=V3_PRIV)
    checks = [Check(site="bench", id=name, probe="snmp", target="127.0.0.1", timeout=60.0,
                    options=base.options(snmp.SnmpOptions, {
                        "profiles": ("system", "if-mib"), "port": port, "timeout": 25.0,
                        "max_repetitions": max_repetitions, "snmp": _auth(name, agent, version)}))
              for name in devices]
    exporter = ResultCollector(snmp.METRICS)
    polls = failures = 0
    queue = list(checks)
    stop_at = 0.0

    async def worker() -> None:
        nonlocal polls, failures
        while time.monotonic() < stop_at:
            check = queue.pop(0)
            queue.append(check)
            result = await snmp.run(check)
            polls += 1
            failures += not result.success
            if render:
                exporter.publish(result)
                if polls % len(devices) == 0:
                    b"".join(exporter.render_text())

    try:
        stop_at = time.monotonic() + 3600
        # Warm-up before the first run, not measured: snmpsim indexes a community's recording on its
        # first request, which would otherwise be billed to whichever poller touches the device first.
        for start in range(0, len(checks) if warm_up else 0, concurrency):
            await asyncio.gather(*(snmp.run(c) for c in checks[start:start + concurrency]))
        polls = failures = 0
        cpu, wall = time.process_time(), time.monotonic()
        stop_at = wall + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        close_engines()
    return {"polls": polls, "failures": failures, "wall_s": wall, "cpu_s": cpu}


def _theirs(devices: list[str], port: int, exporter_url: str, pid: int, seconds: float,
            concurrency: int, **_: object) -> dict[str, float]:
    lock = threading.Lock()
    counts = {"polls": 0, "failures": 0, "next": 0}
    stop_at = time.monotonic() + seconds

    def scrape(name: str) -> bool:
        url = f"{exporter_url}/snmp?target=127.0.0.1:{port}&module={name}"
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = resp.read().decode()
        return resp.status == 200 and "netmon_interface_in_octets" in body

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                name = devices[counts["next"] % len(devices)]
                counts["next"] += 1
            ok = scrape(name)
            with lock:
                counts["polls"] += 1
                counts["failures"] += not ok

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(scrape, devices[:concurrency]))  # warm-up (the agent was warmed by netmon's first run)
        cpu, wall = _proc_cpu(pid), time.monotonic()
        stop_at = wall + seconds
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
        cpu, wall = _proc_cpu(pid) - cpu, time.monotonic() - wall
    return {"polls": counts["polls"], "failures": counts["failures"], "wall_s": wall, "cpu_s": cpu}


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Medians of every figure over the repetitions, and the spread of polls per CPU-second."""
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rates = sorted(r["polls_per_cpu_s"] for r in runs)
    out["polls_per_cpu_s_min"], out["polls_per_cpu_s_max"] = rates[0], rates[-1]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-repetitions", type=int, default=30)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--agent", choices=("snmpsim", "snmpd"), default="snmpsim")
    parser.add_argument("--version", choices=("2c", "3"), default="2c")
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("prometheus-snmp-exporter") is None:
        print("apt-get install -y --no-install-recommends prometheus-snmp-exporter", file=sys.stderr)
        return 3
    if args.version == "3" and args.agent != "snmpd":
        print("SNMPv3 is measured against the real snmpd: add --agent snmpd", file=sys.stderr)
        return 2
    devices = [f"dev{i:04d}" for i in range(args.devices)]
    procs: list[subprocess.Popen[bytes]] = []
    runs: dict[str, list[dict[str, float]]] = {"netmon": [], "snmp_exporter": []}
    with tempfile.TemporaryDirectory(prefix="snmp-bench-") as tmp_dir, contextlib.ExitStack() as stack:
        tmp = Path(tmp_dir)
        web_port = free_port()
        config = tmp / "snmp.yml"
        modules = exporter_config(devices, args.max_repetitions, args.agent, args.version)
        config.write_text(yaml.safe_dump(modules, sort_keys=False))
        try:
            if args.agent == "snmpd":
                port = stack.enter_context(debian_snmpd(tmp)).port
            else:
                port = free_udp_port()
                data = tmp / "data"
                data.mkdir()
                text = recording()
                for name in devices:
                    (data / f"{name}.snmprec").write_text(text)
                with (tmp / "snmpsim.log").open("wb") as log:
                    procs.append(subprocess.Popen(
                        [SNMPSIM, f"--data-dir={data}", f"--cache-dir={tmp / 'cache'}",
                         f"--agent-udpv4-endpoint=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}))
                wait_until(lambda: answering(port, "-v2c", "-c", devices[0]), 120, "snmpsim")
            with (tmp / "exporter.log").open("wb") as log:
                exporter = subprocess.Popen(
                    ["prometheus-snmp-exporter", f"--config.file={config}",
                     f"--web.listen-address=127.0.0.1:{web_port}"], stdout=log, stderr=subprocess.STDOUT)
                procs.append(exporter)
            url = f"http://127.0.0.1:{web_port}"
            wait_until(lambda: urllib.request.urlopen(url, timeout=1).status == 200, 30, "snmp_exporter")
            for rep in range(args.reps):
                order = ["netmon", "snmp_exporter"] if rep % 2 == 0 else ["snmp_exporter", "netmon"]
                for side in order:
                    load = os.getloadavg()[0]
                    if side == "netmon":
                        run = asyncio.run(_ours(devices, port, args.seconds, args.concurrency,
                                                args.max_repetitions, args.agent, args.version, args.render,
                                                warm_up=rep == 0))
                    else:
                        run = _theirs(devices, port, url, exporter.pid, args.seconds, args.concurrency)
                    run["load_1m"] = load
                    run["polls_per_s"] = run["polls"] / run["wall_s"]
                    run["cpu_ms_per_poll"] = 1000 * run["cpu_s"] / max(1, run["polls"])
                    run["polls_per_cpu_s"] = run["polls"] / max(run["cpu_s"], 1e-9)
                    runs[side].append(run)
        finally:
            for proc in procs:
                stop_process(proc)
    pairs = zip(runs["netmon"], runs["snmp_exporter"], strict=True)
    ratios = [ours["polls_per_cpu_s"] / theirs["polls_per_cpu_s"] for ours, theirs in pairs]
    ours, theirs = _median_run(runs["netmon"]), _median_run(runs["snmp_exporter"])
    report = {"devices": args.devices, "agent": args.agent, "version": args.version, "render": args.render,
              "concurrency": args.concurrency, "reps": args.reps, "netmon": ours, "snmp_exporter": theirs,
              "ratio_per_core": statistics.median(ratios), "ratios": ratios,
              "load_1m": [r["load_1m"] for side in runs.values() for r in side], "runs": runs}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.devices} devices, {args.agent} v{args.version}, system + if-mib, concurrency "
              f"{args.concurrency}, rendering {'included' if args.render else 'not included'}, "
              f"medians of {args.reps} alternating runs of {args.seconds:g} s")
        print(f"{'poller':<15}{'polls':>8}{'fail':>6}{'polls/s':>10}{'CPU ms/poll':>13}{'polls/CPU-s':>13}"
              f"{'(min-max)':>16}")
        for name, side in (("netmon", ours), ("snmp_exporter", theirs)):
            print(f"{name:<15}{side['polls']:>8.0f}{side['failures']:>6.0f}{side['polls_per_s']:>10.1f}"
                  f"{side['cpu_ms_per_poll']:>13.2f}{side['polls_per_cpu_s']:>13.1f}"
                  f"{side['polls_per_cpu_s_min']:>8.0f}-{side['polls_per_cpu_s_max']:.0f}")
        print(f"netmon / snmp_exporter polls per core: median {report['ratio_per_core']:.2f}× "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
              f"load 1m {min(report['load_1m']):.1f}-{max(report['load_1m']):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
