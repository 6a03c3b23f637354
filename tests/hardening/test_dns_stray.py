"""A stray DNS reply (wrong query id, garbage) before the real one must not fail the check: dig waits on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rrset

from probes import base
from probes import dns as dns_probe
from probes.base import Check


@contextmanager
def lying_then_honest() -> Iterator[int]:
    """A UDP DNS server that answers every query three times: wrong id, garbage, then the real answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            answer = dns.message.make_response(query)
            answer.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "198.18.0.10"))
            forged = dns.message.make_response(query)
            forged.id = (query.id + 1) % 65536
            forged.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "198.18.6.6"))
            sock.sendto(forged.to_wire(), peer)
            sock.sendto(b"\x00garbage", peer)
            sock.sendto(answer.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


async def test_stray_replies_are_ignored_and_the_real_answer_counts() -> None:
    with lying_then_honest() as port:
        options = base.options(dns_probe.DnsOptions, {"name": "portal.example", "port": port,
                                                       "expect": ["198.18.0.10"]})
        result = await dns_probe.run(Check(site="t", id="dns", probe="dns", target="127.0.0.1", options=options,
                                           timeout=2))
    assert result.success, result.error
    assert result.details["answers"] == ["198.18.0.10"]
