"""A minimal SNMPv2c GETBULK client: the hot path for community-based polling.

Why not pysnmp here: profiling a 25-interface poll showed ~85 % of the CPU in pyasn1 decoding the
response (about 0.1 ms per varbind), which held the collector to a fraction of snmp_exporter's polls
per core. A v2c GETBULK exchange is a fixed, small part of BER — one message shape out, one in — so
it is decoded here directly into Python ints and strings. SNMPv3 wraps the same PDUs in USM
(`collectors.snmp_v3`) and reuses this codec and this socket.

One UDP socket per event loop serves every device, v2c and v3; answers are matched by request id
(v2c) or message id (v3) *and* by the address asked, so a datagram from anyone else is ignored.
Undecodable datagrams are dropped, like pysnmp does: for the device that sent them the poll ends as
a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import random
import socket
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

Value = int | str | None

_COUNTER = itertools.count(random.randrange(1, 1 << 30))
T = TypeVar("T")


def next_id() -> int:
    """A request id (v2c) or message id (v3), unique among the shared socket's pending requests."""
    return next(_COUNTER) & 0x7FFFFFFF
#: BER tags of the application types that carry unsigned integers (Counter32, Gauge32, TimeTicks, Counter64).
_UNSIGNED = {0x41, 0x42, 0x43, 0x46, 0x47}


#: Receive buffer of the shared socket. Every device's answers queue there while the event loop is
#: busy; with the 208 KiB default, one device answering a request with a flood of datagrams filled it
#: and the answers of healthy devices arriving meanwhile were dropped (they timed out).
RECEIVE_BUFFER = 8 * 1024 * 1024
_SO_RCVBUFFORCE = 33  # Linux; the socket module does not export it


class DecodeError(ValueError):
    pass


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def encode_int(tag: int, value: int) -> bytes:
    return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def encode_oid(text: str) -> bytes:
    arcs = [int(a) for a in text.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at ``pos``."""
    try:
        tag, n = data[pos], data[pos + 1]
        pos += 2
        if n & 0x80:
            size = n & 0x7F
            if not 0 < size <= 4:
                raise DecodeError("bad length")
            n = int.from_bytes(data[pos:pos + size], "big")
            pos += size
    except IndexError:
        raise DecodeError("truncated") from None
    if pos + n > len(data):
        raise DecodeError("truncated")
    return tag, pos, pos + n


@functools.lru_cache(maxsize=16_384)
def _decode_oid(raw: bytes) -> str:
    """Dotted form of an OID's BER content. Cached: every poll of a device answers the same OIDs
    (the same columns and row indexes), so after the first poll decoding is a dictionary hit."""
    if not raw:
        raise DecodeError("empty OID")
    first = raw[0]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    rest = raw[1:]
    if not rest or max(rest) < 0x80:  # every arc one byte: the common case, joined without a loop
        return ".".join(map(str, arcs + list(rest)))
    arc = 0
    for byte in rest:
        arc = (arc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(arc)
            arc = 0
    return ".".join(map(str, arcs))


def _value(tag: int, raw: bytes) -> Value:
    """A varbind's value as a plain Python value: the one normalisation, for v2c and v3 alike.

    OCTET STRINGs lose the C terminator some agents send (a sysDescr ending in NUL would put a NUL
    into ``netmon_device_info``'s labels); IpAddress is dotted-quad text.
    """
    if tag == 0x02:
        return int.from_bytes(raw, "big", signed=True)
    if tag in _UNSIGNED:
        return int.from_bytes(raw, "big")
    if tag == 0x04:
        return raw.rstrip(b"\0").decode("utf-8", "replace")
    if tag == 0x06:
        return _decode_oid(raw)
    if tag == 0x40:
        return ".".join(str(b) for b in raw)
    return None  # NULL, noSuchObject, noSuchInstance, endOfMibView, Opaque


def encode_bulk_pdu(request_id: int, non_repeaters: int, max_repetitions: int, oids: Sequence[str]) -> bytes:
    """A GetBulkRequest-PDU (the part v2c and v3 messages share)."""
    varbinds = b"".join(tlv(0x30, encode_oid(o) + b"\x05\x00") for o in oids)
    pdu = encode_int(0x02, request_id) + encode_int(0x02, non_repeaters) + encode_int(0x02, max_repetitions)
    return tlv(0xA5, pdu + tlv(0x30, varbinds))


def encode_bulk(community: bytes, request_id: int, non_repeaters: int, max_repetitions: int,
                oids: Sequence[str]) -> bytes:
    pdu = encode_bulk_pdu(request_id, non_repeaters, max_repetitions, oids)
    return tlv(0x30, encode_int(0x02, 1) + tlv(0x04, community) + pdu)


def decode_pdu(data: bytes, pos: int) -> tuple[int, int, int, int, list[tuple[str, Value]]]:
    """(PDU tag, request id, error status, error index, varbinds) of the PDU at ``pos``."""
    tag, pos, end = read_tlv(data, pos)
    header = []
    for _ in range(3):
        _tag, start, pos = read_tlv(data, pos)
        header.append(int.from_bytes(data[start:pos], "big", signed=True))
    _tag, pos, end = read_tlv(data, pos)
    varbinds = []
    while pos < end:
        _tag, inner, pos = read_tlv(data, pos)
        vtag, start, inner = read_tlv(data, inner)
        if vtag != 0x06:
            raise DecodeError("varbind without OID")
        oid = _decode_oid(data[start:inner])
        vtag, start, inner = read_tlv(data, inner)
        varbinds.append((oid, _value(vtag, data[start:inner])))
    return tag, header[0], header[1], header[2], varbinds


def decode_response(data: bytes, community: bytes) -> tuple[int, int, int, list[tuple[str, Value]]]:
    """(request id, error status, error index, varbinds) of a v2c Response-PDU; raises DecodeError."""
    tag, pos, _end = read_tlv(data, 0)
    if tag != 0x30:
        raise DecodeError("not a SEQUENCE")
    tag, start, pos = read_tlv(data, pos)
    if tag != 0x02 or data[start:pos] != b"\x01":
        raise DecodeError("not SNMPv2c")
    tag, start, pos = read_tlv(data, pos)
    if tag != 0x04 or data[start:pos] != community:
        raise DecodeError("other community")
    tag, request_id, status, index, varbinds = decode_pdu(data, pos)
    if tag != 0xA2:
        raise DecodeError("not a Response-PDU")
    return request_id, status, index, varbinds


class Client(asyncio.DatagramProtocol):
    """Shared UDP socket; `exchange` sends one message and awaits its answer with timeout and retries."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock  # kept to close it even after its event loop has gone (see `close`)
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[tuple[str, int], asyncio.Future[bytes]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        try:  # beyond net.core.rmem_max needs CAP_NET_ADMIN; without it the kernel caps the size
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            request_id = _peek_request_id(data)
        except (DecodeError, IndexError):
            return
        entry = self.pending.get(request_id)
        if entry is not None and tuple(addr[:2]) == entry[0] and not entry[1].done():
            entry[1].set_result(data)

    async def exchange(self, address: tuple[str, int], message_id: int, message: bytes, timeout: float,
                       retries: int, decode: Callable[[bytes], T], until: float = math.inf) -> T | None:
        """Send ``message`` and return ``decode`` of the answer carrying ``message_id`` from ``address``,
        or None when every try timed out. An answer ``decode`` rejects (DecodeError) is ignored like a
        lost one: the try keeps waiting for what is left of its timeout, never a fresh one (a device
        sending garbage would otherwise keep the poll alive past every deadline). No try waits past
        ``until`` (event-loop time: the poll's deadline) and none starts after it."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        try:
            for _ in range(retries + 1):
                if loop.time() >= until:
                    break
                future: asyncio.Future[bytes] = loop.create_future()
                self.pending[message_id] = (address, future)
                self.transport.sendto(message, address)
                ends = min(loop.time() + timeout, until)
                while True:
                    try:
                        data = await asyncio.wait_for(asyncio.shield(future), max(0.0, ends - loop.time()))
                    except TimeoutError:
                        break
                    try:
                        return decode(data)
                    except DecodeError:
                        future = loop.create_future()
                        self.pending[message_id] = (address, future)
        finally:
            self.pending.pop(message_id, None)
        return None

    async def request(self, address: tuple[str, int], community: bytes, non_repeaters: int,
                      max_repetitions: int, oids: Sequence[str], timeout: float, retries: int,
                      until: float = math.inf) -> tuple[int, int, list[tuple[str, Value]]] | None:
        """One v2c GETBULK: (error status, error index, varbinds), or None when every try timed out
        (`exchange`, for ``until``)."""
        request_id = next_id()
        message = encode_bulk(community, request_id, non_repeaters, max_repetitions, oids)

        def decode(data: bytes) -> tuple[int, int, list[tuple[str, Value]]]:
            _rid, status, index, varbinds = decode_response(data, community)
            return status, index, varbinds

        return await self.exchange(address, request_id, message, timeout, retries, decode, until)

    def close(self) -> None:
        """Close the shared socket. Once its event loop has closed (a CLI runs one loop per command)
        the transport can no longer schedule its own cleanup, so the socket is closed here too."""
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):
                self.transport.close()
        self.sock.close()


def _peek_request_id(data: bytes) -> int:
    """The v2c request id, or the v3 msgID (a v3 answer's PDU is encrypted; its msgID is not)."""
    _tag, pos, _end = read_tlv(data, 0)
    _tag, start, pos = read_tlv(data, pos)
    if data[start:pos] == b"\x03":
        _tag, pos, _end = read_tlv(data, pos)  # msgGlobalData
    else:
        _tag, _start, pos = read_tlv(data, pos)  # community
        _tag, pos, _end = read_tlv(data, pos)  # PDU
    _tag, start, pos = read_tlv(data, pos)
    return int.from_bytes(data[start:pos], "big", signed=True)
