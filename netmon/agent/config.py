"""The two small files of the agent feature: the agent's own config and the central list of agents.

Both are validated like the inventory (unknown keys refused, every problem reported at once as
``file:line: field: message``). Secrets are never in them: the agent's file names a credential file
(0600), the central file holds only the SHA-256 of each agent's token, so a leaked central config
does not let anyone write as an agent.

The models are plain dataclasses that pydantic validates on load (`netmon.inventory.loader.load_model`);
this module imports neither pydantic nor the inventory, so the running agent holds its config without
them (`netmon.agent.runner`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from netmon import i18n, oswording
from probes.base import Duration
from probes.errors import NetmonError
from probes.schema import STRICT, After, Before, Rules

_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3,
          "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def parse_bytes(value: object) -> object:
    """``1048576``, ``"256MB"``, ``"64MiB"`` → bytes; anything else is left for the int validator."""
    if isinstance(value, str):
        text = value.strip().upper().replace(" ", "")
        for unit in sorted(_UNITS, key=len, reverse=True):
            number = text[: len(text) - len(unit)]
            if text.endswith(unit) and number.replace(".", "", 1).isdigit():
                return int(float(number) * _UNITS[unit])
    return value


Bytes = Annotated[int, Before(parse_bytes), Rules(gt=0)]


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be a URL such as https://netmon.sonla.gov.vn:9814")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """``/etc/netmon/agent.yaml``: which site this box is at and where its results go.

    A plain dataclass (validated by pydantic at load, `netmon.inventory.loader.load_model`), so the
    running agent holds it without pydantic."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    site: str
    #: This agent's name at the central side (one credential each); defaults to the site's slug.
    id: str | None = None
    inventory: str
    central: Annotated[str, After(_url)]
    credential_file: str
    #: CA that signed the central endpoint's certificate (the system store when absent).
    ca_file: str | None = None
    buffer: str = "/var/lib/netmon-agent/buffer.db"
    #: Size cap of the buffer; at 8 checks every 30 s a week takes ~60 MB.
    buffer_max_bytes: Bytes = 256 * 1000**2
    #: Bytes a day the agent may send; default: the site's primary link ``budget_bytes_per_day``.
    budget_bytes_per_day: Bytes | None = None
    #: Results younger than this are "live" and go out before any backlog.
    live_window: Duration = 90.0
    #: Run every check at this interval instead of the inventory's (e.g. a scaled lab schedule).
    interval: Duration | None = None
    #: Serve the agent's own /metrics here (loopback by default; absent: no listener).
    listen: str | None = None
    batch_max_bytes: Bytes = 64 * 1000

    @property
    def agent_id(self) -> str:
        return self.id or self.site

    def path(self, source: Path, name: str) -> Path:
        """A path from the file, relative to the file's directory when not absolute."""
        p = Path(name)
        return p if p.is_absolute() else source.resolve().parent / p


@dataclass(frozen=True, slots=True)
class AgentEntry:
    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    id: str
    site: str
    #: SHA-256 (hex) of the agent's token, as printed by `netmon agent credential`.
    token_sha256: Annotated[str, Rules(pattern=r"^[0-9a-f]{64}$")]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    cert_file: str
    key_file: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentsFile:
    """The central side (``netmon run --agents FILE``): where agents connect and who they are."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    listen: str = "127.0.0.1:9814"
    tls: TlsFiles | None = None
    #: Prometheus (or VictoriaMetrics/Mimir) remote-write URL; results go only to the history without it.
    remote_write: str | None = None
    state: str = "var/netmon/agents.db"
    agents: Annotated[list[AgentEntry], Rules(min_length=1)]


def load_agents(path: str | Path, sites: Collection[str]) -> AgentsFile:
    """The central agents file; every agent's site must be one of the inventory's ``sites``, and no two
    agents share an id or a token."""
    from netmon.inventory.loader import entries, load_model
    from netmon.inventory.source import ConfigIssue, Document

    def rules(doc: Document) -> Iterator[ConfigIssue]:
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries(doc.data, "agents")):
            if not isinstance(entry, dict):
                continue
            site = entry.get("site")
            if isinstance(site, str) and site not in sites:
                yield doc.issue(("agents", i, "site"), f"unknown site {site!r} (not in the inventory)")
            for key in (entry.get("id"), entry.get("token_sha256")):
                if not isinstance(key, str):
                    continue
                if key in seen:
                    yield doc.issue(("agents", i), f"duplicate of agents[{seen[key]}] ({key[:12]})")
                seen[key] = i

    return load_model(path, AgentsFile, rules)


class CredentialError(NetmonError):
    """The agent's credential file is missing, empty or readable by others."""


_TEXT = {
    "unreadable": ("{path}: cannot read the agent credential: {reason}",
                   "{path}: không đọc được mã xác thực của tác tử: {reason}"),
    "open": ("{path}: the agent credential is readable by others; chmod 600 {path}",
             "{path}: người khác đọc được mã xác thực của tác tử; chmod 600 {path}"),
    "empty": ("{path}: the agent credential file is empty", "{path}: tệp mã xác thực của tác tử trống"),
}


def read_token(path: Path) -> str:
    """The token in ``path``; refuses a file other users can read (a token is a password)."""
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        reason = oswording.error(exc, i18n.lang())
        raise CredentialError(i18n.text(_TEXT, "unreadable", i18n.lang(), path=path, reason=reason)) from None
    if mode & 0o077:
        raise CredentialError(i18n.text(_TEXT, "open", i18n.lang(), path=path))
    if not token:
        raise CredentialError(i18n.text(_TEXT, "empty", i18n.lang(), path=path))
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_credential(path: Path) -> str:
    """Write a fresh random token to ``path`` (0600, refusing to overwrite); return its SHA-256."""
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token_hash(token)
