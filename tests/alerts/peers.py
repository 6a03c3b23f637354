"""Real peers for the alerting tests: Debian's Alertmanager on loopback and a webhook receiver.

`webhook_config` turns the shipped Alertmanager configuration into a test copy: the routing tree and the
inhibit rules stay exactly as shipped (they are what is under test); only the receivers (every one
becomes a webhook to the test's receiver, at ``/<receiver name>``) and the timers change.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support import free_port, http_get, require_binary, stop_process, wait_until


@dataclass
class Notification:
    receiver: str
    received: float
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def alerts(self, status: str | None = None, **labels: str) -> list[dict[str, Any]]:
        """Alerts in this notification with ``status`` (firing|resolved) and all of ``labels``."""
        return [a for a in self.body["alerts"]
                if (status is None or a["status"] == status)
                and all(a["labels"].get(k) == v for k, v in labels.items())]


@dataclass
class Webhook:
    """Every notification Alertmanager posted, in arrival order."""

    url: str
    notifications: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self, status: str | None = None, **labels: str) -> list[tuple[Notification, dict[str, Any]]]:
        with self.lock:
            return [(n, a) for n in self.notifications for a in n.alerts(status, **labels)]

    def wait_for(self, timeout: float, status: str, **labels: str) -> tuple[Notification, dict[str, Any]]:
        return wait_until(lambda: next(iter(self.matching(status, **labels)), None), timeout,
                          f"a {status} notification for {labels}")


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    hook = Webhook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with hook.lock:
                hook.notifications.append(Notification(self.path.strip("/"), time.time(), body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def webhook_config(config: dict[str, Any], webhook: str, group_wait: str = "1s",
                group_interval: str = "2s", repeat_interval: str = "1h", retime: bool = True) -> dict[str, Any]:
    """The shipped config with webhook receivers and (unless not ``retime``) short timers; routes and
    inhibitions untouched."""
    out = copy.deepcopy(config)
    out["global"] = {"resolve_timeout": "5m"}
    out["receivers"] = [{"name": r["name"], "webhook_configs": [
        {"url": f"{webhook}/{r['name']}", "send_resolved": True, "max_alerts": 0}]} for r in config["receivers"]]

    def _retime(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", group_wait), ("group_interval", group_interval),
                           ("repeat_interval", repeat_interval)):
            if key in route or route is out["route"]:
                route[key] = value
        for child in route.get("routes", []):
            _retime(child)

    if retime:
        _retime(out["route"])
    return out


@dataclass
class Alertmanager:
    url: str

    def post(self, *alerts: dict[str, Any]) -> None:
        req = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(list(alerts)).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Alertmanager's view, including inhibited/silenced alerts (their ``status.state`` says so)."""
        _, body = http_get(f"{self.url}/api/v2/alerts")
        return [a for a in json.loads(body) if all(a["labels"].get(k) == v for k, v in labels.items())]


@contextmanager
def alertmanager(tmp: Path, config: dict[str, Any]) -> Iterator[Alertmanager]:
    """Debian's Alertmanager with ``config``, on loopback, no cluster listener."""
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    cfg = tmp / f"alertmanager-{port}.yml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True))
    log = tmp / f"alertmanager-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.path={tmp / f'am-{port}'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"alertmanager exited:\n{log.read_text()}")
            return http_get(f"{url}/-/ready", timeout=1)[0] == 200
        wait_until(ready, 30, "alertmanager /-/ready")
        yield Alertmanager(url)
    finally:
        stop_process(proc)


def alert(**labels: str) -> dict[str, Any]:
    """An alert as Prometheus posts it, firing for a minute (for tests that drive Alertmanager directly)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    return {"labels": labels, "annotations": {"summary": labels.get("alertname", "")}, "startsAt": stamp}
