"""The trace probe over a routed chain of namespaces: root → router → host."""

from __future__ import annotations

import pytest

from probes import trace
from probes.base import Check
from tests.probes import icmp_fixtures as nets

pytestmark = [pytest.mark.privileged, pytest.mark.usefixtures("blackhole_lab_range")]


def _check(target: str, **options: float) -> Check:
    return Check(site="test", id="trace", probe="trace", target=target, options=trace.TraceOptions(**options))


async def test_two_hop_path_shows_both_hops() -> None:
    with nets.two_hop_path() as (router, destination):
        result = await trace.run(_check(destination, max_hops=5, packet_timeout=1.0))
    assert result.success, result.error
    hops = result.details["hops"]
    assert [(h["ttl"], h["address"]) for h in hops] == [(1, router), (2, destination)]
    assert all(0 < h["rtt_avg_seconds"] < 0.05 and h["loss_ratio"] == 0 for h in hops)
    assert result.value(trace.HOPS) == 2


async def test_unroutable_target_is_not_reached() -> None:
    with nets.unroutable() as address:
        result = await trace.run(_check(address, max_hops=3, packet_timeout=0.2))
    assert not result.success
    assert result.reason == "unreachable"
    assert result.details["hops"] == []
