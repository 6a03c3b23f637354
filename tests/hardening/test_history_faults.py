"""The history store under faults: a damaged file, a full disk, a file deleted while running.

The store serves planners; metrics and alerts must not depend on it. Each fault leaves `netmon run`
probing and serving /metrics, shows in ``netmon_history_*`` and on /-/healthy, and logs the path
with what to do; once the fault is gone, the store holds what was measured.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from exporters.history import HistoryWriter, Retention
from exporters.history_outages import Outage, OutageTracker, Topology
from exporters.history_samples import SampleTracker
from probes.base import Measurement, Result
from tests.netmon.test_service import write_inventory
from tests.support import http_get, http_server, netmon_run, wait_until

T0 = 1_790_000_000.0
SITES = [f"ban-{i:02d}" for i in range(20)]


def run(site: str, k: int, ok: bool) -> Result:
    """Run ``k`` (every 30 s) of ``site``'s ICMP check."""
    if ok:
        return Result(site, "icmp-primary", "icmp", "127.0.0.1", "primary", True, T0 + 30 * k, 0.01,
                      measurements=(Measurement("netmon_icmp_rtt_avg_seconds", 0.01),))
    return Result(site, "icmp-primary", "icmp", "127.0.0.1", "primary", False, T0 + 30 * k, 2.0, "timeout",
                  "no reply", (Measurement("netmon_icmp_packet_loss_ratio", 1.0),))


def stored_outages(path: Path) -> list[tuple[str, str, float, float | None, int]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute('SELECT site, link, start, "end", failures FROM outages'))


def expected_outages(results: list[Result]) -> list[tuple[str, str, float, float | None, int]]:
    """What the tracker alone (pure, no I/O) makes of the same results: the truth to store."""
    tracker, seen = OutageTracker(), {}
    for r in results:
        for o in tracker.observe(r):
            seen[id(o)] = o
    return sorted(_row(o) for o in seen.values())


def stored_spans(path: Path) -> list[tuple[str, str, str, float, float, int]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute('SELECT site, link, check_id, start, "end", down FROM samples'))


def expected_spans(results: list[Result]) -> list[tuple[str, str, str, float, float, int]]:
    tracker, seen = SampleTracker({}), {}
    for r in results:
        for span in tracker.observe(r):
            seen[id(span)] = span
    return sorted((s.site, s.link, s.check, s.start, s.end, int(s.down)) for s in seen.values())


def _row(o: Outage) -> tuple[str, str, float, float | None, int]:
    return o.site, o.link, o.start, o.end, o.failures


def writer(path: Path, **kwargs: float) -> HistoryWriter:
    w = HistoryWriter(path, flush_every=0.01, retry_every=0.05,
                      retention=Retention(hourly_days=10_000, daily_days=10_000), **kwargs)  # type: ignore[arg-type]
    w.start()
    return w


# -- 3. a damaged store must not stop the service -------------------------------------------------------

def truncated(path: Path) -> None:
    w = writer(path)
    for k in range(300):
        for site in SITES:
            w.publish(run(site, k, k % 7 != 3))
    w.flush()
    w.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    assert size > 16384
    os.truncate(path, size // 3)


def not_a_database(path: Path) -> None:
    path.write_text("version: 1\nsites: []\n")  # e.g. --history pointed at the inventory by mistake


def directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.slow
@pytest.mark.parametrize("damage", [truncated, not_a_database, directory], ids=lambda f: f.__name__)
def test_a_damaged_store_leaves_metrics_running_and_says_what_to_do(tmp_path: Path, damage: object) -> None:
    store = tmp_path / "history.db"
    damage(store)  # type: ignore[operator]
    with http_server(200) as url:
        config = write_inventory(tmp_path / "inv.yaml", [f"{{id: web, probe: http, target: '{url}'}}"], [],
                                 interval="1s", timeout="500ms")
        with netmon_run(config, tmp_path, "--history", str(store)) as netmon:
            success = wait_until(lambda: netmon.samples("netmon_probe_success"), 20, "the check to run")
            up = netmon.samples("netmon_history_up")
            healthy = http_get(f"{netmon.url}/-/healthy")
            log = netmon.log.read_text()
    assert success[0][1] == 1
    assert up == [({}, 0.0)]
    assert healthy[0] == 200 and f"history: cannot open {store}" in healthy[1], healthy
    assert f"cannot open {store}" in log and "Metrics and alerts are not affected" in log, log
    advice = {"truncated": "move it aside", "not_a_database": "move it aside",
              "directory": "is a directory"}[damage.__name__]  # type: ignore[attr-defined]
    assert advice in log, log
    assert "Traceback" not in log


def test_the_store_is_used_once_the_operator_moved_the_damage_away(tmp_path: Path) -> None:
    store = tmp_path / "history.db"
    not_a_database(store)
    w = writer(store)
    assert "not a database" in w.status.problem
    results = [run("ban-00", k, k not in (3, 4, 5)) for k in range(10)]
    for r in results:
        w.publish(r)
    w.flush()
    store.rename(tmp_path / "history.db.damaged")
    wait_until(lambda: not w.status.problem and w.status.pending == 0, 10, "the store to be recreated")
    w.close()
    assert stored_outages(store) == expected_outages(results)


def test_memory_stays_bounded_while_the_store_is_unavailable(tmp_path: Path) -> None:
    store = tmp_path / "history.db"
    directory(store)
    w = writer(store, max_pending_rows=50)
    for k in range(40):
        for site in SITES:
            w.publish(Result(site, f"web-{k}", "http", "http://127.0.0.1/", "", True, T0 + 30 * k, 0.1))
    w.flush()
    assert w.status.dropped > 0 and w.status.pending == 800
    assert len(w._pending.rollups) <= 50 + 2  # one result adds its hour and day rows
    w.close()


# -- 4. a full disk --------------------------------------------------------------------------------------

@contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; return it (delete it to free the space)."""
    filler = directory / "filler"
    with suppress(OSError), filler.open("wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)
    return filler


@pytest.mark.privileged
def test_full_disk_keeps_the_writer_alive_and_loses_no_outage(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small") as disk:
        store = disk / "history.db"
        w = writer(store)
        results: list[Result] = []

        def feed(ks: range, down: set[str], recovered: set[str] = frozenset()) -> None:  # type: ignore[assignment]
            for k in ks:
                for site in SITES:
                    r = run(site, k, site not in down or site in recovered)
                    results.append(r)
                    w.publish(r)
            w.flush()

        feed(range(0, 10), set())
        assert w.status.problem == "" and w.status.committed == 200
        filler = fill(disk)
        # Outages open while nothing can be written; one closes again.
        feed(range(10, 15), set(SITES[:10]))
        assert "cannot write" in w.status.problem and "Free disk space" in w.status.problem, w.status.problem
        errors = w.status.write_errors
        assert errors > 0 and w.status.pending > 0
        w.set_topology(Topology())  # a reload while the disk is full used to kill the writer thread
        feed(range(15, 20), set(SITES[:10]), {SITES[0]})
        assert w._thread is not None and w._thread.is_alive()
        assert w.status.write_errors > errors  # still retrying
        filler.unlink()
        # Space is back: new outages on other links, then everything recovers.
        feed(range(20, 24), set(SITES[1:10]) | set(SITES[10:15]))
        feed(range(24, 30), set())
        wait_until(lambda: not w.status.problem and w.status.pending == 0, 10, "the backlog to be committed")
        w.close()
        stored, spans = stored_outages(store), stored_spans(store)
    assert stored == expected_outages(results)
    assert len(stored) == 15
    assert spans == expected_spans(results)
    assert w.status.committed == len(results)


# -- 5. the store deleted while netmon runs --------------------------------------------------------------

def test_a_deleted_store_is_noticed_and_recreated(tmp_path: Path) -> None:
    store = tmp_path / "history.db"
    w = writer(store)
    # ban-00 is down when the file is deleted (its outage and its down span are open), up afterwards.
    before = [run("ban-00", k, k < 8) for k in range(10)]
    for r in before:
        w.publish(r)
    w.flush()
    store.unlink()
    after = [run(site, k, not (site == "ban-01" and k in (12, 13, 14))) for k in range(10, 20)
             for site in ("ban-00", "ban-01")]
    for r in after:
        w.publish(r)
    w.flush()
    assert store.exists() and w.status.reopened == 1
    w.close()
    assert stored_outages(store) == expected_outages(before + after)  # ban-00's outage, then ban-01's
    # Spans closed before the deletion went with the old file; the open one moved to the new file whole.
    assert stored_spans(store) == [s for s in expected_spans(before + after) if s[4] > T0 + 240]
