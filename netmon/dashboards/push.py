"""Upload dashboards to a running Grafana over its HTTP API, idempotently, with grafana-client.

Idempotent by uid: the folder's uid is derived from its name and created only when missing, and each
dashboard is posted with its own fixed uid and ``overwrite: true``, so pushing again updates the same
dashboards (Grafana bumps their version) instead of creating copies. For the provisioned setup
(docker-compose) no push is needed; push serves a Grafana someone else runs.

grafana-client asks ``GET /api/frontend/settings`` for the server version first; a server older than
`MIN_VERSION` is refused before anything is written, because the JSON uses Grafana 11 panel options.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError

from netmon import i18n, oswording
from probes.errors import NetmonError

MIN_VERSION = (11, 0)
DEFAULT_FOLDER = "Sơn La netmon"
T = TypeVar("T")


_TEXT = {
    "401": ("Grafana at {url}: the token was rejected (401: token invalid or expired); check --token-file",
            "Grafana tại {url}: mã truy cập bị từ chối (401: mã sai hoặc đã hết hạn); kiểm tra --token-file"),
    "403": ("Grafana at {url}: the token lacks permission (403: the service account needs the Editor role or "
            "folder write access); check --token-file",
            "Grafana tại {url}: mã truy cập thiếu quyền (403: tài khoản dịch vụ cần vai trò Editor hoặc "
            "quyền ghi thư mục); kiểm tra --token-file"),
    "unreachable": ("cannot connect to Grafana at {url}: {detail}; is it running and is --url right?",
                    "không kết nối được Grafana tại {url}: {detail}; Grafana có đang chạy và --url có đúng?"),
    "old": ("Grafana at {url} is version {version}; these dashboards need {need} or newer (schema and panel "
            "options of Grafana 11)",
            "Grafana tại {url} là phiên bản {version}; các bảng theo dõi này cần {need} trở lên (lược đồ và "
            "tùy chọn bảng của Grafana 11)"),
    "refused": ("Grafana at {url} refused the request: {detail}",
                "Grafana tại {url} từ chối yêu cầu: {detail}"),
    "failed": ("Grafana at {url} failed: {detail}", "Grafana tại {url} gặp lỗi: {detail}"),
    "token_unreadable": ("cannot read the token file {path}: {reason}",
                         "không đọc được tệp mã truy cập {path}: {reason}"),
    "token_empty": ("the token file {path} is empty; put a Grafana service-account token in it",
                    "tệp mã truy cập {path} trống; hãy ghi vào đó mã của một tài khoản dịch vụ Grafana"),
}


class GrafanaError(NetmonError):
    """Pushing to Grafana failed; the message (in the user's language) says what to check."""

    def __init__(self, key: str, **values: object):
        super().__init__(i18n.text(_TEXT, key, i18n.lang(), **values))


class GrafanaAuthError(GrafanaError):
    def __init__(self, url: str, status: int):
        super().__init__(str(status), url=url)


class GrafanaUnreachable(GrafanaError):
    def __init__(self, url: str, detail: str):
        super().__init__("unreachable", url=url, detail=detail)


class GrafanaTooOld(GrafanaError):
    def __init__(self, url: str, version: str):
        super().__init__("old", url=url, version=version or "?", need=".".join(map(str, MIN_VERSION)))


@dataclass(frozen=True)
class PushReport:
    version: str
    folder_uid: str
    folder_created: bool
    dashboards: tuple[tuple[str, int], ...]  # (uid, version Grafana now holds)


def folder_uid(name: str) -> str:
    """A stable uid for a folder name: ASCII slug, ``netmon-`` prefix, Grafana's 40-character limit."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "folder"
    return f"netmon-{slug}"[:40].rstrip("-")


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        why = oswording.error(exc, i18n.lang())
        raise GrafanaError("token_unreadable", path=path, reason=why) from None
    if not token:
        raise GrafanaError("token_empty", path=path)
    return token


def parse_version(text: str) -> tuple[int, ...]:
    """``11.6.0-pre`` → (11, 6, 0); an unparsable version is (0,) and counts as too old."""
    parts = re.findall(r"\d+", text.split("-", 1)[0])
    return tuple(int(p) for p in parts[:3]) or (0,)


class Pusher:
    """One Grafana, addressed by URL and token; every API call goes through `_call` for clear errors."""

    def __init__(self, url: str, token: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.api = GrafanaApi.from_url(self.url, credential=token, timeout=timeout)

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except GrafanaUnauthorizedError:
            raise GrafanaAuthError(self.url, 401) from None
        except GrafanaClientError as exc:
            if exc.status_code == 403:
                raise GrafanaAuthError(self.url, 403) from None
            raise GrafanaError("refused", url=self.url, detail=exc.message) from None
        except (niquests.exceptions.ConnectionError, niquests.exceptions.Timeout) as exc:
            raise GrafanaUnreachable(self.url, oswording.reason(oswording.cause(exc), i18n.lang())) from None
        except GrafanaException as exc:
            raise GrafanaError("failed", url=self.url, detail=exc.message) from None

    def version(self) -> str:
        info = self._call(lambda: self.api.health.check()) or {}
        version = str(info.get("version", ""))
        if parse_version(version) < MIN_VERSION:
            raise GrafanaTooOld(self.url, version)
        return version

    def ensure_folder(self, name: str) -> tuple[str, bool]:
        """The folder's uid, and whether it had to be created."""
        uid = folder_uid(name)
        existing = self._call(lambda: self.api.folder.get_all_folders())
        if any(f.get("uid") == uid for f in existing):
            return uid, False
        self._call(lambda: self.api.folder.create_folder(name, uid=uid))
        return uid, True

    def upload(self, board: dict[str, Any], folder: str) -> int:
        body = {"dashboard": {**board, "id": None}, "folderUid": folder, "overwrite": True,
                "message": "netmon dashboards push"}
        answer = self._call(lambda: self.api.dashboard.update_dashboard(body))
        return int(answer.get("version", 0))

    def push(self, boards: Iterable[dict[str, Any]], folder: str = DEFAULT_FOLDER) -> PushReport:
        version = self.version()
        uid, created = self.ensure_folder(folder)
        done = tuple((b["uid"], self.upload(b, uid)) for b in boards)
        return PushReport(version, uid, created, done)
