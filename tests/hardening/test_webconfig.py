"""TLS and basic auth on every endpoint via an exporter-toolkit web-config, with real clients:
httpx over HTTPS, and Debian's Prometheus scraping with ``tls_config`` and ``basic_auth``."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest

from netmon.webconfig import load_web_config
from probes.errors import NetmonError
from tests.hardening.peers import PASSWORD, USER, netmon_secure, prometheus_scraping, web_config
from tests.netmon.test_service import write_inventory
from tests.support import ROOT, http_server, wait_until


def _inventory(tmp_path: Path, url: str) -> Path:
    return write_inventory(tmp_path / "inv.yaml", [f"{{id: web, probe: http, target: '{url}'}}"], [])


def test_https_with_basic_auth_on_every_endpoint(tmp_path: Path) -> None:
    with http_server(200) as url, netmon_secure(_inventory(tmp_path, url), tmp_path,
                                                web_config(tmp_path)) as netmon:
        assert netmon.url.startswith("https://")
        with netmon.client() as client:
            wait_until(lambda: "netmon_probe_success{" in client.get("/metrics").text, 20, "a first result")
            assert client.get("/metrics").status_code == 200
        for auth in (None, (USER, "wrong-password"), ("intruder", PASSWORD)):
            with netmon.client(auth=auth) as client:
                for method, path in (("GET", "/metrics"), ("GET", "/-/healthy"), ("GET", "/"),
                                     ("POST", "/-/reload")):
                    response = client.request(method, path)
                    assert response.status_code == 401, (auth, path)
                    assert response.headers["WWW-Authenticate"] == 'Basic realm="netmon"'
                    assert "netmon_" not in response.text
        # plain HTTP to the TLS port gets nothing
        with pytest.raises(httpx.TransportError):
            httpx.get(netmon.url.replace("https://", "http://") + "/metrics", timeout=3)
        # a client that does not trust the certificate refuses it
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(netmon.url + "/metrics", auth=(USER, PASSWORD), timeout=3)


def test_stalled_tls_handshake_does_not_block_other_scrapes(tmp_path: Path) -> None:
    import socket

    with http_server(200) as url, netmon_secure(_inventory(tmp_path, url), tmp_path,
                                                web_config(tmp_path)) as netmon:
        host, port = urllib.parse.urlsplit(netmon.url).hostname, urllib.parse.urlsplit(netmon.url).port
        stalled = [socket.create_connection((host, port)) for _ in range(20)]  # connect, never say hello
        try:
            with netmon.client() as client:
                response = client.get("/metrics")
            assert response.status_code == 200
            assert response.elapsed.total_seconds() < 2
        finally:
            for s in stalled:
                s.close()


@pytest.mark.slow
def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path: Path) -> None:
    with http_server(200) as url, netmon_secure(_inventory(tmp_path, url), tmp_path,
                                                web_config(tmp_path)) as netmon, \
            prometheus_scraping(tmp_path, netmon, USER, PASSWORD) as good, \
            prometheus_scraping(tmp_path, netmon, USER, "not-the-password") as bad:

        def target(prom: str) -> dict[str, str] | None:
            body = json.loads(httpx.get(f"{prom}/api/v1/targets", timeout=3).text)
            active = body["data"]["activeTargets"]
            return active[0] if active and active[0]["health"] != "unknown" else None

        scraped = wait_until(lambda: target(good), 30, "Prometheus's first scrape")
        assert scraped["health"] == "up", scraped["lastError"]
        query = httpx.get(f"{good}/api/v1/query", params={"query": 'netmon_probe_success{check="web"}'}).json()
        wait_until(lambda: httpx.get(f"{good}/api/v1/query",
                                     params={"query": 'netmon_probe_success{check="web"} == 1'}).json()
                   ["data"]["result"], 30, "the web check's success through Prometheus")
        assert query["status"] == "success"
        refused = wait_until(lambda: target(bad), 30, "the wrong-password scrape")
        assert refused["health"] == "down"
        assert "401" in refused["lastError"]


def test_reload_endpoint_is_off_beyond_loopback_unless_enabled(tmp_path: Path) -> None:
    """0.0.0.0 is exposed: POST /-/reload answers 403 (SIGHUP still works); --enable-reload opts in."""
    web = web_config(tmp_path, tls=False)
    with http_server(200) as url:
        config = _inventory(tmp_path, url)
        with netmon_secure(config, tmp_path, web, host="0.0.0.0") as netmon:
            netmon.url = netmon.url.replace("0.0.0.0", "127.0.0.1")
            with netmon.client() as client:
                response = client.post("/-/reload")
                assert response.status_code == 403
                assert "--enable-reload" in response.text
        with netmon_secure(config, tmp_path, web, "--enable-reload", host="0.0.0.0") as netmon:
            netmon.url = netmon.url.replace("0.0.0.0", "127.0.0.1")
            with netmon.client() as client:
                response = client.post("/-/reload")
                assert response.status_code == 200, response.text
                assert "reloaded" in response.text


@pytest.mark.parametrize(("content", "message", "vietnamese"), [
    ("basic_auth_users: {prometheus: hunter2}\n", "1: basic_auth_users: Value error, user 'prometheus': password "
     "must be a bcrypt hash ($2y$...), not plain text", "1: basic_auth_users: người dùng 'prometheus': mật khẩu "
     "phải là mã băm bcrypt ($2y$...), không phải mật khẩu trần"),
    ("tls_server_config: {cert_file: a.crt, key_file: a.key, cipher_suite: [x]}\n",
     "1: tls_server_config.cipher_suite: unknown key", "1: tls_server_config.cipher_suite: khóa không được hỗ trợ"),
    ("tls_server_config: {cert_file: missing.crt, key_file: missing.key}\n",
     " tls_server_config: cannot load certificate/key: [Errno 2] No such file or directory",
     " tls_server_config: không nạp được chứng chỉ/khóa: [Errno 2] không có tệp này"),
    ("basic_auth_user: {}\n", "1: basic_auth_user: unknown key", "1: basic_auth_user: khóa không được hỗ trợ"),
    ("tls_server_config: {cert_file: a.crt, key_file: a.key, min_version: TLS14}\n",
     "1: tls_server_config.min_version: must be one of 'TLS10', 'TLS11', 'TLS12' or 'TLS13', got 'TLS14'",
     "1: tls_server_config.min_version: phải là một trong 'TLS10', 'TLS11', 'TLS12' hoặc 'TLS13'"),
    # every problem in one pass, each on its line (they were joined by ';', without lines, English only)
    ("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS14\nbasic_auth_user: {}\n",
     "4: tls_server_config.min_version: must be one of", "5: basic_auth_user: khóa không được hỗ trợ"),
])
def test_bad_web_config_is_rejected_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str,
                                             message: str, vietnamese: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text(content)
    monkeypatch.setenv("NETMON_LANG", "vi")
    with pytest.raises(NetmonError) as excinfo:
        load_web_config(path)
    assert f"{path}:{vietnamese}" in str(excinfo.value)
    with http_server(200) as url:
        done = subprocess.run([sys.executable, "-m", "netmon.cli", "run", "--config", str(_inventory(tmp_path, url)),
                               "--no-history", "--listen", "127.0.0.1:0", "--web-config", str(path), "--lang", "en"],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"{path}:{message}" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_unknown_user_costs_a_bcrypt_check_too(tmp_path: Path) -> None:
    """Timing must not reveal which user names exist: both paths run bcrypt once."""
    import base64
    import time

    config = load_web_config(web_config(tmp_path, tls=False, users={USER: PASSWORD}))
    # make the hash cost realistic for the timing comparison
    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def timed(h: str) -> float:
        start = time.perf_counter()
        assert not config.authorized(h)
        return time.perf_counter() - start

    unknown = min(timed(header("nobody", "x")) for _ in range(3))
    assert unknown > 0.01  # a real bcrypt round, not an early return
    assert config.authorized(header(USER, PASSWORD))
    assert config.authorized(header(USER, PASSWORD))  # cached: no second bcrypt
    assert not config.authorized("Basic !!!notbase64")
    assert not config.authorized("Bearer abc")
    ssl.create_default_context()  # the module is importable without TLS configured
