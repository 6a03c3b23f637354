"""The demo's own Prometheus: the shipped rules evaluated on the demo's netmon, so the board can show
the alerts a province running netmon would get — the real rules, not a guess at them.

Started only when Debian's ``prometheus`` binary is there (`make demo` installs it) and the rule files
are next to the code (a repository checkout); otherwise the board says alerts are not shown. It listens
on a free loopback port, keeps its data in a temporary directory, and is stopped with the demo.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ALERTS = Path(__file__).resolve().parents[1] / "alerts"
#: How long Prometheus may take to answer /-/ready before the demo goes on without alerts.
READY_WITHIN = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus(target: str) -> Iterator[str | None]:
    """A Prometheus scraping ``target`` (host:port) every 5 s with the shipped rules; yields its URL,
    or None when it cannot run here."""
    binary = shutil.which("prometheus")
    rules = sorted(str(p) for p in (*ALERTS.glob("*.rules.yml"), *ALERTS.glob("generated/*.rules.yml")))
    if binary is None or not rules:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="netmon-demo-prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
            "rule_files": rules,
            "scrape_configs": [{"job_name": "netmon", "static_configs": [{"targets": [target]}]}]}))
        url = f"http://127.0.0.1:{_free_port()}"
        with (Path(tmp) / "prometheus.log").open("wb") as log:
            proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                                     f"--web.listen-address={url.removeprefix('http://')}"],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            yield url if _ready(url, proc) else None
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ready(url: str, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def alerts(url: str) -> list[tuple[str, str, str]]:
    """(alert name, where — the center's or hub's name, else its site or check —, state) of every
    pending or firing alert, firing first."""
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=2) as answer:
        found = json.load(answer)["data"]["alerts"]
    out = [(a["labels"].get("alertname", "?"),
            a["labels"].get("name") or a["labels"].get("site") or a["labels"].get("check", ""),
            a["state"]) for a in found]
    return sorted(out, key=lambda a: (a[2] != "firing", a[0], a[1]))
