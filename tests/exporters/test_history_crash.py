"""kill -9 while the history store writes: the file stays intact and holds every committed batch.

Two levels. The writer alone, fed huge batches, is killed between acknowledged batches; and a real
``netmon run --history`` is killed 50 times, restarted on the same file each time. Half the kills come
from outside at a random moment of the commit cycle, half at a random write to the WAL (strace injects
SIGKILL as the write starts), so those land mid-transaction for sure. Every restart must resume
without manual steps (new rows appear); after every kill the file must open, pass ``PRAGMA
integrity_check``, keep its hour and day rollups in step, and hold at least everything it was seen to
commit. The trials run in a few lanes at once (one file each) to keep CI time down.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netmon.report.compute import build
from netmon.report.store import StoreSource
from tests.exporters.history_killer import BATCH, COMMITTED, PUBLISHED
from tests.exporters.history_scenario import SITES, T0
from tests.netmon.test_service import write_inventory
from tests.support import ROOT, free_port, wait_until

TRIALS, LANES = 50, 5
#: The writer's commit period for rollups (`netmon run --history-rollup-every`, as short as allowed so
#: that each restart commits new rows soon; outages every 1 s, `HistoryWriter.flush_every`): kill
#: moments spread over one cycle.
CYCLE = 1.0


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


def test_kill_9_loses_at_most_the_rollup_interval_as_not_observed_and_keeps_the_outages(tmp_path: Path) -> None:
    """Rollups and spans are committed once per ``rollup_every``, outages within ``flush_every``. Killed
    between two rollup commits, the store must hold the outages that opened meanwhile, and the lost
    minutes must read as not observed, never as up: every observed second backed by committed runs."""
    path = tmp_path / "history.db"
    proc = subprocess.Popen([sys.executable, "-m", "tests.exporters.history_killer", str(path), "lag"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "published\n"
        wait_until(lambda: len(open_outages(path)) == 2, 10, "the outages opened after the last rollup commit")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    # ban-b's link and hub-x fail from run 2000: both open at run 2001 (ban-b's first: its cause is
    # decided again at its close, when it becomes hub)
    assert open_outages(path) == [("ban-b", "primary", T0 + 60000, "link"), ("hub-x", "", T0 + 60005, "link")]
    source = StoreSource(path)
    try:
        end = T0 + 30 * PUBLISHED
        report = build(source, SITES, T0, end, now=end)
    finally:
        source.close()
    rows = {r.key: r for r in report.rows}
    for site in ("ban-a", "ban-b"):
        row = rows[site]
        assert row.runs == COMMITTED, row  # runs 1900-2005 were lost with the process
        observed = row.coverage * (end - T0)
        assert observed == pytest.approx(30 * row.runs), (site, observed, row.runs)  # no span without its runs
    # ban-a's 750 s down (runs 100-103 and 200; 1000-1019 in maintenance) over the observed time only
    assert rows["ban-a"].availability == pytest.approx(1 - 750 / (30 * COMMITTED))


def open_outages(path: Path) -> list[tuple[str, str, float, str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute('SELECT site, link, start, cause FROM outages WHERE "end" IS NULL ORDER BY site').fetchall()


def committed_runs(db: Path) -> int:
    """Runs the store holds, read as any `netmon report` would (a read-only WAL reader). The day figures
    are the day rows plus the hours not rolled up into them yet (`exporters.history_rollup.roll`)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        hour, day = conn.execute("SELECT (SELECT COALESCE(SUM(runs), 0) FROM rollup_hour), "
                                 "(SELECT COALESCE(SUM(runs), 0) FROM day_rollups)").fetchone()
    finally:
        conn.close()
    assert hour == day, "hour and day rollups out of step: a transaction was torn"
    return int(hour)


def uncommitted_wal_frames(wal: Path) -> int:
    """Frames (a torn last one included) of the current WAL generation after its last commit frame:
    > 0 means the kill came mid-transaction. Read it before anything opens the file (that recovers it)."""
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return 0
    page_size, salts = struct.unpack_from(">I", data, 8)[0], data[16:24]
    trailing, pos = 0, 32
    while pos + 24 <= len(data) and data[pos + 8:pos + 16] == salts:
        whole = pos + 24 + page_size <= len(data)
        trailing = 0 if whole and struct.unpack_from(">I", data, pos + 4)[0] else trailing + 1
        pos += 24 + page_size
    return trailing


@dataclass
class Lane:
    """One history file, killed and restarted ``trials`` times; what each kill found."""

    db: Path
    inventory: Path
    rng: random.Random
    runs: int = 0
    kills: int = 0
    mid_transaction: int = 0
    seconds: list[float] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.db.parent / "netmon.log").open("ab")
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", "netmon.cli", "run", "--config", str(self.inventory),
                 "--listen", f"127.0.0.1:{free_port()}", "--history", str(self.db),
                 "--history-rollup-every", f"{CYCLE:g}s"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def resumed(self, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
        """Wait for the (re)started process to commit new rows; the count it committed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"netmon exited: {(self.db.parent / 'netmon.log').read_text()}"
            try:
                if (seen := committed_runs(self.db)) > self.runs:
                    return seen
            except sqlite3.OperationalError:  # first start: no file yet, or no schema committed yet
                assert self.kills == 0
            time.sleep(0.02)
        raise AssertionError(f"no new history rows {timeout}s after a restart on {self.db}")

    def trial(self, on_write: bool) -> None:
        """Restart, see new rows committed, then SIGKILL: ``on_write``, at a random one of the next
        writes to the WAL (strace injects the signal as the write begins, so the kill is always
        mid-transaction); else from outside, at a random moment of the commit cycle."""
        begin = time.monotonic()
        proc = self.start()
        try:
            seen = self.resumed(proc)
            if on_write:
                wal = self.db.resolve().with_name(self.db.name + "-wal")
                strace = subprocess.run(
                    ["strace", "-f", "-qq", "-o", "/dev/null", "-p", str(proc.pid), "-P", str(wal),
                     "-e", "trace=pwrite64", "-e", f"inject=pwrite64:signal=KILL:when={self.rng.randint(1, 8)}"],
                    capture_output=True, text=True, timeout=30)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"strace returned, netmon still runs: {strace.stderr}") from None
            else:
                kill_at = time.monotonic() + self.rng.uniform(0, CYCLE * 1.2)
                while time.monotonic() < kill_at:  # keep reading: `seen` is the last commit before the kill
                    seen = committed_runs(self.db)
                    time.sleep(0.02)
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            proc.kill()
            proc.wait()
        self.kills += 1
        self.mid_transaction += uncommitted_wal_frames(self.db.with_name(self.db.name + "-wal")) > 0
        conn = sqlite3.connect(self.db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
        after = committed_runs(self.db)
        assert after >= seen, f"lost committed rows: {seen} seen before the kill, {after} after"
        self.runs = after
        self.seconds.append(time.monotonic() - begin)

    def run(self, trials: int) -> Lane:
        for n in range(trials):
            self.trial(on_write=n % 2 == 1)
        proc = self.start()  # the last restart resumes too, and a clean stop keeps it
        try:
            self.runs = self.resumed(proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            proc.kill()
            proc.wait()
        assert committed_runs(self.db) >= self.runs
        return self


@pytest.mark.privileged  # raw ICMP sockets, ptrace
@pytest.mark.slow
def test_netmon_run_killed_50_times_at_random_resumes_intact(tmp_path: Path) -> None:
    checks = [f"{{id: ping-{i}, probe: icmp, target: 127.0.3.{i}, count: 1, packet_timeout: 100ms}}"
              for i in range(1, 11)]
    checks += [f"{{id: closed-{i}, probe: tcp, target: 127.0.0.1, port: 9}}" for i in range(10)]
    assert shutil.which("strace"), "strace is needed to kill at a write (scripts/bootstrap.sh installs it)"
    inventory = write_inventory(tmp_path / "inventory.yaml", checks, [], interval="500ms", timeout="400ms")
    seed = random.randrange(1 << 32)
    lanes = []
    for n in range(LANES):
        (tmp_path / f"lane{n}").mkdir()
        lanes.append(Lane(tmp_path / f"lane{n}" / "history.db", inventory, random.Random(seed + n)))
    begin = time.monotonic()
    with ThreadPoolExecutor(LANES) as pool:
        done = list(pool.map(lambda lane: lane.run(TRIALS // LANES), lanes))
    elapsed = time.monotonic() - begin
    trials = [s for lane in done for s in lane.seconds]
    print(f"\n{sum(lane.kills for lane in done)} kills (seed {seed}), half at a WAL write; "
          f"{sum(lane.mid_transaction for lane in done)} left an uncommitted WAL tail; "
          f"{elapsed:.1f}s in {LANES} lanes, trial {min(trials):.2f}-{max(trials):.2f}s")
    assert sum(lane.kills for lane in done) == TRIALS
    assert sum(lane.mid_transaction for lane in done) >= TRIALS // 4  # the kills did land inside writes
