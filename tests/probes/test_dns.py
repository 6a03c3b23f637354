"""The dns probe against a real loopback DNS server (`tests.probes.peers.DnsPeer`, UDP and TCP)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from probes import arrival, base
from probes import dns as dns_probe
from probes.base import Check
from tests.probes import peers

NAME = "tthc.sonla.test"


@pytest.fixture
async def server() -> AsyncIterator[peers.DnsPeer]:
    records = {NAME: ["198.18.10.1", "198.18.10.2"]}
    async with peers.DnsPeer(records, servfail=frozenset({"broken.sonla.test"})) as peer:
        yield peer


def _check(server: peers.DnsPeer | peers.DelayedDnsPeer, timeout: float = 2.0, **options: Any) -> Check:
    options = {"name": NAME, "port": server.port, **options}
    return Check(site="test", id="dns", probe="dns", target="127.0.0.1",
                 options=base.options(dns_probe.DnsOptions, options), timeout=timeout)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_answers_are_counted_and_timed(server: peers.DnsPeer, transport: str) -> None:
    result = await dns_probe.run(_check(server, transport=transport, expect=["198.18.10.2"]))
    assert result.success, result.error
    assert result.value(dns_probe.ANSWERS) == 2
    seconds = result.value(dns_probe.LOOKUP_SECONDS)
    assert seconds is not None and 0 < seconds < 0.1
    assert result.details["answers"] == ["198.18.10.1", "198.18.10.2"]
    assert server.queries == 1


#: What a lookup may read beyond the server's own time (`DelayedDnsPeer.held`): the query's way to the
#: server — a clock read and one sendto on loopback, plus the handshake over TCP, tens of microseconds
#: when calm — with room for the prober's CPU being taken away in between on a loaded machine.
QUERY_WAY = 0.005


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_lookup_is_the_servers_time_not_the_busy_probers_delay(transport: str) -> None:
    """The server answers 20 ms after the query arrived; the prober's loop is held 200 ms from the query's
    arrival, so the answer waits for the prober: the lookup is still the server's 20 ms."""
    with peers.DelayedDnsPeer(delay=0.02) as server, peers.busy_until(server.arrived.is_set, 0.2) as busy:
        result = await dns_probe.run(_check(server, transport=transport, expect=["198.18.10.1"]))
    assert busy.fired
    assert result.success, result.error
    lookup = result.value(dns_probe.LOOKUP_SECONDS)
    low, high = server.held
    assert lookup is not None and 0.02 <= low <= lookup <= high + QUERY_WAY, (lookup, server.held)


async def test_lookup_is_the_clocks_where_the_kernel_gives_no_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without arrival stamps (not Linux) the lookup is the clock's around the exchange, hold included."""
    monkeypatch.setattr(arrival, "stamp_arrivals", lambda sock: None)
    with peers.DelayedDnsPeer(delay=0.02) as server, peers.busy_until(server.arrived.is_set, 0.2) as busy:
        result = await dns_probe.run(_check(server))
    assert busy.fired and result.success, result.error
    lookup = result.value(dns_probe.LOOKUP_SECONDS)
    assert lookup is not None and lookup >= 0.2


async def test_strays_neither_fail_nor_time_the_lookup() -> None:
    """A wrong-id copy, garbage and another source's copy arrive at once, the answer 20 ms later: the check
    passes with the answer's records and the answer's time, not a stray's."""
    with peers.DelayedDnsPeer(delay=0.02, strays=True) as server:
        result = await dns_probe.run(_check(server, expect=["198.18.10.1"]))
    assert result.success, result.error
    assert result.details["answers"] == ["198.18.10.1"]
    lookup = result.value(dns_probe.LOOKUP_SECONDS)
    low, high = server.held
    assert lookup is not None and 0.02 <= low <= lookup <= high + QUERY_WAY, (lookup, server.held)


async def test_truncated_answer_is_asked_again_over_tcp(server: peers.DnsPeer) -> None:
    server.truncate = True
    result = await dns_probe.run(_check(server, expect=["198.18.10.2"]))
    assert result.success, result.error
    assert result.value(dns_probe.ANSWERS) == 2
    assert server.queries == 2  # the UDP question, then the TCP one
    seconds = result.value(dns_probe.LOOKUP_SECONDS)
    assert seconds is not None and 0 < seconds < 0.1


async def test_missing_expected_answer_fails(server: peers.DnsPeer) -> None:
    result = await dns_probe.run(_check(server, expect=["198.18.10.1", "198.18.10.9"]))
    assert (result.success, result.reason) == (False, "answer_mismatch")
    assert "198.18.10.9" in (result.error or "")
    assert result.value(dns_probe.ANSWERS) == 2


async def test_nxdomain(server: peers.DnsPeer) -> None:
    result = await dns_probe.run(_check(server, name="khong-co.sonla.test"))
    assert (result.success, result.reason) == (False, "nxdomain")
    assert result.value(dns_probe.ANSWERS) == 0
    assert result.value(dns_probe.LOOKUP_SECONDS) is not None  # the server did answer, and fast


async def test_servfail(server: peers.DnsPeer) -> None:
    result = await dns_probe.run(_check(server, name="broken.sonla.test"))
    assert (result.success, result.reason) == (False, "servfail")
    assert "SERVFAIL" in (result.error or "")


async def test_no_records_of_that_type_is_an_empty_success(server: peers.DnsPeer) -> None:
    result = await dns_probe.run(_check(server, record_type="AAAA"))
    assert result.success, result.error
    assert result.value(dns_probe.ANSWERS) == 0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_silent_server_times_out_within_timeout(server: peers.DnsPeer, transport: str) -> None:
    server.silent = True
    begin = time.perf_counter()
    result = await dns_probe.run(_check(server, timeout=0.5, transport=transport))
    elapsed = time.perf_counter() - begin
    assert (result.success, result.reason) == (False, "timeout")
    assert 0.45 <= elapsed < 0.7
    assert server.queries >= 1  # the query did arrive; the silence is the server's
    assert result.value(dns_probe.LOOKUP_SECONDS) is None


async def test_no_tcp_listener_is_refused() -> None:
    port = await peers.unused_port()
    check = Check(site="test", id="dns", probe="dns", target="127.0.0.1", timeout=1.0,
                  options=dns_probe.DnsOptions(name=NAME, port=port, transport="tcp"))
    result = await dns_probe.run(check)
    assert (result.success, result.reason) == (False, "refused")


async def test_server_option_wins_over_target(server: peers.DnsPeer) -> None:
    check = Check(site="test", id="dns", probe="dns", target="198.18.0.53", timeout=1.0,
                  options=dns_probe.DnsOptions(name=NAME, port=server.port, server="127.0.0.1"))
    result = await dns_probe.run(check)
    assert result.success, result.error


def test_options_are_validated_and_expect_normalised() -> None:
    opts = base.options(dns_probe.DnsOptions, {"name": NAME, "record_type": "AAAA", "expect": ["0:0::1"]})
    assert opts.expect == ("::1",)
    cname = base.options(dns_probe.DnsOptions, {"name": NAME, "record_type": "CNAME", "expect": ["WWW.X."]})
    assert cname.expect == ("www.x",)
    with pytest.raises(ValidationError, match="not an IPv4 address"):
        base.options(dns_probe.DnsOptions, {"name": NAME, "expect": ["::1"]})
    with pytest.raises(ValidationError):
        base.options(dns_probe.DnsOptions, {"name": NAME, "server": "dns.sonla.test"})
    with pytest.raises(ValidationError, match="not a DNS name"):
        base.options(dns_probe.DnsOptions, {"name": "a..b"})
    with pytest.raises(ValidationError):
        base.options(dns_probe.DnsOptions, {"name": NAME, "record_type": "SOA"})
