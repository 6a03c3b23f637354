"""The agent on the simulated province: a VSAT center's link cut for minutes (scaled), the agent killed
-9 in the middle, a power cut (agent gone, site dark), the link restored — then every result the agent
committed is in Prometheus at its own timestamp and in the central history, once.

Before the cut, the document system is made slow for requests from this center only (the lab's
``slow_from``): the data center sees it fine, the agent sees it slow, and `netmon agent compare` says so.

Scale: the agent's checks run every 5 s instead of 30 s (6×), so the ~75 s cut stands for ~7.5 minutes
of a real one and the byte budget is scaled by the same factor.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon.agent.compare import compare
from netmon.agent.config import new_credential
from netmon.agent.sides import read as read_sides
from netmon.lab import control
from netmon.lab.netns import PREFIX
from tests.hardening.peers import self_signed
from tests.lab.fixtures import INVENTORY
from tests.support import ROOT, free_port, netmon_run, prometheus, scrape, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

SITE = "pung-banh"  # VSAT primary link (600 ms in the calm scenario), UPS and 4G router on its LAN
INTERVAL = 5.0
SCALE = 30.0 / INTERVAL
#: Bytes a day a VSAT center may spend on agent delivery (20 MB), at the test's faster schedule.
BUDGET_PER_DAY = int(20e6 * SCALE)
CENTRAL = "198.18.0.2"  # the inventory's prober address: the root namespace's end of the lab


def central_inventory(tmp: Path) -> Path:
    """The shipped inventory reduced to the one site (no SNMP devices), every check every 4 s."""
    spec = yaml.safe_load(INVENTORY.read_text())
    spec["defaults"].update(interval="4s", timeout="3.5s")
    spec["sites"] = [s for s in spec["sites"] if s["slug"] == SITE]
    spec["sites"][0].pop("devices")
    for hub in spec["hubs"]:
        hub.pop("checks", None)
    path = tmp / "central.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    return path


class AgentProcess:
    """`netmon agent run` inside the site's namespace, started and killed by this test."""

    def __init__(self, config: Path, log: Path):
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None
        #: (killed at, restarted at) of every kill -9.
        self.downtimes: list[tuple[float, float]] = []

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", PREFIX + SITE, sys.executable, "-m", "netmon.cli", "--log-level", "INFO",
                 "agent", "run", "--config", str(self.config)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def rss_mib(self) -> float:
        """Resident memory of the running agent (VmRSS), MiB."""
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def kill9(self) -> float:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return time.time()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def agent_setup(tmp: Path, write_url: str) -> Iterator[tuple[Path, Path, Path]]:
    cert, key = self_signed(tmp, CENTRAL)
    digest = new_credential(tmp / "agent.token")
    agents = tmp / "agents.yaml"
    agents.write_text(yaml.safe_dump({
        "listen": f"{CENTRAL}:{free_port()}", "tls": {"cert_file": str(cert), "key_file": str(key)},
        "remote_write": write_url, "state": str(tmp / "agents.db"),
        "agents": [{"id": SITE, "site": SITE, "token_sha256": digest}]}))
    config = tmp / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "site": SITE, "inventory": str(INVENTORY), "central": f"https://{yaml.safe_load(agents.read_text())['listen']}",
        "credential_file": str(tmp / "agent.token"), "ca_file": str(cert), "buffer": str(tmp / "buffer.db"),
        "interval": f"{INTERVAL}s", "live_window": f"{3 * INTERVAL}s", "budget_bytes_per_day": BUDGET_PER_DAY}))
    yield agents, config, tmp / "buffer.db"


def sent_bytes(path: Path) -> int:
    """Bytes every agent process sent and received for delivery (kept in the buffer across kill -9)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'sent_bytes'").fetchone()
    return int(row[0]) if row else 0


def buffer_state(path: Path, before: float | None = None) -> tuple[int, int]:
    """(last sequence number, rows held [committed before ``before``]) read beside the running agent."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
        where, args = ("WHERE committed < ?", (before,)) if before else ("", ())
        held = db.execute(f"SELECT COUNT(*) FROM results {where}", args).fetchone()[0]
    return (int(row[0]) if row else 0), int(held)


def counter(central: Any, name: str, **labels: str) -> float:
    return sum(v for lab, v in central.samples(name) if all(lab.get(k) == x for k, x in labels.items()))


def test_cut_kill_power_cut_then_everything_once(lab: control.Lab, tmp_path: Path) -> None:
    lab.reset()
    hist = tmp_path / "history.db"
    with prometheus(tmp_path, [], remote_write=True) as prom, \
            agent_setup(tmp_path, f"{prom.url}/api/v1/write") as (agents, config, buffer), \
            netmon_run(central_inventory(tmp_path), tmp_path, "--agents", str(agents), "--history", str(hist),
                       "--history-rollup-every", "1s",  # its rollup runs are read while it runs
                       "--max-concurrency", "32") as central:
        agent = AgentProcess(config, tmp_path / "agent.log")
        try:
            # 0. the document system slow only from this center (from the agent's first run on, so the
            # comparison's window fills while the first results arrive): the agent sees it, the data
            # center not
            lab.set("qlvb", slow_from={SITE: 1.5})
            agent.start()
            started = time.time()
            wait_until(lambda: counter(central, "netmon_agent_results_total", outcome="accepted") >= 20, 60,
                       "the agent's first results at the central side")
            scrape(prom, tmp_path, central.url.removeprefix("http://"))
            seen: list[list[Any]] = [[]]

            def slower() -> list[Any]:
                seen[0] = compare(prom.url, SITE, "20s")
                return [r for r in seen[0] if r.check == "qlvb-https" and r.verdict == "slower"]
            try:
                rows = wait_until(slower, 60, "netmon agent compare: qlvb slower from the center")
            finally:
                print("compare:", *seen[0], sep="\n  ")
            assert rows[0].datacenter is not None and rows[0].datacenter.duration < 0.5
            assert rows[0].datacenter.success == 1.0
            cli = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", "vi", "agent", "compare", SITE,
                                  "--prometheus", prom.url, "--window", "20s"], capture_output=True, text=True,
                                 cwd=ROOT)
            print(cli.stdout)
            slow = [line for line in cli.stdout.splitlines() if line.endswith("chậm hơn khi đo từ trung tâm xã")]
            assert cli.returncode == 1 and [line.split()[0] for line in slow] == ["qlvb-https"], cli.stdout
            lab.reset()

            # 1. the link is cut; the agent keeps measuring (its LAN devices answer, the province does not)
            cut = time.time()
            lab.set(SITE, down=True)
            time.sleep(20)
            rss = [agent.rss_mib()]
            # 2. kill -9 in the middle of the cut, restart at once
            killed = agent.kill9()
            agent.start()
            agent.downtimes.append((killed, time.time()))
            time.sleep(20)
            rss.append(agent.rss_mib())
            # ... and a power cut: the UPS goes on battery (the agent polls it over the LAN and commits
            # it), then the battery is flat and the agent dies; 20 s later the power is back
            lab.set(f"{SITE}/ups", on_battery=True)
            time.sleep(2 * INTERVAL)
            power_off = agent.kill9()
            time.sleep(20)
            agent.start()
            power_on = time.time()
            agent.downtimes.append((power_off, power_on))
            time.sleep(15)
            # 3. the link is restored
            restored = time.time()
            lab.reset()
            during_cut = buffer_state(buffer, restored)[1]
            wait_until(lambda: buffer_state(buffer, restored)[1] == 0, 300, "the backlog delivered")
            catch_up = time.time() - restored
            time.sleep(2 * INTERVAL)
            rss.append(agent.rss_mib())
        finally:
            agent.stop()
        elapsed = time.time() - started
        committed, held = buffer_state(buffer)
        used = sent_bytes(buffer)

        assert held == 0, f"{held} committed results were not delivered at a clean stop"
        accepted = counter(central, "netmon_agent_results_total", outcome="accepted")
        duplicates = counter(central, "netmon_agent_results_total", outcome="duplicate")
        assert accepted == committed, (accepted, committed)
        assert counter(central, "netmon_agent_buffer_dropped_total") == 0
        wait_until(lambda: counter(central, "netmon_agent_pending_results") == 0, 30, "history order")

        # Prometheus: one sample per committed result, at the result's own timestamp
        series = prom.query(f'netmon_probe_success{{site="{SITE}",link="agent"}}[1h]')
        samples = sum(len(s["values"]) for s in series)
        assert samples == committed, f"Prometheus holds {samples} samples for {committed} committed results"
        # gaps: only where the agent was not running (kill -9 and restart; the power cut)
        for s in series:
            stamps = [float(t) for t, _ in s["values"]]
            for a, b in itertools.pairwise(stamps):
                if b - a > 2 * INTERVAL + 1:
                    assert any(0 <= k - a <= 2 * INTERVAL + 1 and 0 <= b - r <= 20 for k, r in agent.downtimes), \
                        f"{s['metric']['check']}: gap {a:.1f}-{b:.1f} while the agent ran"
            assert not [t for t in stamps if power_off + 1 < t < power_on], "results from a dead agent"
            assert [t for t in stamps if cut < t < restored], f"{s['metric']['check']}: nothing from the cut"

        # history: every result once (rollup runs), and outages seen from outside and from inside
        with sqlite3.connect(f"file:{hist}?mode=ro", uri=True) as db:
            def runs() -> int:
                return int(db.execute("SELECT COALESCE(SUM(runs), 0) FROM rollup_hour WHERE site = ? AND "
                                      "check_id LIKE 'agent-%'", (SITE,)).fetchone()[0])
            wait_until(lambda: runs() == committed, 30, f"{committed} agent runs in the history")
            outages = db.execute('SELECT link, start, "end" FROM outages WHERE site = ?', (SITE,)).fetchall()
        sides = {link for link, start, end in outages if start < restored and (end is None or end > cut)}
        assert {"primary", "agent"} <= sides, outages
        seen = [o for o in read_sides(hist, cut - 60, time.time(), SITE) if o.link == "primary"]
        assert [o.seen_by for o in seen] == ["both"], seen
        # the agent's UPS readings, delivered after the restore, make the data center's record a power cut
        assert seen[0].cause == "power", seen

        # the bucket held (scaled budget over the run plus its quarter-hour), and at the real 30 s schedule
        # the run's traffic, catch-up included, projects to less than the VSAT center's 20 MB a day
        budget = BUDGET_PER_DAY * elapsed / 86400 + BUDGET_PER_DAY / 96
        assert 0 < used <= budget, (used, budget)
        per_day = used / elapsed * 86400 / SCALE
        assert per_day <= BUDGET_PER_DAY / SCALE, per_day
        figures = (f"committed {committed} (during the cut {during_cut}), delivered {accepted:.0f}, "
                   f"resent-and-recognised {duplicates:.0f}, duplicated in Prometheus {samples - committed}, "
                   f"lost {committed - accepted:.0f}, catch-up {catch_up:.1f} s, bytes {used} "
                   f"(budget {budget:.0f} over {elapsed:.0f} s; {per_day / 1e6:.2f} MB/day at 30 s), agent RSS max {max(rss):.1f} MiB, outages {outages}")
        print(figures)
        (tmp_path.parent / "agent-lab-figures.txt").write_text(figures + "\n")
