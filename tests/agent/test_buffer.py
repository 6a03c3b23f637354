"""The agent's buffer: what `append` returned is on disk after kill -9, with its check's running totals;
the cap drops oldest, counted."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from netmon.agent.buffer import Buffer
from probes import icmp
from probes.base import Measurement, Result
from tests.support import ROOT


def result(i: int, started: float = 1_700_000_000.0) -> Result:
    return Result("muong-lan", "agent-canary-core", "icmp", "198.18.0.1", "agent", i % 3 != 0,
                  started + i, 0.01, None if i % 3 else "timeout",
                  measurements=(Measurement(icmp.SENT, 3), Measurement(icmp.RECEIVED, 3 if i % 3 else 0)))


WRITER = textwrap.dedent("""
    import sys
    from netmon.agent.buffer import Buffer
    from tests.agent.test_buffer import result
    buffer = Buffer(sys.argv[1], 10**9)
    i = 0
    while True:
        seq = buffer.append(result(i))
        print(seq, flush=True)   # printed only after the commit returned
        i += 1
""")


def test_every_committed_result_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    seen: list[int] = []
    for _round in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None
        first = int(proc.stdout.readline())
        for _ in range(50):  # 50 more commits confirmed, then kill at once (mid-transaction or not)
            proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen += [int(line) for line in proc.stdout.read().split()]
        seen.append(first)
        buffer = Buffer(path, 10**9)
        held = {seq for seq, _ in buffer.take(0.0, 10**12)}
        assert buffer._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        missing = set(seen) - held
        assert not missing, f"committed then lost after kill -9: {sorted(missing)[:10]}"
        # sequence numbers are never reused across restarts
        assert buffer.last_seq >= max(seen)
        buffer.close()
    # every result carries its check's totals after it, counted on across the five kills: nothing
    # lost, nothing counted twice (the totals are written in the result's own transaction)
    buffer = Buffer(path, 10**9)
    bodies = [json.loads(body) for _, body in buffer.take(0.0, 10**12)]
    runs = len(bodies)
    assert [b["t"]["i"][0][2] for b in bodies] == [3.0 * n for n in range(1, runs + 1)]
    timeouts = list(itertools.accumulate(b["reason"] == "timeout" for b in bodies))
    assert [b["t"].get("f", {}).get("timeout", 0) for b in bodies] == timeouts
    assert runs > 5 * 50 and timeouts[-1] > 5 * 15


def test_cap_drops_oldest_first_and_counts_it(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db", max_bytes=20_000)
    seqs = [buffer.append(result(i)) for i in range(400)]
    held = [seq for seq, _ in buffer.take(0.0, 10**9)]
    assert buffer.bytes <= 20_000
    assert held == seqs[-len(held):], "what is kept is the newest, contiguous"
    assert buffer.dropped == 400 - len(held) > 0
    assert buffer.low == held[0]
    buffer.close()
    again = Buffer(tmp_path / "b.db", max_bytes=20_000)
    assert again.dropped == 400 - len(held), "the drop count survives a restart"
    assert again.held == len(held)


def test_live_results_come_before_the_backlog(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db", max_bytes=10**9)
    old = [buffer.append(result(i)) for i in range(5)]
    buffer._db.execute("UPDATE results SET committed = committed - 3600")
    new = [buffer.append(result(100 + i)) for i in range(3)]
    batch = [seq for seq, _ in buffer.take(live_since=time.time() - 60, max_bytes=10**9)]
    assert batch == new + old
    buffer.ack(batch[:4])
    assert [seq for seq, _ in buffer.take(0.0, 10**9)] == old[1:]
