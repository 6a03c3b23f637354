"""Channels technicians read: Alertmanager 0.25 (shipped routes) → `netmon alerts bridge` → Telegram,
Zalo OA and an SMS gateway.

Telegram's, Zalo's and the SMS gateway's APIs cannot run here: a loopback receiver that records every
request stands in for all three (`peers.webhook_receiver`, named STAND_IN below). Everything else is real:
Alertmanager posts with the bearer token from its credentials file, the bridge reads the shipped
inventory for the district and sends one message per alert and destination.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon import notify
from netmon.inventory import ConfigError, load
from tests.alerts import peers
from tests.support import ROOT, wait_until

BOT_TOKEN = "123456:bot-token-for-the-test"
ZALO_TOKEN = "zalo-oa-access-token-for-the-test"
SMS_TOKEN = "sms-gateway-key-for-the-test"
BRIDGE_TOKEN = "alertmanager-to-bridge-token"


@dataclass
class Channels:
    am: peers.Alertmanager
    stand_in: peers.Webhook
    bridge_url: str

    def requests(self, path: str) -> list[peers.Notification]:
        with self.stand_in.lock:
            return [n for n in self.stand_in.notifications if n.receiver == path]


def _secret(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Channels]:
    tmp = tmp_path_factory.mktemp("channels")
    facts = notify.site_facts(load(ROOT / "config" / "communes.yaml"))
    with peers.webhook_receiver() as stand_in:
        config = notify.BridgeConfig.model_validate({
            "dashboard_url": "http://127.0.0.1:3000",
            "token_file": _secret(tmp / "bridge-token", BRIDGE_TOKEN),
            "receivers": {
                "vnpt-technicians": [
                    {"kind": "telegram", "to": "-1001234", "api_url": stand_in.url,
                     "token_file": _secret(tmp / "telegram", BOT_TOKEN)},
                    {"kind": "zalo", "to": "zalo-follower-42", "api_url": f"{stand_in.url}/zalo",
                     "token_file": _secret(tmp / "zalo", ZALO_TOKEN)},
                    {"kind": "sms", "to": "+84912000111", "api_url": f"{stand_in.url}/sms",
                     "token_file": _secret(tmp / "sms", SMS_TOKEN)}],
                "province-office": [
                    {"kind": "telegram", "to": "-1005678", "api_url": stand_in.url,
                     "token_file": tmp / "telegram"}],
            }})
        with notify.serve(config, facts, "127.0.0.1:0") as bridge_url:
            shipped = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
            am_config = peers.webhook_config(shipped, bridge_url)
            for receiver in am_config["receivers"]:
                receiver["webhook_configs"][0]["http_config"] = {
                    "authorization": {"credentials_file": str(tmp / "bridge-token")}}
            with peers.alertmanager(tmp, am_config) as am:
                yield Channels(am, stand_in, bridge_url)


def site_unreachable(status_ends: str | None = None) -> dict[str, Any]:
    alert = peers.alert(alertname="SiteUnreachable", site="to-hieu", name="Tô Hiệu", kind="ward", hub="hub-son-la",
                        link_type="fiber", isp="VNPT", severity="critical", team="vnpt")
    alert["annotations"] = {
        "summary": "Tô Hiệu (to-hieu): every link down for over 2m (primary fiber, VNPT). Check the CPE.",
        "summary_vi": "TT PVHCC Tô Hiệu: mất kết nối mọi đường truyền quá 2m. Kiểm tra thiết bị đầu cuối (CPE)."}
    if status_ends:
        alert["endsAt"] = status_ends
    return alert


def test_a_site_alert_reaches_telegram_zalo_and_sms_in_vietnamese_first(channels: Channels) -> None:
    channels.am.post(site_unreachable())
    telegram = f"bot{BOT_TOKEN}/sendMessage"
    wait_until(lambda: channels.requests(telegram) and channels.requests("zalo") and channels.requests("sms"),
               20, "one request at each of Telegram, Zalo OA and the SMS gateway (stand-in)")
    [tg], [zalo], [sms] = channels.requests(telegram), channels.requests("zalo"), channels.requests("sms")
    assert tg.body["chat_id"] == "-1001234"
    assert zalo.body["recipient"] == {"user_id": "zalo-follower-42"}
    assert zalo.headers["access_token"] == ZALO_TOKEN
    assert sms.body["to"] == "+84912000111" and sms.headers["authorization"] == f"Bearer {SMS_TOKEN}"
    text = tg.body["text"]
    assert text == zalo.body["message"]["text"] == sms.body["text"]
    lines = text.splitlines()
    # Vietnamese first: state, alert, the center with diacritics and its district (from the inventory)
    assert lines[0] == "🔴 SỰ CỐ · SiteUnreachable · Tô Hiệu (Thành phố Sơn La)"
    assert lines[1].startswith("TT PVHCC Tô Hiệu: mất kết nối") and "Kiểm tra" in lines[1]  # what to check
    assert "Liên hệ: Kỹ thuật VNPT Sơn La, VNPT" in lines  # who to call
    assert "Bảng theo dõi: http://127.0.0.1:3000/d/netmon-site-vi?var-site=to-hieu" in lines
    assert lines.index("—") > lines.index("Liên hệ: Kỹ thuật VNPT Sơn La, VNPT")  # English after
    assert lines[lines.index("—") + 1].startswith("PROBLEM · Tô Hiệu (to-hieu): every link down")


def test_the_resolve_is_delivered_too(channels: Channels) -> None:
    telegram = f"bot{BOT_TOKEN}/sendMessage"
    wait_until(lambda: channels.requests(telegram), 20, "the firing message")
    channels.am.post(site_unreachable(status_ends=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    resolved = wait_until(lambda: [n for n in channels.requests(telegram) if "ĐÃ KHẮC PHỤC" in n.body["text"]],
                          20, "the resolved message")
    assert resolved[0].body["text"].startswith("✅ ĐÃ KHẮC PHỤC · SiteUnreachable · Tô Hiệu (Thành phố Sơn La)")


def _post(url: str, body: object, token: str | None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_bridge_refuses_without_alertmanagers_token(channels: Channels) -> None:
    # an alert of its own: Alertmanager may still be delivering the other tests' alerts (a resolve, a
    # retry under load), so counting every request the stand-in got would judge those too
    refused = site_unreachable() | {"labels": site_unreachable()["labels"] | {"site": "refused", "name": "Bị từ chối"}}
    assert _post(f"{channels.bridge_url}/vnpt-technicians", {"alerts": [refused]}, None) == 401
    assert _post(f"{channels.bridge_url}/vnpt-technicians", {"alerts": [refused]}, "wrong") == 401
    assert _post(f"{channels.bridge_url}/nobody", {"alerts": [refused]}, BRIDGE_TOKEN) == 404
    with channels.stand_in.lock:
        assert not [n for n in channels.stand_in.notifications if "Bị từ chối" in json.dumps(n.body, ensure_ascii=False)]


def test_an_undelivered_message_makes_alertmanager_retry(tmp_path: Path) -> None:
    """A channel that does not take the message answers 502, so Alertmanager retries the notification."""
    config = notify.BridgeConfig.model_validate({"receivers": {"vnpt-technicians": [
        {"kind": "sms", "to": "+84912000111", "api_url": "http://127.0.0.1:9/sms",
         "token_file": _secret(tmp_path / "sms", SMS_TOKEN)}]}})
    with notify.serve(config, {}, "127.0.0.1:0") as url:
        assert _post(f"{url}/vnpt-technicians", {"alerts": [site_unreachable()]}, None) == 502


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "netmon: cannot listen on {listen}: Address already in use — another netmon"),
    ("vi", "netmon: không mở được cổng {listen}: địa chỉ đang được dùng — có thể một netmon khác")])
def test_a_busy_bridge_port_is_one_line(tmp_path: Path, lang: str, said: str) -> None:
    """`netmon alerts bridge --listen` on a port in use ended in socketserver's traceback; it now says so as
    `netmon run` does. Run as a service would be: another directory, stdin closed."""
    config = tmp_path / "bridge.yaml"
    config.write_text(yaml.safe_dump({"receivers": {"vnpt-technicians": [
        {"kind": "sms", "to": "+84912000111", "api_url": "http://127.0.0.1:9/sms",
         "token_file": str(_secret(tmp_path / "sms", SMS_TOKEN))}]}}))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run([sys.executable, "-m", "netmon.cli", "alerts", "bridge", "--bridge-config",
                               str(config), "--listen", listen, "--lang", lang], cwd=tmp_path,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(said.format(listen=listen)), done.stderr


def test_bridge_config_errors_name_file_line_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bridge.yaml"
    bad.write_text("receivers:\n  vnpt-technicians:\n    - {kind: pigeon, to: x, token_file: /t}\n"
                   "    - {kind: sms, to: '+84', token_file: /t}\n")
    with pytest.raises(ConfigError) as err:
        notify.load_config(bad)
    # the schema's errors and the file's own rules (an unreadable token file) in one pass
    assert [f"{i.line}: {i.path}: {i.message}" for i in err.value.issues] == [
        "3: receivers.vnpt-technicians[0].kind: must be one of 'telegram', 'zalo' or 'sms', got 'pigeon'",
        "3: receivers.vnpt-technicians[0].token_file: cannot read: /t",
        "4: receivers.vnpt-technicians[1].api_url: an SMS destination needs its gateway URL",
        "4: receivers.vnpt-technicians[1].token_file: cannot read: /t",
    ]
    bad.write_text("receivers:\n  vnpt-technicians:\n    - {kind: sms, to: '+84', token_file: /nonexistent/key}\n")
    with pytest.raises(ConfigError) as err:
        notify.load_config(bad)
    # every problem in one pass
    assert f"{bad}:3: receivers.vnpt-technicians[0].api_url: an SMS destination needs" in str(err.value)
    assert f"{bad}:3: receivers.vnpt-technicians[0].token_file: cannot read: /nonexistent/key" in str(err.value)
    monkeypatch.setenv("NETMON_LANG", "vi")
    with pytest.raises(ConfigError) as err:
        notify.load_config(bad)
    assert "api_url: đích SMS cần URL" in str(err.value) and "token_file: không đọc được" in str(err.value)


def test_shipped_example_is_valid_but_for_its_secret_files() -> None:
    with pytest.raises(ConfigError) as err:
        notify.load_config(ROOT / "config" / "alerts-bridge.example.yaml")
    assert err.value.issues and all(i.path.endswith("token_file") and i.message.startswith("cannot read: ")
                                    for i in err.value.issues)
