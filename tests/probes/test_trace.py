"""The trace probe over a routed chain of namespaces: root → router → host."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

from netmon.diagnose import path
from netmon.runner import GRACE_SECONDS, run_check
from probes import base, trace
from probes.base import Check, registry
from tests.probes import icmp_fixtures as nets

pytestmark = [pytest.mark.privileged, pytest.mark.usefixtures("blackhole_lab_range")]


def _check(target: str, **options: float) -> Check:
    return Check(site="test", id="trace", probe="trace", target=target, options=base.options(trace.TraceOptions, options))


async def test_two_hop_path_shows_both_hops() -> None:
    with nets.two_hop_path() as (router, destination):
        result = await trace.run(_check(destination, max_hops=5, packet_timeout=1.0))
    assert result.success, result.error
    hops = result.details["hops"]
    assert [(h["ttl"], h["address"]) for h in hops] == [(1, router), (2, destination)]
    assert all(0 < h["rtt_avg_seconds"] < 0.05 and h["loss_ratio"] == 0 for h in hops)
    assert result.value(trace.HOPS) == 2


async def test_unroutable_target_is_not_reached() -> None:
    with nets.unroutable() as address:
        result = await trace.run(_check(address, max_hops=3, packet_timeout=0.2))
    assert not result.success
    assert result.reason == "unreachable"
    assert result.details["hops"] == []


def _children() -> set[int]:
    """PIDs whose parent is this process, zombies included (an unreaped worker would be one)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def _threads_in_icmplib() -> list[str]:
    """Threads of this process currently executing icmplib code (a blocking trace left behind)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    busy = []
    for ident, frame in sys._current_frames().items():
        stack = traceback.extract_stack(frame)
        if any("icmplib" in f.filename for f in stack):
            busy.append(names.get(ident, str(ident)))
    return busy


async def test_trace_to_a_silent_host_ends_at_its_deadline_and_leaves_nothing_behind() -> None:
    """40 s of echoes to wait out (20 TTLs × 2 × 1 s) against a 1.5 s deadline: the probe itself reports
    the timeout by the deadline (before the runner's backstop), and its worker is gone."""
    before = _children()
    with nets.lossy_host(100) as host:
        check = dataclasses.replace(_check(host.address, max_hops=20, count=2, packet_timeout=1.0), timeout=1.5)
        registry()  # discovering the plugins on first use is not the trace's time
        started = time.monotonic()
        result = await run_check(check)
        elapsed = time.monotonic() - started
    assert result.reason == "timeout"
    assert "worker stopped" in (result.error or ""), result.error  # the probe's answer, not the backstop's
    assert elapsed < check.timeout + GRACE_SECONDS, elapsed
    assert _children() <= before
    assert _threads_in_icmplib() == []


async def test_cancelled_trace_kills_its_worker() -> None:
    before = _children()
    with nets.lossy_host(100) as host:
        task = asyncio.create_task(run_check(_check(host.address, max_hops=20, count=2, packet_timeout=1.0)))
        for _ in range(500):  # the worker starts within milliseconds; 5 s is the bound, not the wait
            if _children() - before:
                break
            await asyncio.sleep(0.01)
        assert _children() - before, "trace worker never started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert _children() <= before


async def test_netmon_trace_to_a_dead_end_reports_not_reached_rather_than_a_timeout() -> None:
    """`netmon trace`'s check (`path.trace_check`): its deadline covers the worker's start and every echo,
    so a dead end is reported as such, with the hops seen, not cut off as a timeout."""
    with nets.lossy_host(100) as host:
        result = await run_check(path.trace_check(host.address, max_hops=2, count=1))  # 2 s of echoes in 5 s
    assert result.reason == "unreachable", result.error
    assert result.details["hops"] == []


def test_a_worker_left_alone_ends_itself_at_its_deadline() -> None:
    """Should netmon die before it can kill a worker, the worker stops itself (SIGALRM) at the deadline
    it was given, not after the 40 s its echoes would take."""
    with nets.lossy_host(100) as host:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "probes.trace_worker", host.address, "2", "1.0", "20", "1"],
                              capture_output=True, timeout=30)
        elapsed = time.monotonic() - started
    assert done.returncode == -signal.SIGALRM, done
    assert elapsed < 3, elapsed
