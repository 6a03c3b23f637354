"""Send a readiness summary to the provincial office through Alertmanager's API (v2).

The summary is posted as one alert, ``MeetingReadiness`` with ``team="province-office"``, so it reaches
whoever the province routes that team to (e-mail, Telegram, the Zalo/SMS bridge) with the templates
every other alert uses: ``summary_vi`` first, ``summary`` in English. It ends when the meeting starts, so
Alertmanager closes it by itself; the T-15 summary replaces the T-60 one (same labels but ``check``).
"""

from __future__ import annotations

import datetime as dt
import logging

import httpx

from netmon import i18n
from netmon.inventory import wording

log = logging.getLogger("netmon.meetings")

ALERTNAME = "MeetingReadiness"
#: The service log's line when a summary was not delivered: the operator of the meetings feature reads it.
_TEXT = {
    "not_taken": ("meeting readiness: Alertmanager at {url} did not take the summary: {why}",
                  "sẵn sàng họp: Alertmanager tại {url} không nhận bản tóm tắt: {why}"),
}


class Notifier:
    """Posts to one Alertmanager; a failure is logged, never raised into the service."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout = timeout

    async def send(self, labels: dict[str, str], summary_vi: str, summary_en: str, ends: dt.datetime) -> bool:
        alert = {"labels": {"alertname": ALERTNAME, "team": "province-office", **labels},
                 "annotations": {"summary_vi": summary_vi, "summary": summary_en,
                                 "runbook_url": "docs/runbook.md#meetingreadiness"},
                 "startsAt": dt.datetime.now(dt.UTC).isoformat(),
                 "endsAt": ends.astimezone(dt.UTC).isoformat()}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, json=[alert])
            response.raise_for_status()
        except httpx.HTTPError as exc:
            language = i18n.lang()
            why = wording.reason(str(exc) or type(exc).__name__, language)
            log.error("%s", i18n.text(_TEXT, "not_taken", language, url=self.url, why=why))
            return False
        return True
