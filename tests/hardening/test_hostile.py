"""Hostile targets, all at once in one `netmon run`: each fails only its own check, within its deadline,
with its own reason, while a healthy check next to them keeps answering fast."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.netmon.test_service import write_inventory
from tests.support import http_server, netmon_run, tcp_listener, wait_until

TIMEOUT = 1.5
GRACE = 0.25  # netmon.runner.GRACE_SECONDS: the backstop after a probe's own timeout


@contextmanager
def hostile(behaviour: Callable[[socket.socket, int], None]) -> Iterator[int]:
    """A loopback TCP server running ``behaviour(conn, port)`` per connection in its own thread."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the prober hanging up is expected
            behaviour(conn, port)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield port
    finally:
        stop.set()
        server.close()


def trickle(conn: socket.socket, port: int) -> None:
    conn.recv(4096)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        conn.sendall(bytes([byte]))
        time.sleep(1.0)  # the hostile peer's pace, not synchronisation


def gigabyte(conn: socket.socket, port: int) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
    chunk = b"\0" * 65536
    for _ in range(1_000_000_000 // len(chunk)):
        conn.sendall(chunk)


def not_tls(conn: socket.socket, port: int) -> None:
    conn.recv(4096)  # the ClientHello
    conn.sendall(b"\x16\x03\x01\x00\x05garbage that is not a TLS record" * 4)


def redirect_loop(conn: socket.socket, port: int) -> None:
    while conn.recv(4096):
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/again\r\n"
                     "Content-Length: 0\r\n\r\n".encode())


@contextmanager
def silent_udp() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.mark.slow
def test_each_hostile_target_fails_only_its_own_check_within_its_deadline(tmp_path: Path) -> None:
    with ExitStack() as stack:
        never = stack.enter_context(tcp_listener())
        ports = {name: stack.enter_context(hostile(fn)) for name, fn in
                 (("trickle", trickle), ("gigabyte", gigabyte), ("bad-tls", not_tls), ("loop", redirect_loop))}
        dns = stack.enter_context(silent_udp())
        healthy = stack.enter_context(http_server(200))
        checks = [
            f"{{id: never, probe: http, target: 'http://127.0.0.1:{never}/'}}",
            f"{{id: trickle, probe: http, target: 'http://127.0.0.1:{ports['trickle']}/'}}",
            f"{{id: gigabyte, probe: http, target: 'http://127.0.0.1:{ports['gigabyte']}/'}}",
            f"{{id: bad-tls, probe: http, target: 'https://127.0.0.1:{ports['bad-tls']}/'}}",
            f"{{id: loop, probe: http, target: 'http://127.0.0.1:{ports['loop']}/'}}",
            f"{{id: dns-silent, probe: dns, target: 127.0.0.1, port: {dns}, name: portal.example}}",
            f"{{id: healthy, probe: http, target: '{healthy}'}}",
        ]
        config = write_inventory(tmp_path / "inv.yaml", checks, [], interval="2s", timeout=f"{TIMEOUT}s")
        with netmon_run(config, tmp_path, "--no-history") as netmon:
            def runs() -> dict[str, float]:
                return {labels["check"]: v for labels, v in netmon.samples("netmon_probe_last_run_timestamp_seconds")}
            first = wait_until(lambda: runs() if len(runs()) == len(checks) else None, 20, "every check to run")
            wait_until(lambda: all(t >= first[k] + 4 for k, t in runs().items()), 20,
                       "every check to run two more times")
            success = {labels["check"]: v for labels, v in netmon.samples("netmon_probe_success")}
            duration = {labels["check"]: v for labels, v in netmon.samples("netmon_probe_duration_seconds")}
            reasons = {labels["check"]: labels["reason"] for labels, _ in netmon.samples("netmon_probe_failures_total")}
            log = netmon.log.read_text()
    assert success == {"never": 0, "trickle": 0, "gigabyte": 0, "bad-tls": 0, "loop": 0, "dns-silent": 0,
                       "healthy": 1}, reasons
    assert "healthy" not in reasons
    assert reasons["never"] == reasons["trickle"] == reasons["dns-silent"] == "timeout"
    assert reasons["bad-tls"] == "tls"
    assert reasons["loop"] == "too_many_redirects"
    assert reasons["gigabyte"] == "too_large"  # stops reading at max_body_bytes, long before 1 GB
    for check, seconds in duration.items():
        assert seconds <= TIMEOUT + GRACE, (check, seconds)
    assert duration["healthy"] < 0.5
    assert "Traceback" not in log
