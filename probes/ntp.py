"""NTP probe: how far a time source's clock is from ours, by one SNTP exchange (RFC 4330).

Why the province needs it: digital signatures, the document system and the public-service portal
stamp every act with the time; a center's server or time source that drifts by seconds gets
signatures rejected and deadlines computed wrong, while every link check stays green. The probe asks
the target once and reports the clock offset (positive: the source is ahead of us) and the round-trip
delay, computed as RFC 4330 § 5 says: offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2).

The answer is trusted only if it is a server-mode reply to *this* request (its origin timestamp
echoes our transmit timestamp, so a stale or spoofed datagram is ignored, not measured). A source that
says it is not synchronised (stratum 16 or leap indicator 3) or sends a kiss-o'-death (stratum 0) has
no time to give: the run fails. An offset beyond ``max_offset`` is degraded, not down: the source
answers, its time is wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct
import time
from typing import Annotated

from probes.base import Check, Duration, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.noroute import explain
from probes.schema import Rules
from probes.verdict import OK, Baseline, Finding, Limits, Verdict, judge_plainly
from probes.wording import Lang, Wording, ms, say

OFFSET = "netmon_ntp_offset_seconds"
DELAY = "netmon_ntp_delay_seconds"
STRATUM = "netmon_ntp_stratum"

METRICS = (
    MetricSpec(OFFSET, Kind.GAUGE, "Clock offset of the time source from the prober's clock, seconds "
               "(positive: the source is ahead)."),
    MetricSpec(DELAY, Kind.GAUGE, "Round-trip delay of the NTP exchange, seconds."),
    MetricSpec(STRATUM, Kind.GAUGE, "Stratum the time source reports (1 = reference clock)."),
)

REASONS: dict[str, Wording] = {
    "timeout": ("no NTP answer", "không có trả lời NTP"),
    "bad_response": ("unusable NTP answer", "trả lời NTP hỏng"),
    "unsynchronised": ("time source not synchronised", "nguồn thời gian chưa đồng bộ"),
    "kiss": ("time source refuses us (kiss-o'-death)", "nguồn thời gian từ chối (kiss-o'-death)"),
}
_OFFSET: Wording = ("offset {offset}", "lệch {offset}")

#: Seconds between the NTP era (1900) and the Unix epoch (1970).
_NTP_EPOCH = 2_208_988_800
_PACKET = struct.Struct("!BBbbII4sQQQQ")
_VERSION = 4
#: How far below zero a round trip may read from the clocks' resolution alone, seconds.
_PRECISION = 0.001
_CLIENT, _SERVER = 3, 4
#: One request and one answer: 2 × (IPv4 + UDP headers + 48 bytes).
RUN_BYTES = 2 * (28 + _PACKET.size)


@dataclasses.dataclass(frozen=True, slots=True)
class NtpOptions(ProbeOptions):
    """``max_offset``: the clock error beyond which the source is degraded (signatures need ~1 s)."""

    port: Annotated[int, Rules(ge=1, le=65_535)] = 123
    max_offset: Annotated[Duration, Rules(gt=0, le=3600)] = 1.0


def _to_ntp(unix: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32 bits of seconds, 32 of fraction)."""
    return int((unix + _NTP_EPOCH) * 2**32) & 0xFFFF_FFFF_FFFF_FFFF


def _from_ntp(stamp: int) -> float:
    return stamp / 2**32 - _NTP_EPOCH


def request(now: float) -> tuple[bytes, int]:
    """A client-mode request sent at ``now`` and its transmit timestamp, which the answer must echo."""
    sent = _to_ntp(now)
    return _PACKET.pack(_VERSION << 3 | _CLIENT, 0, 0, 0, 0, 0, b"\0" * 4, 0, 0, 0, sent), sent


class AnswerError(Exception):
    """The answer cannot be used; ``reason`` is the probe's failure reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse(data: bytes, t1: float, t4: float) -> tuple[float, float, int]:
    """``(offset, delay, stratum)`` from ``data``, an answer to our request sent at ``t1`` (its origin
    timestamp already matched by the receiver) that arrived at ``t4``."""
    first, stratum, _poll, _prec, _delay, _disp, ref_id, _ref, _origin, receive, transmit = (
        _PACKET.unpack_from(data))
    leap, mode = first >> 6, first & 7
    if mode != _SERVER:
        raise AnswerError("bad_response", f"answer in mode {mode}, not server mode")
    if leap == 3 or stratum >= 16:  # the alarm condition first: chronyd without a source says stratum 0
        raise AnswerError("unsynchronised", f"source not synchronised (stratum {stratum}, leap {leap})")
    if stratum == 0:
        code = ref_id.decode("ascii", "replace").strip("\0")
        raise AnswerError("kiss", f"kiss-o'-death {code!r}")
    if transmit == 0 or receive == 0:
        raise AnswerError("bad_response", "answer without receive or transmit timestamp")
    t2, t3 = _from_ntp(receive), _from_ntp(transmit)
    delay = (t4 - t1) - (t3 - t2)
    if delay < -_PRECISION:
        # The source says it held our request longer than the whole round trip took: its two stamps
        # come from different clocks (seen with a server stamping arrivals by the kernel's clock and
        # departures by its own), so the offset would be a mix of both.
        raise AnswerError("bad_response", f"inconsistent timestamps (round trip {delay * 1000:.1f} ms)")
    return ((t2 - t1) + (t3 - t4)) / 2, delay, stratum


class _Exchange(asyncio.DatagramProtocol):
    """Waits for the one datagram that answers our request; others are ignored, as NTP clients do."""

    def __init__(self) -> None:
        #: The transmit timestamp of our request, set just before it is sent.
        self.sent = -1
        self.answer: asyncio.Future[tuple[bytes, float]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        received = time.time()
        if self.answer.done():
            return
        if len(data) < _PACKET.size or _PACKET.unpack_from(data)[8] != self.sent:
            return  # not an answer to this request (garbage, stale, duplicated or forged): keep waiting
        self.answer.set_result((data, received))

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """A clock off by more than the check's ``max_offset`` is degraded; no usable answer is down."""
    offset = result.value(OFFSET)
    if not result.success or offset is None:
        return judge_plainly(result)
    limit = float(result.details.get("max_offset", 1.0))
    if abs(offset) >= limit:
        return Finding(Verdict.DEGRADED, "clock_offset", offset, limit)
    return OK


def signed(seconds: float) -> str:
    """An offset with its sign: milliseconds below a second, else seconds."""
    sign = "+" if seconds >= 0 else "-"
    return sign + (ms(abs(seconds)) if abs(seconds) < 1 else f"{abs(seconds):.2f} s")


def summary(result: Result, lang: Lang) -> str | None:
    offset = result.value(OFFSET)
    return say(_OFFSET, lang, offset=signed(offset)) if result.success and offset is not None else None


@register("ntp", NtpOptions, METRICS, reasons=REASONS, judge=judge, summary=summary,
          run_bytes=lambda check: RUN_BYTES)
async def run(check: Check) -> Result:
    """One SNTP exchange with the target, bounded by ``check.timeout``."""
    options = check.options
    assert isinstance(options, NtpOptions)
    started = time.time()
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(check.target, options.port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        return check.fail("dns", f"cannot resolve {check.target!r}: {exc.strerror}", started)
    family, _, _, _, sockaddr = infos[0]
    host = str(sockaddr[0])
    try:  # connecting looks the route up: a blackhole or prohibit route refuses here, before any packet
        transport, exchange = await loop.create_datagram_endpoint(
            _Exchange, family=family, remote_addr=(host, options.port))
    except OSError as exc:
        return check.fail("unreachable", f"{host}: {explain(exc)}", started)
    try:
        t1 = time.time()
        packet, exchange.sent = request(t1)
        transport.sendto(packet)
        async with asyncio.timeout(check.remaining()):
            data, t4 = await exchange.answer
        offset, delay, stratum = parse(data, t1, t4)
    except TimeoutError:
        return check.fail("timeout", f"no NTP answer from {host} within {check.timeout:g}s", started)
    except OSError as exc:  # an ICMP port/host unreachable comes back as a socket error
        return check.fail("unreachable", f"{host}: {explain(exc)}", started)
    except AnswerError as exc:
        return check.fail(exc.reason, f"{host}: {exc}", started)
    finally:
        transport.close()
    found = [Measurement(OFFSET, offset), Measurement(DELAY, delay), Measurement(STRATUM, stratum)]
    return check.ok(started, found, address=host, max_offset=options.max_offset)
