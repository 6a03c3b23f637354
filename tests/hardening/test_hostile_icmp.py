"""Lying ICMP replies — bad checksums, foreign identifiers, sequences never sent — are loss for their own
check only: in one engine run next to them, an honest namespaced host and loopback answer in full."""

from __future__ import annotations

import asyncio
import time

import pytest

from probes import icmp
from probes.base import Check
from tests.probes import icmp_fixtures as nets

pytestmark = [pytest.mark.privileged, pytest.mark.usefixtures("blackhole_lab_range")]

COUNT, SPACING, PACKET_TIMEOUT = 5, 0.02, 0.5


def _check(name: str, target: str) -> Check:
    options = icmp.IcmpOptions(count=COUNT, spacing=SPACING, packet_timeout=PACKET_TIMEOUT)
    return Check(site="test", id=name, probe="icmp", target=target, options=options)


async def test_lying_replies_are_loss_and_touch_no_other_check() -> None:
    with nets.lying_host() as liar:
        checks = [_check(lie, address) for lie, address in liar.addresses.items()]
        checks.append(_check("loopback", "127.0.0.1"))
        begin = time.perf_counter()
        results = {r.check: r for r in await asyncio.gather(*(icmp.run(c) for c in checks))}
        elapsed = time.perf_counter() - begin
    assert liar.replies == {lie: COUNT for lie in liar.addresses}  # every echo got its (lying) reply
    assert elapsed < COUNT * SPACING + PACKET_TIMEOUT + 0.5  # nothing waits past the bursts' deadline
    for name in ("honest", "loopback"):
        result = results[name]
        assert result.success and result.value(icmp.LOSS) == 0.0, result.error
    for lie in ("bad-checksum", "foreign-identifier", "wrong-sequence"):
        result = results[lie]
        assert (result.success, result.reason) == (False, "timeout"), result.error
        assert (result.value(icmp.SENT), result.value(icmp.RECEIVED), result.value(icmp.LOSS)) == \
            (COUNT, 0, 1.0)
