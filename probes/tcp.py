"""TCP connect probe: can a SYN reach the port and come back as an established connection, and how fast.

The connect time is the handshake alone: the name is resolved first (so a slow resolver does not pose as
a slow link) and the connection is closed as soon as it is established. It is the kernel's own figure
where it has one (`connect_seconds`): the prober's event loop also runs other checks, and under CPU load
it noticed a finished 4 ms handshake up to 350 ms late — read by the clock, that was "slow to accept a
connection" on a healthy link. The errno of a failed connect is
mapped to a small set of stable reasons by `connect_failure`, which the http probe shares.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import struct
import time
from typing import Annotated

from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.noroute import NO_ROUTE, explain
from probes.schema import Rules
from probes.verdict import Baseline, Finding, Limits, Verdict, judge_plainly, latency
from probes.wording import Lang, Wording, ms, say

CONNECT_SECONDS = "netmon_tcp_connect_seconds"

#: What `connect_failure` reports; the http and dns probes connect through it too.
CONNECT_REASONS: dict[str, Wording] = {
    "tls": ("TLS error", "lỗi TLS"),
    "cert_untrusted": ("certificate not trusted", "chứng chỉ không tin cậy"),
    "cert_expired": ("certificate expired", "chứng chỉ hết hạn"),
    "refused": ("connection refused", "từ chối kết nối"),
    "reset": ("connection reset", "bị ngắt kết nối"),
}
_CONNECT: Wording = ("connect {time}", "kết nối {time}")
#: Handshake and teardown, both directions.
RUN_BYTES = 400

METRICS = (
    MetricSpec(CONNECT_SECONDS, Kind.GAUGE, "Time to establish a TCP connection (handshake only), seconds."),
)

@dataclasses.dataclass(frozen=True, slots=True)
class TcpOptions(ProbeOptions):
    """``port`` may be left out when the target already says ``host:port``."""

    port: Annotated[int, Rules(ge=1, le=65535)] | None = None

    def check_target(self, target: str) -> str | None:
        try:
            split_target(target, self.port)
        except ValueError as exc:
            return str(exc)
        return None


def split_target(target: str, port: int | None) -> tuple[str, int]:
    """``(host, port)`` from ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address.

    An explicit ``port`` option wins over a port in the target. Raises ValueError when neither gives one:
    that is a configuration error, not a network failure.
    """
    host, found = target, None
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        if rest.startswith(":"):
            found = int(rest[1:])
    elif target.count(":") == 1:
        host, _, text = target.partition(":")
        found = int(text)
    chosen = port if port is not None else found
    if chosen is None:
        raise ValueError(f"tcp target {target!r} has no port: write host:port or set the port option")
    return host, chosen


#: OpenSSL's verify code for a certificate past its notAfter.
X509_V_ERR_CERT_HAS_EXPIRED = 10


def connect_failure(exc: BaseException) -> tuple[str, str]:
    """``(reason, message)`` for an exception raised while connecting, walking its cause chain.

    Libraries wrap OS errors (httpx → httpcore → OSError); the innermost meaningful one decides.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "dns", f"name resolution failed: {seen.strerror or seen}"
        if isinstance(seen, ssl.SSLCertVerificationError):  # the peer answered: its certificate is at fault
            expired = seen.verify_code == X509_V_ERR_CERT_HAS_EXPIRED
            return ("cert_expired" if expired else "cert_untrusted"), f"certificate: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError):
            return "tls", f"TLS handshake failed: {getattr(seen, 'verify_message', None) or seen}"
        if isinstance(seen, TimeoutError):
            return "timeout", "timed out"
        if isinstance(seen, ConnectionRefusedError):
            return "refused", "connection refused"
        if isinstance(seen, ConnectionResetError):
            return "reset", "connection reset by peer"
        if isinstance(seen, OSError) and seen.errno in NO_ROUTE:
            return "unreachable", f"no route: {explain(seen)}"
        seen = seen.__cause__ or seen.__context__
    return "error", f"{type(exc).__name__}: {exc}"


async def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """``(family, address)`` pairs for ``host`` in resolver order; raises socket.gaierror."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


#: ``struct tcp_info`` (linux/tcp.h) up to ``tcpi_total_retrans``: ``tcpi_rtt`` (µs) at byte 68,
#: ``tcpi_total_retrans`` at byte 100 (checked against linux/tcp.h, kernel 6.18). The kernel only appends
#: fields and copies as much as it has: a shorter answer means an older kernel, and the clock is used.
_TCP_INFO = struct.Struct("=68xI28xI")


def connect_seconds(sock: socket.socket, wall: float) -> float:
    """How long the handshake of ``sock``, just connected and nothing sent yet, took on the network.

    On Linux that is ``tcpi_rtt`` from ``TCP_INFO``: a connection's first RTT sample is its SYN's, taken
    when the SYN-ACK arrives (and smoothing starts from it), so before any data is acknowledged it is
    SYN → SYN-ACK, free of when the event loop got round to noticing. ``wall`` — the clock around the
    connect — is used instead where the kernel has no such figure (no ``TCP_INFO``), and when a SYN was
    retransmitted: the wait for the retransmission is part of the connect time (the 1 s that makes a lost
    SYN a ``slow_connect``), and only the clock has it.
    """
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return wall
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO.size)
    except OSError:
        return wall
    if len(info) < _TCP_INFO.size:
        return wall
    rtt_us, retransmitted = _TCP_INFO.unpack(info)
    return rtt_us / 1e6 if rtt_us and not retransmitted else wall


async def _connect(family: int, address: str, port: int) -> float:
    """Connect and close; the handshake's time by `connect_seconds`."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        begin = time.perf_counter()
        await loop.sock_connect(sock, (address, port))
        return connect_seconds(sock, time.perf_counter() - begin)
    finally:
        sock.close()


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """The connect time against the link's RTT limits, as ``slow_connect``: a handshake also waits for
    the device to accept, so it speaks about the device (a busy CPE), never about the link's RTT —
    the echo check measures that. A connect that succeeded is at worst degraded: on a lossy link one
    lost SYN adds the kernel's 1 s initial retransmission timeout, far above any RTT limit."""
    if not result.success:
        return judge_plainly(result)
    finding = latency(result.value(CONNECT_SECONDS), limits, baseline)
    if finding.verdict is Verdict.OK:
        return finding
    return Finding(Verdict.DEGRADED, "slow_connect", finding.figure, finding.limit)


def summary(result: Result, lang: Lang) -> str | None:
    seconds = result.value(CONNECT_SECONDS)
    return say(_CONNECT, lang, time=ms(seconds)) if result.success and seconds is not None else None


@register("tcp", TcpOptions, METRICS, reasons=CONNECT_REASONS, judge=judge, summary=summary,
          run_bytes=lambda check: RUN_BYTES)
async def run(check: Check) -> Result:
    """Resolve, then time one TCP handshake to the first address, bounded by ``check.timeout``."""
    assert isinstance(check.options, TcpOptions)
    started = time.time()
    host, port = split_target(check.target, check.options.port)
    begin = time.perf_counter()
    try:
        async with asyncio.timeout(check.remaining()):
            family, address = (await resolve(host, port))[0]
            seconds = await _connect(family, address, port)
    except (OSError, TimeoutError) as exc:
        reason, message = connect_failure(exc)
        elapsed = time.perf_counter() - begin
        if reason == "timeout":
            message = f"no answer from {host}:{port} within {check.timeout:g}s"
        return check.fail(reason, f"{message} ({host}:{port}, after {elapsed:.3f}s)", started)
    return check.ok(started, [Measurement(CONNECT_SECONDS, seconds)], address=address, port=port)
