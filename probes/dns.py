"""DNS probe: does a given server answer a given question, how fast, and with the expected records.

One query, sent straight to the configured server with `dns.asyncquery` (UDP falling back to TCP on a
truncated answer, or TCP only), rather than through `dns.asyncresolver.Resolver`: the resolver retries,
rotates servers and folds SERVFAIL and REFUSED into one "no nameservers" error, while a monitor needs the
server's own rcode and the time of exactly one exchange.

The lookup time is what the network and the server took, not when the prober got round to reading the
answer: the event loop also runs every other check, and under load it read a 4 ms answer as 40 ms and
more. dnspython still builds, sends, matches and parses the messages, over sockets of ours
(`_StampedDatagram`, `_StampedStream`) that note the clock right before the query is sent and the
kernel's arrival stamp of what dnspython reads (`probes.arrival`); the last read is the accepted answer's,
so a stray datagram it skipped does not time the lookup. Over UDP the time is query sent → answer
arrived. Over TCP it is the handshake as the kernel measured it (`tcp.connect_seconds`) plus query sent →
the answer's last segment arrived; the moment between the two, when the prober noticed the connection,
is the prober's own and not counted. A truncated UDP answer adds its exchange to the TCP one that
follows. Where the kernel gives no stamp (not Linux), or the wall clock stepped between send and arrival,
the time is the clock's around the exchange, prober's delay included.

Module name note: this is ``probes.dns``; dnspython stays reachable as the top-level ``dns`` package
because imports are absolute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import time
from typing import Annotated, Any, Literal

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype

from probes import arrival, tcp
from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.schema import After, Rules
from probes.verdict import OK, Baseline, Finding, Limits, Verdict, judge_plainly
from probes.wording import Lang, Wording, ms

LOOKUP_SECONDS = "netmon_dns_lookup_seconds"
ANSWERS = "netmon_dns_answers"

METRICS = (
    MetricSpec(LOOKUP_SECONDS, Kind.GAUGE, "Time for the server to answer one query, seconds."),
    MetricSpec(ANSWERS, Kind.GAUGE, "Records of the asked type in the answer section."),
)

#: Response codes with their own failure reason; any other non-NOERROR code fails as ``rcode``.
_RCODE_REASONS = {
    dns.rcode.NXDOMAIN: "nxdomain",
    dns.rcode.SERVFAIL: "servfail",
    dns.rcode.REFUSED: "refused",
}


#: A resolver slower than this makes every page feel broken.
SLOW_DNS_SECONDS = 1.0
#: One question and its answer over UDP, generously (a TCP fallback adds a handshake).
RUN_BYTES = 600

REASONS: dict[str, Wording] = {
    **tcp.CONNECT_REASONS,
    "nxdomain": ("no such name", "không có tên này"),
    "servfail": ("server failure", "máy chủ DNS lỗi"),
    "refused": ("query refused", "từ chối truy vấn"),
    "rcode": ("error answer", "trả lời lỗi"),
    "bad_response": ("unusable answer", "trả lời hỏng"),
    "answer_mismatch": ("wrong answer", "trả lời sai"),
}


def _valid_name(value: str) -> str:
    try:
        dns.name.from_text(value)
    except dns.exception.DNSException as exc:
        raise ValueError(f"not a DNS name: {exc}") from None
    return value


def _address(value: str) -> str:
    return str(ipaddress.ip_address(value))


def _canonical_expect(value: tuple[str, ...], earlier: dict[str, Any]) -> tuple[str, ...]:
    record_type = earlier.get("record_type", "A")
    if record_type in ("A", "AAAA"):
        version = 4 if record_type == "A" else 6
        for answer in value:
            if ipaddress.ip_address(answer).version != version:
                raise ValueError(f"{answer!r} is not an IPv{version} address ({record_type} query)")
    return tuple(_canonical(record_type, a) for a in value)


@dataclasses.dataclass(frozen=True, slots=True)
class DnsOptions(ProbeOptions):
    """``server`` defaults to the check's target; ``expect`` lists answers that must all be present.

    Answers are compared as an operator writes them: addresses canonically (``::1`` == ``0::1``), names
    without the trailing dot and case-insensitively, MX as ``exchange`` or ``"preference exchange"``,
    TXT as the joined strings.
    """

    name: Annotated[str, After(_valid_name)]
    server: Annotated[str, After(_address)] | None = None
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    expect: Annotated[tuple[str, ...], After(_canonical_expect, earlier=True)] = ()
    port: Annotated[int, Rules(ge=1, le=65535)] = 53
    transport: Literal["udp", "tcp"] = "udp"

    def check_target(self, target: str) -> str | None:
        if self.server is not None:
            return None
        try:
            ipaddress.ip_address(target)
        except ValueError:
            return f"the DNS server {target!r} must be an IP address (or set the server option)"
        return None


def _canonical(record_type: str, text: str) -> str:
    if record_type in ("A", "AAAA"):
        return str(ipaddress.ip_address(text))
    if record_type == "TXT":
        return text
    return text.rstrip(".").lower()


def _forms(rdata: dns.rdata.Rdata) -> set[str]:
    """Every way `DnsOptions.expect` may name this record."""
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return {str(ipaddress.ip_address(rdata.address))}  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.TXT:
        return {b"".join(rdata.strings).decode(errors="replace")}  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.MX:
        exchange = _canonical("MX", rdata.exchange.to_text())  # type: ignore[attr-defined]
        return {exchange, f"{rdata.preference} {exchange}"}  # type: ignore[attr-defined]
    return {_canonical("NS", rdata.target.to_text())}  # type: ignore[attr-defined]


class _Stamps:
    """A non-blocking socket for dnspython that notes when the query was sent (clock, right before the
    send) and when the last read arrived (kernel stamp; None where it gave none).

    The timeouts dnspython passes its sockets are left to the caller's ``asyncio.timeout``, which bounds
    the whole exchange.
    """

    sock: socket.socket
    sent_ns = 0
    arrived_ns: int | None = None

    def seconds(self, wall: float) -> float:
        """Sent → arrived (`arrival.seconds`); ``wall`` is the monotonic clock around the exchange."""
        return arrival.seconds(self.sent_ns, self.arrived_ns, wall)

    async def _read(self, size: int) -> tuple[bytes, Any]:
        data, self.arrived_ns, source = await arrival.receive(self.sock, size)
        return data, source


class _StampedDatagram(_Stamps, dns.asyncbackend.DatagramSocket):
    """An unconnected UDP socket for `dns.asyncquery.udp` (unconnected, so that dnspython sees and skips
    another source's datagram, as with its own socket)."""

    def __init__(self, family: int) -> None:
        super().__init__(family, socket.SOCK_DGRAM)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        arrival.stamp_arrivals(self.sock)

    async def sendto(self, what: bytes, destination: Any, timeout: float | None) -> int:
        self.sent_ns = time.time_ns()  # asyncio's sock_sendto sends at once unless the buffer is full
        return await asyncio.get_running_loop().sock_sendto(self.sock, what, destination)

    async def recvfrom(self, size: int, timeout: float | None) -> tuple[bytes, Any]:
        return await self._read(size)


class _StampedStream(_Stamps, dns.asyncbackend.StreamSocket):
    """A connected non-blocking TCP socket for `dns.asyncquery.tcp`."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock.family, socket.SOCK_STREAM)
        self.sock = sock
        arrival.stamp_arrivals(sock)

    async def sendall(self, what: bytes, timeout: float | None) -> None:
        self.sent_ns = time.time_ns()
        await asyncio.get_running_loop().sock_sendall(self.sock, what)

    async def recv(self, size: int, timeout: float | None) -> bytes:
        return (await self._read(size))[0]

    async def getpeername(self) -> Any:
        return self.sock.getpeername()


async def _udp(
    query: dns.message.Message, server: str, port: int, timeout: float
) -> tuple[dns.message.Message | None, float]:
    """The answer (None if it came truncated) and the exchange's seconds."""
    stamped = _StampedDatagram(dns.inet.af_for_address(server))
    try:
        begin = time.perf_counter()
        try:
            # Like dig, wait on past a stray datagram (another source, a wrong query id, garbage): anyone on
            # the path can send one, and failing the check on the first made one forged packet an outage.
            response: dns.message.Message | None = await dns.asyncquery.udp(
                query, server, timeout=timeout, port=port, ignore_unexpected=True, ignore_errors=True,
                raise_on_truncation=True, sock=stamped,
            )
        except dns.message.Truncated:
            response = None
        return response, stamped.seconds(time.perf_counter() - begin)
    finally:
        stamped.sock.close()


async def _tcp(
    query: dns.message.Message, server: str, port: int, timeout: float
) -> tuple[dns.message.Message, float]:
    """The answer and its seconds: the kernel's handshake figure plus query sent → answer arrived."""
    sock = socket.socket(dns.inet.af_for_address(server), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        begin = time.perf_counter()
        await asyncio.get_running_loop().sock_connect(sock, (server, port))
        handshake = tcp.connect_seconds(sock, time.perf_counter() - begin)
        stamped = _StampedStream(sock)
        begin = time.perf_counter()
        response = await dns.asyncquery.tcp(query, server, timeout=timeout, port=port, sock=stamped)
        return response, handshake + stamped.seconds(time.perf_counter() - begin)
    finally:
        sock.close()


async def _exchange(
    query: dns.message.Message, server: str, options: DnsOptions, timeout: float
) -> tuple[dns.message.Message, float]:
    """The answer and the lookup's seconds (see the module docstring)."""
    seconds = 0.0
    if options.transport == "udp":
        response, seconds = await _udp(query, server, options.port, timeout)
        if response is not None:
            return response, seconds
    response, more = await _tcp(query, server, options.port, timeout)
    return response, seconds + more


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """A failed lookup is down; a slow one degraded (`SLOW_DNS_SECONDS`), whatever the link type."""
    if not result.success:
        return judge_plainly(result)
    lookup = result.value(LOOKUP_SECONDS)
    if lookup is not None and lookup >= SLOW_DNS_SECONDS:
        return Finding(Verdict.DEGRADED, "slow", lookup, SLOW_DNS_SECONDS)
    return OK


def summary(result: Result, lang: Lang) -> str | None:
    lookup = result.value(LOOKUP_SECONDS)
    return ms(lookup) if result.success and lookup is not None else None


@register("dns", DnsOptions, METRICS, reasons=REASONS, judge=judge, summary=summary,
          run_bytes=lambda check: RUN_BYTES)
async def run(check: Check) -> Result:
    """Ask ``options.server`` (or the target) one question, bounded by ``check.timeout``."""
    options = check.options
    assert isinstance(options, DnsOptions)
    server = options.server or check.target
    ipaddress.ip_address(server)  # a name here is misconfiguration: raise, do not report a failure
    rdtype = dns.rdatatype.from_text(options.record_type)
    query = dns.message.make_query(options.name, rdtype)
    where = f"{server}:{options.port}/{options.transport}"
    started = time.time()
    try:
        async with asyncio.timeout(check.remaining()):
            response, seconds = await _exchange(query, server, options, check.remaining())
    except (dns.exception.Timeout, TimeoutError):
        return check.fail("timeout", f"no answer from {where} within {check.timeout:g}s", started)
    except OSError as exc:
        reason, message = tcp.connect_failure(exc)
        return check.fail(reason, f"{message} ({where})", started)
    except (dns.exception.DNSException, EOFError) as exc:  # EOFError: TCP closed before a full answer
        detail = str(exc) or type(exc).__name__
        return check.fail("bad_response", f"unusable answer from {where}: {detail}", started)
    records = [r for rrset in response.answer if rrset.rdtype == rdtype for r in rrset]
    measured = [Measurement(LOOKUP_SECONDS, seconds), Measurement(ANSWERS, len(records))]
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        reason = _RCODE_REASONS.get(rcode, "rcode")
        text = dns.rcode.to_text(rcode)
        message = f"{where} answered {text} for {options.name} {options.record_type}"
        return check.fail(reason, message, started, measured)
    found = set().union(*(_forms(r) for r in records))
    missing = [a for a in options.expect if a not in found]
    if missing:
        got = ", ".join(sorted(found)) or "nothing"
        return check.fail("answer_mismatch", f"expected {', '.join(missing)}; got {got}", started, measured)
    return check.ok(started, measured, answers=sorted(found))
