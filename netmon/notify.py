"""`netmon alerts bridge`: Alertmanager's webhooks to the channels technicians read (Telegram, Zalo OA, SMS).

Alertmanager 0.25 (Debian) can read no bot token from a file (``bot_token_file`` came in 0.26) and has
no Zalo or SMS receiver, so its receivers post to this bridge on loopback (a bearer token from a file)
and the bridge sends one message per alert to every destination of that receiver, Vietnamese first:
the center's name with diacritics and its district (from the inventory), what happened and what to
check (the alert's ``summary_vi``), whom to call (the site's inventory contacts, else the alert's
team/ISP), and a link to the center's dashboard; the English text follows.

Destinations come from a small YAML file; every token is read from a file (never in the file itself,
in a label, a log line or ``ps``). A destination's ``api_url`` defaults to the real service and is
what a test points at a loopback stand-in.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from netmon.httpserver import HttpListener, parse_listen
from netmon.inventory import Inventory
from netmon.strict import Strict

log = logging.getLogger("netmon.notify")

#: Real services' endpoints (overridden per destination by ``api_url``).
API_URLS = {"telegram": "https://api.telegram.org", "zalo": "https://openapi.zalo.me/v3.0/oa/message/cs"}
SEND_TIMEOUT = 10.0


class Destination(Strict):
    """One chat, OA follower or phone number that a receiver's alerts go to."""

    kind: Literal["telegram", "zalo", "sms"]
    #: Telegram chat id, Zalo OA follower id, or phone number (SMS).
    to: str = Field(min_length=1)
    token_file: Path
    #: Endpoint: Telegram API root, Zalo OA message URL; required for SMS (the gateway's send URL).
    api_url: str | None = None


class BridgeConfig(Strict):
    #: Grafana's root URL; messages link to ``<dashboard_url>/d/netmon-site-vi?var-site=<slug>``.
    dashboard_url: str = ""
    #: Alertmanager receiver name -> destinations.
    receivers: dict[str, list[Destination]]
    #: Bearer token Alertmanager must send (its ``credentials_file``), read from this file.
    token_file: Path | None = None


def load_config(path: Path) -> BridgeConfig:
    """The bridge's YAML file; raises `ConfigError` with every problem at once, each naming the file,
    line and field (in the user's language), as the inventory's errors do."""
    from netmon.inventory.loader import entries, load_model
    from netmon.inventory.source import ConfigIssue, Document

    def rules(doc: Document) -> Iterator[ConfigIssue]:
        data = doc.data if isinstance(doc.data, dict) else {}
        secret = data.get("token_file")
        if isinstance(secret, str) and not _readable(Path(secret)):
            yield doc.issue(("token_file",), f"cannot read: {secret}")
        receivers = data.get("receivers")
        for name in receivers if isinstance(receivers, dict) else ():
            for i, d in enumerate(entries(receivers, name)):
                if not isinstance(d, dict):
                    continue
                if d.get("kind") == "sms" and not d.get("api_url"):
                    yield doc.issue(("receivers", name, i, "api_url"),
                                    "an SMS destination needs its gateway URL")
                secret = d.get("token_file")
                if isinstance(secret, str) and not _readable(Path(secret)):
                    yield doc.issue(("receivers", name, i, "token_file"), f"cannot read: {secret}")

    return load_model(path, BridgeConfig, rules)


def _readable(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class SiteFacts:
    name: str
    district: str
    contacts: tuple[str, ...]


def site_facts(inventory: Inventory) -> dict[str, SiteFacts]:
    """Name, district and contacts of every site and hub, by slug (what alerts lack)."""
    spec = inventory.spec
    out = {hub.id: SiteFacts(hub.name, hub.district, ()) for hub in spec.hubs}
    for site in spec.sites:
        contacts = tuple(" ".join(filter(None, (c.role, c.name, _phone(c.phone_file))))
                         for c in site.contacts)
        out[site.slug] = SiteFacts(site.name, site.district, contacts)
    return out


def _phone(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


#: (english, vietnamese)
_WORDS: dict[str, tuple[str, str]] = {
    "firing": ("PROBLEM", "SỰ CỐ"), "resolved": ("RESOLVED", "ĐÃ KHẮC PHỤC"),
    "call": ("Call", "Liên hệ"), "dashboard": ("Dashboard", "Bảng theo dõi"),
}
#: Who answers an alert without site contacts, by its ``team`` label: (english, vietnamese).
_TEAMS: dict[str, tuple[str, str]] = {
    "vnpt": ("VNPT Sơn La technicians", "Kỹ thuật VNPT Sơn La"),
    "province-office": ("Provincial digital transformation center", "Trung tâm Chuyển đổi số tỉnh"),
}


def message(alert: Mapping[str, Any], facts: Mapping[str, SiteFacts], dashboard_url: str) -> str:
    """One alert as a chat/SMS text: Vietnamese first, then English."""
    labels, notes = alert.get("labels", {}), alert.get("annotations", {})
    status = "resolved" if alert.get("status") == "resolved" else "firing"
    site = labels.get("site", "")
    fact = facts.get(site)
    name = fact.name if fact else labels.get("name", site)
    district = fact.district if fact else ""
    english_team, vietnamese_team = _TEAMS.get(labels.get("team", ""), ("", ""))
    isp = labels.get("isp", "")
    contacts = ", ".join(fact.contacts) if fact else ""
    who_vi = contacts or ", ".join(filter(None, (vietnamese_team, isp)))
    who_en = contacts or ", ".join(filter(None, (english_team, isp)))
    link = ""
    if dashboard_url and site:
        link = f"{dashboard_url.rstrip('/')}/d/netmon-site-vi?var-site={urllib.parse.quote(site)}"
    mark = "✅" if status == "resolved" else ("🔴" if labels.get("severity") == "critical" else "🟠")
    where = f"{name} ({district})" if district else name
    lines = [f"{mark} {_WORDS[status][1]} · {labels.get('alertname', '')} · {where}",
             notes.get("summary_vi", "")]
    if who_vi:
        lines.append(f"{_WORDS['call'][1]}: {who_vi}")
    if link:
        lines.append(f"{_WORDS['dashboard'][1]}: {link}")
    lines += ["—", f"{_WORDS[status][0]} · {notes.get('summary', '')}"]
    if who_en:
        lines.append(f"{_WORDS['call'][0]}: {who_en}")
    return "\n".join(line for line in lines if line)


def _request(destination: Destination, text: str) -> urllib.request.Request:
    token = destination.token_file.read_text(encoding="utf-8").strip()
    if destination.kind == "telegram":
        root = (destination.api_url or API_URLS["telegram"]).rstrip("/")
        body: dict[str, Any] = {"chat_id": destination.to, "text": text, "disable_web_page_preview": True}
        return urllib.request.Request(f"{root}/bot{token}/sendMessage", json.dumps(body).encode(),
                                      {"Content-Type": "application/json"})
    if destination.kind == "zalo":
        body = {"recipient": {"user_id": destination.to}, "message": {"text": text}}
        return urllib.request.Request(destination.api_url or API_URLS["zalo"], json.dumps(body).encode(),
                                      {"Content-Type": "application/json", "access_token": token})
    assert destination.api_url is not None  # load_config enforces it
    body = {"to": destination.to, "text": text}
    return urllib.request.Request(destination.api_url, json.dumps(body).encode(),
                                  {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})


def send(destination: Destination, text: str) -> None:
    """Deliver ``text``; raises OSError (with no token in it) when the service does not take it."""
    try:
        with urllib.request.urlopen(_request(destination, text), timeout=SEND_TIMEOUT) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise OSError(f"{destination.kind} to {destination.to}: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise OSError(f"{destination.kind} to {destination.to}: {exc.reason}") from None


def deliver(config: BridgeConfig, receiver: str, body: Mapping[str, Any],
            facts: Mapping[str, SiteFacts]) -> list[str]:
    """Send every alert of one Alertmanager notification; returns the failures (empty: all delivered)."""
    failures = []
    for alert in body.get("alerts", []):
        text = message(alert, facts, config.dashboard_url)
        for destination in config.receivers.get(receiver, []):
            try:
                send(destination, text)
            except OSError as exc:
                failures.append(str(exc))
    return failures


@contextmanager
def serve(config: BridgeConfig, facts: Mapping[str, SiteFacts], listen: str) -> Iterator[str]:
    """The bridge on ``listen`` (``127.0.0.1:9087``, loopback), as a context; yields its URL. POST
    /<receiver name>. A port that cannot be bound is a one-line `ListenError`."""
    expected = config.token_file.read_text(encoding="utf-8").strip() if config.token_file else None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if expected is not None and self.headers.get("Authorization") != f"Bearer {expected}":
                return self._answer(401, "missing or wrong bearer token")
            receiver = self.path.strip("/")
            if receiver not in config.receivers:
                return self._answer(404, f"no receiver {receiver!r} in the bridge's configuration")
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            except (ValueError, json.JSONDecodeError):
                return self._answer(400, "body is not an Alertmanager webhook (JSON)")
            failures = deliver(config, receiver, body, facts)
            for failure in failures:
                log.warning("not delivered: %s", failure)
            # 502 makes Alertmanager retry the notification
            self._answer(502 if failures else 200, "; ".join(failures) or "delivered")

        def _answer(self, code: int, text: str) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HttpListener(listen, Handler, "alerts-bridge")
    server.start()
    try:
        host = parse_listen(listen)[0]
        yield f"http://{f'[{host}]' if ':' in host else host}:{server.port}"
    finally:
        server.stop()
