"""Both directions side by side: each service as the data center sees it and as the center's agent does.

Read from Prometheus over a window: the data center's own checks (the site whose ``netmon_site_info``
kind is ``datacenter``) against the agent's ``agent-<id>`` checks of one site. A service that is slow or
failing only from the center is what the agent exists to show: the link answers, the document system
does not — from there.

Everything is slower from a VSAT center (three 600 ms round trips for an HTTPS request), so "slower"
is judged against the path: a service's extra time from the center (agent minus data center) is
compared with the median extra time of the center's other services of the same probe. It is slower
when it exceeds that by ``SLOWER_SECONDS`` and by half again; with fewer than two such services to
compare with, only failures are judged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import httpx

from netmon import i18n
from netmon.agent.checks import AGENT_LINK, PREFIX
from netmon.i18n import Lang, text
from netmon.report.prom import query
from probes.errors import NetmonError

#: Extra time beyond the path's (see the module docstring) that is worth a technician's call.
SLOWER_SECONDS = 0.3

_TEXT = {
    "header": ("check", "kiểm tra"),
    "dc": ("from the data center", "từ trung tâm dữ liệu"),
    "agent": ("from the center (agent)", "từ trung tâm xã (tác tử)"),
    "verdict": ("difference", "khác biệt"),
    "slower": ("slower from the center", "chậm hơn khi đo từ trung tâm xã"),
    "fails": ("fails only from the center", "chỉ lỗi khi đo từ trung tâm xã"),
    "same": ("same", "như nhau"),
    "nodata": ("no data", "không có số liệu"),
    "none": ("Prometheus has no agent results for {site} in the last {window}",
             "Prometheus không có kết quả nào của tác tử tại {site} trong {window} qua"),
}


@dataclass(frozen=True)
class View:
    success: float  # ratio of successful runs over the window
    duration: float  # mean seconds


@dataclass(frozen=True)
class Row:
    check: str
    probe: str
    datacenter: View | None
    agent: View | None
    verdict: str = "same"

    @property
    def extra(self) -> float | None:
        """Seconds the center's view takes beyond the data center's."""
        if self.datacenter is None or self.agent is None:
            return None
        return self.agent.duration - self.datacenter.duration


def judge(rows: list[Row]) -> list[Row]:
    """Each row with its verdict, against the other rows of its probe (module docstring)."""
    out = []
    for row in rows:
        dc, ag = row.datacenter, row.agent
        others = sorted(e for r in rows if r is not row and r.probe == row.probe
                        for e in [r.extra] if e is not None)
        verdict = "same"
        if dc is None or ag is None or row.extra is None:
            verdict = "nodata"
        elif ag.success < 0.5 <= dc.success:
            verdict = "fails"
        elif len(others) >= 2:
            path = others[len(others) // 2]
            if row.extra > path + max(SLOWER_SECONDS, 0.5 * path):
                verdict = "slower"
        out.append(dataclasses.replace(row, verdict=verdict))
    return out


class CompareError(NetmonError):
    pass


def compare(url: str, site: str, window: str = "5m") -> list[Row]:
    url = url.rstrip("/")
    datacenter = 'and on (site) netmon_site_info{kind="datacenter"}'
    mine = f'{{site="{site}",link="{AGENT_LINK}"}}'
    views: dict[str, dict[str, dict[str, float]]] = {"dc": {}, "agent": {}}
    probes: dict[str, str] = {}
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        for side, selector, suffix in (("dc", "", datacenter), ("agent", mine, "")):
            for name in ("success", "duration_seconds"):
                expr = f"avg_over_time(netmon_probe_{name}{selector}[{window}]) {suffix}"
                for s in query(client, url, expr):
                    check = s["metric"]["check"].removeprefix(PREFIX if side == "agent" else "")
                    views[side].setdefault(check, {})[name] = float(s["value"][1])
                    probes[check] = s["metric"].get("probe", "")
    if not views["agent"]:
        raise CompareError(text(_TEXT, "none", i18n.lang(), site=site, window=window))

    def view(values: dict[str, float] | None) -> View | None:
        return View(values["success"], values["duration_seconds"]) if values and len(values) == 2 else None

    return judge([Row(check, probes[check], view(views["dc"].get(check)), view(views["agent"][check]))
                  for check in sorted(views["agent"])])


def render(rows: list[Row], lang: Lang) -> str:
    def cell(v: View | None) -> str:
        if v is None:
            return text(_TEXT, "nodata", lang)
        return f"{v.success:>4.0%} ok, {v.duration * 1000:7.0f} ms"

    head = [text(_TEXT, k, lang) for k in ("header", "dc", "agent", "verdict")]
    body = [[r.check, cell(r.datacenter), cell(r.agent), text(_TEXT, r.verdict, lang)] for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [head, *body])
