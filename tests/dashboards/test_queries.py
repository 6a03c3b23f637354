"""Every query of every panel, run on Debian's Prometheus after it scraped a real `netmon run`.

netmon probes a loopback inventory (tests/fixtures/dashboards/inventory.yaml): ICMP to 127.0.x.y, TCP
to a listener and to a closed port, HTTPS to a local server with a test CA, SNMP to snmpsim replaying
a UPS on battery and a Teltonika 4G router (system, if-mib, host-resources, ups-mib, lte-teltonika).
chieng-mung has an edge agent (`netmon agent run`, its checks from the same inventory) delivering to
`netmon run --agents` over HTTPS, whose results reach Prometheus by remote-write (the site dashboard's
agent panels). Prometheus loads the
repository's rules (alerts/*.rules.yml, group intervals removed so the 10-minute availability group
evaluates every second) plus one test alert. A panel whose query returns nothing fails with the
dashboard and panel title. Panels reading only what no check of the test inventory can produce would
be skipped with the families named; today every family is produced.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

import pytest
import yaml

from netmon.agent.config import new_credential
from netmon.dashboards import load_all
from netmon.dashboards.site import SECURE_STATE
from tests.collectors.agents import SNMP_FIXTURES, snmpsim
from tests.dashboards.promql import contract, metric_names, substitute, variable_queries
from tests.hardening.peers import self_signed
from tests.probes.peers import make_ca, make_leaf
from tests.support import ROOT, Prometheus, free_port, netmon_run, prometheus, scrape, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

FIXTURES = ROOT / "tests" / "fixtures" / "dashboards"
BOARDS = load_all(ROOT / "dashboards", ("en",))  # the Vietnamese twins run the same queries (test_json)
#: Probes with at least one check in the test inventory; "core", rules and Prometheus always produce.
PRODUCED = {"icmp", "tcp", "http", "snmp", "core", "agent", "recording rule", "prometheus"}
#: snmpsim serves each recording under its file stem as community.
RECORDINGS = {"NETMON_DASHBOARD_UPS": "ups-on-battery", "NETMON_DASHBOARD_LTE": "lte-router"}
VALUES = {"site": "chieng-mung", "district": "Huyện Mai Sơn", "link_type": "fiber", "isp": "VNPT"}
PANELS = [(b, p) for b in BOARDS for p in b["panels"]]


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"qlvb ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    ca, ca_key = make_ca(directory)
    leaf = make_leaf(directory, ca, ca_key, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.cert_file, leaf.key_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], ca.cert_file
    finally:
        server.shutdown()
        server.server_close()


def _rules(tmp: Path) -> list[Path]:
    """The rule files config/prometheus.yml loads, group intervals removed, plus the test alert."""
    out = [FIXTURES / "test.rules.yml"]
    globs = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())["rule_files"]
    for path in sorted(p for pattern in globs for p in ROOT.glob(pattern)):
        doc = yaml.safe_load(path.read_text())
        for group in doc.get("groups", []):
            group.pop("interval", None)
        copy = tmp / f"{path.parent.name}-{path.name}"
        copy.write_text(yaml.safe_dump(doc, allow_unicode=True))
        out.append(copy)
    return out


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory, https_server: tuple[int, Path]) -> Iterator[Prometheus]:
    tmp = tmp_path_factory.mktemp("dashboards")
    https_port, ca_file = https_server
    listener = socket.create_server(("127.0.2.1", 0))
    config = tmp / "inventory.yaml"
    recordings = [SNMP_FIXTURES / f"{stem}.snmprec" for stem in RECORDINGS.values()]
    try:
        with snmpsim(tmp, recordings) as snmp_port:
            config.write_text(Template((FIXTURES / "inventory.yaml").read_text()).substitute(
                https_port=https_port, ca_file=ca_file, tcp_port=listener.getsockname()[1],
                closed_port=free_port(), snmp_port=snmp_port,
                meeting_start=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=8)).isoformat()))
            yield from _netmon_and_prometheus(config, tmp)
    finally:
        listener.close()


@contextmanager
def _agent(inventory: Path, tmp: Path, write_url: str) -> Iterator[list[str]]:
    """chieng-mung's edge agent, running; yields the central side's ``--agents`` arguments."""
    cert, key = self_signed(tmp)
    listen = f"127.0.0.1:{free_port()}"
    agents = tmp / "agents.yaml"
    agents.write_text(yaml.safe_dump({
        "listen": listen, "tls": {"cert_file": str(cert), "key_file": str(key)}, "remote_write": write_url,
        "state": str(tmp / "agents.db"),
        "agents": [{"id": "chieng-mung", "site": "chieng-mung",
                    "token_sha256": new_credential(tmp / "agent.token")}]}))
    config = tmp / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "site": "chieng-mung", "inventory": str(inventory), "central": f"https://{listen}",
        "credential_file": str(tmp / "agent.token"), "ca_file": str(cert), "buffer": str(tmp / "buffer.db"),
        "live_window": "6s"}))
    with (tmp / "agent.log").open("wb") as log:
        agent = subprocess.Popen([sys.executable, "-m", "netmon.cli", "agent", "run", "--config", str(config)],
                                 cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **RECORDINGS})
    try:
        yield ["--agents", str(agents)]
    finally:
        agent.terminate()
        agent.wait(30)


def _netmon_and_prometheus(config: Path, tmp: Path) -> Iterator[Prometheus]:
    with prometheus(tmp, [], rule_files=_rules(tmp), remote_write=True) as p, \
            _agent(config, tmp, f"{p.url}/api/v1/write") as agents, \
            netmon_run(config, tmp, *agents, env=RECORDINGS) as netmon:
        scrape(p, tmp, netmon.url.removeprefix("http://"))
        wait_until(lambda: p.query("netmon:site_availability:ratio_1d") and p.query("ALERTS")
                   and p.query("netmon_http_duration_seconds")
                   and p.query('netmon_probe_success{link="agent"}'), 60, "rules and first results")
        yield p


def _missing_producers(exprs: list[str]) -> list[str]:
    known = contract()
    return sorted({f"{name} ({known[name]})" for e in exprs for name in metric_names(e)
                   if known.get(name) not in PRODUCED})


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=[f"{b['uid']}/{p['id']}" for b, p in PANELS])
def test_panel_returns_data(prom: Prometheus, board: dict, panel: dict) -> None:
    exprs = [t["expr"] for t in panel["targets"]]
    if missing := _missing_producers(exprs):
        pytest.skip(f"no check in the test inventory produces {', '.join(missing)}")
    for expr in exprs:
        query = substitute(expr, VALUES)
        wait_until(lambda q=query: prom.query(q), 20,
                   f"data for {board['title']!r} / panel {panel['title']!r}: {query}")


@pytest.mark.parametrize("board", BOARDS, ids=[b["uid"] for b in BOARDS])
def test_variables_list_the_test_sites(prom: Prometheus, board: dict) -> None:
    for name, expr in variable_queries(board):
        result = prom.query(substitute(expr, VALUES))
        assert result, f"{board['title']}: variable ${name} lists nothing ({expr})"


def test_site_variable_shows_vietnamese_names_and_keeps_slugs(prom: Prometheus) -> None:
    site = next(v for v in load_all(ROOT / "dashboards")[1]["templating"]["list"] if v["name"] == "site")
    regex = re.compile(site["regex"].strip("/").replace("(?<", "(?P<"))
    shown = {}
    every = {**VALUES, "link_type": ".*", "isp": ".*"}  # "All" selected, as Grafana sends it
    for series in prom.query(substitute(site["definition"].removeprefix("query_result(")[:-1], every)):
        labels = series["metric"]
        # query_result's text form: name{labels in alphabetical order} value timestamp
        text = labels.pop("__name__") + "{" + ", ".join(f'{k}="{labels[k]}"' for k in sorted(labels)) + "}"
        m = regex.search(text)
        assert m, f"the site variable's regex does not match {text}"
        shown[m["value"]] = m["text"]
    assert shown == {"chieng-mung": "Chiềng Mung", "chieng-mai": "Chiềng Mai"}
    fiber_only = prom.query(substitute(site["definition"].removeprefix("query_result(")[:-1], VALUES))
    assert [s["metric"]["site"] for s in fiber_only] == ["chieng-mung"], "link type narrows the list"


def test_state_codes_match_what_the_sites_do(prom: Prometheus) -> None:
    states = {s["metric"]["site"]: float(s["value"][1]) for s in prom.query("netmon:site_state:code")}
    assert states == {"chieng-mung": 0.0, "chieng-mai": 0.0}, "both answer ping within limits: up"


def test_secure_channel_state_tells_the_encryptor_from_the_line(prom: Prometheus) -> None:
    """The site board's secure-channel state on the real Prometheus: chieng-mung's tunnel answers (1),
    chieng-mai's is dead beside a live line (0, the encryptor's fault — not 2, the line's)."""
    for site, expected in (("chieng-mung", 1.0), ("chieng-mai", 0.0)):
        query = substitute(SECURE_STATE, {**VALUES, "site": site})
        wait_until(lambda q=query, e=expected: [float(s["value"][1]) for s in prom.query(q)] == [e], 20,
                   f"{site}: secure channel state {expected:g} ({query})")
