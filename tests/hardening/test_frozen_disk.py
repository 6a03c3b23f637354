"""SIGTERM while the disk under the history store is frozen (fsfreeze): netmon stops within a bound.

A write to a frozen file system sleeps uninterruptibly until it thaws; no process can cut that short,
and the kernel reaps the process only then. What netmon controls is everything else: it stops probing,
closes its port and says what was not saved, within `BOUND` seconds, instead of waiting on the disk.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.netmon.test_service import write_inventory
from tests.support import netmon_run, tcp_listener, wait_until

BOUND = 15.0

pytestmark = pytest.mark.privileged


@contextmanager
def small_ext4(where: Path) -> Iterator[Path]:
    """A 32 MiB ext4 file system on a loop device (tmpfs cannot be frozen)."""
    image = where.with_suffix(".img")
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    where.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["fsfreeze", "--unfreeze", str(where)], capture_output=True)
        subprocess.run(["umount", "-l", str(where)], check=True)
        image.unlink()


def test_sigterm_with_a_frozen_history_disk_stops_within_a_bound(tmp_path: Path) -> None:
    with small_ext4(tmp_path / "disk") as disk, tcp_listener() as port:
        config = write_inventory(tmp_path / "inv.yaml",
                                 [f"{{id: tcp-{i}, probe: tcp, target: 127.0.0.1, port: {port}}}" for i in range(5)],
                                 [], interval="1s", timeout="500ms")
        # rollups written every second (not the default minute): commits to see stop when the disk freezes
        with netmon_run(config, tmp_path, "--history", str(disk / "history.db"),
                        "--history-rollup-every", "1s") as netmon:
            try:  # thawed before netmon_run reaps the process, whatever happens
                def committed() -> float:
                    return netmon.samples("netmon_history_committed_results_total")[0][1]
                wait_until(lambda: committed() > 0, 20, "a first commit")
                subprocess.run(["fsfreeze", "--freeze", str(disk)], check=True)
                stuck = committed()
                runs = netmon.samples("netmon_check_runs_total")[0][1]
                wait_until(lambda: netmon.samples("netmon_check_runs_total")[0][1] >= runs + 10, 20,
                           "ten more runs while the disk is frozen")
                assert committed() <= stuck + 5  # at most the batch that was being written
                host, listen = netmon.url.removeprefix("http://").split(":")
                begin = time.monotonic()
                netmon.proc.send_signal(signal.SIGTERM)
                wait_until(lambda: "netmon stopped" in netmon.log.read_text(), BOUND + 30, "netmon to stop")
                took = time.monotonic() - begin
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection((host, int(listen)), timeout=2).close()
                log = netmon.log.read_text()
            finally:
                subprocess.run(["fsfreeze", "--unfreeze", str(disk)], capture_output=True)
            netmon.proc.wait(30)  # reaped once the disk thaws
    assert took < BOUND, took
    assert "history store" in log and "not saved" in log, log[-2000:]
