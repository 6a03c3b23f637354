"""ICMP echo probe: a burst of echoes per run gives reachability, RTT, loss, jitter and a meeting MOS.

The echoes go through the event loop's shared `IcmpEngine`, so thousands of checks share one socket
per address family and RTTs come from kernel timestamps (see `probes.icmp_engine`). A run that gets
no reply at all fails with ``timeout`` (silence) or ``unreachable`` (a send error or an ICMP error
said there is no way), but still reports what was sent and lost: 100 % loss is a measurement.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import logging
import socket
import time
from collections.abc import Sequence
from typing import Annotated, cast

from probes import linkstats
from probes.base import Check, Duration, Kind, MetricSpec, ProbeOptions, Readings, Result, Shape, register
from probes.icmp_engine import BurstResult, IcmpEngine, shared_engine
from probes.schema import Rules
from probes.verdict import CONFIDENCE, OK, Baseline, Finding, Limits, Verdict, latency
from probes.wording import Lang, Wording, ms, say

log = logging.getLogger("netmon.icmp")

SENT = "netmon_icmp_packets_sent"
RECEIVED = "netmon_icmp_packets_received"
LOSS = "netmon_icmp_packet_loss_ratio"
RTT = "netmon_icmp_rtt_seconds"
RTT_MIN = "netmon_icmp_rtt_min_seconds"
RTT_MEDIAN = "netmon_icmp_rtt_median_seconds"
RTT_AVG = "netmon_icmp_rtt_avg_seconds"
RTT_MAX = "netmon_icmp_rtt_max_seconds"
RTT_STDDEV = "netmon_icmp_rtt_stddev_seconds"
JITTER = "netmon_icmp_jitter_seconds"
MOS = "netmon_icmp_mos"

#: IPv4 and ICMP headers of one echo, added to the payload for the byte cost.
IP_ICMP_HEADERS = 28

REASONS: dict[str, Wording] = {
    "timeout": ("no echo reply", "không phản hồi"),
}
_LOSS: Wording = ("{value:.0f} % loss", "mất {value:.0f} %")

RTT_BUCKETS = (.0005, .001, .002, .005, .01, .02, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5)

METRICS = (
    MetricSpec(SENT, Kind.INCREMENT, "ICMP echo requests sent."),
    MetricSpec(RECEIVED, Kind.INCREMENT, "ICMP echo replies received within the packet timeout."),
    MetricSpec(LOSS, Kind.GAUGE, "Share of echoes of the last burst without a reply, 0-1."),
    MetricSpec(RTT, Kind.OBSERVATION, "Round-trip time of each echo reply, seconds.", buckets=RTT_BUCKETS),
    MetricSpec(RTT_MIN, Kind.GAUGE, "Smallest round-trip time of the last burst, seconds."),
    MetricSpec(RTT_MEDIAN, Kind.GAUGE, "Median round-trip time of the last burst, seconds."),
    MetricSpec(RTT_AVG, Kind.GAUGE, "Mean round-trip time of the last burst, seconds."),
    MetricSpec(RTT_MAX, Kind.GAUGE, "Largest round-trip time of the last burst, seconds."),
    MetricSpec(RTT_STDDEV, Kind.GAUGE, "Population standard deviation of the last burst's RTTs, seconds."),
    MetricSpec(JITTER, Kind.GAUGE, "RFC 3550 interarrival jitter over the last burst's replies, seconds."),
    MetricSpec(MOS, Kind.GAUGE, "Meeting-quality estimate (simplified ITU-T G.107 E-model, MOS 1-4.5)."),
)


#: The confirmation burst after a first failed run (see `ProbeOptions.confirmation`).
CONFIRM_COUNT = 10
CONFIRM_SPACING = 0.05


@dataclasses.dataclass(frozen=True, slots=True)
class IcmpOptions(ProbeOptions):
    """One burst per run: ``count`` echoes ``spacing`` s apart, each waited for ``packet_timeout`` s."""

    count: Annotated[int, Rules(ge=1, le=100)] = 5
    spacing: Annotated[Duration, Rules(ge=0.001, le=10)] = 0.2
    packet_timeout: Annotated[Duration, Rules(gt=0, le=30)] = 1.0
    #: Echo payload bytes.
    size: Annotated[int, Rules(ge=0, le=65_000)] = 56
    #: Export every echo's RTT as the netmon_icmp_rtt_seconds histogram (20 more series); unset: as
    #: defaults.rtt_histogram says for the check's link type.
    rtt_histogram: bool | None = None

    def histogram(self) -> bool | None:
        return self.rtt_histogram

    def minimum_timeout(self) -> float:
        return self.count * self.spacing + self.packet_timeout

    def confirmation(self) -> IcmpOptions:
        """At least `CONFIRM_COUNT` echoes at most `CONFIRM_SPACING` s apart: as long as a normal run
        (it still fits the check's timeout) but with ten times the evidence at 35 % loss (0.35^10)."""
        return dataclasses.replace(self, count=max(self.count, CONFIRM_COUNT),
                                   spacing=min(self.spacing, CONFIRM_SPACING))


_announced = False


def engine() -> IcmpEngine:
    """The running loop's shared engine; says once per process which socket mode it uses."""
    global _announced
    chosen = shared_engine()
    if not _announced:
        _announced = True
        how = ("raw sockets (root or CAP_NET_RAW)" if chosen.mode == "raw"
               else "unprivileged ping sockets (net.ipv4.ping_group_range)")
        log.info("icmp probe uses %s", how)
    return chosen


@functools.lru_cache(maxsize=65_536)
def _literal(target: str) -> str | None:
    """``target`` in compressed form if it is an IP literal; cached, as every run asks again. An IPv4
    address already in its canonical form (the inventory's) is known as such without `ipaddress`,
    which takes ten times longer: a new process's first sweep asks for every target."""
    try:
        if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, target)) == target:
            return target
    except OSError:
        pass
    try:
        return ipaddress.ip_address(target).compressed
    except ValueError:
        return None


async def resolve(target: str) -> str:
    """An IP literal as is; a name resolved once per run to its first address (raises gaierror)."""
    literal = _literal(target)
    if literal is not None:
        return literal
    infos = await asyncio.get_running_loop().getaddrinfo(target, None, type=socket.SOCK_RAW)
    return str(infos[0][4][0])


@functools.cache
def _shape(received: int) -> Shape:
    """The shape of a run with ``received`` replies: the counts and loss, an RTT per reply, then the
    burst's summary when any came back (the order `measurements` fills in)."""
    names = (SENT, RECEIVED, LOSS, *(RTT,) * received)
    if received:
        names += (RTT_MIN, RTT_MEDIAN, RTT_AVG, RTT_MAX, RTT_STDDEV, JITTER, MOS)
    return Shape.of(names, ((),) * len(names))


def measurements(rtts: tuple[float | None, ...]) -> Readings:
    """The metric contract's measurements for one burst's RTTs (None = lost): one tuple of values
    beside the shape every run with as many replies shares (bench/README.md, ICMP sweep)."""
    received = [r for r in rtts if r is not None]
    sent, got = len(rtts), len(received)
    values = (sent, got, linkstats.loss_ratio(sent, got), *received)
    summary = linkstats.summarize(rtts)
    if summary is not None:  # RttSummary's fields are in the shape's order: min, median, avg, max, stddev
        jitter = linkstats.jitter(rtts)
        values += (*summary, jitter, linkstats.mos(rtts, summary, jitter))
    return Readings(_shape(got), values)


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """Loss first (down at the link's limit or at 100 %), then the median RTT, then jitter.

    Loss is judged on evidence, not on one burst's ratio: the link is degraded (or down) only when the
    `CONFIDENCE` interval of its loss lies above the limit. A ratio over the limit whose interval still
    reaches under it (1 lost of 5 on fiber: 0.5–72 %) is ``loss_unconfirmed`` — said, with the interval
    and the echo count that would settle it, but no verdict. Without limits (an ad-hoc target) any loss
    is degraded. A baseline adds "worse than usual".
    """
    loss = result.value(LOSS)
    if loss is None:
        loss = 0.0 if result.success else 1.0
    sent, received = result.value(SENT), result.value(RECEIVED)
    interval = (linkstats.loss_bounds(int(sent), int(sent - received), CONFIDENCE)
                if sent is not None and received is not None else (loss, loss))
    evidence = interval[0]
    loss_down = limits.loss_down if limits else 1.0
    if loss >= 1.0 or evidence >= loss_down:
        cause = result.reason if result.reason and loss >= 1.0 else "loss"
        return Finding(Verdict.DOWN, cause, loss, loss_down, interval)
    if limits and evidence >= limits.loss_degraded:
        return Finding(Verdict.DEGRADED, "loss", loss, limits.loss_degraded, interval)
    loss_said = OK
    if limits and loss >= limits.loss_degraded:
        loss_said = Finding(Verdict.OK, "loss_unconfirmed", loss, limits.loss_degraded, interval)
    elif limits:
        loss_said = Finding(Verdict.OK, None, loss, limits.loss_degraded, interval)  # "under the upper bound"
    if not limits and loss > 0:
        return Finding(Verdict.DEGRADED, "loss", loss, 0.0, interval)
    if baseline and baseline.loss is not None and limits and evidence >= baseline.loss + limits.loss_degraded:
        return Finding(Verdict.DEGRADED, "loss_vs_baseline", loss, baseline.loss, interval)
    slow = latency(result.value(RTT_MEDIAN), limits, baseline)
    if slow.verdict is not Verdict.OK:
        return slow
    jitter = result.value(JITTER)
    if limits and jitter is not None and jitter >= limits.jitter_degraded:
        return Finding(Verdict.DEGRADED, "jitter", jitter, limits.jitter_degraded)
    return loss_said


def summary(result: Result, lang: Lang) -> str | None:
    """Median RTT and loss while any echo came back; None (the failure's words) when none did."""
    loss, rtt = result.value(LOSS), result.value(RTT_MEDIAN)
    if not result.success and (loss is None or loss >= 1.0):
        return None
    shown = [ms(rtt) if rtt is not None else "",
             say(_LOSS, lang, value=loss * 100) if loss is not None else ""]
    return ", ".join(p for p in shown if p)


def echo_bytes(options: IcmpOptions) -> int:
    """Bytes one echo costs, request and reply."""
    return 2 * (IP_ICMP_HEADERS + options.size)


def run_bytes(check: Check) -> int:
    assert isinstance(check.options, IcmpOptions)
    return check.options.count * echo_bytes(check.options)


async def sweep(checks: Sequence[Check]) -> list[Result]:
    """Every check's echo burst at once on the shared engine (one engine sweep per distinct set of
    burst options); a check's result is as `run` reports it, with its own duration."""
    started = time.time()
    burst_engine = engine()
    results: list[Result | None] = [None] * len(checks)
    addresses: list[str | None] = [_literal(c.target) for c in checks]
    names = [i for i, address in enumerate(addresses) if address is None]
    if names:  # names are rare (the inventory holds addresses): resolved together, once per run
        found = await asyncio.gather(*(resolve(checks[i].target) for i in names), return_exceptions=True)
        for i, answer in zip(names, found, strict=True):
            if isinstance(answer, OSError):
                results[i] = checks[i].fail("dns", f"cannot resolve {checks[i].target!r}: {answer}", started)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                addresses[i] = answer
    groups: dict[IcmpOptions, list[tuple[int, str]]] = {}
    for i, (check, address) in enumerate(zip(checks, addresses, strict=True)):
        assert isinstance(check.options, IcmpOptions)
        if address is not None:
            groups.setdefault(check.options, []).append((i, address))

    async def burst_all(opts: IcmpOptions, members: list[tuple[int, str]]) -> None:
        bursts = await burst_engine.sweep([address for _, address in members], opts.count, opts.spacing,
                                          opts.packet_timeout, opts.size)
        for (i, _), burst in zip(members, bursts, strict=True):
            results[i] = _result(checks[i], opts, burst, started, burst_engine.mode)

    if len(groups) == 1:  # a slot's checks share their options: no task and gather for one sweep
        await burst_all(*groups.popitem())
    else:
        await asyncio.gather(*(burst_all(opts, members) for opts, members in groups.items()))
    return cast(list[Result], results)


def _result(check: Check, opts: IcmpOptions, burst: BurstResult, started: float, mode: str) -> Result:
    found = measurements(burst.rtts)
    details = {"address": burst.address, "rtts": list(burst.rtts), "mode": mode}
    if burst.rtts.count(None) == len(burst.rtts):  # no reply (`burst.received` would build a list)
        reason = "unreachable" if burst.error else "timeout"
        message = f"{burst.address}: {burst.error or f'no echo reply within {opts.packet_timeout:g}s'}"
        return check.fail(reason, f"{message} (0/{burst.sent} replies)", started, found, ended=burst.ended,
                          **details)
    return check.ok(started, found, ended=burst.ended, **details)


@register("icmp", IcmpOptions, METRICS, shares_engine=True, open=engine, reasons=REASONS, judge=judge,
          summary=summary, run_bytes=run_bytes, sweep=sweep)
async def run(check: Check) -> Result:
    """One echo burst to the check's target; success when at least one reply came back."""
    return (await sweep([check]))[0]
