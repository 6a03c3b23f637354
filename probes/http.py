"""HTTP(S) probe: is the service usable from here, and where does the time go.

Every run opens fresh connections (no keep-alive between runs or redirect hops) so each phase is a real
measurement of the link, not of a pool. Phases, in seconds, summed over redirect hops:
``dns`` (our own timed ``getaddrinfo``), ``connect`` (TCP handshake: the kernel's figure where it has
one, `tcp.connect_seconds`), ``tls`` (handshake; 0 for plain HTTP), ``first_byte`` (request sent →
response headers: the server's think time plus one RTT), ``transfer`` (the final response's body, from
its headers' arrival to its last bytes' arrival) and ``total`` (the phases' sum, the final body counted
as far as it was read; the run's wall time where no response came: a timeout, a refused connection).

A phase ends when its last bytes *arrived*, by the kernel's stamp, not when the prober got round to
reading them: the event loop also runs every other check, and under load it read a 20 ms answer as
200 ms. `http_stream.StampedBackend` gives httpcore sockets of ours that read with ``recvmsg`` and
``SO_TIMESTAMPNS`` (`probes.arrival`) and do TLS over memory buffers, so encrypted bytes keep their
stamps too; `_Timeline` turns sends and stamped arrivals into phases, told by httpcore's ``trace``
events (``connection.start_tls.*``, ``http11.receive_response_headers.complete``) where each ends.
``tls`` is the handshake's exchanges (ClientHello sent → the server's flight arrived, one leg per round
trip), not the prober's work between them; a TLS 1.3 session ticket that arrives ahead of the response
ends nothing, as the phase ends at the read that completed the headers. The prober's own time between
phases (noticing an arrival, getting round to the next send) is in no phase and not in ``total``; the
run's wall time stays ``netmon_probe_duration_seconds``. Where the kernel gives no stamp (not Linux, or
the wall clock stepped) a phase ends when its bytes were read, prober's delay included. One stamp per
read: bytes that queued up while the prober was busy share the last one's arrival (the kernel merges
them), so headers read together with later body bytes end ``first_byte`` at those bytes' arrival.

The name is resolved by the backend itself, which then connects to the address it found; SNI and the
Host header stay the URL's host.

Body reads are bounded: past ``max_body_bytes`` the probe stops reading and fails ``too_large``, having
read at most the limit plus one chunk, so a 1 GB download can never be triggered by a check. The same
bound holds for every content-decoding step (`_BoundedDecoder`): httpx inflates each layer of
``Content-Encoding: gzip, gzip`` in one unbounded call, and 2 kB on the wire became 1 GiB in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import ssl
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpcore
import httpx

from probes import arrival, http_stream, tcp, tls
from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.schema import STRICT, Rules
from probes.verdict import OK, Baseline, Finding, Limits, Verdict
from probes.wording import Lang, Wording, ms

STATUS_CODE = "netmon_http_status_code"
DURATION = "netmon_http_duration_seconds"
RESPONSE_BYTES = "netmon_http_response_bytes"
CERT_EXPIRY = "netmon_tls_cert_expiry_timestamp_seconds"
REDIRECTS = "netmon_http_redirects"

METRICS = (
    MetricSpec(STATUS_CODE, Kind.GAUGE, "HTTP status code of the final response."),
    MetricSpec(DURATION, Kind.GAUGE, "Time spent in each phase of the request, seconds.", ("phase",)),
    MetricSpec(RESPONSE_BYTES, Kind.GAUGE, "Body bytes read (after content decoding), bytes."),
    MetricSpec(CERT_EXPIRY, Kind.GAUGE, "notAfter of the server's TLS certificate, unix seconds."),
    MetricSpec(REDIRECTS, Kind.GAUGE, "Redirects followed to reach the final response."),
)

#: Only what `_BoundedDecoder` undoes; httpx would add br/zstd whenever those packages are installed.
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}

PHASES = ("dns", "connect", "tls", "first_byte", "transfer", "total")

#: A service page slower than this is "slow" for a clerk at the counter, whatever the link type.
SLOW_SERVICE_SECONDS = 3.0
#: A certificate expiring sooner than this needs renewing now: the office must order, install and test it.
CERT_WARN_SECONDS = 14 * 86_400
#: Certificate failures: the service answered, a browser would warn (or refuse) — never "down".
CERT_REASONS = ("cert_untrusted", "cert_expired")
#: Handshakes, request and response headers, teardown; the body counts on top, up to its bound.
FIXED_BYTES = 4_000

REASONS: dict[str, Wording] = {
    **tcp.CONNECT_REASONS,
    "http_status": ("unexpected HTTP status", "mã HTTP lỗi"),
    "body_mismatch": ("wrong content", "nội dung sai"),
    "too_large": ("response too large", "phản hồi quá lớn"),
    "too_many_redirects": ("redirect loop", "chuyển hướng vòng"),
    "protocol": ("protocol error", "lỗi giao thức"),
    "credentials": ("credentials unreadable", "không đọc được thông tin đăng nhập"),
}

StatusCode = Annotated[int, Rules(ge=100, le=599)]
StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]


@dataclasses.dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP basic auth with the password in a file (as Prometheus's ``basic_auth``): a password in the
    URL would be published in every series' ``target`` label and in ``netmon probe --json``."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    username: Annotated[str, Rules(min_length=1)]
    #: Read at every run, so rotating the password needs no reload; keep it readable by netmon only.
    password_file: Path


@dataclasses.dataclass(frozen=True, slots=True)
class HttpOptions(ProbeOptions):
    """What a good answer looks like; the URL is the check's target.

    ``expected_status`` mixes exact codes and classes, e.g. ``[200, 204]`` or ``["2xx", 301]``.
    """

    method: Literal["GET", "HEAD"] = "GET"
    #: Appended to the target (a service's URL): ``/api/health`` checks a service's API beside its login page.
    path: Annotated[str, Rules(pattern=r"^/[^\s#]*$")] | None = None
    expected_status: Annotated[tuple[StatusCode | StatusClass, ...], Rules(min_length=1)] = ("2xx", "3xx")
    body_match: re.Pattern[str] | None = None
    max_body_bytes: Annotated[int, Rules(ge=0)] = 1 << 20
    verify_tls: bool = True
    #: Trust only this CA (PEM). Checked when the probe runs, not at load: the lab's CA exists only
    #: while a lab is up, and a missing anchor is a certificate problem of that service, not a bad file.
    ca_file: Path | None = None
    follow_redirects: bool = True
    max_redirects: Annotated[int, Rules(ge=0, le=20)] = 5
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    basic_auth: BasicAuth | None = None

    def __post_init__(self) -> None:
        if self.body_match is not None and self.method == "HEAD":
            raise ValueError("body_match needs method GET: a HEAD response has no body")
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file has no effect with verify_tls: false; drop one of them")

    def check_target(self, target: str) -> str | None:
        parts = urlsplit(target)
        if parts.username is not None or parts.password is not None:
            # The URL itself is not repeated: it holds the secret.
            return ("credentials in the URL would be published in every series' target label and in "
                    "`netmon probe --json`: remove them and set basic_auth: {username: NAME, "
                    "password_file: FILE} on the check (a file only netmon can read)")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"{target!r} is not an http(s) URL with a host"
        return None

    @classmethod
    def service_target(cls, url: str) -> str:
        return url

    def status_ok(self, code: int) -> bool:
        """Whether ``code`` matches an exact code or a class in ``expected_status``."""
        return any(code == want or f"{code // 100}xx" == want for want in self.expected_status)


class _Timeline:
    """Phase durations of one run, fed by the network streams (`http_stream.Listener`) and by httpcore's
    trace events, which say where one phase ends and the next begins.

    Every moment is kept as seconds since the run began, on one scale: a send by the monotonic clock
    right before it, an arrival by the kernel's stamp (`arrival.seconds`: the clock at the read where
    there is none, or where the stamp falls outside the run so far). A phase made of exchanges (the TLS
    handshake's flights, request → response headers) is the sum of its legs, each from the first send
    after the last arrival to the last arrival before the next send: the prober's own time between a
    flight's arrival and its answer is not the network's.
    """

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.tls_failed: tuple[str, int] | None = None
        self.certificate: bytes | None = None
        self._begin_ns, self._begin = time.time_ns(), time.perf_counter()
        self._endpoint: tuple[str, int] = ("", 0)
        self._legs = 0.0  # closed legs of the phase under way
        self._leg: float | None = None  # when the open leg's first send left
        self._leg_end: float | None = None  # the last arrival in the open leg
        self._last: float | None = None  # the last arrival of the run
        self._headers: float | None = None  # the arrival that completed the final response's headers

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    def measurements(self) -> list[Measurement]:
        """One duration per phase that was reached, in `PHASES` order."""
        return [Measurement(DURATION, self.phases[p], (("phase", p),)) for p in PHASES if p in self.phases]

    def _now(self) -> float:
        return time.perf_counter() - self._begin

    def _close_leg(self) -> None:
        """Count the open leg once something arrived in it (a send after an arrival starts a new one)."""
        if self._leg is not None and self._leg_end is not None:
            self._legs += self._leg_end - self._leg
            self._leg = self._leg_end = None

    def sending(self) -> None:
        now = self._now()
        self._close_leg()
        if self._leg is None:
            self._leg = now

    def arrived(self, stamp_ns: int | None) -> None:
        self._last = arrival.seconds(self._begin_ns, stamp_ns, self._now())
        if self._leg is not None:
            self._leg_end = self._last

    def _take(self) -> float:
        """The legs of the phase that just ended; the next phase starts with none."""
        self._close_leg()
        seconds, self._legs, self._leg = self._legs, 0.0, None
        return seconds

    def _body(self) -> float:
        """The final response's body so far: from the arrival that completed its headers to its last."""
        if self._headers is None or self._last is None:
            return 0.0
        return self._last - self._headers

    def transfer(self) -> None:
        """The final response's body, read to its end."""
        self.add("transfer", self._body())

    def total(self, answered: bool) -> None:
        """When the exchange ``answered`` (it read a response), what the name lookup, the network and the
        server took: the phases' sum, the body counted as far as it was read (a body too large has no
        ``transfer``), without the prober's own time between them (before a send, after an arrival).
        Else run start → now: a timeout, a refused or broken connection."""
        if answered:
            before_body = sum(self.phases.get(p, 0.0) for p in ("dns", "connect", "tls", "first_byte"))
            self.add("total", before_body + self._body())
        else:
            self.add("total", self._now())

    async def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore ``trace`` callback; event names are ``<logger suffix>.<operation>.<stage>``."""
        if event == "connection.connect_tcp.started":
            self._endpoint = (info["host"], info["port"])
            self.certificate = None  # a new connection: the last hop's certificate no longer applies
            self._take()
        elif event == "connection.connect_tcp.complete":
            self.phases.setdefault("tls", 0.0)
        elif event == "connection.start_tls.complete":
            # The client's last flight (TLS 1.3: its Finished) left without awaiting an answer: not a leg.
            self.add("tls", self._take())
            self.certificate = tls.peer_certificate(info["return_value"].get_extra_info("ssl_object"))
        elif event == "connection.start_tls.failed":
            self.tls_failed = self._endpoint
        elif event == "http11.receive_response_headers.complete":
            self.add("first_byte", self._take())
            self._headers = self._last


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that uses `http_stream.StampedBackend` and never keeps a connection
    alive.

    httpx offers no public way to pass a network backend, so the pool it built is replaced by an
    equivalent one; ``_pool`` has been the transport's pool attribute throughout httpx 0.2x.
    """

    def __init__(self, context: ssl.SSLContext, timeline: _Timeline) -> None:
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_keepalive_connections=0,
            network_backend=http_stream.StampedBackend(timeline),
        )


class BodyTooLarge(Exception):
    """A decoding step produced more than the body limit."""


class _BoundedDecoder:
    """Undoes ``Content-Encoding`` (gzip, deflate; identity and unknown codings pass through, as in
    httpx), each layer producing at most ``limit`` bytes in total, else `BodyTooLarge`."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        # Listed in the order they were applied: undo the last one first.
        self._layers = [_Inflater(c, limit) for c in reversed(codings) if c in ("gzip", "x-gzip", "deflate")]

    def decode(self, data: bytes) -> bytes:
        for layer in self._layers:
            data = layer.decode(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for layer in self._layers:
            data = layer.decode(data) + layer.flush()
        return data


class _Inflater:
    """One zlib layer whose total output is capped at ``limit`` bytes (zlib's ``max_length``)."""

    def __init__(self, coding: str, limit: int) -> None:
        self._deflate = coding == "deflate"
        # gzip: header auto-detected; deflate: zlib-wrapped, falling back to raw as httpx does.
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | (0 if self._deflate else 16))
        self._limit = limit
        self._produced = 0
        self._first = True

    def decode(self, data: bytes) -> bytes:
        if not data:
            return b""
        try:
            out = self._inflate.decompress(data, self._limit - self._produced + 1)
        except zlib.error as exc:
            if not (self._deflate and self._first):
                raise httpx.DecodingError(str(exc)) from exc
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, self._limit - self._produced + 1)
        self._first = False
        self._produced += len(out)
        if self._produced > self._limit:
            raise BodyTooLarge
        return out

    def flush(self) -> bytes:
        out = self._inflate.flush()
        self._produced += len(out)
        if self._produced > self._limit:
            raise BodyTooLarge
        return out


def _failure(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, httpx.TooManyRedirects):
        return "too_many_redirects", str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol", f"bad response: {exc}"
    if isinstance(exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError):
        return tcp.connect_failure(exc)
    return "error", f"{type(exc).__name__}: {exc}"


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """Down when the service is gone or broken (5xx); degraded when it answers but unhappily (4xx, wrong
    content, too large, a certificate untrusted, expired or expiring within `CERT_WARN_SECONDS`) or
    slowly; the link's limits do not apply to a page's total time."""
    if not result.success:
        reason = result.reason or "error"
        if reason == "http_status":
            status = result.value(STATUS_CODE)
            if status is not None and status < 500:
                return Finding(Verdict.DEGRADED, "http_4xx" if status >= 400 else "http_status", status)
            return Finding(Verdict.DOWN, "http_5xx", status)
        if reason in ("body_mismatch", "too_large", *CERT_REASONS):
            return Finding(Verdict.DEGRADED, reason)
        return Finding(Verdict.DOWN, reason)
    total = result.value(DURATION, phase="total")
    if total is not None and total >= SLOW_SERVICE_SECONDS:
        return Finding(Verdict.DEGRADED, "slow", total, SLOW_SERVICE_SECONDS)
    expiry = result.value(CERT_EXPIRY)
    if expiry is not None and expiry - result.started < CERT_WARN_SECONDS:
        return Finding(Verdict.DEGRADED, "cert_expiring", expiry - result.started, CERT_WARN_SECONDS)
    return OK


def summary(result: Result, lang: Lang) -> str | None:
    """Status code and total time whenever the server answered, even with a failing status."""
    status = result.value(STATUS_CODE)
    if not status:
        return None
    total = result.value(DURATION, phase="total")
    return ", ".join(p for p in (f"{status:.0f}", ms(total) if total else "") if p)


def run_bytes(check: Check) -> int:
    assert isinstance(check.options, HttpOptions)
    return FIXED_BYTES + check.options.max_body_bytes


@register("http", HttpOptions, METRICS, reasons=REASONS, judge=judge, summary=summary, run_bytes=run_bytes)
async def run(check: Check) -> Result:
    """One request to ``check.target``; the whole run, body included, is bounded by ``check.timeout``."""
    options = check.options
    assert isinstance(options, HttpOptions)
    url = httpx.URL(check.target)
    if options.path is not None:
        url = url.join(options.path)
    if url.scheme not in ("http", "https"):
        raise ValueError(f"http target must be an http:// or https:// URL, not {check.target!r}")
    started, timeline = time.time(), _Timeline()
    try:
        if options.ca_file is not None and not options.ca_file.is_file():
            return check.fail("cert_untrusted", f"trust anchor {options.ca_file} not found (ca_file)",
                              started)
        context = tls.client_context(options.verify_tls, options.ca_file)
    except OSError as exc:  # a directory on its way this user may not search (the lab's, to a non-root user)
        return check.fail("cert_untrusted", f"cannot read trust anchor {options.ca_file} (ca_file): "
                                            f"{exc.strerror}", started)
    auth = None
    if options.basic_auth is not None:
        try:
            password = options.basic_auth.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            return check.fail("credentials", f"cannot read basic_auth.password_file "
                                             f"{options.basic_auth.password_file}: {exc.strerror}", started)
        auth = httpx.BasicAuth(options.basic_auth.username, password)
    measured: list[Measurement] = []
    failure: tuple[str, str] | None = None
    answered = False
    try:
        async with asyncio.timeout(check.remaining()):
            failure = await _exchange(check, context, url, timeline, measured, auth)
    except TimeoutError:
        failure = ("timeout", f"no complete answer within {check.timeout:g}s")
    except httpx.HTTPError as exc:
        failure = _failure(exc)
    else:
        answered = True
    timeline.total(answered)
    if timeline.tls_failed is not None and timeline.certificate is None:
        remaining = check.timeout - timeline.phases["total"]
        timeline.certificate = await tls.fetch_certificate(*timeline.tls_failed, remaining)
    measured += timeline.measurements()
    if timeline.certificate is not None:
        measured.append(Measurement(CERT_EXPIRY, tls.not_after(timeline.certificate)))
    if failure is not None:
        return check.fail(*failure, started, measured)
    return check.ok(started, measured)


async def _exchange(
    check: Check,
    context: ssl.SSLContext,
    url: httpx.URL,
    timeline: _Timeline,
    measured: list[Measurement],
    auth: httpx.BasicAuth | None,
) -> tuple[str, str] | None:
    """Send the request and read a bounded body; append what was measured; a failure or None."""
    options = check.options
    assert isinstance(options, HttpOptions)
    transport = _Transport(context, timeline)
    async with (
        httpx.AsyncClient(
            transport=transport,
            timeout=check.timeout,
            follow_redirects=options.follow_redirects,
            max_redirects=options.max_redirects,
            trust_env=False,
        ) as client,
        client.stream(
            options.method,
            url,
            headers={**ACCEPT_ENCODING, **options.headers},
            auth=auth,
            extensions={"trace": timeline.trace},
        ) as response,
    ):
        measured += [
            Measurement(STATUS_CODE, response.status_code),
            Measurement(REDIRECTS, len(response.history)),
        ]
        if not options.status_ok(response.status_code):
            return "http_status", f"status {response.status_code}, expected {_expected(options)}"
        body, read = bytearray(), 0
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), options.max_body_bytes)
        too_large = "too_large", f"body exceeds max_body_bytes ({options.max_body_bytes}); stopped reading"
        try:
            async for raw in response.aiter_raw():
                chunk = decoder.decode(raw)
                read += len(chunk)
                if read > options.max_body_bytes:
                    raise BodyTooLarge
                if options.body_match:
                    body += chunk
            tail = decoder.flush()
        except BodyTooLarge:
            measured.append(Measurement(RESPONSE_BYTES, max(read, options.max_body_bytes + 1)))
            return too_large
        read += len(tail)
        if read > options.max_body_bytes:
            measured.append(Measurement(RESPONSE_BYTES, read))
            return too_large
        if options.body_match:
            body += tail
        timeline.transfer()
    measured.append(Measurement(RESPONSE_BYTES, read))
    text = body.decode(response.encoding or "utf-8", "replace")
    if options.body_match and not options.body_match.search(text):
        return "body_mismatch", f"body does not match {options.body_match.pattern!r}"
    return None


def _expected(options: HttpOptions) -> str:
    return ", ".join(str(s) for s in options.expected_status)
