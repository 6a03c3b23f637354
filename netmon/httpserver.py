"""The HTTP endpoints of `netmon run`: /metrics, /-/healthy, /-/reload.

The server runs in its own thread so that rendering /metrics for thousands of checks never blocks
the event loop that times packets. A reload requested over HTTP is handed to the loop and awaited.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger("netmon.http")

ReloadFn = Callable[[], Coroutine[Any, Any, tuple[bool, str]]]


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:9813``, ``[::1]:9813`` or ``:9813`` (loopback) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {value!r} must look like 127.0.0.1:9813")
    return (host.strip("[]") or "127.0.0.1"), int(port)


class MetricsServer:
    def __init__(self, listen: str, registry: CollectorRegistry, reload: ReloadFn,
                 loop: asyncio.AbstractEventLoop):
        host, port = parse_listen(listen)
        handler = _handler(registry, reload, loop)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        attrs = {"daemon_threads": True, "address_family": family}
        server_class = type("Server", (ThreadingHTTPServer,), attrs)
        self._server = server_class((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, reload: ReloadFn, loop: asyncio.AbstractEventLoop) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, encoder(registry), content_type)
            elif path == "/-/healthy":
                self._reply(200, b"OK\n")
            elif path == "/":
                self._reply(200, b'<html><body><h1>sonla-netmon</h1><a href="/metrics">metrics</a>'
                            b"</body></html>\n", "text/html; charset=utf-8")
            else:
                self._reply(404, b"not found\n")

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/-/reload":
                self._reply(404, b"not found\n")
                return
            future = asyncio.run_coroutine_threadsafe(reload(), loop)
            ok, message = future.result(timeout=60)
            self._reply(200 if ok else 500, (message + "\n").encode())

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
