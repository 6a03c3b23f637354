"""The HTTP endpoints of `netmon run`: /metrics, /-/healthy, /-/reload.

The server runs in its own thread so that rendering /metrics for thousands of checks never blocks
the event loop that times packets. A reload requested over HTTP is handed to the loop and awaited.
With a web-config (`netmon.webconfig`) every endpoint needs TLS and/or basic auth; the TLS handshake
runs in the connection's own thread with a timeout, so a client that stalls it holds only itself.

/metrics negotiates its format: a client that accepts the text format (Prometheus lists it after
OpenMetrics in its Accept header; curl and browsers send */*) gets the service's fast text renderer,
written chunk by chunk without building one 100 MB string; a client that accepts only OpenMetrics
gets prometheus_client's generic encoder. Both honour ``name[]`` (only the families with those sample
names, as prometheus_client's own handler does) and ``Accept-Encoding: gzip`` (20,000 checks are about
100 MB of text, ~17× less compressed: an agent scraped over VSAT needs it).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import ssl
import sys
import threading
import zlib
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder

from exporters.prometheus import Restricted
from netmon import i18n, oswording
from netmon.webconfig import WebConfig
from probes.errors import NetmonError

log = logging.getLogger("netmon.http")

ReloadFn = Callable[[], Coroutine[Any, Any, tuple[bool, str]]]
#: Renders the exposition in text format 0.0.4 (only the families with the given sample names, if any),
#: as chunks to write in order.
TextFn = Callable[[Collection[str] | None], Sequence[bytes]]
ProblemsFn = Callable[[], list[str]]

#: Chunks joined per write (and per gzip call): 4,096 exposition lines are ~0.6 MB. Joined by count,
#: with C-level slices and joins: the per-chunk Python loop this replaced held the GIL through
#: 650,000 chunks at 50,000 checks, and gzip released and retook it once per chunk, while the event
#: loop waited (issue 16: scrape time and lag at 50,000 checks).
WRITE_CHUNKS = 4096
#: Seconds a connection may stall (TLS handshake, request line, headers) before it is dropped.
CONNECTION_TIMEOUT = 30.0


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:9813``, ``[::1]:9813`` or ``:9813`` (loopback) → (host, port); `ListenError` else."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ListenError(value)
    return (host.strip("[]") or "127.0.0.1"), int(port)


class ListenError(NetmonError):
    """The listen address is malformed (no ``exc``) or cannot be bound: one line naming it, the cause and
    what to do."""

    def __init__(self, listen: str, exc: OSError | None = None):
        language = i18n.lang()
        if exc is None:
            super().__init__(i18n.text(_LISTEN_TEXT, "form", language, listen=listen))
            return
        busy = exc.errno == errno.EADDRINUSE
        super().__init__(i18n.text(_LISTEN_TEXT, "busy" if busy else "other", language, listen=listen,
                                   error=oswording.error(exc, language)))


_LISTEN_TEXT = {
    "busy": ("cannot listen on {listen}: {error} — another netmon (or a demo) is probably serving there: "
             "stop it, or choose another port with --listen 127.0.0.1:PORT",
             "không mở được cổng {listen}: {error} — có thể một netmon khác (hoặc bản demo) đang chạy ở đó: "
             "dừng nó, hoặc chọn cổng khác với --listen 127.0.0.1:PORT"),
    "other": ("cannot listen on {listen}: {error}", "không mở được cổng {listen}: {error}"),
    "form": ("listen address {listen!r} must look like 127.0.0.1:9813 (a port from 0 to 65535)",
             "địa chỉ nghe {listen!r} phải có dạng 127.0.0.1:9813 (cổng từ 0 đến 65535)"),
}


def check_listen(listen: str) -> None:
    """Raise `ListenError` now if ``listen`` cannot be bound, before anything slow is started (the demo
    builds a whole province first). Binds as the server will (SO_REUSEADDR) and lets go at once."""
    host, port = parse_listen(listen)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ListenError(listen, exc) from None


def accepts_text(accept: str) -> bool:
    """Whether text format 0.0.4 is acceptable: no Accept header, ``*/*``, or a ``text/plain`` entry."""
    if not accept.strip():
        return True
    for entry in accept.split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params):
            continue
        version = next((p.split("=", 1)[1] for p in params if p.startswith("version=")), "0.0.4")
        if media in ("*/*", "text/*") or (media == "text/plain" and version in ("0.0.4", "1.0.0")):
            return True
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` lists gzip (or ``*``) without ``q=0``."""
    for entry in accept_encoding.split(","):
        coding, *params = (part.strip() for part in entry.split(";"))
        refused = any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params)
        if coding.lower() in ("gzip", "*") and not refused:
            return True
    return False


def batches(chunks: Sequence[bytes]) -> Iterator[bytes]:
    """``chunks`` joined `WRITE_CHUNKS` at a time, in order (never the whole 100 MB at once)."""
    for start in range(0, len(chunks), WRITE_CHUNKS):
        yield b"".join(chunks[start:start + WRITE_CHUNKS])


def gzip_chunks(chunks: Sequence[bytes]) -> list[bytes]:
    """One gzip stream over ``chunks``, compressed a batch at a time. Level 1: on 100 MB of exposition
    the higher levels cost seconds of CPU for a few percent."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    out = [packer.compress(batch) for batch in batches(chunks)]
    out.append(packer.flush())
    return [c for c in out if c]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; anything else (0.0.0.0, a LAN address) is exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpListener:
    """An HTTP(S) server on ``listen`` in its own thread, one more thread per connection: the one home of
    the server wiring shared by /metrics and the agents' endpoint. The address family follows the host;
    a port that cannot be bound is a one-line `ListenError`; with a TLS ``context`` the handshake runs
    in the connection's own thread (`Handler`), so a client that stalls it holds only itself; a client
    that drops is a debug line, not a traceback."""

    def __init__(self, listen: str, handler: type[BaseHTTPRequestHandler], name: str,
                 context: ssl.SSLContext | None = None):
        host, port = parse_listen(listen)
        attrs = {"daemon_threads": True, "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET,
                 "get_request": _tls_get_request(context) if context else ThreadingHTTPServer.get_request,
                 "handle_error": _log_connection_error}
        server_class = type("Server", (ThreadingHTTPServer,), attrs)
        try:
            self._server = server_class((host, port), handler)
        except OSError as exc:
            raise ListenError(listen, exc) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Handler(BaseHTTPRequestHandler):
    """What every endpoint's handler shares: the stall timeout, the TLS handshake, debug logging."""

    timeout = CONNECTION_TIMEOUT

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class MetricsServer(HttpListener):
    def __init__(self, listen: str, registry: CollectorRegistry, reload: ReloadFn,
                 loop: asyncio.AbstractEventLoop, web: WebConfig | None = None,
                 enable_reload: bool | None = None, text: TextFn | None = None,
                 problems: ProblemsFn | None = None):
        if enable_reload is None:  # reconfiguring the prober is an admin act: loopback only by default
            enable_reload = is_loopback(parse_listen(listen)[0])
        handler = _handler(registry, reload if enable_reload else None, loop, web, text, problems)
        super().__init__(listen, handler, "metrics-http", web.ssl_context() if web else None)


def _tls_get_request(context: ssl.SSLContext) -> Callable[[Any], tuple[socket.socket, Any]]:
    def get_request(server: Any) -> tuple[socket.socket, Any]:
        sock, address = server.socket.accept()
        # No handshake in the accept loop: one stalled client must not block every other scrape.
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address
    return get_request


def _log_connection_error(server: Any, request: Any, client_address: Any) -> None:
    """Failed handshakes and dropped clients are the client's problem: one debug line, no traceback."""
    log.debug("connection from %s failed: %s", client_address, sys.exc_info()[1])


def _handler(registry: CollectorRegistry, reload: ReloadFn | None, loop: asyncio.AbstractEventLoop,
             web: WebConfig | None, text: TextFn | None = None, problems: ProblemsFn | None = None) -> type:
    class MetricsHandler(Handler):
        head = False

        def _allowed(self) -> bool:
            if web is None or web.authorized(self.headers.get("Authorization")):
                return True
            body = b"Unauthorized\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="netmon"')
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return False

        def do_GET(self) -> None:
            if not self._allowed():
                return
            path, _, query = self.path.partition("?")
            accept = self.headers.get("Accept", "")
            names = parse_qs(query).get("name[]")
            if path == "/metrics" and text is not None and accepts_text(accept):
                self._reply_chunks(200, text(names), CONTENT_TYPE_PLAIN_0_0_4, compress=True)
            elif path == "/metrics":
                encoder, content_type = choose_encoder(accept)
                chosen = Restricted(registry, names) if names else registry
                self._reply_chunks(200, [encoder(chosen)], content_type, compress=True)
            elif path == "/-/healthy":
                # 200 while probing works (a supervisor must not restart netmon over a damaged history
                # store); what an operator must fix is listed after "OK".
                found = problems() if problems else []
                self._reply(200, "".join(f"{line}\n" for line in ["OK", *found]).encode())
            elif path == "/":
                self._reply(200, b'<html><body><h1>sonla-netmon</h1><a href="/metrics">metrics</a>'
                            b"</body></html>\n", "text/html; charset=utf-8")
            else:
                self._reply(404, b"not found\n")

        def do_HEAD(self) -> None:
            """What GET would answer, headers only (Content-Length included), as RFC 9110 asks."""
            self.head = True
            self.do_GET()

        def do_POST(self) -> None:
            if not self._allowed():
                return
            if self.path.split("?", 1)[0] != "/-/reload":
                self._reply(404, b"not found\n")
                return
            if reload is None:
                self._reply(403, b"reload over HTTP is disabled on a non-loopback listen address; "
                                 b"send SIGHUP or start with --enable-reload\n")
                return
            future = asyncio.run_coroutine_threadsafe(reload(), loop)
            ok, message = future.result(timeout=60)
            self._reply(200 if ok else 500, (message + "\n").encode())

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self._reply_chunks(status, [body], content_type)

        def _reply_chunks(self, status: int, chunks: Sequence[bytes], content_type: str,
                          compress: bool = False) -> None:
            gzipped = compress and accepts_gzip(self.headers.get("Accept-Encoding", ""))
            if gzipped:
                chunks = gzip_chunks(chunks)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(sum(map(len, chunks))))
            for name, value in (web.headers.items() if web else ()):
                self.send_header(name, value)
            self.end_headers()
            if self.head:
                return
            for batch in batches(chunks):  # the socket writer is unbuffered: not a syscall per chunk
                self.wfile.write(batch)

    return MetricsHandler
