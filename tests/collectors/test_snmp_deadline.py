"""An answer the codec rejects does not restart a request's wait: the try ends on its own deadline."""

from __future__ import annotations

import asyncio
import socket

from collectors import snmp_v2c


class _Garbler(asyncio.DatagramProtocol):
    """Answers each request three times, 0.3 s apart, with its request id under another community:
    the client matches it to the request, then its decoder rejects it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        request_id = snmp_v2c._peek_request_id(data)
        wrong = snmp_v2c.encode_bulk(b"not-ours", request_id, 0, 1, ["1.3.6.1"])
        loop = asyncio.get_running_loop()
        for k in (1, 2, 3):
            loop.call_later(0.3 * k, self.transport.sendto, wrong, addr)  # type: ignore[attr-defined]


async def test_rejected_answers_do_not_extend_the_timeout() -> None:
    loop = asyncio.get_running_loop()
    device, _ = await loop.create_datagram_endpoint(_Garbler, local_addr=("127.0.0.1", 0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport, client = await loop.create_datagram_endpoint(lambda: snmp_v2c.Client(sock), sock=sock)
    try:
        begin = loop.time()
        answer = await client.request(device.get_extra_info("sockname"), b"public", 0, 10, ["1.3.6.1.2.1.1"],
                                      timeout=1.0, retries=0)
        elapsed = loop.time() - begin
    finally:
        transport.close()
        device.close()
    assert answer is None
    # One try of 1 s: the garbage at 0.3, 0.6 and 0.9 s must not push the end to 1.9 s.
    assert 1.0 <= elapsed < 1.3, elapsed
