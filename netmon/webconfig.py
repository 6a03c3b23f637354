"""TLS and basic auth for `netmon run`'s HTTP endpoints, from a Prometheus exporter-toolkit web-config file.

The file format is the one every Prometheus exporter reads (``--web.config.file``), so operators reuse
what they already know and Prometheus's own ``tls_config``/``basic_auth`` scrape settings fit as-is::

    tls_server_config:
      cert_file: netmon.crt        # relative paths are relative to this file, as in exporter-toolkit
      key_file: netmon.key
    basic_auth_users:
      prometheus: $2y$10$...       # bcrypt hash (htpasswd -nBC 10 prometheus)

Unknown keys are rejected, as exporter-toolkit does, so a typo never silently disables protection.
The file is read once at start-up; rotating a certificate needs a restart.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ssl
import threading
from pathlib import Path
from typing import Literal

import bcrypt
from pydantic import field_validator

from netmon import i18n
from netmon.inventory import wording
from netmon.strict import Strict
from probes.errors import NetmonError

TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                 "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown users too, so response time does not reveal which user names exist. Made
    when a config with users is loaded: a bcrypt hash is ~0.1 s of CPU, which every `netmon` start-up
    (and every test process) paid at import."""
    return bcrypt.hashpw(b"netmon-no-such-user", bcrypt.gensalt(rounds=10)).decode()


class WebConfigError(NetmonError):
    """A valid web-config whose TLS files cannot be used; the message names the file and the field (an
    invalid file is a `netmon.inventory.ConfigError` with its lines, as every config of ours)."""


_TEXT = {
    "client_ca": ("{file}: tls_server_config.client_ca_file is required with client_auth_type: "
                  "RequireAndVerifyClientCert",
                  "{file}: tls_server_config.client_ca_file là bắt buộc khi client_auth_type: "
                  "RequireAndVerifyClientCert"),
    "cert": ("{file}: {field}: cannot load certificate/key: {reason}",
             "{file}: {field}: không nạp được chứng chỉ/khóa: {reason}"),
}


def cert_error(file: object, field: str, exc: OSError) -> WebConfigError:
    """A certificate or key of ``file``'s ``field`` that cannot be loaded (missing, unreadable, not PEM):
    one line in the user's language, the OS's reason too (`netmon run --web-config` and ``--agents``)."""
    language = i18n.lang()
    why = wording.reason(str(exc), language)
    return WebConfigError(i18n.text(_TEXT, "cert", language, file=file, field=field, reason=why))


class TlsServerConfig(Strict):
    cert_file: str
    key_file: str
    client_auth_type: Literal["NoClientCert", "RequireAndVerifyClientCert"] = "NoClientCert"
    client_ca_file: str | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion | None = None


class HttpServerConfig(Strict):
    headers: dict[str, str] = {}


class WebConfigModel(Strict):
    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = HttpServerConfig()
    basic_auth_users: dict[str, str] = {}

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_only(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"user {user!r}: password must be a bcrypt hash ($2y$...), not plain text")
        return users


class WebConfig:
    """A validated web-config: builds the server's TLS context and checks Authorization headers."""

    def __init__(self, model: WebConfigModel, source: Path):
        self.model = model
        self._source = source
        self._directory = source.resolve().parent
        self._verified: set[bytes] = set()  # digests of credentials bcrypt already accepted
        self._lock = threading.Lock()
        if model.basic_auth_users:
            _dummy_hash()  # now, not at the first unknown user (whose answer would then be slower)

    @property
    def tls(self) -> bool:
        return self.model.tls_server_config is not None

    @property
    def auth(self) -> bool:
        return bool(self.model.basic_auth_users)

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.model.http_server_config.headers)

    def _path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self._directory / path

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server context, or None without ``tls_server_config``; fails now on unreadable files."""
        tls = self.model.tls_server_config
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[tls.min_version]
        if tls.max_version:
            context.maximum_version = _TLS_VERSIONS[tls.max_version]
        try:
            context.load_cert_chain(self._path(tls.cert_file), self._path(tls.key_file))
            if tls.client_auth_type == "RequireAndVerifyClientCert":
                if not tls.client_ca_file:
                    raise WebConfigError(i18n.text(_TEXT, "client_ca", i18n.lang(), file=self._source))
                context.load_verify_locations(self._path(tls.client_ca_file))
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise cert_error(self._source, "tls_server_config", exc) from None
        return context

    def authorized(self, header: str | None) -> bool:
        """True if no users are configured, or ``header`` carries a listed user's password."""
        users = self.model.basic_auth_users
        if not users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = users.get(user)
        # bcrypt costs ~50 ms by design; a scrape every 15 s should not pay it each time.
        digest = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        with self._lock:
            if any(hmac.compare_digest(digest, known) for known in self._verified):
                return True
        ok = bcrypt.checkpw(password.encode(), (hashed or _dummy_hash()).encode())
        if ok and hashed is not None:
            with self._lock:
                self._verified.add(digest)
        return ok and hashed is not None


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate ``path``: an invalid file raises `netmon.inventory.ConfigError` (every issue with
    its file, line and field, in the user's language), TLS files that cannot be loaded `WebConfigError`."""
    from netmon.inventory.loader import load_model

    path = Path(path)
    config = WebConfig(load_model(path, WebConfigModel), path)
    config.ssl_context()  # fail at start-up, not at the first scrape
    return config
