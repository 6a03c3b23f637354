"""Real SNMP agents for the collector tests and the benchmark: Debian snmpd and snmpsim, on loopback.

Both are started by us and stopped by their PID. Readiness is an answered ``snmpget``, retried
until the agent has bound its port — the agent's own answer, not a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT, stop_process, wait_until

SNMP_FIXTURES = ROOT / "tests" / "fixtures" / "snmp"
#: Installed next to this interpreter by `pip install .[test]`; `make test` does not put .venv/bin on PATH.
SNMPSIM = str(Path(sys.executable).parent / "snmpsim-command-responder")

#: Test-only credentials (loopback agents created and destroyed by the tests).
COMMUNITY = "netmon-test-ro"
V3_USER = "netmon"
V3_AUTH = "auth-secret-0451"
V3_PRIV = "priv-secret-7719"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def net_snmp(tool: str, port: int, oid: str, *auth: str) -> dict[str, str]:
    """``snmpget``/``snmpwalk`` output as numeric OID → value (strings unquoted, enums and ticks raw)."""
    args = auth or ("-v2c", "-c", COMMUNITY)
    out = subprocess.run([tool, *args, "-On", "-Oq", "-Ot", "-Oe", "-t", "1", "-r", "1",
                          f"127.0.0.1:{port}", oid], capture_output=True, text=True, check=True,
                         env={**os.environ, "MIBS": ""}).stdout
    values = {}
    for line in out.splitlines():
        oid_text, _, value = line.partition(" ")
        if value.startswith("No more variables") or value.startswith("No Such"):
            continue
        values[oid_text.lstrip(".")] = value.strip().strip('"')
    return values


def answering(port: int, *auth: str) -> bool:
    try:
        return bool(net_snmp("snmpget", port, "1.3.6.1.2.1.1.3.0", *auth))
    except subprocess.CalledProcessError:
        return False


@dataclass
class Snmpd:
    port: int
    conf: Path
    pidfile: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["snmpd", "-f", "-Lo", "-C", "-c", str(self.conf), "-p", str(self.pidfile)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "MIBS": ""})
        wait_until(lambda: answering(self.port, "-v2c", "-c", COMMUNITY), 10, f"snmpd on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def snmpd(tmp: Path) -> Iterator[Snmpd]:
    """Debian snmpd with a v2c community and a v3 authPriv SHA/AES user, on a free loopback port."""
    if shutil.which("snmpd") is None:
        raise RuntimeError("Debian snmpd is missing: apt-get install -y --no-install-recommends snmpd")
    port = free_udp_port()
    conf = tmp / f"snmpd-{port}.conf"
    conf.write_text(
        f"agentaddress udp:127.0.0.1:{port}\n"
        f"rocommunity {COMMUNITY} 127.0.0.1\n"
        f"createUser {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}\n"
        f"rouser {V3_USER} priv\n"
        f"persistentDir {tmp}\n"
    )
    agent = Snmpd(port, conf, tmp / f"snmpd-{port}.pid", tmp / f"snmpd-{port}.log")
    try:
        agent.start()  # inside: an snmpd that never answers in time is stopped too, not orphaned
        yield agent
    finally:
        agent.stop()


@contextmanager
def snmpsim(tmp: Path, recordings: Sequence[Path], probe_community: str | None = None) -> Iterator[int]:
    """snmpsim serving each recording under its own community (the file stem); yields the port."""
    data = tmp / "snmpsim-data"
    data.mkdir(exist_ok=True)
    for rec in recordings:
        shutil.copy(rec, data / rec.name)
    port = free_udp_port()
    log = tmp / f"snmpsim-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SNMPSIM, f"--data-dir={data}", f"--agent-udpv4-endpoint=127.0.0.1:{port}",
             f"--cache-dir={tmp / 'snmpsim-cache'}"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"})
    community = probe_community or Path(recordings[0]).stem
    try:
        wait_until(lambda: proc.poll() is None and answering(port, "-v2c", "-c", community), 60,
                   f"snmpsim on {port} (log {log})")
        yield port
    finally:
        stop_process(proc)
