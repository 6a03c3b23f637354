"""Reloads that raced or starved: a slow reload finishing after a newer one, and a config that never
delivers data taking the threads the probes resolve names with. `netmon validate` on such a file ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.netmon.test_service import write_inventory
from tests.support import ROOT, NetmonProcess, free_port, http_post, http_server, netmon_run, wait_until


def scheduled(netmon: NetmonProcess) -> float:
    return netmon.samples("netmon_checks_scheduled")[0][1]


@pytest.mark.slow
def test_the_newest_reload_wins_over_a_slower_older_one(tmp_path: Path) -> None:
    refused = free_port()
    many = [f"{{id: c{i}, probe: tcp, target: 127.0.0.1, port: {refused}, interval: 10m}}" for i in range(4000)]
    big = write_inventory(tmp_path / "big.yaml", many, []).read_bytes()
    small = write_inventory(tmp_path / "small.yaml",
                            [f"{{id: only, probe: tcp, target: 127.0.0.1, port: {refused}}}"], []).read_bytes()
    config = tmp_path / "inv.yaml"
    config.write_bytes(small)
    with netmon_run(config, tmp_path, "--no-history") as netmon:
        answers: list[tuple[int, str]] = []
        config.write_bytes(big)
        slow = threading.Thread(target=lambda: answers.append(http_post(f"{netmon.url}/-/reload")))
        slow.start()
        # Let the slow reload read the big file before it is replaced (reading takes milliseconds, parsing
        # 4,000 checks about a second). Should it read late, both reloads see the small file: no false pass.
        time.sleep(0.3)
        config.write_bytes(small)
        newest = http_post(f"{netmon.url}/-/reload")
        slow.join(60)
        final = scheduled(netmon)
    assert newest[0] == 200 and answers and answers[0][0] == 200, (newest, answers)
    assert final == 1, f"{final:g} checks scheduled while the file holds 1"


@pytest.mark.slow
def test_a_config_that_never_delivers_neither_starves_probes_nor_hangs(tmp_path: Path) -> None:
    with http_server(200) as url:
        checks = [f"{{id: web-{i}, probe: http, target: '{url}'}}" for i in range(10)]
        config = write_inventory(tmp_path / "inv.yaml", checks, [], interval="1s", timeout="800ms")
        with netmon_run(config, tmp_path, "--no-history") as netmon:
            def failures() -> float:
                return sum(v for _, v in netmon.samples("netmon_probe_failures_total"))
            wait_until(lambda: len(netmon.samples("netmon_probe_success")) == 10, 20, "every check to run")
            # The config becomes a pipe with a writer that never writes.
            fifo = tmp_path / "fifo"
            os.mkfifo(fifo)
            writer = os.open(fifo, os.O_RDWR)
            try:
                os.replace(fifo, config)
                for _ in range(10):
                    netmon.proc.send_signal(signal.SIGHUP)
                runs = lambda: sum(v for _, v in netmon.samples("netmon_check_runs_total"))  # noqa: E731
                start = runs()
                wait_until(lambda: runs() >= start + 40, 20, "four more rounds of every check")
                lost = failures()
                begin = time.monotonic()
                status, body = http_post(f"{netmon.url}/-/reload")
                waited = time.monotonic() - begin
                validate = subprocess.run([sys.executable, "-m", "netmon.cli", "validate", str(config)],
                                          cwd=ROOT, capture_output=True, text=True, timeout=60)
            finally:
                os.close(writer)
            reload_ok = netmon.samples("netmon_config_last_reload_successful")[0][1]
    assert lost == 0, "healthy checks failed while reloads waited on the pipe"
    assert status == 500 and "no complete data within 10s" in body and waited < 25, (status, body, waited)
    assert reload_ok == 0
    assert validate.returncode != 0 and "no complete data within 10s" in validate.stdout + validate.stderr
