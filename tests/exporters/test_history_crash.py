"""kill -9 while the writer commits: the file stays intact and holds every batch it acknowledged."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.exporters.history_killer import BATCH
from tests.support import ROOT


def test_kill_9_during_writes_loses_at_most_the_current_batch(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.exporters.history_killer", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged = 0
    try:
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 5:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert acknowledged >= 5
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (runs,) = conn.execute("SELECT SUM(runs) FROM rollup_hour").fetchone()
    (day_runs,) = conn.execute("SELECT SUM(runs) FROM rollup_day").fetchone()
    assert runs == day_runs  # hour and day rows come from the same transactions
    # every acknowledged batch is there; beyond them only what the child committed after our last read
    # (the next batch, acknowledged but unread, and part of the one after)
    assert acknowledged * BATCH <= runs <= (acknowledged + 2) * BATCH
