"""Real peers for tests: a `netmon run` process, Debian's Prometheus and Alertmanager, on loopback.

Readiness is awaited through each program's own readiness endpoint, never with a fixed sleep.
Every process is started by us and stopped by its PID.
"""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def http_post(url: str, data: bytes = b"", timeout: float = 60.0) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:
            last_exc = exc
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc})")


def young_growth(action: Callable[[], object]) -> int:
    """How many GC-tracked objects ``action`` leaves in generation 0, with the collector off while it
    runs: what a young collection would walk because of it (a sink's per-run state should leave none:
    `exporters.packed`)."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects(0))
        action()
        return len(gc.get_objects(0)) - before
    finally:
        if enabled:
            gc.enable()


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, as systemd stops the service; SIGKILL only if it has not ended within ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class NetmonProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def metrics(self) -> str:
        return http_get(f"{self.url}/metrics")[1]

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """All samples of metric ``name`` in the current exposition."""
        from prometheus_client.parser import text_string_to_metric_families

        out = []
        for family in text_string_to_metric_families(self.metrics()):
            for s in family.samples:
                if s.name == name:
                    out.append((dict(s.labels), float(s.value)))
        return out


@contextmanager
def netmon_run(config: Path, tmp: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[NetmonProcess]:
    """Start ``netmon run`` on a free loopback port; yield once /-/healthy answers."""
    port = free_port()
    log = tmp / f"netmon-{port}.log"
    cmd = [sys.executable, "-m", "netmon.cli", "run", "--config", str(config),
           "--listen", f"127.0.0.1:{port}", *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"netmon exited with {proc.returncode}:\n{log.read_text()}")
            return http_get(f"{url}/-/healthy", timeout=1)[0] == 200
        wait_until(healthy, 30, "netmon /-/healthy")
        yield NetmonProcess(proc, url, log)
    finally:
        stop_process(proc)


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = str(at)
        _status, body = http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")
        data = json.loads(body)
        if data.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {body}")
        return list(data["data"]["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        _status, body = http_get(f"{self.url}/api/v1/query_range?{urllib.parse.urlencode(params)}")
        data = json.loads(body)
        if data.get("status") != "success":
            raise AssertionError(f"query_range {expr!r} failed: {body}")
        return list(data["data"]["result"])


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed; `make test` installs it (apt-get)")
    return path


def scrape(prom: Prometheus, tmp: Path, target: str) -> None:
    """Point a running Prometheus (started in ``tmp``) at a netmon started after it — a central netmon
    with agents needs the Prometheus write URL before it starts."""
    port = prom.url.rsplit(":", 1)[1]
    path = tmp / f"prometheus-{port}.yml"
    config = yaml.safe_load(path.read_text())
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    path.write_text(yaml.safe_dump(config))
    assert http_post(f"{prom.url}/-/reload")[0] == 200


@contextmanager
def prometheus(tmp: Path, targets: list[str], scrape_interval: str = "1s",
               rule_files: list[Path] | None = None, alertmanager: str | None = None,
               evaluation_interval: str = "1s", remote_write: bool = False) -> Iterator[Prometheus]:
    """Debian's Prometheus scraping ``targets`` (host:port) on loopback with temp storage.

    ``remote_write`` turns on its remote-write receiver with a 7-day out-of-order window (edge agents'
    back-fill, tests/agent)."""
    binary = require_binary("prometheus")
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "scrape_configs": [{"job_name": "netmon", "static_configs": [{"targets": targets}]}],
    }
    if rule_files:
        config["rule_files"] = [str(p) for p in rule_files]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    if remote_write:
        config["storage"] = {"tsdb": {"out_of_order_time_window": "7d"}}
    cfg = tmp / f"prometheus-{port}.yml"
    cfg.write_text(yaml.safe_dump(config))
    log = tmp / f"prometheus-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / f'tsdb-{port}'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
             *(["--web.enable-remote-write-receiver"] if remote_write else [])],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{log.read_text()}")
            return http_get(f"{url}/-/ready", timeout=1)[0] == 200
        wait_until(ready, 30, "prometheus /-/ready")
        yield Prometheus(proc, url)
    finally:
        stop_process(proc)


@contextmanager
def http_server(status: int = 200, hang: bool = False) -> Iterator[str]:
    """A threaded loopback HTTP server answering ``status`` — or accepting and never answering."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if hang:
                release.wait()
                return
            body = b"ok\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def tcp_listener(host: str = "127.0.0.1") -> Iterator[int]:
    """A listening loopback TCP port (the kernel completes handshakes; nobody needs to accept)."""
    with socket.socket() as s:
        s.bind((host, 0))
        s.listen(128)
        yield int(s.getsockname()[1])


def binomial_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central ``level`` interval of Binomial(n, p) counts, from the exact distribution: the bound a
    statistical test of injected loss holds its count to (never widened to pass)."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    tail = (1 - level) / 2
    low, acc = 0, 0.0
    while acc + pmf[low] < tail:
        acc += pmf[low]
        low += 1
    high, acc = n, 0.0
    while acc + pmf[high] < tail:
        acc += pmf[high]
        high -= 1
    return low, high
