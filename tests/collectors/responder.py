"""A tiny misbehaving SNMP agent on a loopback UDP socket: the one peer snmpd cannot play.

It decodes each v2c request with pysnmp's own codec and answers in one of a few broken ways, so the
tests can show that a broken device costs only its own poll.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902

Mode = Literal["silent", "garbage", "endless", "backwards"]


class Responder(asyncio.DatagramProtocol):
    """``silent`` never answers; ``garbage`` answers random bytes; ``endless`` answers every column
    with rows that never end; ``backwards`` answers OIDs lower than asked."""

    def __init__(self, mode: Mode):
        self.mode = mode
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        assert self.transport is not None
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            self.transport.sendto(b"\x30\x82\xff\xff" + os.urandom(200), addr)
            return
        proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
        message, _ = decoder.decode(data, asn1Spec=proto.Message())
        request = proto.apiMessage.get_pdu(message)
        response_message = proto.apiMessage.get_response(message)
        response = proto.apiMessage.get_pdu(response_message)
        asked = [oid for oid, _ in proto.apiPDU.get_varbinds(request)]
        scalars = int(proto.apiBulkPDU.get_non_repeaters(request))
        rows = int(proto.apiBulkPDU.get_max_repetitions(request)) or 1
        varbinds = [self._next(oid, 1) for oid in asked[:scalars]]
        for row in range(1, rows + 1):
            varbinds += [self._next(oid, row) for oid in asked[scalars:]]
        proto.apiPDU.set_varbinds(response, varbinds)
        self.transport.sendto(encoder.encode(response_message), addr)


    def _next(self, oid: Any, step: int) -> tuple[rfc1902.ObjectName, rfc1902.Integer32]:
        arcs = tuple(oid)
        if self.mode == "endless":  # one level below the column, then ever-growing indexes
            arcs = (*arcs, step) if len(arcs) < 12 else (*arcs[:-1], arcs[-1] + step)
        else:
            arcs = (*arcs[:-1], max(0, arcs[-1] - step))
        return rfc1902.ObjectName(arcs), rfc1902.Integer32(step)


async def start(mode: Mode) -> tuple[Responder, int]:
    """Bind a responder on a free loopback UDP port; close it with ``responder.transport.close()``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: Responder(mode),
                                                              local_addr=("127.0.0.1", 0))
    return protocol, transport.get_extra_info("sockname")[1]
