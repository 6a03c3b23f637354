"""Verdict rules against link-type thresholds and a baseline, on hand-made Results (pure logic)."""

from __future__ import annotations

import pytest

from netmon.inventory.model import Thresholds
from probes.base import Measurement, Result, judge
from probes.verdict import Baseline, Verdict

FIBER = Thresholds(rtt_degraded=0.05, rtt_down=0.3, loss_degraded=0.02, loss_down=0.5,
                   jitter_degraded=0.01, unreachable_after=120)
VSAT = Thresholds(rtt_degraded=0.9, rtt_down=2.0, loss_degraded=0.05, loss_down=0.5,
                  jitter_degraded=0.1, unreachable_after=300)


def icmp(loss: float, rtt: float | None = 0.005, jitter: float = 0.001, success: bool = True) -> Result:
    found = [Measurement("netmon_icmp_packet_loss_ratio", loss), Measurement("netmon_icmp_jitter_seconds", jitter)]
    if rtt is not None:
        found.append(Measurement("netmon_icmp_rtt_median_seconds", rtt))
    return Result("s", "icmp-primary", "icmp", "127.0.0.1", "primary", success, 0.0, 0.1,
                  None if success else "timeout", None if success else "no reply", tuple(found))


@pytest.mark.parametrize(("result", "limits", "verdict", "cause"), [
    (icmp(0.0), FIBER, Verdict.OK, None),
    (icmp(0.2), FIBER, Verdict.DEGRADED, "loss"),
    (icmp(0.6), FIBER, Verdict.DOWN, "loss"),
    (icmp(1.0, None, success=False), FIBER, Verdict.DOWN, "timeout"),
    (icmp(0.0, 0.6), FIBER, Verdict.DOWN, "latency"),      # 600 ms is broken on fiber...
    (icmp(0.0, 0.6), VSAT, Verdict.OK, None),              # ...and normal on VSAT
    (icmp(0.0, 0.1), FIBER, Verdict.DEGRADED, "latency"),
    (icmp(0.0, 0.005, jitter=0.02), FIBER, Verdict.DEGRADED, "jitter"),
    (icmp(0.01), None, Verdict.DEGRADED, "loss"),          # ad-hoc: any loss is degraded
])
def test_icmp_verdicts(result: Result, limits: Thresholds | None, verdict: Verdict, cause: str | None) -> None:
    finding = judge(result, limits)
    assert (finding.verdict, finding.cause) == (verdict, cause)


def test_baseline_makes_a_slow_fiber_link_degraded_but_never_down() -> None:
    usual = Baseline(rtt_median=0.004, loss=0.0, days=14)
    assert judge(icmp(0.0, 0.040), FIBER, usual).cause == "latency_vs_baseline"
    assert judge(icmp(0.0, 0.040), FIBER).verdict is Verdict.OK
    assert judge(icmp(0.0, 0.010), FIBER, usual).verdict is Verdict.OK  # within the 20 ms margin
    assert judge(icmp(0.0, 0.6), VSAT, Baseline(0.01, 0.0, 14)).verdict is Verdict.DEGRADED


def test_http_status_classes() -> None:
    def http(status: int) -> Result:
        return Result("dc", "qlvb", "http", "http://x/", "", False, 0.0, 0.1, "http_status", "status",
                      (Measurement("netmon_http_status_code", status),))
    assert (judge(http(503)).verdict, judge(http(503)).cause) == (Verdict.DOWN, "http_5xx")
    assert (judge(http(404)).verdict, judge(http(404)).cause) == (Verdict.DEGRADED, "http_4xx")


def test_a_slow_but_successful_connect_is_degraded_never_down() -> None:
    """A lost SYN costs the kernel's 1 s initial RTO: 1.03 s on fiber is loss showing, not a dead link."""
    def tcp(connect: float) -> Result:
        return Result("s", "tcp-primary", "tcp", "127.0.0.1:80", "primary", True, 0.0, connect, None, None,
                      (Measurement("netmon_tcp_connect_seconds", connect),))
    assert (judge(tcp(1.03), FIBER).verdict, judge(tcp(1.03), FIBER).cause) == (Verdict.DEGRADED, "slow_connect")
    assert judge(tcp(0.1), FIBER).verdict is Verdict.DEGRADED
    assert judge(tcp(0.005), FIBER).verdict is Verdict.OK


def ups(on_battery: float, charge: float = 0.87, minutes: float = 38) -> Result:
    found = (Measurement("netmon_ups_on_battery", on_battery), Measurement("netmon_ups_battery_charge_ratio", charge),
             Measurement("netmon_ups_battery_remaining_seconds", minutes * 60))
    return Result("moc-son", "ups", "snmp", "198.19.202.1", "", True, 0.0, 0.1, None, None, found)


def test_a_ups_on_battery_is_degraded_with_the_minutes_left() -> None:
    """Mains power gone is not "ok": the center runs on the battery's minutes (issue #15, case 1)."""
    finding = judge(ups(1.0))
    assert (finding.verdict, finding.cause, finding.figure) == (Verdict.DEGRADED, "on_battery", 38 * 60)
    assert judge(ups(0.0, charge=1.0, minutes=95)).verdict is Verdict.OK


def https(reason: str | None, expires_in_days: float = 90) -> Result:
    found = (Measurement("netmon_tls_cert_expiry_timestamp_seconds", 1000.0 + expires_in_days * 86_400),)
    return Result("dc", "qlvb", "http", "https://x/", "", reason is None, 1000.0, 0.1, reason,
                  None if reason is None else "certificate: unable to get local issuer certificate", found)


@pytest.mark.parametrize(("result", "verdict", "cause"), [
    (https("cert_untrusted"), Verdict.DEGRADED, "cert_untrusted"),  # the service answered: never "down"
    (https("cert_expired", -1), Verdict.DEGRADED, "cert_expired"),
    (https(None, 6), Verdict.DEGRADED, "cert_expiring"),           # province-day's meeting certificate
    (https(None, 30), Verdict.OK, None),
    (https("tls"), Verdict.DOWN, "tls"),                            # no TLS at all: nothing usable answers
])
def test_certificate_problems_are_their_own_cause_never_down(result: Result, verdict: Verdict,
                                                             cause: str | None) -> None:
    finding = judge(result)
    assert (finding.verdict, finding.cause) == (verdict, cause)


def burst(sent: int, lost: int) -> Result:
    found = [Measurement("netmon_icmp_packets_sent", sent), Measurement("netmon_icmp_packets_received", sent - lost),
             Measurement("netmon_icmp_packet_loss_ratio", lost / sent),
             Measurement("netmon_icmp_rtt_median_seconds", 0.005), Measurement("netmon_icmp_jitter_seconds", 0.001)]
    return Result("s", "icmp-primary", "icmp", "127.0.0.1", "primary", lost < sent, 0.0, 1.0,
                  None if lost < sent else "timeout", None, tuple(found))


@pytest.mark.parametrize(("sent", "lost", "verdict", "cause"), [
    (5, 1, Verdict.OK, "loss_unconfirmed"),   # 20 % of 5 on fiber: 0.5-72 %, not "a cut cable"
    (5, 0, Verdict.OK, None),                 # said with its bound: loss under 52 %
    (50, 10, Verdict.DEGRADED, "loss"),       # 10-34 %: above fiber's 2 % for sure
    (100, 3, Verdict.OK, "loss_unconfirmed"), # 0.6-8.5 %: cannot say which side of 2 %
    (20, 14, Verdict.DEGRADED, "loss"),       # 46-88 %: above 2 % for sure, not surely above 50 %
    (100, 70, Verdict.DOWN, "loss"),          # 60-79 %: above fiber's 50 % down limit for sure
    (5, 5, Verdict.DOWN, "timeout"),
])
def test_loss_verdicts_rest_on_evidence(sent: int, lost: int, verdict: Verdict, cause: str | None) -> None:
    """Issue #15 case 4: a verdict about loss needs the confidence interval on its side of the limit."""
    finding = judge(burst(sent, lost), FIBER)
    assert (finding.verdict, finding.cause) == (verdict, cause)
    assert finding.interval is not None and finding.interval[0] <= lost / sent <= finding.interval[1]
