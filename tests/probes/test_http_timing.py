"""The http probe's phases are what the network and the server took, not when a busy prober read them.

A real loopback server in a thread (`tests.probes.peers.DelayedHttpPeer`) answers after a known delay
while the prober's event loop is held (`peers.busy_until`), as by other checks' work; the server says
what it took, from the kernel's arrival stamps, and the phase must read that plus the bytes' way here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from typing import Any

import httpcore
import pytest

from probes import arrival, base, http, http_stream
from probes.base import Check, Result
from tests.probes import peers

#: How long the prober's loop is held.
HOLD = 0.2
#: The server's think time before it answers.
DELAY = 0.02
#: What a phase may read beyond the server's own time (`DelayedHttpPeer.held`) per round trip: the bytes'
#: way there and back on loopback, a clock read and a send — tens of microseconds when calm, with room for
#: the prober's CPU being taken away in between on a loaded machine (as test_dns's QUERY_WAY).
WAY = 0.005


@pytest.fixture(scope="module")
def leaf(tmp_path_factory: pytest.TempPathFactory) -> tuple[peers.Issued, peers.Issued]:
    """A test CA made now (no key in the repository) and a leaf for 127.0.0.1 it signed."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = peers.make_ca(directory)
    expiry = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    return ca, peers.make_leaf(directory, ca, ca_key, expiry)


def _context(leaf: tuple[peers.Issued, peers.Issued], version: ssl.TLSVersion) -> ssl.SSLContext:
    context = leaf[1].server_context()
    context.minimum_version = context.maximum_version = version
    return context


def _check(server: peers.DelayedHttpPeer, leaf: tuple[peers.Issued, peers.Issued], **options: Any) -> Check:
    if server.context is not None:
        options["ca_file"] = str(leaf[0].cert_file)
    return Check(site="test", id="web", probe="http", target=server.url(),
                 options=base.options(http.HttpOptions, options), timeout=3.0)


def _outcome(result: Result) -> tuple[object, ...]:
    """Everything a run reports but its phases; of a body too large, that it stopped within one read
    (64 KiB) past the limit, which is how the bytes are told (the read sizes differ)."""
    values = [result.value(v) for v in (http.STATUS_CODE, http.RESPONSE_BYTES, http.REDIRECTS, http.CERT_EXPIRY)]
    if result.reason == "too_large" and values[1] is not None:
        values[1] = 1 << 20 < values[1] <= (1 << 20) + 65536
    return (result.success, result.reason, result.error, *values)


def _phases(result: Result) -> dict[str, float]:
    assert result.success, result.error
    found = {p: result.value(http.DURATION, phase=p) for p in http.PHASES}
    assert all(v is not None for v in found.values()), found
    return found  # type: ignore[return-value]


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_first_byte_is_the_servers_time_not_the_busy_probers_delay(
    scheme: str, leaf: tuple[peers.Issued, peers.Issued]
) -> None:
    """The server answers 20 ms after the request arrived; the prober's loop is held 200 ms from that
    arrival, so the answer waits for the prober: first_byte is still the server's 20 ms, and the total
    ends when the answer arrived."""
    context = _context(leaf, ssl.TLSVersion.TLSv1_3) if scheme == "https" else None
    with (
        peers.DelayedHttpPeer(context, delay=DELAY) as server,
        peers.busy_until(server.request_arrived.is_set, HOLD) as busy,
    ):
        begin = time.perf_counter()
        result = await http.run(_check(server, leaf))
        elapsed = time.perf_counter() - begin
    assert busy.fired
    phases = _phases(result)
    low, high = server.held
    assert DELAY <= low <= phases["first_byte"] <= high + WAY, (phases, server.held)
    assert 0 <= phases["transfer"] <= WAY, phases
    # The phases before the request each lie within the run before the request left, and the hold came
    # after that: a total holding none of the hold is at most the run less the hold, plus what overlapped it.
    parts = sum(phases[p] for p in ("dns", "connect", "tls", "first_byte", "transfer"))
    assert phases["total"] == pytest.approx(parts), phases
    assert phases["total"] <= elapsed - HOLD + phases["first_byte"] + phases["transfer"], (phases, elapsed)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
async def test_tls_is_the_handshakes_time_not_the_busy_probers_delay(
    version: ssl.TLSVersion, leaf: tuple[peers.Issued, peers.Issued]
) -> None:
    """The server sends its first flight 20 ms after the ClientHello arrived; the loop is held 200 ms from
    that arrival: tls reads the server's 20 ms, plus one more round trip with TLS 1.2 (two legs; the
    prober's own time between them, here the hold, is not counted)."""
    with (
        peers.DelayedHttpPeer(_context(leaf, version), tls_delay=DELAY) as server,
        peers.busy_until(server.hello_arrived.is_set, HOLD) as busy,
    ):
        begin = time.perf_counter()
        result = await http.run(_check(server, leaf))
        elapsed = time.perf_counter() - begin
    assert busy.fired and server.tls_version == version.name.replace("_", ".")
    phases = _phases(result)
    low, high = server.tls_held
    legs = 2 if version == ssl.TLSVersion.TLSv1_2 else 1
    assert DELAY <= low <= phases["tls"] <= high + legs * WAY, (phases, server.tls_held)
    assert phases["total"] <= elapsed - HOLD + phases["tls"], (phases, elapsed)  # the hold is in no phase
    assert result.value(http.CERT_EXPIRY) == leaf[1].cert.not_valid_after_utc.timestamp()


async def test_a_session_ticket_ahead_of_the_response_is_not_its_first_byte(
    leaf: tuple[peers.Issued, peers.Issued],
) -> None:
    """TLS 1.3: the server's session tickets arrive as soon as the request did, the response 20 ms later;
    the tickets are read alone (nothing holds the prober), and first_byte is the response's."""
    with peers.DelayedHttpPeer(_context(leaf, ssl.TLSVersion.TLSv1_3), delay=DELAY) as server:
        result = await http.run(_check(server, leaf))
    assert server.tickets_bytes > 0
    phases = _phases(result)
    low, high = server.held
    assert DELAY <= low <= phases["first_byte"] <= high + WAY, (phases, server.held)


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_chunked_bodys_transfer_ends_when_its_last_chunk_arrived(
    scheme: str, leaf: tuple[peers.Issued, peers.Issued]
) -> None:
    """Headers and a first chunk at once, the last 100 ms later; the loop is held 200 ms as the last
    chunk goes out: transfer is the server's 100 ms, the body complete and matched."""
    context = _context(leaf, ssl.TLSVersion.TLSv1_3) if scheme == "https" else None
    chunks = (b"trang ", b"dich vu ", b"cong")
    with (
        peers.DelayedHttpPeer(context, chunks=chunks, chunk_gap=0.05) as server,
        peers.busy_until(server.last_chunk.is_set, HOLD) as busy,
    ):
        begin = time.perf_counter()
        result = await http.run(_check(server, leaf, body_match="dich vu cong$"))
        elapsed = time.perf_counter() - begin
    assert busy.fired
    phases = _phases(result)
    assert result.value(http.RESPONSE_BYTES) == sum(len(c) for c in chunks)
    low, high = server.body_held
    assert 0.1 <= low <= phases["transfer"] <= high + WAY, (phases, server.body_held)
    assert phases["total"] <= elapsed - HOLD + phases["transfer"], (phases, elapsed)


async def test_phases_are_the_clocks_where_the_kernel_gives_no_stamp(
    monkeypatch: pytest.MonkeyPatch, leaf: tuple[peers.Issued, peers.Issued]
) -> None:
    """Without arrival stamps (not Linux) a phase ends when its bytes were read, hold included.

    The server takes 100 ms here, not 20: a prober that the machine stops for longer than the server's
    time right after its request left reads the answer in that same step, before the loop is held, and
    rightly reads less than the hold (seen at load 13 on 2 cores: 28 ms with a 20 ms server)."""
    monkeypatch.setattr(arrival, "stamp_arrivals", lambda sock: None)
    with (
        peers.DelayedHttpPeer(_context(leaf, ssl.TLSVersion.TLSv1_3), delay=HOLD / 2) as server,
        peers.busy_until(server.request_arrived.is_set, HOLD) as busy,
    ):
        result = await http.run(_check(server, leaf))
    assert busy.fired
    phases = _phases(result)
    assert phases["first_byte"] >= HOLD and phases["total"] >= HOLD, phases


async def test_a_stamp_outside_the_run_is_not_believed() -> None:
    """The wall clock stepped back an hour between the request and its answer's arrival: the stamp would
    make first_byte negative, so the phase is the clock's (request sent → answer read)."""
    timeline = http._Timeline()
    begin = time.perf_counter()
    timeline.sending()
    timeline.arrived(time.time_ns() - 3_600 * 10**9)
    await timeline.trace("http11.receive_response_headers.complete", {})
    first_byte = timeline.phases["first_byte"]
    assert 0 <= first_byte <= time.perf_counter() - begin, first_byte


#: (path, options) against `peers.HttpPeer`: statuses, bodies, bounds, redirects, a silent server.
PLAIN_CASES = [
    ("/body/xin-chao", {"body_match": "chao"}),
    ("/status/503", {}),
    ("/body/x", {"method": "HEAD"}),
    ("/big/300000", {"max_body_bytes": 300000}),
    ("/big/3000000", {}),
    ("/redirect/3", {}),
    ("/loop", {}),
    ("/hang", {}),
]
#: (certificate, options) against an HTTPS `peers.HttpPeer`.
TLS_CASES = [("valid", {"ca": True}), ("valid", {}), ("expired", {"ca": True}), ("expired", {"verify_tls": False})]


async def test_outcomes_are_those_of_httpcores_own_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stamped backend replaced httpcore's anyio one: every case gives the same status, bytes,
    redirects, certificate expiry, success, reason and message through both (a server hanging up
    mid-request or mid-handshake too)."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = peers.make_ca(directory)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    leaves = {"valid": peers.make_leaf(directory, ca, ca_key, now + dt.timedelta(days=30), name="valid"),
              "expired": peers.make_leaf(directory, ca, ca_key, now - dt.timedelta(days=1), name="expired")}

    async def both(url: str, **options: Any) -> tuple[tuple[object, ...], tuple[object, ...]]:
        timeout = 0.5 if url.endswith("/hang") else 3.0  # time enough for the rest on a loaded machine
        check = Check(site="test", id="web", probe="http", target=url,
                      options=base.options(http.HttpOptions, options), timeout=timeout)
        stamped = _outcome(await http.run(check))
        with monkeypatch.context() as patch:
            patch.setattr(http_stream, "StampedBackend", lambda listener: httpcore.AnyIOBackend())
            return stamped, _outcome(await http.run(check))

    async with peers.HttpPeer() as server:
        for path, options in PLAIN_CASES:
            stamped, anyio = await both(server.url(path), **options)
            assert stamped == anyio, path
    for name, options in TLS_CASES:
        if options.pop("ca", False):
            options["ca_file"] = str(ca.cert_file)
        async with peers.HttpPeer(leaves[name].server_context()) as server:
            stamped, anyio = await both(server.url("/body/ok", host="localhost"), **options)
            assert stamped == anyio, (name, options)
    stamped, anyio = await both(f"http://127.0.0.1:{await peers.unused_port()}/")
    assert stamped == anyio == (False, "refused", "connection refused", None, None, None, None)

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    hanging_up = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with hanging_up:
        port = hanging_up.sockets[0].getsockname()[1]
        for scheme in ("http", "https"):  # mid-request; mid-handshake
            stamped, anyio = await both(f"{scheme}://127.0.0.1:{port}/")
            assert stamped == anyio and stamped[0] is False, stamped
