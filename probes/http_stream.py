"""The http probe's network layer for httpcore: sockets that hand on the kernel's arrival stamps.

httpx reads through httpcore and anyio's asyncio transport, which reads with ``recv``: what arrives is
known only when the event loop gets round to reading it, and a loop busy with other checks made a fast
server read slow. httpcore takes a pluggable network backend (``network_backend=`` on its connection
pool); this one gives it streams over non-blocking sockets of ours, read with ``recvmsg`` and
``SO_TIMESTAMPNS`` (`probes.arrival`), doing TLS itself over `ssl.MemoryBIO` so that even encrypted
bytes keep the stamp of the segments that brought them.

A stream reports to a `Listener` (the probe's timeline): `Listener.sending` right before bytes go to the
socket, `Listener.arrived` with the kernel's stamp (None where it gave none) after every read that
brought bytes. What a phase is made of is the listener's business. The backend also resolves the name
itself (the ``dns`` phase) and reports the handshake as the kernel measured it (``connect``,
`tcp.connect_seconds`).

Errors are raised as httpcore's own (``ConnectError``, ``ReadTimeout`` …) with the original as their
cause, as httpcore's anyio backend does, so `tcp.connect_failure` still finds an untrusted certificate
or a refused connection behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

import httpcore

from probes import arrival, tcp

#: As much as a socket read takes at once; httpcore asks the stream for 64 KiB.
_READ = 65536

T = TypeVar("T")


class Listener(Protocol):
    """What the streams tell the probe's timeline."""

    def add(self, phase: str, seconds: float) -> None:
        """``seconds`` more of ``phase`` (``dns``, ``connect``)."""

    def sending(self) -> None:
        """Bytes are about to be written to the socket."""

    def arrived(self, stamp_ns: int | None) -> None:
        """A read brought bytes; ``stamp_ns`` is the kernel's arrival stamp of its last segment."""


@contextlib.contextmanager
def _mapped(timeout: type[Exception], error: type[Exception]) -> Iterator[None]:
    """Timeouts as ``timeout``, socket and TLS errors as ``error``, each caused by the original."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout(str(exc) or "timed out") from exc
    except OSError as exc:  # ssl.SSLError is an OSError
        raise error(str(exc)) from exc


class StampedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host (timed, as ``dns``), connects to its first address (``connect``) and returns a
    `_SocketStream` that reports to ``listener``."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The pool the http probe builds sets neither a local address nor socket options.
        assert local_address is None and not socket_options
        begin = time.perf_counter()
        try:
            family, address = (await tcp.resolve(host, port))[0]
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        connect_start = time.perf_counter()
        self._listener.add("dns", connect_start - begin)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio's own transports do
            arrival.stamp_arrivals(sock)
            with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except BaseException:
            sock.close()
            raise
        self._listener.add("connect", tcp.connect_seconds(sock, time.perf_counter() - connect_start))
        return _SocketStream(sock, self._listener)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _SocketStream(httpcore.AsyncNetworkStream):
    """A connected TCP socket: plain HTTP, and the carrier of `_TlsStream`."""

    def __init__(self, sock: socket.socket, listener: Listener) -> None:
        self._sock = sock
        self._listener = listener

    async def receive(self, size: int) -> bytes:
        """Up to ``size`` bytes, reporting their arrival; b"" at the end of the stream."""
        data, stamp, _ = await arrival.receive(self._sock, size)
        if data:
            self._listener.arrived(stamp)
        return data

    async def send(self, data: bytes) -> None:
        self._listener.sending()
        await asyncio.get_running_loop().sock_sendall(self._sock, data)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self.receive(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
                async with asyncio.timeout(timeout):
                    await self.send(buffer)

    async def aclose(self) -> None:
        self._sock.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """The handshake over memory buffers; the certificate is checked by ``ssl_context`` as with any
        TLS socket (hostname included, since ``server_hostname`` is passed on)."""
        stream = _TlsStream(self, ssl_context, server_hostname)
        try:
            with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    await stream.call(stream.ssl_object.do_handshake)
        except BaseException:
            self._sock.close()
            raise
        return stream

    def get_extra_info(self, info: str) -> Any:
        return self._sock if info == "socket" else None


class _TlsStream(httpcore.AsyncNetworkStream):
    """TLS over a `_SocketStream`: records travel through memory buffers, the socket reads stay ours.

    Each socket read is reported as it returns, before its bytes are decrypted: a record split over
    segments arrived with its last segment, and a TLS 1.3 session ticket is an arrival like any other —
    the listener decides which arrival ends a phase (for the response, the read that completed its
    headers).
    """

    def __init__(self, carrier: _SocketStream, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self._carrier = carrier
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.ssl_object = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """``method`` of the SSL object, feeding it from the socket until it stops asking for more, and
        sending whatever it produced (as anyio's TLS stream does)."""
        while True:
            try:
                result = method(*args)
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self._carrier.receive(_READ)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()  # the SSL object then raises SSLEOFError or ends cleanly
            else:
                await self._flush()
                return result

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            await self._carrier.send(pending)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                try:
                    return await self.call(self.ssl_object.read, max_bytes)
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    # With or without close_notify, the end of the stream (a server that just closes
                    # after a Content-Length or close-delimited body is common); h11 decides if it was early.
                    return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
                async with asyncio.timeout(timeout):
                    await self.call(self.ssl_object.write, buffer)

    async def aclose(self) -> None:
        await self._carrier.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError("TLS inside TLS is for HTTPS proxies; the http probe uses none")

    def get_extra_info(self, info: str) -> Any:
        return self.ssl_object if info == "ssl_object" else self._carrier.get_extra_info(info)
