"""`netmon dashboards push` against a loopback STUB of the few Grafana endpoints it uses.

Grafana cannot run on this machine (not in Debian, PyPI or npm), so this stub is the one allowed fake:
it answers /api/frontend/settings, /api/health, /api/folders and /api/dashboards/db the way Grafana
11 does, checks the bearer token, and keeps what it was sent so the tests can assert on bodies.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.dashboards import load_all
from netmon.dashboards.push import (
    DEFAULT_FOLDER,
    GrafanaAuthError,
    GrafanaTooOld,
    GrafanaUnreachable,
    Pusher,
    folder_uid,
)
from tests.support import ROOT, free_port

TOKEN = "glsa_test_token"


class GrafanaStub(http.server.ThreadingHTTPServer):
    def __init__(self, version: str = "11.6.0", forbid_writes: bool = False):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.version = version
        self.forbid_writes = forbid_writes
        self.requests: list[tuple[str, str, Any]] = []
        self.folders: dict[str, str] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: GrafanaStub

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        stub = self.server
        stub.requests.append((method, self.path, body))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(401, {"message": "Unauthorized"})
        if method == "POST" and stub.forbid_writes:
            return self._reply(403, {"message": "Permissions needed: dashboards:write"})
        route = (method, self.path.split("?")[0])
        if route == ("GET", "/api/frontend/settings"):
            return self._reply(200, {"buildInfo": {"version": stub.version, "edition": "Open Source"}})
        if route == ("GET", "/api/health"):
            return self._reply(200, {"database": "ok", "version": stub.version})
        if route == ("GET", "/api/folders"):
            return self._reply(200, [{"uid": u, "title": t} for u, t in stub.folders.items()])
        if route == ("POST", "/api/folders"):
            if body["uid"] in stub.folders:
                return self._reply(409, {"message": "a folder with the same uid already exists"})
            stub.folders[body["uid"]] = body["title"]
            return self._reply(200, {"uid": body["uid"], "title": body["title"], "version": 1})
        if route == ("POST", "/api/dashboards/db"):
            uid = body["dashboard"]["uid"]
            if uid in stub.dashboards and not body.get("overwrite"):
                return self._reply(412, {"message": "The dashboard has been changed by someone else"})
            if body.get("folderUid") not in stub.folders:
                return self._reply(400, {"message": "folder not found"})
            version = stub.dashboards.get(uid, {}).get("version", 0) + 1
            stub.dashboards[uid] = {"version": version, "folderUid": body["folderUid"], "body": body}
            return self._reply(200, {"uid": uid, "version": version, "status": "success"})
        return self._reply(404, {"message": "Not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, *args: object) -> None:
        pass


def _serve(stub: GrafanaStub) -> Iterator[GrafanaStub]:
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.shutdown()
        stub.server_close()


@pytest.fixture
def grafana() -> Iterator[GrafanaStub]:
    yield from _serve(GrafanaStub())


BOARDS = load_all(ROOT / "dashboards")


def test_push_creates_folder_once_and_updates_dashboards_in_place(grafana: GrafanaStub) -> None:
    first = Pusher(grafana.url, TOKEN).push(BOARDS)
    second = Pusher(grafana.url, TOKEN).push(BOARDS)

    assert first.folder_created and not second.folder_created
    assert grafana.folders == {folder_uid(DEFAULT_FOLDER): DEFAULT_FOLDER}
    assert [m for m, p, _ in grafana.requests].count("POST") == 1 + 2 * len(BOARDS)
    assert sorted(grafana.dashboards) == sorted(b["uid"] for b in BOARDS), "no duplicates"
    assert [v for _, v in first.dashboards] == [1] * 10 and [v for _, v in second.dashboards] == [2] * 10
    assert first.version == "11.6.0"
    body = grafana.dashboards["netmon-site"]["body"]
    assert body["overwrite"] is True and body["folderUid"] == "netmon-son-la-netmon"
    assert body["dashboard"]["id"] is None
    assert body["dashboard"]["title"] == "Sơn La — service center detail"
    assert body["dashboard"]["panels"] == BOARDS[1]["panels"]
    assert grafana.requests[0][1] == "/api/frontend/settings", "version is checked before any write"


def test_bad_token_is_an_auth_error(grafana: GrafanaStub) -> None:
    with pytest.raises(GrafanaAuthError, match=r"token was rejected \(401"):
        Pusher(grafana.url, "wrong").push(BOARDS)
    assert grafana.dashboards == {}


def test_token_without_write_permission_is_an_auth_error() -> None:
    for stub in _serve(GrafanaStub(forbid_writes=True)):
        with pytest.raises(GrafanaAuthError, match=r"lacks permission \(403"):
            Pusher(stub.url, TOKEN).push(BOARDS)


def test_old_grafana_is_refused_before_writing() -> None:
    for stub in _serve(GrafanaStub(version="10.4.3")):
        with pytest.raises(GrafanaTooOld, match=r"version 10\.4\.3; these dashboards need 11\.0"):
            Pusher(stub.url, TOKEN).push(BOARDS)
        assert [m for m, _, _ in stub.requests] == ["GET"]


def test_nothing_listening_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GrafanaUnreachable, match=rf"cannot connect to Grafana at {url}: Connection refused"):
        Pusher(url, TOKEN, timeout=2).push(BOARDS)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon.cli", "dashboards", "push", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_push_and_its_errors(grafana: GrafanaStub, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    ok = _cli("--url", grafana.url, "--token-file", str(token), "--folder", "Giám sát")
    assert ok.returncode == 0, ok.stderr
    assert "folder netmon-giam-sat (created)" in ok.stdout and "netmon-overview: version 1" in ok.stdout
    assert grafana.folders == {"netmon-giam-sat": "Giám sát"}

    token.write_text("wrong")
    denied = _cli("--url", grafana.url, "--token-file", str(token))
    assert denied.returncode == 1 and "the token was rejected (401" in denied.stderr
    assert "Traceback" not in denied.stderr

    missing = _cli("--url", grafana.url, "--token-file", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "cannot read the token file" in missing.stderr

    token.write_text(TOKEN + "\n")  # a --dir that `netmon dashboards build` never wrote: was a traceback
    nowhere = _cli("--url", grafana.url, "--token-file", str(token), "--dir", str(tmp_path / "none"))
    assert nowhere.returncode == 1 and nowhere.stderr.splitlines() == [
        f"netmon: cannot read {tmp_path / 'none' / 'overview.json'} (No such file or directory); --dir names "
        "the directory `netmon dashboards build` wrote"]


def test_cli_speaks_the_users_language(tmp_path: Path) -> None:
    """`netmon dashboards` said everything in English under --lang vi."""
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    url = f"http://127.0.0.1:{free_port()}"
    down = _cli("--url", url, "--token-file", str(token), "--lang", "vi")
    assert down.returncode == 1 and f"không kết nối được Grafana tại {url}" in down.stderr, down.stderr
    missing = _cli("--url", url, "--token-file", str(tmp_path / "nope"), "--lang", "vi")
    assert missing.returncode == 1 and f"không đọc được tệp mã truy cập {tmp_path / 'nope'}: không có tệp này" in missing.stderr, missing.stderr
    built = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", "vi", "dashboards", "build", "--dir",
                            str(tmp_path / "boards")], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert built.returncode == 0 and f"đã ghi {tmp_path / 'boards'}" in built.stdout, built.stderr


@pytest.mark.parametrize(("lang", "said"), [("vi", ": kết nối bị từ chối; Grafana có đang chạy"),
                                            ("en", ": Connection refused; is it running")])
def test_an_unreachable_grafana_is_said_in_the_users_language(tmp_path: Path, lang: str, said: str) -> None:
    """The transport's own reason ("connection refused") was English in the vi sentence; run from elsewhere."""
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    run = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", lang, "dashboards", "push", "--url",
                          f"http://127.0.0.1:{free_port()}", "--token-file", str(token)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and said in run.stderr and "Traceback" not in run.stderr, run.stderr
