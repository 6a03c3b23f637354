"""Verdicts: turn one `Result` into ok / degraded / down, with the cause and the figures that decided it.

Limits come from the link type's thresholds in the inventory (a VSAT link at 600 ms is normal, fiber
at 600 ms is broken) and, when the history store knows the site, from its own baseline: a fiber link
that usually answers in 4 ms and now takes 40 ms is degraded even though 40 ms is under the fiber
limit. A baseline can only ever make a verdict worse by one step (to degraded), never call a link down
— the thresholds alone decide "down", so a bad history cannot hide or invent an outage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace

from netmon.inventory.model import Thresholds
from probes.base import Result

LOSS = "netmon_icmp_packet_loss_ratio"
RTT = "netmon_icmp_rtt_median_seconds"
JITTER = "netmon_icmp_jitter_seconds"
MOS = "netmon_icmp_mos"
SENT = "netmon_icmp_packets_sent"
RECEIVED = "netmon_icmp_packets_received"
TCP_CONNECT = "netmon_tcp_connect_seconds"
HTTP_STATUS = "netmon_http_status_code"
HTTP_DURATION = "netmon_http_duration_seconds"
DNS_LOOKUP = "netmon_dns_lookup_seconds"
UPS_ON_BATTERY = "netmon_ups_on_battery"
UPS_CHARGE = "netmon_ups_battery_charge_ratio"
UPS_REMAINING = "netmon_ups_battery_remaining_seconds"

#: A service page slower than this is "slow" for a clerk at the counter, whatever the link type.
SLOW_SERVICE_SECONDS = 3.0
#: A resolver slower than this makes every page feel broken.
SLOW_DNS_SECONDS = 1.0
#: Baseline rule: degraded when RTT exceeds both this multiple of the usual median and the margin below.
BASELINE_FACTOR = 3.0
BASELINE_MARGIN_SECONDS = 0.020


class Verdict(enum.IntEnum):
    """The value is also the process exit code (3 is taken by usage and configuration errors).

    UNKNOWN is "cannot measure" (the probe could not run, e.g. no ICMP permission): it says nothing
    about the link, so it ranks below anything actually measured wrong — use `rank`/`worst`, not ``max``.
    """

    OK = 0
    DEGRADED = 1
    DOWN = 2
    UNKNOWN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def worst(verdicts: Iterable[Verdict]) -> Verdict:
        return max(verdicts, key=lambda v: v.rank, default=Verdict.OK)


_RANK = {Verdict.OK: 0, Verdict.UNKNOWN: 1, Verdict.DEGRADED: 2, Verdict.DOWN: 3}


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is normal for one check of one site, from the history store's daily rollups."""

    rtt_median: float | None
    loss: float | None
    days: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict. ``cause`` is a stable key (``loss``, ``latency``, ``timeout``, ``http_5xx``...)
    used by the diagnosis and in ``--json``; ``figure`` is the measured value behind it and ``limit``
    the threshold it crossed (same unit), both None when the cause is a plain failure. For
    ``on_battery`` the figure is the battery runtime left (seconds).
    """

    verdict: Verdict
    cause: str | None = None
    figure: float | None = None
    limit: float | None = None


OK = Finding(Verdict.OK)


def judge(result: Result, limits: Thresholds | None = None, baseline: Baseline | None = None) -> Finding:
    """The verdict for ``result`` against ``limits`` (None for checks not bound to a link)."""
    if result.reason == "no_permission":
        return Finding(Verdict.UNKNOWN, "no_permission")
    if result.probe == "icmp":
        return _icmp(result, limits, baseline)
    if not result.success:
        return _failure(result)
    if result.probe == "tcp":
        return _connected(_latency(result.value(TCP_CONNECT), limits, baseline))
    if result.probe == "http":
        total = result.value(HTTP_DURATION, phase="total")
        if total is not None and total >= SLOW_SERVICE_SECONDS:
            return Finding(Verdict.DEGRADED, "slow", total, SLOW_SERVICE_SECONDS)
    if result.probe == "snmp" and result.value(UPS_ON_BATTERY) == 1.0:
        # Mains power is gone: the center runs on borrowed minutes, whatever the links say now.
        return Finding(Verdict.DEGRADED, "on_battery", result.value(UPS_REMAINING))
    if result.probe == "dns":
        lookup = result.value(DNS_LOOKUP)
        if lookup is not None and lookup >= SLOW_DNS_SECONDS:
            return Finding(Verdict.DEGRADED, "slow", lookup, SLOW_DNS_SECONDS)
    return OK


def _connected(finding: Finding) -> Finding:
    """A connect that succeeded is not down, however slow: on a lossy link one lost SYN adds the
    kernel's 1 s initial retransmission timeout to the connect time, far above any RTT limit."""
    if finding.verdict is Verdict.DOWN:
        return replace(finding, verdict=Verdict.DEGRADED)
    return finding


def _failure(result: Result) -> Finding:
    """A failed run: down, except answers that prove the peer is alive but unhappy."""
    reason = result.reason or "error"
    if reason == "http_status":
        status = result.value(HTTP_STATUS)
        if status is not None and status < 500:
            return Finding(Verdict.DEGRADED, "http_4xx" if status >= 400 else "http_status", status)
        return Finding(Verdict.DOWN, "http_5xx", status)
    if reason in ("body_mismatch", "too_large"):
        return Finding(Verdict.DEGRADED, reason)
    return Finding(Verdict.DOWN, reason)


def _icmp(result: Result, limits: Thresholds | None, baseline: Baseline | None) -> Finding:
    loss = result.value(LOSS)
    if loss is None:
        loss = 0.0 if result.success else 1.0
    loss_down = limits.loss_down if limits else 1.0
    if loss >= loss_down or loss >= 1.0:
        cause = result.reason if result.reason and loss >= 1.0 else "loss"
        return Finding(Verdict.DOWN, cause, loss, loss_down)
    if limits and loss >= limits.loss_degraded:
        return Finding(Verdict.DEGRADED, "loss", loss, limits.loss_degraded)
    if not limits and loss > 0:
        return Finding(Verdict.DEGRADED, "loss", loss, 0.0)
    if baseline and baseline.loss is not None and limits and loss >= baseline.loss + limits.loss_degraded:
        return Finding(Verdict.DEGRADED, "loss_vs_baseline", loss, baseline.loss)
    latency = _latency(result.value(RTT), limits, baseline)
    if latency.verdict is not Verdict.OK:
        return latency
    jitter = result.value(JITTER)
    if limits and jitter is not None and jitter >= limits.jitter_degraded:
        return Finding(Verdict.DEGRADED, "jitter", jitter, limits.jitter_degraded)
    return OK


def _latency(rtt: float | None, limits: Thresholds | None, baseline: Baseline | None) -> Finding:
    if rtt is None:
        return OK
    if limits and rtt >= limits.rtt_down:
        return Finding(Verdict.DOWN, "latency", rtt, limits.rtt_down)
    if limits and rtt >= limits.rtt_degraded:
        return Finding(Verdict.DEGRADED, "latency", rtt, limits.rtt_degraded)
    usual = baseline.rtt_median if baseline else None
    if usual is not None and rtt > usual * BASELINE_FACTOR and rtt - usual > BASELINE_MARGIN_SECONDS:
        return Finding(Verdict.DEGRADED, "latency_vs_baseline", rtt, usual)
    return OK
