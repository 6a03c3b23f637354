"""The delay holder: a process of its own that holds each NFQUEUE'd packet in ``nml-dc`` for its
destination's delay, then lets it go (`netmon.lab.impair` says which packets and why).

Why a process of its own, at real-time priority: the holder used to live on the lab daemon's event loop,
next to every simulated server's TLS handshakes and the once-a-second schedule, at normal priority. A
packet's release then waited for whatever that loop or the machine's other processes were doing: with
a 4 ms fiber delay, echoes came back after up to 53 ms on an idle lab, and in a CI run (a second pytest
busy beside the lab tests on our 2 cores) a calm fiber CPE's TCP connect took 115 ms — an impairment the
lab neither intended nor recorded. Here nothing else runs in the process, each thread's wait is one
``select`` with a microsecond timeout, and ``SCHED_FIFO`` lets the kernel run it ahead of every normal
process. There is a thread per CPU (`Holder.serve`), because a CPU can be gone for milliseconds in ways
no priority helps with: a softirq, or a vCPU the hypervisor does not run.

It still measures itself: a packet released more than `LATE` after it was due is counted, and the worst
lateness kept, so ``netmon lab status`` (and a test) can tell a lab fault from a product fault. A late
packet the holder slept through is counted apart (`Counters.slept`): its wake-up came late although the
thread was not waiting for a CPU here (``/proc/thread-self/schedstat``'s run-queue time did not grow). On this
VM that is the hypervisor not running the vCPU at all: under CI-like load a vCPU goes 5-23 ms now and
then without a single interrupt, not even the 4 ms scheduler tick, also while it runs a plain user-mode
loop and also under a real-time process that never sleeps (kernel trace, docs/lab.md). No priority or
busy-wait in the guest prevents that; what the holder can do is say so, and count everything else
(waiting for a CPU, its own work) as its own fault.

Its threads share one lock they cannot do without, Python's (the GIL): a thread whose CPU is taken while
it runs Python keeps the others from releasing until it runs again, so a thread per CPU covers a CPU lost
while its thread waits in ``select``, not while it works. Hence the least Python per wake-up here, and a
flow query's records are picked by the daemon, not here (`shown`). The other thread's release then
comes late with no wait for a CPU of its own and may count as slept through.

It also keeps the last `KEPT` releases, each with its flow and times (`RECORD`), so that one can ask what
the delay path did to *one* flow — a probe's connect, a test's packets — instead of reading lab-wide
counters that every other held packet moves too (``netmon lab status --flow ADDRESS[:PORT]``).

Protocol with the daemon, JSON lines: once ready, the holder writes its `Counters`; then each line the
daemon writes (``{"delays": {address: [delay, jitter]}}`` to replace the table, ``{"flow": {"address": A,
"port": P}}`` to ask for the releases kept and one flow's held packets as well, or ``{}`` to ask) is
answered with them; a flow's `RECORD`s follow that line, their byte counts in its ``flow`` (`Holder.flow`).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from netmon.lab import netns
from netmon.lab.topology import DC_NS
from probes import arrival

QUEUE_NUM = 7
#: A packet released later than this after its due time counts as late: the accuracy the lab's tests hold
#: an injected delay to (±3 ms, docs/lab.md). Wake-ups at real-time priority on this VM come up to ~2 ms
#: late (cyclictest at the holder's priority, 20 s idle); later ones are the vCPU not running
#: (`Counters.slept`).
LATE = 0.003
#: Above every normal process, below the kernel's own real-time threads (priority 50 and up).
PRIORITY = 20
#: A packet's kernel stamp older than this when it is read is taken for a clock step, not an arrival.
STAMP_AGE = 10.0
#: Releases kept for `Holder.flow`: seconds of a busy lab's traffic (a `netmon run` over the 75 sites holds
#: a few hundred packets a second).
KEPT = 4096
#: One kept packet: its `flow_key` (zero-padded), `PORTED` | `SLEPT`, when it arrived, fell due and was
#: released (or asked about, if still held), monotonic. 38 bytes: 152 KiB for `KEPT`.
RECORD = struct.Struct("=13sBddd")
PORTED, SLEPT = 1, 2
#: Bytes of each packet copied to the holder: the IPv4 header (up to 60 bytes with options) and the first 4
#: bytes after it, a TCP or UDP packet's ports (`flow_key`).
COPIED = 64
_PORTS = {6: "tcp", 17: "udp"}  # IP protocols whose first 4 bytes are the ports
_NAMES = {1: "icmp", **_PORTS}


@dataclass
class Counters:
    """What the holder did since it started: packets held, released late, the worst lateness (s); and
    how many it holds now."""

    held: int = 0
    late: int = 0
    worst_late: float = 0.0
    #: Of the late ones, those that would have been on time but for the holder's wake-up coming late while
    #: it was not even waiting for a CPU here (the machine did not run it: module docstring).
    slept: int = 0
    realtime: bool = False
    waiting: int = 0  #: packets held right now


def realtime() -> str | None:
    """Put this process at ``SCHED_FIFO``; None, or why not (it then runs at normal priority, and its
    lateness counters say what that cost). ``SCHED_RESET_ON_FORK``: nothing it starts inherits it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(PRIORITY))
    except OSError as exc:
        return f"real-time priority refused ({exc.strerror}): packets may be released late under CPU load"
    return None


def run_queue_time(schedstat: int) -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (the second field of its
    ``/proc/thread-self/schedstat``, kept open as ``schedstat``): it tells a wake-up this kernel delayed
    from one that came late."""
    return int(os.pread(schedstat, 100, 0).split()[1]) / 1e9


@dataclass(frozen=True)
class Sleep:
    """One wait in ``select``: from when to when (monotonic), and how much of it the holder spent runnable,
    waiting for a CPU (`run_queue_time`)."""

    start: float
    woke: float
    queued: float

    def overslept(self, due: float) -> float:
        """How much of a packet's lateness the holder slept through: from its due time (or the start of
        the wait) to the wake-up, less any wait for a CPU — the wake-up itself came late."""
        return max(0.0, self.woke - max(due, self.start) - self.queued)


def arrived(pkt: Any) -> float:
    """When ``pkt`` reached the queue (monotonic): the kernel's stamp (NFQA_TIMESTAMP, wall clock) if it
    has one, else now. A packet read late — every holder thread kept from running — then still falls due
    its delay after it arrived, and counts late if it goes later than that; timed from its read, it was
    held longer than its delay and counted on time."""
    now, age = time.monotonic(), time.time() - pkt.get_timestamp()
    return now - age if 0.0 <= age < STAMP_AGE else now


def flow_key(header: bytes) -> bytes:
    """A packet's flow from its first `COPIED` bytes: protocol, source and destination address, and for TCP
    and UDP (but a later fragment) the ports — 13 bytes, kept with every held packet (`Holder.flow`)."""
    ports = (header[9] in _PORTS and not int.from_bytes(header[6:8]) & 0x1FFF)
    start = (header[0] & 0x0F) * 4
    return header[9:10] + header[12:20] + (header[start:start + 4] if ports else b"")


def _matches(key: bytes, flags: int, address: bytes, port: int | None) -> bool:
    if address not in (key[1:5], key[5:9]):
        return False
    return port is None or (bool(flags & PORTED) and port in (int.from_bytes(key[9:11]),
                                                              int.from_bytes(key[11:13])))


def _record(key: bytes, arrived: float, due: float, until: float, slept: bool = False) -> bytes:
    return RECORD.pack(key, PORTED * (len(key) == 13) | SLEPT * slept, arrived, due, until)


def shown(records: bytes, address: str, port: int | None, late: bool = True) -> list[dict[str, Any]]:
    """The `RECORD`s in ``records`` to or from ``address`` (and ``port``, either side), as the control
    channel answers them: flow, arrival (wall clock), delay, time held and, with ``late``, lateness and
    whether slept through. Run by the daemon, not the holder: every bit of Python in the holder holds the
    one lock its threads share (the GIL), and a thread whose CPU is taken while it holds it keeps the other
    threads from releasing (docs/lab.md)."""
    wanted, clock, out = socket.inet_aton(address), time.time() - time.monotonic(), []
    for key, flags, arrived, due, until in RECORD.iter_unpack(records):
        if not _matches(key, flags, wanted, port):
            continue
        source, destination = socket.inet_ntoa(key[1:5]), socket.inet_ntoa(key[5:9])
        if flags & PORTED:
            source += f":{int.from_bytes(key[9:11])}"
            destination += f":{int.from_bytes(key[11:13])}"
        packet = {"protocol": _NAMES.get(key[0], str(key[0])), "source": source, "destination": destination,
                  "arrived": arrived + clock, "delay": due - arrived, "held": until - arrived}
        out.append(packet | {"late": until - due, "slept": bool(flags & SLEPT)} if late else packet)
    return out


class Holder:
    """The queue, the packets waiting in it by due time, the counters and the last `KEPT` releases."""

    def __init__(self) -> None:
        from netfilterqueue import NetfilterQueue  # optional extra `lab`; imported where it is needed

        self.delays: dict[bytes, tuple[float, float]] = {}
        #: (due, arrival number, packet, arrival, `flow_key`): a heap
        self.waiting: list[tuple[float, int, Any, float, bytes]] = []
        self.counters = Counters()
        #: the last `KEPT` releases, `RECORD`s by release number modulo `KEPT`; ``self.releases`` so far
        self.released, self.releases = bytearray(KEPT * RECORD.size), 0
        self._random = random.Random()
        self._turn = threading.Lock()  # the threads of `serve` take turns with everything above and the queue
        # `arrived` reads the kernel's stamp on each queued packet; the kernel stamps packets only while some
        # socket on the host asks for stamps: this one asks for the holder's life
        self._stamps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        arrival.stamp_arrivals(self._stamps)
        self._logged = (0, 0.0)  # (late count, monotonic time) of the last log line
        self.closed = False

        def open_queue() -> Any:
            queue = NetfilterQueue()
            # only the first bytes (the IPv4 header and the ports) are copied to userspace
            queue.bind(QUEUE_NUM, self._packet, max_len=65536, range=COPIED)
            return queue

        self.queue = netns.in_netns(DC_NS, open_queue)

    def update(self, delays: dict[str, list[float]]) -> None:
        self.delays = {socket.inet_aton(a): (d, j) for a, (d, j) in delays.items()}

    def _packet(self, pkt: Any) -> None:
        self.counters.held += 1
        header = pkt.get_payload()
        # forwarded toward a delayed address (by destination), or from one into nml-dc (by source:
        # nml-dc's own addresses are never delayed ones)
        delay, jitter = self.delays.get(header[16:20]) or self.delays.get(header[12:16], (0.0, 0.0))
        if jitter:
            delay = max(0.0, delay + self._random.uniform(-jitter, jitter))
        if delay <= 0:
            pkt.accept()
        else:
            at = arrived(pkt)
            heapq.heappush(self.waiting, (at + delay, self.counters.held, pkt, at, flow_key(header)))

    def release(self, sleep: Sleep) -> None:
        """Let every packet that is due go, counting the late ones, and of those the ones `sleep` explains."""
        now = time.monotonic()
        while self.waiting and self.waiting[0][0] <= now:
            due, _, pkt, at, key = heapq.heappop(self.waiting)
            pkt.accept()
            late, slept = now - due, False
            if late > LATE:
                self.counters.late += 1
                self.counters.worst_late = max(self.counters.worst_late, late)
                slept = late - sleep.overslept(due) <= LATE
                self.counters.slept += slept
            RECORD.pack_into(self.released, self.releases % KEPT * RECORD.size,
                             key, PORTED * (len(key) == 13) | SLEPT * slept, at, due, now)
            self.releases += 1

    def flow(self, address: str, port: int | None) -> tuple[bytes, bytes]:
        """The last `KEPT` releases, oldest first, and the packets held now to or from ``address`` (and
        ``port``, either side), as `RECORD`s: for the daemon to pick one flow's from (`shown`). A copy under
        the lock and no Python per release here (why: `shown`)."""
        with self._turn:
            ring, start = bytes(self.released), self.releases % KEPT * RECORD.size
            wanted, now = socket.inet_aton(address), time.monotonic()
            held = b"".join(_record(key, at, due, now) for due, _, _, at, key in self.waiting
                            if _matches(key, PORTED * (len(key) == 13), wanted, port))
        return (ring[start:] + ring[:start] if self.releases >= KEPT else ring[:start]), held

    def serve(self, control: int, answers: int) -> None:
        """Until the daemon closes ``control``: take packets, release them when due, answer requests.

        One thread per CPU, each pinned to its own, does all of that but the requests: a packet is late
        only when no CPU runs the holder at its due time. With one thread, a CPU busy for 4-8 ms in an
        RCU softirq (namespace teardown's frees; the woken holder waits, it cannot preempt a softirq) or
        a vCPU the hypervisor stopped held every release behind it, although the other CPU was free."""
        cpus = sorted(os.sched_getaffinity(0))
        pokes = [os.pipe() for _ in cpus]  # a thread that takes arrivals wakes the others to re-time
        for fd in (fd for pipe in pokes for fd in pipe):
            os.set_blocking(fd, False)
        for i, cpu in enumerate(cpus[1:], 1):
            threading.Thread(target=self._keep, daemon=True,
                             args=(cpu, pokes[i][0], [w for j, (_, w) in enumerate(pokes) if j != i])).start()
        pending = b""
        for ready in self._turns(cpus[0], pokes[0][0], [w for _, w in pokes[1:]], control):
            if control in ready:
                data = os.read(control, 65536)
                if not data:
                    return
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    with self._turn:
                        if "delays" in request:
                            self.update(request["delays"])
                        self.counters.waiting = len(self.waiting)
                        answer: dict[str, Any] = asdict(self.counters)
                    # a flow's records follow the line as they are, its byte counts in it: no encoding here
                    records = self.flow(request["flow"]["address"], request["flow"].get("port")) \
                        if "flow" in request else ()
                    if records:
                        answer["flow"] = [len(part) for part in records]
                    for part in (json.dumps(answer).encode() + b"\n", *records):
                        view = memoryview(part)
                        while view:  # more than a pipe takes at once
                            view = view[os.write(answers, view):]

    def close(self) -> None:
        """Let the queue go; the threads of `serve` see it and end."""
        with self._turn:
            self.closed = True
            self.queue.unbind()

    def _keep(self, cpu: int, poked: int, others: list[int]) -> None:
        refused = realtime()  # per thread (SCHED_RESET_ON_FORK started this one at normal priority)
        if refused:
            print(f"netmon.lab.holder: {refused}", file=sys.stderr, flush=True)
        for _ in self._turns(cpu, poked, others):
            pass

    def _turns(self, cpu: int, poked: int, others: list[int], *fds: int) -> Iterator[list[int]]:
        """On ``cpu``: wait for the next due time, an arrival, a poke or ``fds``; release what is due, take
        the arrivals (then poke the ``others`` threads to re-time their waits), and yield what was ready.
        Late releases are logged (at most once a second) with what the thread was doing: a wake-up that
        came late with no wait for a CPU is the machine's, waiting for a CPU is this kernel's, reading
        many arrivals first is the holder's own."""
        os.sched_setaffinity(0, {cpu})  # 0: this thread
        schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        queue_fd = self.queue.get_fd()
        while True:
            with self._turn:
                if self.closed:
                    return
                wait = max(0.0, self.waiting[0][0] - time.monotonic()) if self.waiting else None
            slept_from, queued = time.monotonic(), run_queue_time(schedstat)
            ready, _, _ = select.select([queue_fd, poked, *fds], [], [], wait)
            sleep = Sleep(slept_from, time.monotonic(), run_queue_time(schedstat) - queued)
            if poked in ready:
                os.read(poked, 4096)
            with self._turn:
                if self.closed:
                    return
                woke = sleep.woke - self.waiting[0][0] if self.waiting else 0.0
                self.release(sleep)
                reading, arrived = time.monotonic(), self.counters.held
                if queue_fd in ready:
                    self.queue.run(False)
                reading, arrived = time.monotonic() - reading, self.counters.held - arrived
                self.release(sleep)
                if self.counters.late > self._logged[0] and time.monotonic() >= self._logged[1]:
                    print(f"netmon.lab.holder: {self.counters.late} packets released late so far (worst by "
                          f"{self.counters.worst_late * 1000:.1f} ms; {self.counters.slept} slept through); "
                          f"woke on cpu {cpu} {woke * 1000:.2f} ms after the first was due, "
                          f"{sleep.queued * 1000:.2f} ms of it waiting for a CPU; read {arrived} arrivals in "
                          f"{reading * 1000:.2f} ms; {len(self.waiting)} waiting",
                          file=sys.stderr, flush=True)
                    self._logged = (self.counters.late, time.monotonic() + 1.0)
            for other in others if arrived else ():
                with contextlib.suppress(BlockingIOError):  # a full pipe: that thread will re-time anyway
                    os.write(other, b".")
            yield ready


def main() -> None:
    refused = realtime()
    if refused:
        print(f"netmon.lab.holder: {refused}", file=sys.stderr, flush=True)
    holder = Holder()
    holder.counters.realtime = refused is None
    os.write(1, json.dumps(asdict(holder.counters)).encode() + b"\n")  # ready
    try:
        holder.serve(0, 1)
    finally:
        holder.close()


if __name__ == "__main__":
    main()
