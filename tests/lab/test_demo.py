"""`netmon demo` as a user runs it: all 75 sites in /metrics, Ctrl-C ends it cleanly.

The demo normally brings up its own lab, but a test session already holds the machine's one lab (the
session fixture, which owns the lab lock for the whole session; taking that lock again from this
process would wait for ourselves). So the test runs ``netmon demo --reuse-lab`` on the session lab:
the same code path from the service's start to Ctrl-C, and it checks that the demo leaves a lab it
did not start exactly as it found it. Bringing a lab up and tearing it down completely is covered by
tests/lab/test_lab.py (`test_down_removes_everything_then_up_again`).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.inventory import load
from netmon.lab import control
from tests.lab.fixtures import INVENTORY
from tests.support import ROOT, free_port, http_get, wait_until

pytestmark = pytest.mark.privileged

SPEC = load(INVENTORY).spec
SITES = {s.slug for s in SPEC.sites}
INTERVAL = 30.0  # the shipped inventory's default


def _sites_with_results(url: str, seen: set[str]) -> bool:
    try:
        body = http_get(f"{url}/metrics", timeout=5)[1]
    except OSError:
        return False
    seen.update(line.split('site="', 1)[1].split('"', 1)[0] for line in body.splitlines()
                if line.startswith("netmon_probe_success{"))
    return seen >= SITES


def test_demo_serves_every_site_and_stops_quietly_on_ctrl_c(lab: control.Lab, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "demo", "--reuse-lab",
                                 "--listen", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        seen: set[str] = set()
        wait_until(lambda: proc.poll() is None and _sites_with_results(url, seen), 2 * INTERVAL,
                   "a result for every site in /metrics")
        info = http_get(f"{url}/metrics")[1]
        assert sum(line.startswith("netmon_site_info{") and ('kind="ward"' in line or 'kind="commune"' in line)
                   for line in info.splitlines()) == len(SITES)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal delivers
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output and "CancelledError" not in output and "ERROR" not in output, output
    assert "monitoring the running lab" in output and "netmon stopped" in output
    assert "netmon_(snmp_up|ups_on_battery|device_reboots_total)" in output  # equipment health in the guide
    assert "Added job" not in output  # the guide is not buried under the scheduler's start-up lines
    with pytest.raises(OSError):
        http_get(f"{url}/metrics", timeout=1)  # nothing of the demo is left listening
    running = control.current()
    assert running is not None and running.pid == lab.pid  # a lab the demo did not start stays up
    assert running.status()["overrides"] == {}


def test_demo_stops_when_its_terminal_closes(lab: control.Lab, tmp_path: Path) -> None:
    """Closing the demo's terminal delivers SIGHUP: the demo ends as on Ctrl-C (a demo that started its
    lab tears it down on the same path), instead of reloading and running on unseen (issue #15, case 12)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "demo", "--reuse-lab",
                                 "--listen", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return http_get(f"{url}/-/healthy", timeout=1)[0] == 200
            except OSError:
                return False
        wait_until(healthy, 60, "the demo's /-/healthy")
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0 and "netmon stopped" in output and "Traceback" not in output, output
    with pytest.raises(OSError):
        http_get(f"{url}/-/healthy", timeout=1)
