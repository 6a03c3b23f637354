"""When a datagram or segment reached this host, as the kernel stamped it (``SO_TIMESTAMPNS``).

A probe's event loop also runs every other check, and under CPU load it reads a reply that arrived in
4 ms some tens of milliseconds later: a time taken when the reply is *read* carries the prober's own
delay. The kernel stamps each packet as it arrives and hands the stamp to ``recvmsg`` as a control
message, so a round trip taken as "kernel arrival stamp − clock read right before sending" is what the
network and the far end took. The stamp is wall-clock time (``CLOCK_REALTIME``), the same clock as
`time.time_ns`; a caller guards against a clock step between its send and the reply by comparing with a
monotonic figure around the exchange.

The probes read through `receive` and take a span with `seconds`: dns per query, http per phase
(over its own TLS, `probes.http_stream`).

Linux only: elsewhere `stamp_arrivals` does nothing, `arrival_ns` finds no stamp, and callers use the
clock. One gap on Linux: the kernel turns stamping on for the whole host when the first socket asks, a
moment later (deferred work); a datagram that arrives in that moment is stamped when it is read, as by
the clock. Once any socket stamps (the ICMP engine's does for the prober's life) every packet is stamped
on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
from collections.abc import Iterable
from typing import Any

#: Linux's SO_TIMESTAMPNS (== SCM_TIMESTAMPNS); the socket module does not export it.
SO_TIMESTAMPNS = 35
#: SCM_TIMESTAMPNS's ``struct timespec``.
_TIMESPEC = struct.Struct("@qq")
#: Ancillary buffer size to pass to ``recvmsg`` for one stamp.
CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)


def stamp_arrivals(sock: socket.socket) -> None:
    """Ask the kernel to stamp what ``sock`` receives; where it cannot, `arrival_ns` will find nothing."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def arrival_ns(ancdata: Iterable[tuple[int, int, bytes]]) -> int | None:
    """The kernel's arrival stamp (ns since the epoch) in ``recvmsg``'s ancillary data, or None.

    For TCP the stamp is that of the last segment the read consumed.
    """
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(data)
            return int(seconds * 1_000_000_000 + nanos)
    return None


async def receive(sock: socket.socket, size: int) -> tuple[bytes, int | None, Any]:
    """One ``recvmsg`` of up to ``size`` bytes from non-blocking ``sock``, waiting until something is
    there: the data, its arrival stamp (`arrival_ns`) and the source address."""
    while True:
        try:
            data, ancdata, _, source = sock.recvmsg(size, CMSG_SPACE)
        except BlockingIOError:
            await _readable(sock)
            continue
        return data, arrival_ns(ancdata), source


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:  # the loop calls it on every pass while data waits, until it is removed
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


def seconds(sent_ns: int, arrived_ns: int | None, wall: float) -> float:
    """Sent (``time.time_ns()`` right before sending) → arrived (the kernel's stamp, or None).

    ``wall`` is the monotonic clock over the same span, read once the arrival was read: it is the answer
    without a stamp, and when the stamped figure falls outside it (the wall clock was stepped in between).
    """
    if arrived_ns is None:
        return wall
    figure = (arrived_ns - sent_ns) / 1e9
    return figure if 0 <= figure <= wall else wall
