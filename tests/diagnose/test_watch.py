"""`netmon probe --watch` on a real pseudo-terminal: the table renders, refreshes, and Ctrl-C exits 0."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.diagnose.conftest import Province
from tests.support import ROOT

pytestmark = pytest.mark.privileged


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float) -> bool:
    """Append what the terminal shows to ``seen`` until ``wanted`` appears; False on timeout."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return wanted in seen
            if not chunk:
                return wanted in seen
            seen += chunk
    return True


def test_watch_refreshes_and_ctrl_c_exits_cleanly(province: Province) -> None:
    config = province()
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "", "NETMON_LANG": "en", "COLUMNS": "80"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netmon.cli", "probe", "chieng-mung", "--config", str(config), "--watch", "0.2"],
        stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True)
    os.close(slave)
    seen = bytearray()
    try:
        assert _read_until(master, b"round 3,", seen, 30), seen.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        _read_until(master, b"\x00never", seen, 0.5)  # drain what was printed on the way out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.count("\x1b[H\x1b[2J") >= 3  # redrawn in place each round
    assert "WHERE" in text and "icmp-primary" in text and "Diagnosis:" in text
    assert "\x1b[32m" in text  # a terminal without NO_COLOR gets colors
    last = re.sub(r"\x1b\[[0-9;]*m", "", text.rsplit("\x1b[2J", 1)[1])
    assert all(len(line) <= 80 for line in last.replace("\r", "").split("\n")), last


def test_no_color_is_respected_on_a_terminal(province: Province) -> None:
    config = province()
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "NETMON_LANG": "en"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netmon.cli", "probe", "chieng-mung", "--config", str(config)],
        stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env)
    os.close(slave)
    seen = bytearray()
    try:
        assert proc.wait(timeout=30) == 0
        _read_until(master, b"\x00never", seen, 0.5)
    finally:
        os.close(master)
    text = seen.decode(errors="replace")
    assert "Diagnosis:" in text and "\x1b[3" not in text, text
