"""The icmp probe end to end: real echoes to loopback, a lossy namespace and a blackholed address."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import ValidationError

from probes import base, icmp
from probes.base import Check, get
from tests.probes import icmp_fixtures as nets

pytestmark = pytest.mark.privileged


def _check(target: str, **options: float) -> Check:
    return Check(site="test", id="icmp", probe="icmp", target=target, options=base.options(icmp.IcmpOptions, options))


def test_registered_with_the_metric_contract() -> None:
    probe = get("icmp")
    assert probe.options is icmp.IcmpOptions
    names = {m.name for m in probe.metrics}
    assert names == {icmp.SENT, icmp.RECEIVED, icmp.LOSS, icmp.RTT, icmp.RTT_MIN, icmp.RTT_MEDIAN,
                     icmp.RTT_AVG, icmp.RTT_MAX, icmp.RTT_STDDEV, icmp.JITTER, icmp.MOS}
    assert icmp.IcmpOptions(count=3, spacing=0.5, packet_timeout=2).minimum_timeout() == 3.5
    with pytest.raises(ValidationError):
        base.options(icmp.IcmpOptions, {"count": 0})
    with pytest.raises(ValidationError):
        base.options(icmp.IcmpOptions, {"count": 101})


async def test_loopback_success(caplog: pytest.LogCaptureFixture) -> None:
    icmp._announced = False
    with caplog.at_level(logging.INFO, logger="netmon.icmp"):
        result = await icmp.run(_check("127.0.0.1", count=4, spacing=0.01))
    assert any("raw sockets" in r.getMessage() for r in caplog.records)
    assert result.success, result.error
    assert (result.value(icmp.SENT), result.value(icmp.RECEIVED), result.value(icmp.LOSS)) == (4, 4, 0.0)
    rtts = [m.value for m in result.measurements if m.name == icmp.RTT]
    assert len(rtts) == 4 and rtts == result.details["rtts"]
    avg = result.value(icmp.RTT_AVG)
    assert avg is not None and 0 < avg < 0.005
    mos = result.value(icmp.MOS)
    assert mos is not None and mos > 4.3


async def test_name_target_and_ipv6() -> None:
    result = await icmp.run(_check("::1", count=2, spacing=0.01))
    assert result.success and result.details["address"] == "::1"
    named = await icmp.run(_check("localhost", count=2, spacing=0.01))
    assert named.success and named.details["address"] in ("127.0.0.1", "::1")


@pytest.mark.usefixtures("blackhole_lab_range")
async def test_unreachable_target_is_data() -> None:
    begin = time.perf_counter()
    with nets.unroutable() as address:
        result = await icmp.run(_check(address, count=3, spacing=0.1, packet_timeout=0.5))
    assert time.perf_counter() - begin < 3 * 0.1 + 0.5 + 0.5
    assert not result.success
    assert result.reason == "unreachable"
    assert (result.value(icmp.SENT), result.value(icmp.RECEIVED), result.value(icmp.LOSS)) == (3, 0, 1.0)
    assert result.value(icmp.RTT_AVG) is None and result.value(icmp.MOS) is None


@pytest.mark.usefixtures("blackhole_lab_range")
async def test_lossy_link_reports_loss_and_jitter() -> None:
    with nets.lossy_host(30) as host:
        result = await icmp.run(_check(host.address, count=100, spacing=0.002, packet_timeout=0.5))
        dropped = host.dropped()
    assert result.success
    assert result.value(icmp.LOSS) == pytest.approx(dropped / 100)
    assert result.value(icmp.RECEIVED) == 100 - dropped
    jitter = result.value(icmp.JITTER)
    assert jitter is not None and jitter >= 0
    assert result.details["rtts"].count(None) == dropped


async def test_a_sweep_answers_each_check_in_order_with_its_own_options() -> None:
    """One sweep of checks with different burst options (one engine sweep per set of options) and a
    name (/etc/hosts): a result per check, in order, each as its own run reports it."""
    checks = [_check("127.0.0.1", count=2, spacing=0.01), _check("localhost", count=3, spacing=0.01),
              _check("127.0.0.2", count=4, spacing=0.01), _check("127.0.0.3", count=2, spacing=0.01)]
    results = await icmp.sweep(checks)
    assert [r.target for r in results] == [c.target for c in checks]
    assert [(r.success, r.value(icmp.SENT), r.value(icmp.RECEIVED)) for r in results] == [
        (True, 2, 2), (True, 3, 3), (True, 4, 4), (True, 2, 2)]
    alone = await icmp.sweep(checks[:1])  # one set of options: the sweep without a gather
    assert alone[0].success and alone[0].value(icmp.RECEIVED) == 2


def test_a_target_is_a_literal_exactly_when_ipaddress_says_so() -> None:
    """`icmp._literal`'s shortcut for canonical IPv4 gives what `ipaddress` gives, for odd forms too."""
    import ipaddress

    def reference(target: str) -> str | None:
        try:
            return ipaddress.ip_address(target).compressed
        except ValueError:
            return None

    for target in ("127.0.0.1", "198.18.0.0", "255.255.255.255", "127.000.0.1", "127.0.0.01", "01.2.3.4",
                   "1.2.3", "127.1", "0x7f.0.0.1", "1.2.3.256", " 1.2.3.4", "1.2.3.4 ", "", "::1",
                   "::FFFF:1.2.3.4", "fe80::1%eth0", "2001:db8:0:0::1", "localhost"):
        assert icmp._literal.__wrapped__(target) == reference(target), target
