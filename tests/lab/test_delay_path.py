"""The lab's delay path keeps its promise on a busy machine, and says when it could not (`netmon.lab.holder`).

In a CI run, with a second pytest busy beside the lab tests on our 2 cores, a calm fiber CPE's TCP
connect took 115 ms: the holder then ran on the lab daemon's event loop at normal priority and released
packets whenever it got the CPU, an impairment nobody injected or recorded. Its own process at real-time
priority fixed that. What is left: a CPU gone for milliseconds (a softirq, or a vCPU the hypervisor does
not run), which a holder thread per CPU covers while the other CPU runs; and both vCPUs stopped at once,
which nothing in the guest can cover and the holder counts apart (`holder.Counters.slept`; the evidence
is in docs/lab.md).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from netmon.cli import main
from netmon.inventory import load
from netmon.lab import control, holder, topology
from tests.lab.fixtures import INVENTORY

pytestmark = pytest.mark.privileged
PLAN = topology.plan(load(INVENTORY))
SITE = "chieng-mung"  # a calm fiber site behind hub-mai-son
LINK = PLAN.primary(SITE)
FIBER = 0.004  # the calm scenario's fiber delay; its 1 ms jitter is set to 0 so that each echo has one bound
CONNECTS = 200
#: What the delay path itself adds to a round trip: +0.95 to +1.19 ms in docs/lab.md's accuracy table.
PATH = 0.0012
SERVICE = PLAN.services["qlvb"][0]  # HTTPS on 443 in nml-dc

#: TCP connects made by a process at real-time priority (below the holder's), so that a slow one shows the
#: lab's lateness, not the prober's own under the same load: to the CPE's 443 (the SYN held by the link's
#: delay, as in the failed CI run) and, alternating with it, to a data-center service (the same kernel
#: answering a SYN, no holder). Prints both lists of connect times in seconds.
_PROBER = f"""
import json, os, socket, sys, time
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param({holder.PRIORITY - 10}))
times = {{target: [] for target in sys.argv[1:]}}
for _ in range({CONNECTS}):
    for target in times:
        started = time.perf_counter()
        socket.create_connection((target, 443), timeout=5).close()
        times[target].append(time.perf_counter() - started)
print(json.dumps(list(times.values())))
"""


def test_delayed_connects_are_on_time_while_the_cpus_are_busy(fresh_lab: control.Lab) -> None:
    """Under one busy loop more than there are cores, TCP connects through the 4 ms fiber link take 4 ms
    + `PATH` + what the same run's connects that no holder touches take (the kernel's and the prober's own
    share), compared at the 95th percentile: this VM stalls any path now and then by ~1-2 ms (the
    untouched connects show it too), so one slow connect on either side is not the holder's. Then the
    holder's own count: no packet let go later than `holder.LATE` after its due time, except those it
    slept through while the VM did not run it (counted, printed; the tests below check both counts).
    The old holder, on the daemon's event loop, gave 95th percentiles of 7.75-8.84 ms (3 runs, 200
    connects each, load average 4.6-4.8); in the final CI of 2026-12-01 the holder counted 5 packets
    late (worst by 47.5 ms; "woke 4.5-16.9 ms after the first was due, read 0 arrivals")."""
    fresh_lab.set(SITE, delay=FIBER, jitter=0)
    before = fresh_lab.status()["delay_path"]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 1) + 1)]
    try:
        run = subprocess.run([sys.executable, "-c", _PROBER, LINK.cpe, SERVICE],
                             capture_output=True, text=True, timeout=60, check=True)
        load_average = os.getloadavg()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    cpe, plain = (statistics.quantiles(times, n=20)[-1] for times in json.loads(run.stdout))
    assert FIBER <= cpe <= FIBER + PATH + plain, \
        f"95th percentiles: {cpe * 1000:.2f} ms through the link, {plain * 1000:.2f} ms untouched " \
        f"(load average {load_average})"
    after = fresh_lab.status()["delay_path"]
    assert after["realtime"], "the holder runs at real-time priority (root may set it)"
    assert after["held"] - before["held"] >= CONNECTS, "every SYN went through the holder"
    late, slept = (after[k] - before[k] for k in ("late", "slept"))
    print(f"delay path during the test: {late} released late, {slept} of them slept through "
          f"(worst since the lab started {after['worst_late'] * 1000:.1f} ms; load average {load_average})")
    assert late == slept, f"the delay path released {late - slept} packets late that it did not sleep " \
        f"through (waiting for a CPU or its own work): {before} -> {after}"


#: The tests below inject faults into the holder (SIGSTOP, a busy loop above it) around one TCP connect and
#: ask the holder about that connect's own packets (`control.Lab.flow`: its SYN's arrival, delay, time held,
#: lateness, slept through or not). They used to read the lab-wide counters around the connect, which every
#: other held packet moves too: under `make test`'s load two final CIs of 2026-12-01 failed on that (another
#: packet, due before the SYN, released after the same SIGSTOP, set the worst lateness; a previous test's
#: teardown still held when the test looked for a quiet holder). `crowd` now puts such traffic beside every
#: one of them.
HOLD = 0.2  #: a delay long enough to act on a held SYN before it falls due
KEEP = 0.1  #: how far past its due time the holder is then kept from running
CROWD = PLAN.primary("moc-son")  # another calm fiber site, behind another hub (hub-moc-chau)
CROWD_EVERY = 0.005  #: one datagram each: ~`HOLD` / this = 40 held at any time
Packet = dict[str, Any]
#: Set up beforehand for the holder (its pid), gives a call that keeps it from running for `HOLD` + `KEEP`
#: and returns when (monotonic) that began.
Keeper = Callable[[int], AbstractContextManager[Callable[[], float]]]


@pytest.fixture
def crowd(fresh_lab: control.Lab) -> Iterator[str]:
    """Other traffic through the holder while a test runs, as in `make test` (another test's probes, or its
    connections' teardown): a UDP datagram every `CROWD_EVERY` across another link delayed `HOLD`, so that
    some of it falls due just before a test's SYN and goes after the same fault, later than the SYN.
    Yields the crowd's destination address. The sender runs at real-time priority (below the holder's),
    so that the crowd keeps its pace under the machine's load (at normal priority, once not one datagram
    of it was held 200 ms after it started, load 17)."""
    fresh_lab.set(CROWD.site, delay=HOLD, jitter=0)
    stop = threading.Event()

    def send() -> None:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(holder.PRIORITY - 10))  # 0: this thread
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not stop.wait(CROWD_EVERY):  # pacing a sender, not awaiting an event
                sock.sendto(b"crowd", (CROWD.cpe, 9))  # discard: nothing listens, the CPE's ICMP error is not held

    sender = threading.Thread(target=send)
    sender.start()
    try:
        started = time.monotonic()
        while not fresh_lab.flow(CROWD.cpe)["waiting"]:  # each look a round trip through the lab daemon
            assert time.monotonic() < started + 5, "the crowd reached the holder"
        yield CROWD.cpe
    finally:
        stop.set()
        sender.join()


def _holder_pid(lab: control.Lab) -> int:
    daemon = lab.status()["pid"]  # not lab.pid: test_lab.py restarts the session's lab
    children = (int(pid) for task in Path(f"/proc/{daemon}/task").iterdir()
                for pid in (task / "children").read_text().split())
    return next(pid for pid in children if b"netmon.lab.holder" in Path(f"/proc/{pid}/cmdline").read_bytes())


def _client() -> tuple[socket.socket, int, list[float], Callable[[], None]]:
    """A TCP socket bound to a port of its own (which names its flow for `control.Lab.flow`), the list its
    connect time goes to, and the call that connects it to the `HOLD` link's CPE, to run in a thread of its
    own at real-time priority (below the holder's), as `_PROBER`: woken by the SYN-ACK at normal priority,
    the thread waited behind the machine's load, once 88 ms with the SYN released on time (load 13)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind(("0.0.0.0", 0))
    took: list[float] = []

    def connect() -> None:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(holder.PRIORITY - 10))  # 0: this thread
        started = time.perf_counter()
        sock.connect((LINK.cpe, 443))
        took.append(time.perf_counter() - started)

    return sock, sock.getsockname()[1], took, connect


def _syn(lab: control.Lab, port: int) -> Packet:
    """The first packet of the connect from ``port`` that the holder let go, its SYN, held by the link's
    `HOLD` (no jitter)."""
    released = lab.flow(LINK.cpe, port)["released"]
    assert released, f"the holder let the connect's SYN go: {lab.flow(LINK.cpe, port)}"
    syn = min(released, key=lambda packet: packet["arrived"])
    assert syn["source"].endswith(f":{port}") and abs(syn["delay"] - HOLD) < 1e-6, f"the connect's SYN: {syn}"
    return syn


def _late_connect(lab: control.Lab, keeper: Keeper) -> tuple[float, Packet, int]:
    """One TCP connect through a `HOLD` link, the holder kept from running from when it holds the SYN
    until `KEEP` after the SYN fell due: (connect time, the SYN as the holder saw it, the client's port)."""
    lab.set(SITE, delay=HOLD, jitter=0)
    sock, port, took, connect = _client()
    with sock, keeper(_holder_pid(lab)) as keep:
        started = time.monotonic()
        client = threading.Thread(target=connect)
        client.start()
        while not lab.flow(LINK.cpe, port)["waiting"]:  # the SYN is in the holder's heap
            assert time.monotonic() < started + HOLD, "the SYN reached the holder"
        began = keep()
        client.join(timeout=5)
    assert began < started + HOLD, "the fault began before the SYN fell due"
    assert took, "the connect completed"
    return took[0], _syn(lab, port), port


@contextmanager
def _stopped(pid: int) -> Iterator[Callable[[], float]]:
    """SIGSTOP: not running and not waiting for a CPU either, as when the VM does not run its vCPUs."""
    def keep() -> float:
        began = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(HOLD + KEEP)  # the injected fault's length
        finally:
            os.kill(pid, signal.SIGCONT)
        return began

    yield keep


@contextmanager
def _crowded_out(pid: int, every_thread: bool) -> Iterator[Callable[[], float]]:
    """A busy loop above the holder's priority on the CPU of the holder's first thread, pinned there first
    (as a softirq or a stopped vCPU pins it: the kernel moves a woken real-time task only off a CPU that
    runs a higher one); with ``every_thread`` all its threads, so that all of them wait for that CPU. The
    loop's process is started beforehand and waits on its stdin, so that it runs as soon as it is told."""
    cpu = min(os.sched_getaffinity(pid))
    pinned = {int(tid): os.sched_getaffinity(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")
              if every_thread or int(tid) == pid}
    for tid in pinned:
        os.sched_setaffinity(tid, {cpu})
    spin = subprocess.Popen([sys.executable, "-c", f"""
import os, sys, time
os.sched_setaffinity(0, {{{cpu}}})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param({holder.PRIORITY + 10}))
print(flush=True)
sys.stdin.readline()
began = time.monotonic()
while time.monotonic() < began + {HOLD + KEEP}:
    pass
print(began)
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert spin.stdin is not None and spin.stdout is not None
    stdin, stdout = spin.stdin, spin.stdout

    def keep() -> float:
        stdin.write(b"go\n")
        stdin.flush()
        return float(stdout.readline())

    try:
        assert stdout.readline() == b"\n", "the busy loop is ready"
        yield keep
    finally:
        spin.kill()
        spin.wait()
        for tid, cpus in pinned.items():
            os.sched_setaffinity(tid, cpus)


def test_a_cpu_taken_from_the_holder_does_not_delay_its_releases(fresh_lab: control.Lab, crowd: str) -> None:
    """A busy loop above the holder's priority on its first thread's CPU, from when it holds a SYN until
    `KEEP` past its due time: another thread on another CPU lets the SYN go on time. With one thread the
    connect took `HOLD` + `KEEP` — what a CPU busy in a softirq or a vCPU the hypervisor stopped did
    (failed 3 of 3 with the holder's threads cut to one)."""
    took, syn, _ = _late_connect(fresh_lab, partial(_crowded_out, every_thread=False))
    assert took < HOLD + KEEP, f"the SYN went on time: connect {took * 1000:.1f} ms"
    assert syn["late"] <= holder.LATE, f"not late: {syn}"


def test_a_release_the_machine_kept_the_holder_from_is_counted_as_slept_through(
        fresh_lab: control.Lab, crowd: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The holder stopped (SIGSTOP) from when it holds a SYN until `KEEP` past its due time: the connect
    is late (by more: the kernel restarts the stopped ``select`` with the rest of its timeout), and the
    holder says the SYN went late, by no more than the connect shows, and slept through — also in
    ``netmon lab status --flow``. The crowd's packets that fell due during the stop went later still:
    the lab-wide worst lateness is theirs, not the SYN's."""
    took, syn, port = _late_connect(fresh_lab, _stopped)
    late = took - HOLD
    assert late >= KEEP, f"the SYN was held past its due time: connect {took * 1000:.1f} ms"
    # the rest of the connect beyond HOLD and the SYN's lateness is the prober's, unbounded under load
    assert KEEP <= syn["late"] <= late, f"late by as much as the connect shows ({late * 1000:.1f} ms): {syn}"
    assert syn["slept"], f"slept through: {syn}"
    others = [packet["late"] for packet in fresh_lab.flow(crowd)["released"]]
    assert max(others) > syn["late"], f"the crowd went later than the SYN after the same stop: {max(others)}"
    monkeypatch.setenv("NETMON_LANG", "en")
    assert main(["lab", "status", "--flow", f"{LINK.cpe}:{port}"]) == 0
    assert f"held {syn['held'] * 1000:.1f} ms for a delay of {HOLD * 1000:.1f} ms, late by " \
           f"{syn['late'] * 1000:.1f} ms (the machine did not run the lab)" in capsys.readouterr().out


def test_a_release_the_holder_waited_for_a_cpu_for_is_its_own(fresh_lab: control.Lab, crowd: str) -> None:
    """Every holder thread on one CPU and a busy loop above its priority there, from when it holds a SYN
    until `KEEP` past its due time: the SYN went late, by no more than the connect shows, and not slept
    through — waiting for a CPU is not the VM's doing."""
    took, syn, _ = _late_connect(fresh_lab, partial(_crowded_out, every_thread=True))
    late = took - HOLD
    assert late >= KEEP, f"the SYN was held past its due time: connect {took * 1000:.1f} ms"
    # the rest of the connect beyond HOLD and the SYN's lateness is the prober's, unbounded under load
    assert KEEP <= syn["late"] <= late, f"late by as much as the connect shows ({late * 1000:.1f} ms): {syn}"
    assert not syn["slept"], f"not slept through: {syn}"


def test_a_packet_that_arrives_while_the_holder_cannot_run_is_timed_from_its_arrival(
        fresh_lab: control.Lab, crowd: str) -> None:
    """The holder stopped (SIGSTOP) before a SYN arrives, for `HOLD` + 2 `KEEP`: the SYN falls due `HOLD`
    after it reached the queue (the kernel's stamp), not after the holder read it, so it goes as soon as
    the holder runs again, late and slept through. Timed from its read, it was held `HOLD` more and
    counted on time (the connect took `HOLD` + 2 `KEEP` + `HOLD`, late 0)."""
    fresh_lab.set(SITE, delay=HOLD, jitter=0)
    pid = _holder_pid(fresh_lab)
    sock, port, took, connect = _client()
    with sock:
        client = threading.Thread(target=connect)
        os.kill(pid, signal.SIGSTOP)
        try:
            client.start()
            time.sleep(HOLD + 2 * KEEP)  # the injected fault's length
        finally:
            os.kill(pid, signal.SIGCONT)
        client.join(timeout=5)
    assert took and took[0] < 2 * HOLD + KEEP, f"the SYN went when the holder ran again: {took}"
    syn = _syn(fresh_lab, port)
    assert syn["late"] > holder.LATE and syn["slept"], f"late, slept through: {syn}"
