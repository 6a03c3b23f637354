"""A compression bomb in an HTTP answer: every decoding step is bounded by the check's body limit.

``Content-Encoding: gzip, gzip`` lets 2 kB on the wire expand to 1 MB, then to 1 GiB in one step; httpx decodes
each layer without a size bound. Under an address-space limit well below that, `netmon run` must keep
running and call the check ``too_large``.
"""

from __future__ import annotations

import socket
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from probes import base, http
from probes.base import Check
from tests.hardening.peers import netmon_secure
from tests.hardening.test_hostile import hostile
from tests.netmon.test_service import write_inventory
from tests.support import http_server, wait_until

#: netmon's own address space is capped well below what the bomb expands to (1 GiB).
MEMORY_LIMIT = 768 << 20


def stacked_gzip(size: int) -> bytes:
    """``size`` zero bytes gzipped twice: ~1 MB after the first layer, ~2 kB on the wire."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    layer = b"".join(inner.compress(chunk) for _ in range(size // len(chunk))) + inner.flush()
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return outer.compress(layer) + outer.flush()


@pytest.mark.slow
def test_stacked_gzip_bomb_is_too_large_not_fatal(tmp_path: Path) -> None:
    body = stacked_gzip(1 << 30)

    def bomb(conn: socket.socket, port: int) -> None:
        while conn.recv(4096):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with hostile(bomb) as port, http_server(200) as healthy:
        config = write_inventory(tmp_path / "inv.yaml", [
            f"{{id: bomb, probe: http, target: 'http://127.0.0.1:{port}/'}}",
            f"{{id: healthy, probe: http, target: '{healthy}'}}"], [], interval="2s")
        with netmon_secure(config, tmp_path, None, wrapper=("prlimit", f"--as={MEMORY_LIMIT}")) as netmon:
            def reasons() -> dict[str, str]:
                assert netmon.proc.poll() is None, netmon.log.read_text()
                return {labels["check"]: labels["reason"]
                        for labels, _ in netmon.samples("netmon_probe_failures_total")}
            got = wait_until(lambda: reasons().get("bomb"), 20, "the bomb check to fail")

            def success() -> dict[str, float]:
                return {labels["check"]: v for labels, v in netmon.samples("netmon_probe_success")}
            again = wait_until(lambda: success() if len(success()) == 2 else None, 20, "both checks to run")
            log = netmon.log.read_text()
    assert got == "too_large", log
    assert again == {"bomb": 0, "healthy": 1}
    assert "MemoryError" not in log and "Traceback" not in log


@pytest.mark.parametrize(("coding", "wire"), [
    ("gzip", lambda b: zlib.compress(b, wbits=31)),
    ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
    ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw, as some servers send it
    ("gzip, gzip", lambda b: zlib.compress(zlib.compress(b, wbits=31), wbits=31)),
    ("identity", lambda b: b),
])
async def test_honest_encodings_still_decode(coding: str, wire: Callable[[bytes], bytes]) -> None:
    text = "Cổng dịch vụ công: OK " * 200
    body = wire(text.encode())

    def serve(conn: socket.socket, port: int) -> None:
        conn.recv(4096)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    with hostile(serve) as port:
        options = base.options(http.HttpOptions, {"body_match": "dịch vụ công: OK", "max_body_bytes": 10_000})
        result = await http.run(Check(site="t", id="web", probe="http", target=f"http://127.0.0.1:{port}/",
                                      options=options, timeout=3))
    assert result.success, result.error
    assert result.value(http.RESPONSE_BYTES) == len(text.encode())


async def test_a_layer_past_the_limit_is_too_large() -> None:
    body = zlib.compress(b"x" * 20_000, wbits=31)

    def serve(conn: socket.socket, port: int) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with hostile(serve) as port:
        options = base.options(http.HttpOptions, {"max_body_bytes": 10_000})
        result = await http.run(Check(site="t", id="web", probe="http", target=f"http://127.0.0.1:{port}/",
                                      options=options, timeout=3))
    assert not result.success and result.reason == "too_large", result.error
