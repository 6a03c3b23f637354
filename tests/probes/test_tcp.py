"""The tcp probe against real loopback listeners, a closed port, a blackhole route and a silent host."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from pydantic import ValidationError

from probes import base, tcp
from probes.base import Check
from tests.probes import icmp_fixtures as nets
from tests.probes import peers


def _check(target: str, port: int | None = None, timeout: float = 2.0) -> Check:
    return Check(site="test", id="tcp", probe="tcp", target=target, options=tcp.TcpOptions(port=port),
                 timeout=timeout)


async def test_open_port_reports_connect_time() -> None:
    accepted = asyncio.Event()
    server = await asyncio.start_server(lambda r, w: accepted.set(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await tcp.run(_check(f"127.0.0.1:{port}"))
        await asyncio.wait_for(accepted.wait(), 2)
    assert result.success, result.error
    seconds = result.value(tcp.CONNECT_SECONDS)
    assert seconds is not None and 0 < seconds < 0.1
    assert result.details["port"] == port


async def test_connect_time_is_the_handshake_not_the_busy_probers_delay() -> None:
    """A prober busy with other checks notices a finished connect late (200 ms here, held while the
    connect is in flight); the metric is the handshake's own time, which on loopback is microseconds."""
    with socket.create_server(("127.0.0.1", 0)) as listener, peers.busy_loop(listener.fileno(), 0.2) as busy:
        result = await tcp.run(_check(f"127.0.0.1:{listener.getsockname()[1]}"))
    assert busy.fired and result.success, result.error
    seconds = result.value(tcp.CONNECT_SECONDS)
    assert seconds is not None and 0 < seconds < 0.01, seconds


def test_connect_time_is_the_clocks_where_the_kernel_has_none() -> None:
    """No TCP_INFO answer (a UDP socket refuses it, as a kernel without it would): the clock's figure."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert tcp.connect_seconds(sock, 0.25) == 0.25


async def test_port_option_and_name_target() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await tcp.run(_check("localhost", port=port))
    assert result.success, result.error
    assert result.details["address"] in ("127.0.0.1", "::1")


async def test_closed_port_is_refused_fast() -> None:
    port = await peers.unused_port()
    begin = time.perf_counter()
    result = await tcp.run(_check(f"127.0.0.1:{port}"))
    assert not result.success
    assert result.reason == "refused"
    assert time.perf_counter() - begin < 0.5
    assert result.value(tcp.CONNECT_SECONDS) is None


async def test_unknown_name_is_dns_failure() -> None:
    result = await tcp.run(_check("no-such-host.invalid", port=80))
    assert (result.success, result.reason) == (False, "dns")


@pytest.mark.privileged
@pytest.mark.usefixtures("blackhole_lab_range")
async def test_blackholed_address_is_unreachable_at_once() -> None:
    """A blackhole route makes a local connect fail with EINVAL immediately; it is not a timeout."""
    with nets.unroutable() as address:
        result = await tcp.run(_check(address, port=80))
    assert (result.success, result.reason) == (False, "unreachable")
    assert result.duration < 0.5
    assert result.error is not None and result.error.startswith(
        "no route: this machine's routing table discards packets to this address (blackhole route)")


@pytest.mark.privileged
@pytest.mark.usefixtures("blackhole_lab_range")
async def test_silent_host_times_out_within_deadline() -> None:
    with peers.silent_host() as address:
        begin = time.perf_counter()
        result = await tcp.run(_check(address, port=80, timeout=0.5))
        elapsed = time.perf_counter() - begin
    assert (result.success, result.reason) == (False, "timeout")
    assert 0.5 <= elapsed < 0.7
    assert "0.5s" in (result.error or "")


@pytest.mark.parametrize(
    ("target", "port", "expected"),
    [
        ("198.18.0.1:22", None, ("198.18.0.1", 22)),
        ("198.18.0.1:22", 443, ("198.18.0.1", 443)),
        ("[::1]:8080", None, ("::1", 8080)),
        ("::1", 80, ("::1", 80)),
        ("localhost", 25, ("localhost", 25)),
    ],
)
def test_split_target(target: str, port: int | None, expected: tuple[str, int]) -> None:
    assert tcp.split_target(target, port) == expected


def test_missing_port_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="has no port"):
        tcp.split_target("198.18.0.1", None)


def test_port_is_range_checked() -> None:
    with pytest.raises(ValidationError):
        base.options(tcp.TcpOptions, {"port": 70000})
    with pytest.raises(ValidationError):
        base.options(tcp.TcpOptions, {"port": 80, "porrt": 1})
