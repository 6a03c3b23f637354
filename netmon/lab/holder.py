"""The delay holder: a process of its own that holds each NFQUEUE'd packet in ``nml-dc`` for its
destination's delay, then lets it go (`netmon.lab.impair` says which packets and why).

Why a process of its own, at real-time priority: the holder used to live on the lab daemon's event loop,
next to every simulated server's TLS handshakes and the once-a-second schedule, at normal priority. A
packet's release then waited for whatever that loop or the machine's other processes were doing: with
a 4 ms fiber delay, echoes came back after up to 53 ms on an idle lab, and in a CI run (a second pytest
busy beside the lab tests on our 2 cores) a calm fiber CPE's TCP connect took 115 ms — an impairment the
lab neither intended nor recorded. Here nothing else runs in the process, the wait is one ``select``
with a microsecond timeout, and ``SCHED_FIFO`` lets the kernel run it ahead of every normal process.

It still measures itself: a packet released more than `LATE` after it was due is counted, and the worst
lateness kept, so ``netmon lab status`` (and a test) can tell a lab fault from a product fault.

Protocol with the daemon, JSON lines: once ready, the holder writes its `Counters`; then each line the
daemon writes (``{"delays": {address: [delay, jitter]}}`` to replace the table, or ``{}`` to ask) is
answered with them.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import select
import socket
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from netmon.lab import netns
from netmon.lab.topology import DC_NS

QUEUE_NUM = 7
#: A packet released later than this after its due time counts as late: the accuracy the lab's tests hold
#: an injected delay to (±3 ms, docs/lab.md). At real-time priority the holder still wakes up to ~2-3.5 ms
#: late now and then on this shared VM (its log says "woke ... ms after the first was due"), rarely.
LATE = 0.003
#: Above every normal process, below the kernel's own real-time threads (priority 50 and up).
PRIORITY = 20


@dataclass
class Counters:
    """What the holder did since it started: packets held, released late, the worst lateness (s)."""

    held: int = 0
    late: int = 0
    worst_late: float = 0.0
    realtime: bool = False


def realtime() -> str | None:
    """Put this process at ``SCHED_FIFO``; None, or why not (it then runs at normal priority, and its
    lateness counters say what that cost). ``SCHED_RESET_ON_FORK``: nothing it starts inherits it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(PRIORITY))
    except OSError as exc:
        return f"real-time priority refused ({exc.strerror}): packets may be released late under CPU load"
    return None


class Holder:
    """The queue, the packets waiting in it by due time, and the counters."""

    def __init__(self) -> None:
        from netfilterqueue import NetfilterQueue  # optional extra `lab`; imported where it is needed

        self.delays: dict[bytes, tuple[float, float]] = {}
        self.waiting: list[tuple[float, int, Any]] = []  # (due, arrival number, packet): a heap
        self.counters = Counters()
        self._random = random.Random()

        def open_queue() -> Any:
            queue = NetfilterQueue()
            # only the first 20 bytes (the IPv4 header) are copied to userspace
            queue.bind(QUEUE_NUM, self._packet, max_len=65536, range=20)
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
            heapq.heappush(self.waiting, (time.monotonic() + delay, self.counters.held, pkt))

    def release(self) -> None:
        """Let every packet that is due go, counting the late ones."""
        now = time.monotonic()
        while self.waiting and self.waiting[0][0] <= now:
            due, _, pkt = heapq.heappop(self.waiting)
            pkt.accept()
            late = now - due
            if late > LATE:
                self.counters.late += 1
                self.counters.worst_late = max(self.counters.worst_late, late)

    def serve(self, control: int, answers: int) -> None:
        """Until the daemon closes ``control``: take packets, release them when due, answer requests.
        Late releases are logged (at most once a second) with what the holder was doing: waking up
        late is the kernel's (or the machine's), reading many arrivals first is its own."""
        queue_fd, pending, logged = self.queue.get_fd(), b"", (0, 0.0)
        while True:
            wait = max(0.0, self.waiting[0][0] - time.monotonic()) if self.waiting else None
            ready, _, _ = select.select([queue_fd, control], [], [], wait)
            woke = time.monotonic() - self.waiting[0][0] if self.waiting else 0.0
            self.release()
            reading, arrived = time.monotonic(), self.counters.held
            if queue_fd in ready:
                self.queue.run(False)
            reading, arrived = time.monotonic() - reading, self.counters.held - arrived
            self.release()
            if self.counters.late > logged[0] and time.monotonic() >= logged[1]:
                print(f"netmon.lab.holder: {self.counters.late} packets released late so far (worst by "
                      f"{self.counters.worst_late * 1000:.1f} ms); woke {woke * 1000:.2f} ms after the first "
                      f"was due, read {arrived} arrivals in {reading * 1000:.2f} ms; "
                      f"{len(self.waiting)} waiting",
                      file=sys.stderr, flush=True)
                logged = (self.counters.late, time.monotonic() + 1.0)
            if control in ready:
                data = os.read(control, 65536)
                if not data:
                    return
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    if "delays" in request:
                        self.update(request["delays"])
                    os.write(answers, json.dumps(asdict(self.counters)).encode() + b"\n")


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
        holder.queue.unbind()


if __name__ == "__main__":
    main()
