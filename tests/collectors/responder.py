"""A tiny misbehaving SNMP agent on a loopback UDP socket: the one peer snmpd cannot play.

It decodes each v2c request with pysnmp's own codec and answers in one of a few broken ways, so the
tests can show that a broken device costs only its own poll.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any, Literal

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902

Mode = Literal["silent", "garbage", "endless", "backwards", "wrong-id", "oversized", "flood"]

_PROTO = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
#: Largest UDP payload over IPv4; the ``oversized`` answer stays just under it.
_UDP_MAX = 65507
#: Datagrams the ``flood`` mode sends per request: beyond what a default receive buffer holds.
FLOOD = 1000


class Responder(asyncio.DatagramProtocol):
    """``silent`` never answers; ``garbage`` answers random bytes; ``endless`` answers every column
    with rows that never end; ``backwards`` answers OIDs lower than asked; ``wrong-id`` answers well
    but under another request id; ``oversized`` answers one ~64 KB datagram with far more rows than
    asked; ``flood`` answers `FLOOD` well-formed datagrams per request, none with the request's id
    (they carry the ids around it, which other devices' polls may be using)."""

    def __init__(self, mode: Mode):
        self.mode = mode
        self.requests = 0
        self.sent = 0
        #: Set once a ``flood`` has been sent in full.
        self.flooded = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            self._send(b"\x30\x82\xff\xff" + os.urandom(200), addr)
            return
        message, _ = decoder.decode(data, asn1Spec=_PROTO.Message())
        request = _PROTO.apiMessage.get_pdu(message)
        asked = [oid for oid, _ in _PROTO.apiPDU.get_varbinds(request)]
        scalars = int(_PROTO.apiBulkPDU.get_non_repeaters(request))
        rows = int(_PROTO.apiBulkPDU.get_max_repetitions(request)) or 1
        request_id = int(_PROTO.apiPDU.get_request_id(request))
        head = encoder.encode(rfc1902.Integer32(1)) + \
            encoder.encode(_PROTO.apiMessage.get_community(message))
        body = [self._varbind(oid, 1) for oid in asked[:scalars]]
        size = 30 + len(head) + sum(map(len, body))  # 30 bytes: the framing's headers
        for step in itertools.count(1):
            row = b"".join(self._varbind(oid, step) for oid in asked[scalars:])
            size += len(row)
            full = size > _UDP_MAX if self.mode == "oversized" else step > rows
            if full or not row:
                break
            body.append(row)
        ids = [request_id]
        if self.mode == "wrong-id":
            ids = [request_id + 1]
        elif self.mode == "flood":  # +1, -1, +2, -2, ...
            ids = [request_id + (n + 1) // 2 * (1 if n % 2 else -1) for n in range(1, FLOOD + 1)]
        varbinds = _tlv(0x30, b"".join(body))
        for answer_id in ids:
            pdu = b"".join(encoder.encode(rfc1902.Integer32(n)) for n in (answer_id, 0, 0)) + varbinds
            self._send(_tlv(0x30, head + _tlv(0xA2, pdu)), addr)
        if self.mode == "flood":
            self.flooded.set()

    def _send(self, datagram: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(datagram, addr)
        self.sent += 1

    def _varbind(self, oid: Any, step: int) -> bytes:
        """The answer's varbind for the ``step``-th row after ``oid``.

        Framed by hand around pyasn1-encoded values: pysnmp's PDU setters are quadratic in the number
        of varbinds and would hold the event loop (shared with the poll under test) for seconds.
        """
        name, value = self._next(oid, step)
        return _tlv(0x30, encoder.encode(name) + encoder.encode(value))

    def _next(self, oid: Any, step: int) -> tuple[rfc1902.ObjectName, rfc1902.Integer32]:
        arcs = tuple(oid)
        if self.mode == "backwards":
            arcs = (*arcs[:-1], max(0, arcs[-1] - step))
        else:  # one level below the column, then ever-growing indexes
            arcs = (*arcs, step) if len(arcs) < 12 else (*arcs[:-1], arcs[-1] + step)
        return rfc1902.ObjectName(arcs), rfc1902.Integer32(step)


def _tlv(tag: int, body: bytes) -> bytes:
    """BER tag, definite length (long form up to 64 KB) and body."""
    size = len(body)
    length = bytes((size,)) if size < 0x80 else bytes((0x82,)) + size.to_bytes(2, "big")
    return bytes((tag,)) + length + body


async def start(mode: Mode) -> tuple[Responder, int]:
    """Bind a responder on a free loopback UDP port; close it with ``responder.transport.close()``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: Responder(mode),
                                                              local_addr=("127.0.0.1", 0))
    return protocol, transport.get_extra_info("sockname")[1]
