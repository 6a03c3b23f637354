"""The burst engine against real ICMP: loopback, a lossy namespace, a blackholed address, ping sockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from probes.icmp_engine import IcmpEngine, checksum, checksum_valid
from tests.probes import icmp_fixtures as nets
from tests.support import binomial_interval, wait_until

pytestmark = pytest.mark.privileged


@pytest.fixture
async def engine() -> AsyncIterator[IcmpEngine]:
    async with IcmpEngine() as e:
        yield e


def loopback_targets(n: int) -> list[str]:
    """n distinct addresses in 127.0.0.0/8, all answered by the local kernel."""
    return [f"127.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(256, 256 + n)]


def test_checksum_known_vector() -> None:
    # RFC 1071 § 3 example words 0001 f203 f4f5 f6f7: sum ddf2 (after carries), checksum 220d.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert checksum(data) == 0x220D
    assert checksum_valid(data + (0x220D).to_bytes(2, "big"))
    assert not checksum_valid(data + (0x220C).to_bytes(2, "big"))


async def test_loopback_burst(engine: IcmpEngine) -> None:
    assert engine.mode == "raw"
    result = await engine.burst("127.0.0.1", count=5, spacing=0.01, timeout=1.0)
    assert (result.sent, len(result.received)) == (5, 5)
    assert all(0 < rtt < 0.005 for rtt in result.received)
    assert result.error is None


async def test_ipv6_loopback(engine: IcmpEngine) -> None:
    result = await engine.burst("::1", count=3, spacing=0.01, timeout=1.0)
    assert result.address == "::1"
    assert len(result.received) == 3
    assert max(result.received) < 0.005


async def test_thousands_of_targets_in_flight(engine: IcmpEngine) -> None:
    targets = loopback_targets(3000)
    results = await asyncio.gather(*(engine.burst(t, count=2, spacing=0.05, timeout=2.0) for t in targets))
    assert [r.address for r in results] == targets
    assert sum(len(r.received) for r in results) == 2 * len(targets)
    assert max(max(r.received) for r in results) < 0.05


async def test_an_unpaced_engine_sends_every_echo_and_loses_none() -> None:
    """``max_pps=0`` (bench/icmp_sweep.py against ``fping -i 0``): no pace, a batch at a time with the
    reader's turn between, and every reply still read. Paced at 1,000 echoes/s the same sweep would
    take 4 s; the default pace, 50,000/s, is the product's and stays."""
    targets = loopback_targets(2000)
    async with IcmpEngine(max_pps=0) as unpaced, asyncio.timeout(10):  # a pump that stalls never ends
        began = time.monotonic()
        results = await unpaced.sweep(targets, count=2, spacing=0.05, timeout=2.0)
        took = time.monotonic() - began
    assert sum(len(r.received) for r in results) == 2 * len(targets)
    assert took < 2.0


async def test_concurrent_bursts_to_one_address_never_collide(engine: IcmpEngine) -> None:
    results = await asyncio.gather(*(engine.burst("127.0.0.1", count=4, spacing=0.01) for _ in range(500)))
    assert all(len(r.received) == 4 for r in results)
    assert not engine._pending  # every echo was matched exactly once and forgotten


async def test_two_engines_share_the_wire_without_stealing_replies() -> None:
    # Raw sockets see every reply of the host: identifiers must keep the two apart.
    async with IcmpEngine() as a, IcmpEngine() as b:
        both = await asyncio.gather(*(e.burst("127.0.0.1", count=20, spacing=0.002) for e in (a, b) * 50))
    assert all(len(r.received) == 20 for r in both)


@pytest.mark.usefixtures("blackhole_lab_range")
async def test_blackholed_address_returns_after_the_burst(engine: IcmpEngine) -> None:
    begin = time.perf_counter()
    with nets.unroutable("198.18.251.129") as address:
        result = await engine.burst(address, count=3, spacing=0.1, timeout=0.5)
    elapsed = time.perf_counter() - begin
    assert (result.sent, result.received) == (3, [])
    assert result.error is not None and "unreachable" in result.error
    assert elapsed < 3 * 0.1 + 0.5 + 0.5  # N×S + timeout, with slack


@pytest.mark.usefixtures("blackhole_lab_range")
async def test_random_loss_withinbinomial_interval(engine: IcmpEngine) -> None:
    n, percent = 600, 30
    with nets.lossy_host(percent) as host:
        result = await engine.burst(host.address, count=n, spacing=0.001, timeout=0.5)
        dropped = host.dropped()
    lost = n - len(result.received)
    assert lost == dropped  # every echo the network dropped, and only those, counted as lost
    # A 99 % interval fails one CI run in a hundred on a correct engine; 99.9 % keeps the check honest
    # (at n=600 it still rejects a loss rate off by 7 points) without that flake rate.
    low, high = binomial_interval(n, percent / 100, 0.999)
    assert low <= lost <= high, f"{lost} of {n} lost, expected {low}..{high}"
    assert result.error is None  # silence is not an ICMP error


def test_forced_dgram_mode_in_a_namespace() -> None:
    snippet = """
import asyncio, json
from probes.icmp_engine import IcmpEngine
async def main():
    async with IcmpEngine(mode="dgram") as e:
        v4 = await e.burst("127.0.0.1", count=4, spacing=0.01)
        v6 = await e.burst("::1", count=2, spacing=0.01)
        many = await asyncio.gather(*(e.burst("127.0.0.1", count=3, spacing=0.01) for _ in range(50)))
        print(json.dumps([e.mode, v4.received, v6.received, sum(len(r.received) for r in many)]))
asyncio.run(main())
"""
    with nets.namespace("dgram") as ns:
        nets.sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 0")
        done = nets.run_in_namespace(ns, snippet)
    assert done.returncode == 0, done.stderr
    mode, v4, v6, many = json.loads(done.stdout)
    assert mode == "dgram"
    assert len(v4) == 4 and all(0 < r < 0.005 for r in v4)
    assert len(v6) == 2
    assert many == 150


def test_forced_dgram_mode_without_permission_says_how_to_fix() -> None:
    snippet = """
import asyncio
from probes.errors import PrivilegeError
from probes.icmp_engine import IcmpEngine
async def main():
    try:
        IcmpEngine(mode="dgram")
    except PrivilegeError as exc:
        print(exc)
asyncio.run(main())
"""
    with nets.namespace("noping") as ns:  # a new namespace starts with ping_group_range "1 0"
        done = nets.run_in_namespace(ns, snippet)
    assert done.returncode == 0, done.stderr
    assert "ping_group_range" in done.stdout and "cap_net_raw" in done.stdout


@pytest.mark.usefixtures("blackhole_lab_range")
async def test_cancelled_and_closed_bursts_leave_nothing_behind() -> None:
    with nets.lossy_host(100) as host:
        async with IcmpEngine() as e:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):  # the scheduler's deadline cancels the burst
                    await e.burst(host.address, count=3, spacing=0.05, timeout=5)
            assert not e._pending
            before = host.dropped()
            pending = asyncio.create_task(e.burst(host.address, count=2, spacing=0.01, timeout=5))
            # Both echoes have left once the host's drop counter has seen them; then close mid-burst.
            await asyncio.to_thread(wait_until, lambda: host.dropped() >= before + 2, 10, "two echoes sent")
            e.close()
            result = await asyncio.wait_for(pending, 1)
        assert result.rtts == (None, None)
