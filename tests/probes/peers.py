"""Real loopback peers for the tcp, http and dns probe tests.

- `HttpPeer`: an asyncio HTTP/1.1 server (optionally TLS) whose behaviour is chosen by the request path,
  so one server covers status codes, delays, bodies, redirects, endless bodies and silent hangs.
- `make_ca` / `make_leaf`: a throw-away CA and server certificates with a chosen validity window.
- `DnsPeer`: a UDP DNS server built on dnspython's message parsing; answers A records for known names,
  NXDOMAIN otherwise, and can be told to stay silent.
- `DelayedDnsPeer`: a DNS server in a thread, answering after a known delay and saying what it took.
- `DelayedHttpPeer`: an HTTP(S) server in a thread, answering after a known delay (optionally delaying
  its TLS handshake, or sending a chunked body chunk by chunk) and saying what it took.
- `busy_until` / `busy_loop`: hold the event loop once something the prober waits for has happened (a
  query reached the server, a connection is established) but is not yet noticed, as a prober busy with
  other checks does.
- `silent_host`: a network namespace holding a 198.18.0.0/15 address that drops every packet, for
  honest connect timeouts (a blackhole route in the root namespace fails at once with EINVAL instead).

Paths understood by `HttpPeer`:
``/status/<code>``, ``/delay/<seconds>``, ``/body/<text>``, ``/big/<bytes>`` (generated lazily, never
held in memory), ``/hang`` (reads the request, never answers), ``/loop`` (redirects to itself),
``/redirect/<n>`` (n hops down to ``/status/200``); anything else is ``200 ok``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import os
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from probes import arrival

_CHUNK = b"x" * 65536


class HttpPeer:
    """An HTTP(S) server on 127.0.0.1:<free port>; use as ``async with HttpPeer(...) as peer``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._closing = asyncio.Event()
        self.port = 0
        #: Bytes of body written by the last ``/big`` response; shows the client stopped reading.
        self.big_bytes_sent = 0
        #: Set when a ``/big`` response ended (client went away or the body was complete).
        self.big_done = asyncio.Event()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> HttpPeer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def listener(self) -> int:
        """The listening socket's file descriptor."""
        assert self._server is not None
        return self._server.sockets[0].fileno()

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Wake every handler instead of cancelling it: hung or delayed ones see `_closing`, writers
        # blocked in drain() see their connection lost; all of them then finish on their own.
        self._closing.set()
        for writer in self._handlers.values():
            writer.transport.abort()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            await self._respond(method, path, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            del self._handlers[task]
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def _respond(self, method: str, path: str, writer: asyncio.StreamWriter) -> None:
        verb, _, arg = path.lstrip("/").partition("/")
        if verb in ("hang", "delay"):
            await self._pause(float(arg) if verb == "delay" else None)
        if verb == "status":
            self._head(writer, int(arg), 2, {})
            writer.write(b"no" if method != "HEAD" else b"")
        elif verb == "loop":
            self._head(writer, 302, 0, {"Location": path})
        elif verb == "redirect":
            hops = int(arg)
            self._head(writer, 302, 0, {"Location": f"/redirect/{hops - 1}" if hops > 1 else "/status/200"})
        elif verb == "big":
            await self._big(method, int(arg), writer)
        else:
            body = arg.encode() if verb == "body" else b"ok"
            self._head(writer, 200, len(body), {})
            writer.write(body if method != "HEAD" else b"")
        await writer.drain()

    async def _pause(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: forever), cut short when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        if self._closing.is_set():
            raise ConnectionAbortedError("peer shutting down")

    async def _big(self, method: str, size: int, writer: asyncio.StreamWriter) -> None:
        self.big_bytes_sent = 0
        self.big_done.clear()
        self._head(writer, 200, size, {})
        try:
            while method != "HEAD" and self.big_bytes_sent < size:
                chunk = _CHUNK[: size - self.big_bytes_sent]
                writer.write(chunk)
                await writer.drain()
                self.big_bytes_sent += len(chunk)
        finally:
            self.big_done.set()

    @staticmethod
    def _head(writer: asyncio.StreamWriter, status: int, length: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {length}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())


@dataclass(frozen=True)
class Issued:
    """A key and certificate written to disk (PEM) for ssl contexts and the probe's ca_file."""

    cert: x509.Certificate
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Issued(cert, cert_file, key_file)


def make_ca(directory: Path) -> tuple[Issued, ec.EllipticCurvePrivateKey]:
    """A self-signed test CA valid for a day either side of now."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netmon test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, "ca", cert, key), key


def make_leaf(
    directory: Path,
    ca: Issued,
    ca_key: ec.EllipticCurvePrivateKey,
    not_after: dt.datetime,
    not_before: dt.datetime | None = None,
    name: str = "leaf",
) -> Issued:
    """A server certificate for ``localhost`` and 127.0.0.1 signed by ``ca``, expiring at ``not_after``."""
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or min(not_after, dt.datetime.now(dt.UTC)) - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write(directory, name, cert, key)


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, peer: DnsPeer) -> None:
        self.peer = peer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython 3.11's selector datagram transport does not subclass DatagramTransport: cast, not assert.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self.peer.answer(data, truncated=self.peer.truncate)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


class DnsPeer:
    """A DNS server on 127.0.0.1:<free port>, UDP and TCP on the same port number.

    ``records`` maps names (no trailing dot) to A addresses; names in ``servfail`` get SERVFAIL, other
    names NXDOMAIN. With ``silent`` set it counts queries and answers none; with ``truncate`` set its UDP
    answers are empty and marked truncated (TC), so a client asks again over TCP.
    """

    def __init__(self, records: dict[str, list[str]], servfail: frozenset[str] = frozenset()) -> None:
        self.records = records
        self.servfail = servfail
        self.silent = False
        self.truncate = False
        self.queries = 0
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def answer(self, wire: bytes, truncated: bool = False) -> bytes | None:
        """The response to one query in wire format (empty, TC set, if ``truncated``), or None when silent."""
        self.queries += 1
        if self.silent:
            return None
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        if truncated:
            response.flags |= dns.flags.TC
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            rrset = dns.rrset.from_text_list(question.name, 60, "IN", "A", self.records[name])
            response.answer.append(rrset)
        return response.to_wire()

    async def __aenter__(self) -> DnsPeer:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # the free UDP port must also be free for TCP; retry the rare clash
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _DnsProtocol(self), local_addr=("127.0.0.1", 0)
            )
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", port)
            except OSError:
                udp.close()
                continue
            self._udp, self.port = udp, port
            return self
        raise RuntimeError("no port free for both UDP and TCP")

    async def __aexit__(self, *exc: object) -> None:
        assert self._udp is not None and self._tcp is not None
        self._udp.close()
        self._tcp.close()
        await self._tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            answer = self.answer(await reader.readexactly(size))
            if answer is None:
                await reader.read()  # silent: hold the connection open until the client gives up
            else:
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def silent_host(address: str = "198.18.251.1") -> Iterator[str]:
    """A namespace answering ARP for ``address`` (a /30 with the root side on .2) but dropping all IP.

    Connects to it hang until the caller's timeout: the real "link is down somewhere" case. Callers
    install the 198.18.0.0/15 blackhole first (conftest's ``blackhole_lab_range``).
    """
    tag = f"nmtcp{os.getpid()}"
    outer, inner = f"{tag}a", f"{tag}b"
    root_side = str(ipaddress.ip_address(address) + 1)
    try:
        _ip("netns", "add", tag)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", tag)
        _ip("addr", "add", f"{root_side}/30", "dev", outer)
        _ip("link", "set", outer, "up")
        _ip("-n", tag, "addr", "add", f"{address}/30", "dev", inner)
        _ip("-n", tag, "link", "set", inner, "up")
        rules = "table inet silent {\nchain input {\ntype filter hook input priority 0; policy drop;\n}\n}\n"
        subprocess.run(["ip", "netns", "exec", tag, "nft", "-f", "-"], input=rules, text=True, check=True,
                       capture_output=True)
        yield address
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", tag], capture_output=True)


async def unused_port() -> int:
    """A loopback TCP port nobody listens on (bound, then released)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port



class BusyLoop:
    """See `busy_until`; ``fired`` says the loop was held (a test that relies on it asserts it)."""

    def __init__(self, ready: Callable[[], bool], seconds: float) -> None:
        self.fired = False
        self._ready, self._seconds = ready, seconds
        self._handle = asyncio.get_running_loop().call_soon(self._poll)

    def _poll(self) -> None:
        if self._ready():
            time.sleep(self._seconds)  # the point: the loop is held, as by a check's CPU work
            self.fired = True
        else:
            self._handle = asyncio.get_running_loop().call_soon(self._poll)

    def cancel(self) -> None:
        self._handle.cancel()


@contextlib.contextmanager
def busy_until(ready: Callable[[], bool], seconds: float) -> Iterator[BusyLoop]:
    """Keep the running event loop spinning until ``ready()`` is true, then hold the loop for ``seconds``
    once: whatever the prober is waiting for that happens meanwhile is noticed only after the hold."""
    busy = BusyLoop(ready, seconds)
    try:
        yield busy
    finally:
        busy.cancel()


def busy_loop(listener: int, seconds: float) -> contextlib.AbstractContextManager[BusyLoop]:
    """`busy_until` a connection to ``listener`` (a listening socket's descriptor) is established.

    The hold runs before the loop hands the connect's completion to the connecting coroutine: the
    callback is queued ahead of the I/O events of the loop's next pass, so a prober that times its
    connect by the clock sees the handshake plus ``seconds``.
    """
    return busy_until(lambda: bool(select.select([listener], [], [], 0)[0]), seconds)


class DelayedDnsPeer:
    """A DNS server in a thread on 127.0.0.1, UDP and TCP on one port number, answering every query
    (one A record, 198.18.10.1, for any name) ``delay`` seconds after it arrived.

    Being outside the event loop, it answers while the prober's loop is held (`busy_until`
    ``arrived.is_set``). ``held`` brackets what the server took for the last query: from the kernel's
    arrival stamp of the query to just before, and just after, it sent the answer. A prober that times
    the network and the server reads a figure inside, plus the query's own way here. With ``strays``
    each UDP answer is preceded, at once, by a copy with a wrong id, garbage, and a copy from another
    source port, both copies carrying another address (198.18.6.6).
    """

    def __init__(self, delay: float, strays: bool = False) -> None:
        self.delay, self.strays = delay, strays
        self.arrived = threading.Event()
        self.held = (0.0, 0.0)
        for _ in range(20):  # the free UDP port must also be free for TCP; retry the rare clash
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.bind(("127.0.0.1", 0))
            self.port = self._udp.getsockname()[1]
            try:
                self._tcp = socket.create_server(("127.0.0.1", self.port))
                break
            except OSError:
                self._udp.close()
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        self._udp.setsockopt(socket.SOL_SOCKET, arrival.SO_TIMESTAMPNS, 1)
        self._other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._other.bind(("127.0.0.1", 0))
        self._wake, self._woken = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DelayedDnsPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wake.send(b"x")
        self._thread.join()
        for sock in (self._udp, self._tcp, self._other, self._wake, self._woken):
            sock.close()

    def _serve(self) -> None:
        while True:
            ready = select.select([self._udp, self._tcp, self._woken], [], [])[0]
            if self._woken in ready:
                return
            if self._udp in ready:
                wire, ancdata, _, peer = self._udp.recvmsg(4096, arrival.CMSG_SPACE)
                self._answer(wire, ancdata, functools.partial(self._send_udp, peer=peer))
            if self._tcp in ready:
                conn, _ = self._tcp.accept()
                with conn:
                    conn.settimeout(2.0)
                    conn.setsockopt(socket.SOL_SOCKET, arrival.SO_TIMESTAMPNS, 1)
                    head, ancdata, _, _ = conn.recvmsg(2, arrival.CMSG_SPACE)
                    wire = conn.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
                    self._answer(wire, ancdata, functools.partial(_send_tcp, conn))

    def _answer(self, wire: bytes, ancdata: list[tuple[int, int, bytes]], send: Callable[[bytes], None]) -> None:
        came = arrival.arrival_ns(ancdata)
        assert came is not None, "the kernel gave no arrival stamp"
        self.arrived.set()
        query = dns.message.from_wire(wire)
        answer = dns.message.make_response(query)
        answer.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "198.18.10.1"))
        time.sleep(self.delay)
        before = time.time_ns()
        send(answer.to_wire())
        self.held = ((before - came) / 1e9, (time.time_ns() - came) / 1e9)

    def _send_udp(self, answer: bytes, *, peer: tuple[str, int]) -> None:
        if self.strays:  # each carrying another address: taking one for the answer shows in the records
            other = dns.message.from_wire(answer)
            other.answer[0] = dns.rrset.from_text(other.question[0].name, 60, "IN", "A", "198.18.6.6")
            forged = dns.message.from_wire(other.to_wire())
            forged.id = (forged.id + 1) % 65536
            self._udp.sendto(forged.to_wire(), peer)
            self._udp.sendto(b"\x00garbage", peer)
            self._other.sendto(other.to_wire(), peer)
        self._udp.sendto(answer, peer)


def _send_tcp(conn: socket.socket, answer: bytes) -> None:
    conn.sendall(len(answer).to_bytes(2, "big") + answer)


class _ServerChannel:
    """The server's side of one connection, plain or TLS over memory buffers, so that every read of the
    socket is a ``recvmsg`` carrying the kernel's arrival stamp (``arrived_ns``: the last read's)."""

    def __init__(self, conn: socket.socket, context: ssl.SSLContext | None) -> None:
        self.conn = conn
        self.arrived_ns = 0
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._out, server_side=True) if context else None

    def _raw(self) -> bytes:
        data, ancdata, _, _ = self.conn.recvmsg(65536, arrival.CMSG_SPACE)
        came = arrival.arrival_ns(ancdata)
        assert data == b"" or came is not None, "the kernel gave no arrival stamp"
        self.arrived_ns = came or self.arrived_ns
        return data

    def flush(self) -> int:
        """Send what TLS has produced; how many bytes that was."""
        pending = self._out.read()
        self.conn.sendall(pending)
        return len(pending)

    def handshake(self, hello_arrived: threading.Event, delay: float) -> tuple[float, float]:
        """The TLS handshake, the first flight sent ``delay`` after the ClientHello arrived; what the
        server took, summed over its flights (each from the arrival of what it answers to just before,
        and just after, it went out), as `DelayedHttpPeer.held` brackets the response. TLS 1.3's session
        tickets (written as the handshake completes) stay unsent; TLS 1.2's last flight goes out."""
        assert self.tls is not None
        low = high = 0.0
        while True:
            try:
                self.tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            if self._out.pending and not (done and self.tls.version() == "TLSv1.3"):
                if not hello_arrived.is_set():
                    hello_arrived.set()
                    time.sleep(delay)
                before = time.time_ns()
                self.flush()
                low, high = low + (before - self.arrived_ns) / 1e9, high + (time.time_ns() - self.arrived_ns) / 1e9
            if done:
                return low, high
            data = self._raw()
            if not data:
                raise ConnectionAbortedError("client went away in the handshake")
            self._in.write(data)

    def recv(self) -> bytes:
        """Application bytes from one or more socket reads; b"" at the end."""
        if self.tls is None:
            return self._raw()
        while True:
            try:
                return self.tls.read(65536)
            except ssl.SSLWantReadError:
                data = self._raw()
                if not data:
                    return b""
                self._in.write(data)

    def send(self, data: bytes) -> None:
        if self.tls is None:
            self.conn.sendall(data)
        else:
            self.tls.write(data)
            self.flush()


class DelayedHttpPeer:
    """An HTTP/1.1 server in a thread on 127.0.0.1 (TLS when given a ``context``), one connection at a
    time, answering ``delay`` seconds after the request arrived with ``ok``, or with ``chunks`` as a
    chunked body: the headers and the first chunk at once, each further chunk ``chunk_gap`` later.

    Being outside the event loop, it answers while the prober's loop is held (`busy_until` on
    ``request_arrived``, ``hello_arrived``, ``last_chunk``). ``held`` brackets what it took from the
    kernel's arrival stamp of the request to just before, and just after, it sent the response's first
    bytes; ``tls_held`` the same from the ClientHello to its first flight (sent ``tls_delay`` after);
    ``body_held`` the time from sending the first bytes to sending the last chunk (low: after the first
    send to before the last; high: before to after). With TLS 1.3 the session tickets go out when the
    request has arrived, ``delay`` ahead of the response (``tickets_bytes`` says how much that was).
    """

    def __init__(
        self,
        context: ssl.SSLContext | None = None,
        delay: float = 0.0,
        tls_delay: float = 0.0,
        chunks: tuple[bytes, ...] = (),
        chunk_gap: float = 0.0,
    ) -> None:
        self.context, self.delay, self.tls_delay = context, delay, tls_delay
        self.chunks, self.chunk_gap = chunks, chunk_gap
        self.hello_arrived, self.request_arrived, self.last_chunk = (threading.Event() for _ in range(3))
        self.held = self.tls_held = self.body_held = (0.0, 0.0)
        self.tls_version: str | None = None
        self.tickets_bytes = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._listener.setsockopt(socket.SOL_SOCKET, arrival.SO_TIMESTAMPNS, 1)  # accepted sockets inherit it
        _until_stamped(self._listener)
        self._wake, self._woken = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.context else 'http'}://{host}:{self.port}{path}"

    def __enter__(self) -> DelayedHttpPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wake.send(b"x")
        self._thread.join()
        for sock in (self._listener, self._wake, self._woken):
            sock.close()

    def _serve(self) -> None:
        while True:
            ready = select.select([self._listener, self._woken], [], [])[0]
            if self._woken in ready:
                return
            conn, _ = self._listener.accept()
            with conn:
                conn.settimeout(2.0)
                conn.setsockopt(socket.SOL_SOCKET, arrival.SO_TIMESTAMPNS, 1)
                # Else Nagle holds back a send that follows another unacknowledged one (tickets, then the
                # response) until the prober's delayed ACK: 40 ms that are no server's think time.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with contextlib.suppress(OSError):  # the client went away: its test says so
                    self._exchange(_ServerChannel(conn, self.context))

    def _exchange(self, channel: _ServerChannel) -> None:
        if channel.tls is not None:
            self.tls_held = channel.handshake(self.hello_arrived, self.tls_delay)
            self.tls_version = channel.tls.version()
        request = b""
        while b"\r\n\r\n" not in request:
            data = channel.recv()
            if not data:
                return
            request += data
        came = channel.arrived_ns
        self.request_arrived.set()
        if channel.tls is not None:
            self.tickets_bytes = channel.flush()
        time.sleep(self.delay)
        if self.chunks:
            first, *rest = self.chunks
            head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + _chunk(first)
            head += b"" if rest else b"0\r\n\r\n"
        else:
            head, rest = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", []
        before = time.time_ns()
        channel.send(head)
        sent = time.time_ns()
        self.held = ((before - came) / 1e9, (sent - came) / 1e9)
        for number, chunk in enumerate(rest, 1):
            time.sleep(self.chunk_gap)
            if number == len(rest):
                self.last_chunk.set()
            last = time.time_ns()
            channel.send(_chunk(chunk) + (b"0\r\n\r\n" if number == len(rest) else b""))
            self.body_held = ((last - sent) / 1e9, (time.time_ns() - before) / 1e9)


def _until_stamped(listener: socket.socket) -> None:
    """Return once a segment reaching ``listener``'s connections carries the kernel's arrival stamp.

    Asking for stamps switches them on for the whole host by deferred work, a moment later (see
    `probes.arrival`); on a loaded machine a ClientHello arrived in that moment, unstamped. The listener
    asking keeps them on while it lives.
    """
    deadline = time.monotonic() + 5.0
    while True:
        with socket.create_connection(listener.getsockname()) as client:
            conn, _ = listener.accept()
            with conn:
                client.sendall(b"x")
                _, ancdata, _, _ = conn.recvmsg(1, arrival.CMSG_SPACE)
        if arrival.arrival_ns(ancdata) is not None:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the kernel stamps no arrivals (SO_TIMESTAMPNS)")
        time.sleep(0.001)  # the deferred work needs the CPU


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
