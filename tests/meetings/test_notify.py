"""The readiness summary's delivery failure, as the service log says it to the meetings feature's operator."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from netmon.meetings.notify import Notifier
from tests.support import free_port


@pytest.mark.parametrize(("lang", "said"), [
    ("vi", "sẵn sàng họp: Alertmanager tại http://127.0.0.1:{port}/api/v2/alerts không nhận bản tóm tắt: "
           "mọi lần thử kết nối đều thất bại"),
    ("en", "meeting readiness: Alertmanager at http://127.0.0.1:{port}/api/v2/alerts did not take the summary: "
           "All connection attempts failed"),
])
async def test_an_undelivered_summary_is_logged_in_the_services_language(
        lang: str, said: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NETMON_LANG", lang)
    port = free_port()  # nothing listens: a refused connection on loopback
    notifier = Notifier(f"http://127.0.0.1:{port}", timeout=2)
    with caplog.at_level(logging.ERROR, logger="netmon.meetings"):
        sent = await notifier.send({"meeting": "t"}, "tóm tắt", "summary", dt.datetime.now(dt.UTC))
    assert not sent
    assert [r.getMessage() for r in caplog.records] == [said.format(port=port)]
