"""When a datagram or segment reached this host, as the kernel stamped it (``SO_TIMESTAMPNS``).

A probe's event loop also runs every other check, and under CPU load it reads a reply that arrived in
4 ms some tens of milliseconds later: a time taken when the reply is *read* carries the prober's own
delay. The kernel stamps each packet as it arrives and hands the stamp to ``recvmsg`` as a control
message, so a round trip taken as "kernel arrival stamp − clock read right before sending" is what the
network and the far end took. The stamp is wall-clock time (``CLOCK_REALTIME``), the same clock as
`time.time_ns`; a caller guards against a clock step between its send and the reply by comparing with a
monotonic figure around the exchange.

Linux only: elsewhere `stamp_arrivals` does nothing, `arrival_ns` finds no stamp, and callers use the
clock. One gap on Linux: the kernel turns stamping on for the whole host when the first socket asks, a
moment later (deferred work); a datagram that arrives in that moment is stamped when it is read, as by
the clock. Once any socket stamps (the ICMP engine's does for the prober's life) every packet is stamped
on arrival.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
from collections.abc import Iterable

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
