"""Requests end on their deadlines: an answer the codec rejects does not restart a try's wait, and no
request, v2c or v3, waits past the poll's deadline (a silent agent on loopback)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from collectors import snmp, snmp_v2c, snmp_v3
from netmon.runner import run_check
from probes import base
from probes.base import Check, registry


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


class _Silent(asyncio.DatagramProtocol):
    """An SNMP agent that hears every request and never answers."""

    def __init__(self) -> None:
        self.heard = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.heard += 1


@pytest.fixture
async def silent() -> AsyncIterator[tuple[tuple[str, int], _Silent]]:
    transport, agent = await asyncio.get_running_loop().create_datagram_endpoint(
        _Silent, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname"), agent
    finally:
        transport.close()


@pytest.fixture
async def client() -> AsyncIterator[snmp_v2c.Client]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: snmp_v2c.Client(sock), sock=sock)
    try:
        yield protocol
    finally:
        transport.close()


async def test_v2c_request_is_cut_to_the_deadline(silent: tuple[tuple[str, int], _Silent],
                                                  client: snmp_v2c.Client) -> None:
    """2 s per try, 3 retries (8 s), 0.5 s left: one try, cut at 0.5 s, and no retry after it."""
    address, agent = silent
    loop = asyncio.get_running_loop()
    until = loop.time() + 0.5
    answer = await client.request(address, b"public", 0, 10, ["1.3.6.1.2.1.1"], timeout=2.0, retries=3,
                                  until=until)
    assert answer is None
    assert until <= loop.time() < until + 0.2
    assert agent.heard == 1
    assert client.pending == {}


async def test_v3_discovery_and_request_are_cut_to_the_deadline(silent: tuple[tuple[str, int], _Silent],
                                                                client: snmp_v2c.Client) -> None:
    address, agent = silent
    loop = asyncio.get_running_loop()
    user = snmp_v3.User("netmon", "sha", "auth-v3-secret-0451", "aes", "priv-v3-secret-7719")
    until = loop.time() + 0.5
    answer = await snmp_v3.bulk(client, address, user, 0, 10, ["1.3.6.1.2.1.1"], timeout=2.0, retries=3,
                                until=until)
    assert answer is None
    assert until <= loop.time() < until + 0.2
    assert agent.heard == 1  # the engine discovery, never answered; nothing sent after the deadline


async def test_poll_of_a_silent_device_reports_its_own_timeout_by_the_deadline(
        silent: tuple[tuple[str, int], _Silent], monkeypatch: pytest.MonkeyPatch) -> None:
    """A check with less time than one request's tries (as when earlier requests of the poll were slow):
    the poll answers ``snmp_up 0``/timeout itself, by the check's deadline, not the runner's backstop."""
    (host, port), _agent = silent
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "public")
    options = base.options(snmp.SnmpOptions, {
        "profiles": ("system",), "snmp": {"version": "2c", "community_env": "NETMON_TEST_COMMUNITY"},
        "port": port, "timeout": 2.0, "retries": 1})
    check = Check(site="test", id="ups", probe="snmp", target=host, options=options, timeout=1.0)
    registry()  # discovering the plugins on first use is not the poll's time
    started = time.monotonic()
    result = await run_check(check)
    elapsed = time.monotonic() - started
    assert result.reason == "timeout"
    assert result.error == "no SNMP response (before the poll's deadline)"
    assert result.value(snmp.UP) == 0.0
    assert elapsed < check.timeout, elapsed
