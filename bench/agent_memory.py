"""Benchmark: resident memory of `netmon agent run` in steady state (issue #18's goal: RSS ≤ 50 MB).

The real path: `python -m netmon.cli agent run` with the shipped inventory (config/communes.yaml) for one
center, its inside-out checks every ``--interval`` seconds, the central endpoint unreachable (so the
buffer grows and delivery retries, as during a cut). Steady state is three rounds of checks committed;
then VmRSS is sampled every 0.5 s for ``--seconds`` and its maximum kept, with RssAnon/RssFile at that
moment. The peer in the same run is a bare interpreter (``python -c`` sleeping): the floor any Python
agent pays. Runs alternate, ``--reps`` each; medians are reported with the load average.

    python -m bench.agent_memory [--site to-hieu] [--reps 5] [--seconds 10] [--interval 3]

Network: the agent runs in a network namespace of its own (``nmb-agent-PID``, removed afterwards) with
only loopback and ``blackhole 198.18.0.0/15``: its checks to the inventory's addresses go nowhere, even
while another session's simulated province is up. The central URL is a closed loopback port. Needs root
(the namespace, ICMP). Processes are stopped by PID.

What the agent loads depends on its devices: a center whose SNMPv3 authPriv device answers needs AES
(pycryptodomex, ~2 MB; `cryptography` took ~11). In the blackholed namespace no device answers; with
``--snmpv3`` a Debian snmpd with an authPriv SHA/AES user runs in the agent's namespace and the site's
4G router (to-hieu's ``router-4g``) is pointed at it, so every run polls it over authPriv.

    python -m bench.agent_memory --snmpv3 [--reps 5]

With ``--deliver`` the agent delivers, as it does in service: a real central side (`netmon run --agents`
with TLS, the agent's credential listed, remote-writing to Debian's Prometheus) runs in the agent's
namespace on loopback. Each run: the agent first commits with the central side down for ``--seconds``
(peak taken: the undelivered figure), then the central side starts and the agent catches up its backlog
and goes on delivering live results for ``--deliver-seconds`` (peak taken: the delivering figure) — the
same process, so the difference is what delivery costs.

    python -m bench.agent_memory --deliver [--reps 5] [--seconds 30] [--deliver-seconds 120]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from netmon.agent.config import new_credential
from tests.hardening.peers import self_signed
from tests.support import ROOT, free_port, netmon_run, prometheus, stop_process, wait_until

NETNS = f"nmb-agent-{os.getpid()}"


def status(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile of ``pid`` in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


def peak(pid: int, seconds: float) -> dict[str, int]:
    best: dict[str, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = status(pid)
        if now["VmRSS"] > best.get("VmRSS", 0):
            best = now
        time.sleep(0.5)
    return best


def committed(buffer: Path) -> int:
    if not buffer.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{buffer}?mode=ro", uri=True) as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
    except sqlite3.OperationalError:  # the agent is still creating it
        return 0
    return int(row[0]) if row else 0


def answered(buffer: Path, check: str) -> int:
    """Successful results of ``check`` in the buffer."""
    with sqlite3.connect(f"file:{buffer}?mode=ro", uri=True) as db:
        row = db.execute("SELECT COUNT(*) FROM results WHERE body LIKE ? AND body LIKE '%\"success\":true%'",
                         (f'%"check":"{check}"%',)).fetchone()
    return int(row[0])


def held(buffer: Path) -> int:
    """Results still in the agent's buffer (not yet acknowledged)."""
    with sqlite3.connect(f"file:{buffer}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def enter_namespace() -> None:
    """Move this (single-threaded) process into ``NETNS``: Prometheus, the central side and the agent it
    starts then share the namespace's loopback and nothing else."""
    with open(f"/run/netns/{NETNS}") as ns:
        if ctypes.CDLL(None, use_errno=True).setns(ns.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), "setns")


@contextmanager
def own_namespace() -> Iterator[None]:
    """The bench's namespace ``NETNS``: loopback up, 198.18.0.0/15 blackholed, deleted afterwards."""
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        for line in ("link set lo up", "route add blackhole 198.18.0.0/15"):
            subprocess.run(["ip", "-n", NETNS, *line.split()], check=True)
        yield
    finally:
        subprocess.run(["ip", "netns", "delete", NETNS], check=False)


def print_medians(rows: tuple[tuple[str, list[dict[str, int]]], ...]) -> None:
    """One line per kind of run: the median VmRSS, RssAnon and RssFile of its runs, MiB."""
    print(f"{'':24} {'VmRSS':>8} {'RssAnon':>8} {'RssFile':>8}  (MiB)")
    for name, runs in rows:
        print(f"{name:24} " + " ".join(f"{statistics.median(r[key] for r in runs) / 1024:8.1f}"
                                       for key in ("VmRSS", "RssAnon", "RssFile")))


def central_inventory(tmp: Path, inventory: Path, site: str) -> Path:
    """The inventory reduced to the agent's site (no devices) and the datacenter's own checks, as
    tests/agent/test_lab_agent.py runs the central side: it accepts the site's agent, its own probing is
    not what is measured."""
    spec = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    spec["sites"] = [s for s in spec["sites"] if s["slug"] == site]
    spec["sites"][0].pop("devices", None)
    for hub in spec["hubs"]:
        hub.pop("checks", None)
    path = tmp / "central.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def delivering_run(tmp: Path, site: str, interval: float, seconds: float, deliver_seconds: float,
                   write_url: str, inventory: Path = ROOT / "config" / "communes.yaml",
                   ) -> tuple[dict[str, int], dict[str, int], int, int, float]:
    """One agent, first with its central side down, then delivering to it: (peak undelivered, peak
    delivering, checks, backlog at the central side's start, catch-up seconds)."""
    from netmon.agent.checks import inside_out
    from netmon.inventory import load

    checks = len(inside_out(load(inventory), site))
    run = tmp / f"run-{time.monotonic_ns()}"
    run.mkdir()
    cert, key = self_signed(run)
    digest = new_credential(run / "agent.token")
    listen = f"127.0.0.1:{free_port()}"
    agents = run / "agents.yaml"
    agents.write_text(yaml.safe_dump({
        "listen": listen, "tls": {"cert_file": str(cert), "key_file": str(key)},
        "remote_write": write_url, "state": str(run / "agents.db"),
        "agents": [{"id": site, "site": site, "token_sha256": digest}]}))
    buffer = run / "buffer.db"
    config = run / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "site": site, "inventory": str(inventory), "central": f"https://{listen}",
        "credential_file": str(run / "agent.token"), "ca_file": str(cert), "buffer": str(buffer),
        "interval": f"{interval}s", "live_window": f"{3 * interval}s"}))
    proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "agent", "run", "--config", str(config)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: committed(buffer) >= 3 * checks, 30 + 4 * interval, "three rounds of checks")
        alone = peak(proc.pid, seconds)
        backlog = held(buffer)
        with netmon_run(central_inventory(run, inventory, site), run, "--agents", str(agents)):
            start = time.monotonic()
            samples: list[dict[str, int]] = []
            end = start + deliver_seconds
            caught_up = float("nan")
            while time.monotonic() < end:
                samples.append(status(proc.pid))
                if caught_up != caught_up and held(buffer) <= checks:
                    caught_up = time.monotonic() - start
                time.sleep(0.5)
            if caught_up != caught_up:
                raise AssertionError(f"backlog of {backlog} not delivered in {deliver_seconds:g} s")
        return alone, max(samples, key=lambda r: r["VmRSS"]), checks, backlog, caught_up
    finally:
        stop_process(proc, 30)


def agent_run(tmp: Path, site: str, interval: float, seconds: float,
              inventory: Path = ROOT / "config" / "communes.yaml", polled: str | None = None,
              ) -> tuple[dict[str, int], int]:
    """One agent: (peak status, number of checks). With ``polled``, that check must have succeeded."""
    from netmon.agent.checks import inside_out
    from netmon.inventory import load

    checks = len(inside_out(load(inventory), site))
    buffer = tmp / f"buffer-{time.monotonic_ns()}.db"
    new_credential(token := tmp / f"token-{time.monotonic_ns()}")
    config = tmp / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "site": site, "inventory": str(inventory),
        "central": f"http://127.0.0.1:{free_port()}", "credential_file": str(token), "buffer": str(buffer),
        "interval": f"{interval}s"}))
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, "-m", "netmon.cli", "agent", "run",
                             "--config", str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: committed(buffer) >= 3 * checks, 30 + 4 * interval, "three rounds of checks")
        if polled is not None:
            wait_until(lambda: answered(buffer, polled), 10 + 2 * interval, f"{polled} answering")
        return peak(proc.pid, seconds), checks
    finally:
        stop_process(proc, 30)


V3_USER, V3_AUTH, V3_PRIV = "netmon", "bench-auth-123", "bench-priv-456"


def snmpv3_device(tmp: Path, site: str, device: str) -> tuple[Path, subprocess.Popen[bytes]]:
    """A Debian snmpd (authPriv SHA/AES user) on loopback in the agent's namespace, and a copy of the
    shipped inventory whose ``device`` at ``site`` polls it over authPriv."""
    port = free_port()
    conf = tmp / "snmpd.conf"
    conf.write_text(f"agentaddress udp:127.0.0.1:{port}\npersistentDir {tmp}\n"
                    f"createUser {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}\nrouser {V3_USER} priv\n")
    for name, value in (("auth-key", V3_AUTH), ("priv-key", V3_PRIV)):
        (tmp / name).write_text(value + "\n")
        (tmp / name).chmod(0o600)
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, "snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p",
                             str(tmp / "snmpd.pid")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    get = ["ip", "netns", "exec", NETNS, "snmpget", "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA",
           "-A", V3_AUTH, "-x", "AES", "-X", V3_PRIV, "-r", "0", "-t", "0.5", f"127.0.0.1:{port}",
           "1.3.6.1.2.1.1.5.0"]
    wait_until(lambda: subprocess.run(get, capture_output=True).returncode == 0, 15, "snmpd, authPriv")
    doc = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text(encoding="utf-8"))
    entry = next(d for s in doc["sites"] if s["slug"] == site for d in s["devices"] if d["id"] == device)
    entry.pop("link", None)
    entry.update(address="127.0.0.1", port=port, snmp={
        "version": "3", "user": V3_USER, "auth_protocol": "sha", "auth_key_file": str(tmp / "auth-key"),
        "priv_protocol": "aes", "priv_key_file": str(tmp / "priv-key")})
    inventory = tmp / "communes-snmpv3.yaml"
    inventory.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return inventory, proc


def floor_run(seconds: float) -> dict[str, int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        time.sleep(0.5)  # the interpreter's start-up is all it does
        return peak(proc.pid, seconds)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", default="to-hieu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=3.0)
    ap.add_argument("--snmpv3", action="store_true",
                    help="the site's 4G router answers over SNMPv3 authPriv (snmpd in the agent's namespace)")
    ap.add_argument("--deliver", action="store_true",
                    help="a real central side: the agent commits alone for --seconds, then delivers")
    ap.add_argument("--deliver-seconds", type=float, default=120.0)
    args = ap.parse_args()
    if args.deliver:
        deliver(args)
        return
    agent: list[dict[str, int]] = []
    floor: list[dict[str, int]] = []
    load = [os.getloadavg()[0]]
    snmpd: subprocess.Popen[bytes] | None = None
    with own_namespace():
        try:
            with tempfile.TemporaryDirectory() as d:
                inventory = ROOT / "config" / "communes.yaml"
                if args.snmpv3:
                    inventory, snmpd = snmpv3_device(Path(d), args.site, "router-4g")
                for _ in range(args.reps):
                    sample, checks = agent_run(Path(d), args.site, args.interval, args.seconds, inventory,
                                               "agent-router-4g" if args.snmpv3 else None)
                    agent.append(sample)
                    floor.append(floor_run(args.seconds))
                    load.append(os.getloadavg()[0])
        finally:
            if snmpd is not None:
                snmpd.terminate()
                snmpd.wait(10)

    print(f"netmon agent at {args.site}: {checks} checks every {args.interval:g} s, central unreachable; "
          f"{args.reps} alternating runs, medians; load average {min(load):.1f}-{max(load):.1f} "
          f"({os.cpu_count()} cores); "
          f"{'router-4g answering over SNMPv3 authPriv' if args.snmpv3 else 'no device answers'}")
    print_medians((("netmon agent", agent), ("bare python (floor)", floor)))
    each = ", ".join(f"{r['VmRSS'] / 1024:.1f}" for r in agent)
    ratio = statistics.median(r["VmRSS"] for r in agent) / statistics.median(r["VmRSS"] for r in floor)
    print(f"agent / floor: {ratio:.2f}; agent runs VmRSS: {each}")


def deliver(args: argparse.Namespace) -> None:
    """``--deliver``: each run's agent undelivered, then delivering; a bare interpreter between runs."""
    alone: list[dict[str, int]] = []
    sending: list[dict[str, int]] = []
    floor: list[dict[str, int]] = []
    catchups: list[str] = []
    load = [os.getloadavg()[0]]
    with own_namespace():
        enter_namespace()
        with tempfile.TemporaryDirectory() as d, prometheus(Path(d), [], remote_write=True) as prom:
            for _ in range(args.reps):
                before, during, checks, backlog, caught_up = delivering_run(
                    Path(d), args.site, args.interval, args.seconds, args.deliver_seconds,
                    f"{prom.url}/api/v1/write")
                alone.append(before)
                sending.append(during)
                catchups.append(f"{backlog} in {caught_up:.1f} s")
                floor.append(floor_run(args.seconds))
                load.append(os.getloadavg()[0])

    print(f"netmon agent at {args.site}: {checks} checks every {args.interval:g} s; central down for "
          f"{args.seconds:g} s, then `netmon run --agents` over HTTPS on loopback for "
          f"{args.deliver_seconds:g} s; "
          f"{args.reps} runs, medians; load average {min(load):.1f}-{max(load):.1f} ({os.cpu_count()} cores)")
    print_medians((("agent, central down", alone), ("agent, delivering", sending),
                   ("bare python (floor)", floor)))
    print("runs VmRSS down -> delivering: " + ", ".join(
        f"{a['VmRSS'] / 1024:.1f} -> {b['VmRSS'] / 1024:.1f}" for a, b in zip(alone, sending, strict=True)))
    print("backlog caught up: " + "; ".join(catchups))


if __name__ == "__main__":
    main()
