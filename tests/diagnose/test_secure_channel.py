"""`netmon probe SITE` tells "line up, secure channel down" from "line down", in both languages.

Loopback stand-ins: a live line is a loopback CPE; a dead tunnel or line is an address under the root
namespace's 198.18.0.0/15 blackhole (no echo ever comes back). The lab test (tests/lab/test_secure_channel.py)
does the same through real WireGuard tunnels.
"""

from __future__ import annotations

import pytest

from tests.diagnose.conftest import Province, netmon_json

DEAD = "198.18.255.1"
SECURE = "    upstream: hub-mai-son\n    secure_channel: {address: %s}\n    links:"
UPSTREAM = "    upstream: hub-mai-son\n    links:"


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "line up, secure channel down"), ("vi", "đường truyền tốt, kênh bảo mật mất")])
def test_line_up_secure_channel_down(province: Province, capsys: pytest.CaptureFixture[str],
                                     lang: str, said: str) -> None:
    config = province(**{UPSTREAM: SECURE % DEAD})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config), "--lang", lang)
    assert code == 2
    channel = next(c for c in doc["checks"] if c["id"] == "secure-channel")
    assert channel["verdict"] == "down"
    assert "secure_down" in doc["diagnosis"]["causes"]
    assert "link_down" not in doc["diagnosis"]["causes"]
    assert said in doc["diagnosis"]["text"], doc["diagnosis"]["text"]


def test_line_down_is_not_blamed_on_the_encryptor(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    config = province(**{UPSTREAM: SECURE % DEAD, "cpe: 127.0.2.1}": f"cpe: {DEAD}}}"})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config), "--lang", "vi")
    assert code == 2
    assert "link_down" in doc["diagnosis"]["causes"]
    assert "secure_down" not in doc["diagnosis"]["causes"], doc["diagnosis"]["text"]
    assert "kênh bảo mật" not in doc["diagnosis"]["text"]


def test_a_working_channel_is_said_ok(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    config = province(**{UPSTREAM: SECURE % "127.0.4.1"})
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(config))
    assert code == 0, doc["diagnosis"]["text"]
    assert "secure_ok" in doc["diagnosis"]["causes"]
