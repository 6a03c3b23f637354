"""A shared ICMP echo burst engine: one socket per address family per event loop, many bursts in flight.

Why not icmplib's ``async_ping``: it sends a host's echoes one after another and waits out the full
timeout of every lost one, and its concurrent mode inflates RTTs with event-loop latency (DESIGN.md,
machine facts). Here:

- every send is *scheduled* (``loop.call_at`` on a 1 ms grid shared by all bursts, so 20,000 bursts
  cost a handful of timers, not 60,000) into one global, paced send queue: thousands of bursts share
  one socket without sleeping and without overflowing buffers (SO_RCVBUF/SO_SNDBUF are enlarged);
- replies are read by one ``loop.add_reader`` callback and matched to the waiting burst by
  (identifier, sequence) in raw mode or (address, sequence) in datagram mode, where the kernel rewrites
  the identifier;
- an RTT is the kernel's receive timestamp (SO_TIMESTAMPNS) minus the wall-clock time taken just before
  ``sendto``: time the reply waits for the event loop does not count;
- an echo without a reply is lost once its own timeout has passed; a burst ends when every echo is
  answered, or at its last send plus the timeout;
- a *sweep* is many bursts started together (the ICMP checks of one scheduler slot) with one future
  and one timer per echo round for all of them: per burst there is no task, future or coroutine, which
  was most of the per-target cost next to fping (bench/README.md, ICMP sweep).

Raw sockets need root or CAP_NET_RAW; datagram ICMP ("ping sockets") needs the process's group inside
``net.ipv4.ping_group_range`` (per network namespace, and it also governs ICMPv6 ping sockets).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import math
import random
import socket
import struct
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from probes import arrival
from probes.errors import PrivilegeError
from probes.noroute import NO_ROUTE, explain

Mode = Literal["raw", "dgram"]
_T = TypeVar("_T")

# Linux constants the socket module does not export.
_SO_SNDBUFFORCE = 32
_SO_RCVBUFFORCE = 33
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1

_ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
#: An echo's header (type, code, checksum, identifier, sequence) and its identifier and sequence.
_HEADER = struct.Struct("!BBHHH")
_IDENT_SEQ = struct.Struct("!HH")
#: Errors that quote our echo: destination unreachable, time exceeded.
_QUOTING_ERRORS: dict[int, tuple[int, int]] = {socket.AF_INET: (3, 11), socket.AF_INET6: (1, 3)}
_RETRY_LATER = {errno.EAGAIN, errno.ENOBUFS}

_BUFFER_BYTES = 32 * 1024 * 1024
_PUMP_BATCH = 256
#: Echoes per second an engine sends at most, all bursts together: it guards real uplinks and the
#: receive buffer. In `netmon run` a 100 ms slot of 20,000 checks at 30 s is ~2,000 echoes/s.
DEFAULT_MAX_PPS = 50_000.0

FIX = (
    "ICMP needs raw sockets or unprivileged ping sockets. Either grant the capability: "
    "`setcap cap_net_raw+ep $(readlink -f $(which python3))`, or allow ping sockets for all groups: "
    '`sysctl net.ipv4.ping_group_range="0 2147483647"` (per network namespace).'
)


@dataclass(frozen=True, slots=True)
class BurstResult:
    """What one burst saw. ``rtts`` has one entry per echo in send order: seconds, or None when lost."""

    address: str
    rtts: tuple[float | None, ...]
    #: Why echoes failed when the network said so (a send error or a quoted ICMP error), else None.
    error: str | None = None
    #: When this burst ended (Unix seconds): every echo answered or lost. Bursts of one sweep end apart.
    ended: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.rtts)

    @property
    def received(self) -> list[float]:
        return [r for r in self.rtts if r is not None]


def _ones_complement_sum(data: bytes | bytearray | memoryview) -> int:
    """The one's complement sum of the 16-bit big-endian words of ``data``, modulo 0xFFFF.

    Read as one big integer the data is ≡ the sum of its words (2**16 ≡ 1 mod 0xFFFF), which C
    computes far faster than a Python loop over words.
    """
    if len(data) % 2:
        data = bytes(data) + b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 Internet checksum of ``data`` (its checksum field zeroed), to store with ``!H``.

    May give 0xFFFF where a word loop gives 0: both are zero in one's complement (RFC 1071 § 1).
    """
    return 0xFFFF - _ones_complement_sum(data)


def checksum_valid(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data``, checksum field included, sums to one's complement zero."""
    return _ones_complement_sum(data) == 0


class _Sweep:
    """Bursts started together: one future, set when the last of them ends."""

    __slots__ = ("future", "unfinished")

    def __init__(self, future: asyncio.Future[None], bursts: int) -> None:
        self.future = future
        self.unfinished = bursts


class _Burst:
    """Book-keeping of one burst while it is in flight."""

    __slots__ = (
        "address",
        "count",
        "destination",
        "done",
        "ended",
        "error",
        "family",
        "issued",
        "keys",
        "outstanding",
        "payload",
        "payload_sum",
        "rtts",
        "sent_ns",
        "sweep",
        "timeout",
    )

    def __init__(self, address: str, family: int, count: int, timeout: float, payload: bytes,
                 payload_sum: int, sweep: _Sweep) -> None:
        self.address = address
        #: ``sendto``'s address, built once for all of the burst's echoes.
        self.destination = (address, 0)
        self.family = family
        self.count = count
        self.timeout = timeout
        self.payload = payload
        self.payload_sum = payload_sum
        self.sweep = sweep
        self.sent_ns = [0] * count
        self.rtts: list[float | None] = [None] * count
        self.keys: list[int | str | None] = [None] * count
        #: Echoes handed to the socket (sent or failed) and echoes still awaiting a reply.
        self.issued = 0
        self.outstanding = 0
        self.error: str | None = None
        self.done = False
        self.ended = 0.0


class IcmpEngine:
    """Sends echo bursts for any number of concurrent callers over one socket per address family.

    Create it inside the event loop that will use it (or use `shared_engine`). ``mode`` forces raw or
    datagram sockets; ``"auto"`` tries raw first. ``max_pps`` paces all sends of this engine; 0 sends
    unpaced, as ``fping -i 0`` does (still a batch at a time, with the reader's turn in between): for
    benchmarks against fping, never for real uplinks.
    """

    def __init__(self, mode: Literal["auto", "raw", "dgram"] = "auto",
                 max_pps: float = DEFAULT_MAX_PPS) -> None:
        # Weak, so that an engine never keeps a finished event loop alive (see `shared_engine`).
        self._loop_ref = weakref.ref(asyncio.get_running_loop())
        self._max_pps = max_pps
        self._sockets: dict[int, socket.socket] = {}
        self.mode: Mode = self._choose_mode(mode)
        self._raw = self.mode == "raw"
        self._slots: dict[int, list[tuple[Callable[[Any, int], None], Any, int]]] = {}
        self._pending: dict[int | str, _Burst] = {}
        self._queue: collections.deque[tuple[_Burst, int]] = collections.deque()
        self._pump_handle: asyncio.Handle | None = None
        self._tokens = float(_PUMP_BATCH)
        self._refilled = time.monotonic()
        self._counter = 0
        self._ident_base = random.randrange(0x10000)
        self._rxbuf = bytearray(65536)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the event loop of this ICMP engine is gone")
        return loop

    # -- sockets ---------------------------------------------------------------------------------

    def _choose_mode(self, wanted: Literal["auto", "raw", "dgram"]) -> Mode:
        tried: list[str] = []
        candidates: tuple[Mode, ...] = ("raw", "dgram") if wanted == "auto" else (wanted,)
        for mode in candidates:
            try:
                self._sockets[socket.AF_INET] = self._open(socket.AF_INET, mode)
                return mode
            except PermissionError as exc:
                tried.append(f"{mode}: {exc.strerror}")
        raise PrivilegeError(f"cannot open an ICMP socket ({'; '.join(tried)}). {FIX}")

    def _open(self, family: int, mode: Mode) -> socket.socket:
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
        kind = socket.SOCK_RAW if mode == "raw" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, arrival.SO_TIMESTAMPNS, 1)
            for force, plain in ((_SO_RCVBUFFORCE, socket.SO_RCVBUF), (_SO_SNDBUFFORCE, socket.SO_SNDBUF)):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, force, _BUFFER_BYTES)
                except PermissionError:
                    sock.setsockopt(socket.SOL_SOCKET, plain, _BUFFER_BYTES)
            if mode == "raw":
                self._filter(sock, family)
            self._loop.add_reader(sock.fileno(), self._on_readable, sock, family)
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def _filter(sock: socket.socket, family: int) -> None:
        """Let the kernel drop every ICMP type we never read (our own echo requests on loopback...)."""
        wanted = (_ECHO_REPLY[family], *_QUOTING_ERRORS[family])
        if family == socket.AF_INET:  # a bit set means "block"; types 0-31
            blocked = ~sum(1 << t for t in wanted) & 0xFFFFFFFF
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", blocked))
        else:  # struct icmp6_filter: 256 bits, set = block
            words = [0xFFFFFFFF] * 8
            for t in wanted:
                words[t >> 5] &= ~(1 << (t & 31)) & 0xFFFFFFFF
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("8I", *words))

    def _socket(self, family: int) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is None:
            sock = self._sockets[family] = self._open(family, self.mode)
        return sock

    def close(self) -> None:
        """Close the sockets; bursts still in flight end with what they have."""
        for burst in set(self._pending.values()):
            self._finish(burst)
        self._queue.clear()
        loop = self._loop_ref()
        for sock in self._sockets.values():
            if loop is not None and not loop.is_closed():
                loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()

    async def __aenter__(self) -> IcmpEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- bursts ----------------------------------------------------------------------------------

    async def burst(self, address: str, count: int = 5, spacing: float = 0.2, timeout: float = 1.0,
                    size: int = 56) -> BurstResult:
        """Send ``count`` echoes to ``address`` (an IP literal), ``spacing`` seconds apart.

        Returns after every echo is answered or after the last send plus ``timeout``; a reply later
        than ``timeout`` after its own echo counts as lost. Network failures are in the result.
        """
        return (await self.sweep([address], count, spacing, timeout, size))[0]

    async def sweep(self, addresses: Sequence[str], count: int = 5, spacing: float = 0.2,
                    timeout: float = 1.0, size: int = 56) -> list[BurstResult]:
        """One burst (as `burst` sends it) to each of ``addresses`` at once; their results in order.

        Each burst ends on its own (its ``ended``); the call returns when the last one has.
        """
        if not addresses:
            return []
        payload = (b"netmon" * (size // 6 + 1))[:size]
        payload_sum = _ones_complement_sum(payload)
        group = _Sweep(self._loop.create_future(), len(addresses))
        bursts: list[_Burst] = []
        sockets = self._sockets
        for address in addresses:
            family, canonical = _canonical(address)  # ValueError: not an IP literal
            if family not in sockets:
                self._socket(family)
            bursts.append(_Burst(canonical, family, count, timeout, payload, payload_sum, group))
        start = self._loop.time()
        self._enqueue(bursts, 0)
        for i in range(1, count):
            self._at(start + i * spacing, self._enqueue, bursts, i)
        try:
            await group.future
        finally:  # also when cancelled by the caller's deadline: forget our echoes
            for burst in bursts:
                self._finish(burst)
        return [BurstResult(b.address, tuple(b.rtts), b.error, b.ended) for b in bursts]

    def _at(self, when: float, action: Callable[[_T, int], None], target: _T, index: int) -> None:
        """Run ``action(target, index)`` at ``when`` rounded up to the next millisecond slot."""
        slot = math.ceil(when * 1000)
        actions = self._slots.get(slot)
        if actions is None:
            actions = self._slots[slot] = []
            self._loop.call_at(slot / 1000, self._run_slot, slot)
        actions.append((action, target, index))

    def _run_slot(self, slot: int) -> None:
        for action, target, index in self._slots.pop(slot, ()):
            action(target, index)

    def _enqueue(self, bursts: list[_Burst], index: int) -> None:
        """Queue echo ``index`` of every burst of a sweep still in flight."""
        self._queue.extend((b, index) for b in bursts if not b.done)
        if self._pump_handle is None:
            self._pump_handle = self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        """Send queued echoes within the pace budget, a batch at a time so the reader keeps up."""
        self._pump_handle = None
        paced = self._max_pps > 0
        if paced:
            now = time.monotonic()
            self._tokens = min(float(_PUMP_BATCH), self._tokens + (now - self._refilled) * self._max_pps)
            self._refilled = now
        else:
            self._tokens = float(_PUMP_BATCH)
        queue, send = self._queue, self._send
        tokens = self._tokens
        while queue and tokens >= 1:
            burst, index = queue[0]
            if not send(burst, index):
                break
            queue.popleft()
            tokens -= 1
        self._tokens = tokens
        if self._queue:
            delay = max(0.0, (1 - self._tokens) / self._max_pps) if paced else 0.0
            if self._tokens >= 1:  # the socket said "later"
                delay = 0.001
            self._pump_handle = self._loop.call_at(self._loop.time() + delay, self._pump)

    def _key(self, family: int, address: str, ident: int, seq: int) -> int | str:
        """The match key of an echo: ints and strings, which the garbage collector never scans.

        Raw sockets see every echo reply of the host, so the identifier is part of the key; ping
        sockets only get their own, with the identifier rewritten by the kernel: address and sequence.
        """
        if self._raw:  # inlined in `_send` and `_on_readable`
            return (family << 32) | (ident << 16) | seq
        return f"{address}#{seq}"

    def _send(self, burst: _Burst, index: int) -> bool:
        """Send one echo; False when the socket has no room now (retry later)."""
        if burst.done:
            return True
        family, address = burst.family, burst.address
        pending = self._pending
        raw = self._raw
        while True:  # a free (identifier, sequence), never one in use by another burst
            n = self._counter
            self._counter = (n + 1) & 0xFFFFFFFF
            ident, seq = (self._ident_base + (n >> 16)) & 0xFFFF, n & 0xFFFF
            # `_key`, inlined for raw sockets (once per echo)
            key = (family << 32) | (ident << 16) | seq if raw else self._key(family, address, ident, seq)
            if key not in pending:
                break
        kind = _ECHO_REQUEST[family]
        # The kernel sums ICMPv6 itself (pseudo-header); for ICMPv4 the header words are added to the
        # payload's precomputed sum instead of summing every packet again.
        csum = 0
        if family == socket.AF_INET:
            csum = 0xFFFF - (burst.payload_sum + (kind << 8) + ident + seq) % 0xFFFF
        packet = _HEADER.pack(kind, 0, csum, ident, seq) + burst.payload
        sock = self._sockets[family]
        sent_ns = time.time_ns()
        try:
            sock.sendto(packet, burst.destination)
        except OSError as exc:
            if exc.errno in _RETRY_LATER:
                return False
            burst.error = f"unreachable: {explain(exc)}" if exc.errno in NO_ROUTE else f"error: {exc}"
        else:
            burst.sent_ns[index] = sent_ns
            burst.keys[index] = key
            burst.outstanding += 1
            pending[key] = burst
        burst.issued += 1
        if burst.issued == burst.count:
            self._at(self._loop.time() + burst.timeout, self._expire, burst, index)
            self._finish_if_complete(burst)
        return True

    def _expire(self, burst: _Burst, _index: int) -> None:
        self._finish(burst)

    def _finish(self, burst: _Burst) -> None:
        """End ``burst`` (once): forget its echoes, and wake its sweep's caller if it was the last."""
        if burst.done:
            return
        burst.done = True
        burst.ended = time.time()
        for key in burst.keys:
            if key is not None and self._pending.get(key) is burst:
                del self._pending[key]
        group = burst.sweep
        group.unfinished -= 1
        if group.unfinished == 0 and not group.future.done():
            group.future.set_result(None)

    def _finish_if_complete(self, burst: _Burst) -> None:
        if burst.outstanding == 0 and burst.issued == burst.count:
            self._finish(burst)

    # -- replies ---------------------------------------------------------------------------------

    def _on_readable(self, sock: socket.socket, family: int) -> None:
        """Drain the socket; the echo-reply path is inlined because it runs once per packet."""
        view = memoryview(self._rxbuf)
        raw = self._raw
        raw_ipv4 = family == socket.AF_INET and raw
        family_key = family << 32
        from_bytes = int.from_bytes
        unpack_ident_seq = _IDENT_SEQ.unpack_from
        reply_type = _ECHO_REPLY[family]
        pending = self._pending
        for _ in range(1024):  # bounded, so sends get their turn under a flood
            try:
                nbytes, ancdata, _, source = sock.recvmsg_into([view], arrival.CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. a queued ICMP error on a ping socket; nothing to match
                continue
            icmp = view[(view[0] & 0x0F) * 4 if raw_ipv4 else 0:nbytes]
            # Only raw IPv4 hands us unverified checksums: the kernel checks ICMPv6 and ping sockets. An
            # even length sums to 0 at once (`_ones_complement_sum`); `checksum_valid` has the last word.
            if len(icmp) < 8 or (raw_ipv4 and (len(icmp) % 2 or from_bytes(icmp, "big") % 0xFFFF)
                                 and not checksum_valid(icmp)):
                continue
            address = source[0]
            if icmp[0] != reply_type:
                if icmp[0] in _QUOTING_ERRORS[family] and raw:
                    self._on_error(family, address, icmp[8:], icmp[0])
                continue
            ident, seq = unpack_ident_seq(icmp, 4)
            key = family_key | (ident << 16) | seq if raw else self._key(family, address, ident, seq)
            burst = pending.get(key)
            if burst is None or burst.address != address:  # foreign identifier, or not from the target
                continue
            del pending[key]
            index = burst.keys.index(key)
            rtt = ((arrival.arrival_ns(ancdata) or time.time_ns()) - burst.sent_ns[index]) / 1e9
            if rtt <= burst.timeout:
                burst.rtts[index] = max(rtt, 0.0)
            burst.outstanding -= 1
            if burst.outstanding == 0 and burst.issued == burst.count:
                self._finish(burst)

    def _on_error(self, family: int, reporter: str, quoted: memoryview, kind: int) -> None:
        """An ICMP error quoting one of our echoes: that echo is lost, and we know why."""
        header = (quoted[0] & 0x0F) * 4 if family == socket.AF_INET else 40
        if len(quoted) < header + 8 or quoted[header] != _ECHO_REQUEST[family]:
            return
        raw_dest = quoted[16:20] if family == socket.AF_INET else quoted[24:40]
        destination = socket.inet_ntop(family, bytes(raw_dest))
        ident, seq = struct.unpack_from("!HH", quoted, header + 4)
        key = self._key(family, destination, ident, seq)
        burst = self._pending.get(key)
        if burst is None or burst.address != destination:
            return
        del self._pending[key]
        what = "unreachable" if kind == _QUOTING_ERRORS[family][0] else "ttl exceeded"
        burst.error = f"{what} (reported by {reporter})"
        burst.outstanding -= 1
        self._finish_if_complete(burst)


@functools.lru_cache(maxsize=65_536)
def _canonical(address: str) -> tuple[int, str]:
    """An IP literal's family and the form replies come from (cached: every run of a check asks)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return family, socket.inet_ntop(family, socket.inet_pton(family, address))


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IcmpEngine] = weakref.WeakKeyDictionary()


def shared_engine(mode: Literal["auto", "raw", "dgram"] = "auto",
                  max_pps: float = DEFAULT_MAX_PPS) -> IcmpEngine:
    """The engine of the running event loop, created on first use (its sockets close with the loop);
    ``mode`` and ``max_pps`` apply to that first creation only."""
    loop = asyncio.get_running_loop()
    engine = _SHARED.get(loop)
    if engine is None:
        engine = _SHARED[loop] = IcmpEngine(mode, max_pps)
        weakref.finalize(loop, engine.close)
    return engine

