"""The real processes on loopback: `netmon run --agents` with its history, `netmon agent run`, Debian's
Prometheus with the remote-write receiver. The central side goes away (its restart included), the
agent is killed -9 and restarted meanwhile; at the end every result the agent committed is in
Prometheus and in the history exactly once. The simulated-province version (a real cut link, a VSAT
path, a power cut) is tests/agent/test_lab_agent.py. The agent's echo counter runs on across its kill -9."""

from __future__ import annotations

import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from netmon.agent.compare import compare
from netmon.agent.config import new_credential
from tests.hardening.peers import self_signed
from tests.support import ROOT, free_port, netmon_run, prometheus, scrape, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow]  # ICMP echoes to 127.0.0.0/8 need raw sockets

INVENTORY = """version: 1
defaults:
  interval: 2s
  timeout: 1.5s
  link_types:
    fiber: {rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5, jitter_degraded: 10ms, unreachable_after: 2m}
datacenter:
  slug: trung-tam-du-lieu
  name: Trung tâm Dữ liệu tỉnh Sơn La
  address: 127.0.0.1
  location: {lat: 21.3256, lon: 103.9188}
  checks:
    - {id: canary-core, probe: icmp, target: 127.0.0.1, count: 3, spacing: 0.05, packet_timeout: 0.5}
    - {id: qlvb-http, probe: http, service: qlvb}
services:
  - {id: qlvb, kind: document-management, name: Hệ thống quản lý văn bản, url: "http://127.0.0.1:PORT/"}
hubs:
  - {id: hub-mai-son, name: Trạm VNPT Mai Sơn, district: Huyện Mai Sơn, address: 127.0.1.1}
sites:
  - slug: chieng-mung
    name: Chiềng Mung
    kind: commune
    admin_code: "04123"
    district: Huyện Mai Sơn
    location: {lat: 21.1693, lon: 103.9904}
    upstream: hub-mai-son
    links:
      - {id: primary, type: fiber, isp: VNPT, since: 2025-09-15, cpe: 127.0.2.1}
"""


@contextmanager
def web_server() -> Iterator[int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def committed(buffer: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{buffer}?mode=ro", uri=True) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
        held = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    return (int(row[0]) if row else 0), int(held)


def test_central_gone_agent_killed_everything_once(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    digest = new_credential(tmp_path / "agent.token")
    with web_server() as port, prometheus(tmp_path, [], remote_write=True) as prom:
        inventory = tmp_path / "inventory.yaml"
        inventory.write_text(INVENTORY.replace("PORT", str(port)))
        listen = f"127.0.0.1:{free_port()}"
        agents = tmp_path / "agents.yaml"
        agents.write_text(yaml.safe_dump({
            "listen": listen, "tls": {"cert_file": str(cert), "key_file": str(key)},
            "remote_write": f"{prom.url}/api/v1/write", "state": str(tmp_path / "agents.db"),
            "agents": [{"id": "chieng-mung", "site": "chieng-mung", "token_sha256": digest}]}))
        config = tmp_path / "agent.yaml"
        buffer = tmp_path / "buffer.db"
        config.write_text(yaml.safe_dump({
            "site": "chieng-mung", "inventory": str(inventory), "central": f"https://{listen}",
            "credential_file": str(tmp_path / "agent.token"), "ca_file": str(cert), "buffer": str(buffer),
            "live_window": "6s"}))
        history = tmp_path / "history.db"
        central_args = (inventory, tmp_path, "--agents", str(agents), "--history", str(history))
        log = (tmp_path / "agent.log").open("ab")

        def start_agent() -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, "-m", "netmon.cli", "agent", "run", "--config", str(config)],
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

        agent = start_agent()
        try:
            with netmon_run(*central_args) as central:
                wait_until(lambda: any(v >= 5 for _, v in central.samples("netmon_agent_results_total")), 60,
                           "first results at the central side")
            # the central side is gone: the agent keeps committing; kill -9 it and restart meanwhile
            before = committed(buffer)[0]
            wait_until(lambda: committed(buffer)[0] >= before + 8, 60, "results committed while alone")
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
            agent = start_agent()
            wait_until(lambda: committed(buffer)[0] >= before + 16, 60, "results after the restart")
            with netmon_run(*central_args) as central:  # back (a restarted central keeps its cursor)
                wait_until(lambda: committed(buffer)[1] <= 4, 60, "backlog delivered")
                # both directions side by side: on one host they agree
                scrape(prom, tmp_path, central.url.removeprefix("http://"))
                rows = wait_until(lambda: [r for r in compare(prom.url, "chieng-mung", "10s")
                                           if r.datacenter and r.agent], 30, "both views in Prometheus")
                assert {r.check for r in rows} == {"canary-core", "qlvb-http"}
                assert {r.verdict for r in rows} == {"same"}
                agent.send_signal(signal.SIGTERM)
                agent.wait(30)
                last, held = committed(buffer)
                assert "netmon agent stopped: " in (tmp_path / "agent.log").read_text(encoding="utf-8")
                assert held == 0
                dup = sum(v for labels, v in central.samples("netmon_agent_results_total")
                          if labels["outcome"] == "duplicate")
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            log.close()
        series = prom.query('netmon_probe_success{site="chieng-mung",link="agent"}[1h]')
        samples = sum(len(s["values"]) for s in series)
        assert samples == last, f"{samples} samples in Prometheus for {last} committed results"
        # the agent's counters go on across its kill -9 (its buffer keeps them): 3 echoes a run, never reset,
        # so increase() over the whole run, restart included, is exactly the echoes sent after the first
        canary = '{site="chieng-mung",check="agent-canary-core"}'
        runs = next(len(s["values"]) for s in series if s["metric"]["check"] == "agent-canary-core")
        sent = prom.query(f"netmon_icmp_packets_sent_total{canary}[1h]")[0]["values"]
        assert [float(v) for _, v in sent] == [3.0 * n for n in range(1, runs + 1)]
        first, end = float(sent[0][0]), float(sent[-1][0])
        increase = prom.query(f"increase(netmon_icmp_packets_sent_total{canary}[{round((end - first) * 1000)}ms] "
                              f"@ {end})")
        assert float(increase[0]["value"][1]) == 3.0 * (runs - 1)
        with sqlite3.connect(f"file:{history}?mode=ro", uri=True) as db:
            runs = db.execute("SELECT SUM(runs) FROM rollup_hour WHERE check_id LIKE 'agent-%'").fetchone()[0]
        assert runs == last, f"{runs} runs in the history for {last} committed results"
        print(f"committed {last}, in Prometheus {samples}, in the history {runs}, resent and recognised {dup:.0f}")
