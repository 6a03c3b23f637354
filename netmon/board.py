"""The demo's live board: the province breathing on one 80×24 terminal screen, nothing to type.

It is a result sink of the running service. Every few seconds it judges each center from the latest
scheduled results exactly as `netmon probe SITE` would (`probes.base.judge` per check, then
`netmon.diagnose.diagnosis.diagnose` for the one-line cause), and draws: the counts by state, what the
lab is injecting right now (from the lab daemon's own status, the ground truth), each center that is
not OK with its diagnosis, and the alerts Prometheus evaluates on the shipped rules when the demo runs
one (pending and firing). Nothing here is a second judgement: a screen that disagreed with `netmon
probe` would be a screen that lies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from exporters.sink import InventoryFacts
from netmon.diagnose import lookup, plan
from netmon.diagnose.diagnosis import diagnose
from netmon.diagnose.session import Outcome, Report
from netmon.i18n import Lang, text
from netmon.inventory import Inventory
from probes.base import Result, judge
from probes.verdict import Verdict

#: Seconds between two screens.
REFRESH = 3.0
#: Screen size the board is laid out for; a larger terminal shows more centers.
WIDTH, HEIGHT = 80, 24

CATALOG: dict[str, tuple[str, str]] = {
    "title": ("netmon demo · {scenario} · {clock} · Ctrl-C stops",
              "netmon demo · {scenario} · {clock} · Ctrl-C: dừng"),
    "counts": ("{total} centers: {ok} OK, {degraded} degraded, {down} down, {waiting} not measured yet",
               "{total} trung tâm: {ok} tốt, {degraded} suy giảm, {down} mất kết nối, {waiting} chưa đo"),
    "injected": ("Lab injects now:", "Lab đang gây lỗi:"),
    "nothing": ("nothing", "không có"),
    "down": ("DOWN", "MẤT KẾT NỐI"),
    "degraded": ("DEGRADED", "SUY GIẢM"),
    "unknown": ("CANNOT MEASURE", "KHÔNG ĐO ĐƯỢC"),
    "more": ("… and {n} more", "… và {n} nơi khác"),
    "alerts": ("Alerts (Prometheus, shipped rules):", "Cảnh báo (Prometheus, luật đang dùng):"),
    "no_alerts": ("none", "không có"),
    "no_prometheus": ("Alerts: not shown (no Prometheus binary)",
                      "Cảnh báo: không hiển thị (không có Prometheus)"),
    "pending": ("pending", "chờ"),
    "try": ("Try: {netmon} probe moc-son · {netmon} lab set chieng-mung down=true",
            "Thử: {netmon} probe moc-son · {netmon} lab set chieng-mung down=true"),
    "log": ("Service log: {path}", "Nhật ký dịch vụ: {path}"),
    "loss": ("loss {loss:.0%}", "mất gói {loss:.0%}"),
    "battery": ("on battery", "đang chạy pin"),
}


@dataclass(frozen=True)
class Line:
    """One center on the board."""

    name: str
    verdict: Verdict
    diagnosis: str


class LiveBoard:
    """Sink + screen. ``lab_status`` and ``alerts`` are read each refresh; either may fail quietly."""

    def __init__(self, lang: Lang, lab_status: Callable[[], Mapping[str, Any]],
                 alerts: Callable[[], list[tuple[str, str, str]] | None], netmon: str,
                 out: TextIO = sys.stdout, log: Path | None = None) -> None:
        self.lang, self.lab_status, self.alerts, self.netmon, self.out = lang, lab_status, alerts, netmon, out
        self.log = log
        self.latest: dict[str, Result] = {}
        self.inventory: Inventory | None = None
        self.plans: dict[str, plan.Plan] = {}
        self.addresses: dict[str, str] = {}

    # -- the sink ---------------------------------------------------------------------------------
    def publish(self, result: Result) -> None:
        self.latest[result.key] = result

    def on_inventory(self, facts: InventoryFacts) -> None:
        inventory = facts.inventory
        assert isinstance(inventory, Inventory)
        self.inventory = inventory
        # The path of each center as `netmon probe` runs it, minus the data center's service checks
        # (one verdict for every center, shown once by the alerts, not 75 times).
        self.plans = {}
        for site in inventory.spec.sites:
            full = plan.for_place(inventory, lookup.Place(site=site))
            self.plans[site.slug] = full.with_rows(
                r for r in full.rows if r.role != "datacenter" or r.check.probe == "icmp")
        self.addresses = {link.cpe: f"{site.slug}/{link.id}" for site in inventory.spec.sites
                          for link in site.links}
        keys = {c.key for c in inventory.checks}
        self.latest = {k: r for k, r in self.latest.items() if k in keys}

    def close(self) -> None:
        """Nothing to flush."""

    # -- the judgement ----------------------------------------------------------------------------
    def lines(self) -> list[Line | None]:
        """Each center's verdict and diagnosis; None for a center with a check not yet reported."""
        out: list[Line | None] = []
        spec = self.inventory.spec if self.inventory else None
        for p in self.plans.values():
            results = [(row, self.latest.get(row.check.key)) for row in p.rows]
            if any(r is None for _, r in results):
                out.append(None)
                continue
            outcomes = tuple(Outcome(row, r, judge(r, row.limits)) for row, r in results if r is not None)
            report = Report(p, outcomes, (), 0.0, 0.0)
            out.append(Line(p.place.name if p.place else "", report.verdict,
                            diagnose(report, spec, self.lang).text))
        return out

    # -- the screen -------------------------------------------------------------------------------
    def screen(self, now: dt.datetime, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
        t = self._say
        lines = self.lines()
        judged = [line for line in lines if line is not None]
        count = {v: sum(line.verdict is v for line in judged) for v in Verdict}
        status = _safe(self.lab_status) or {}
        scenario = str(status.get("scenario", "?")).rsplit("/", 1)[-1].removesuffix(".yaml")
        rows = [t("title", scenario=scenario, clock=now.strftime("%H:%M:%S")),
                t("counts", total=len(lines), ok=count[Verdict.OK], degraded=count[Verdict.DEGRADED],
                  down=count[Verdict.DOWN], waiting=len(lines) - len(judged)),
                f"{t('injected')} {injected(status, self.addresses, self.lang) or t('nothing')}", "─" * width]
        alerts = _safe(self.alerts)
        footer = ["─" * width, *_wrap(self._alerts(alerts), width, 2), t("try", netmon=self.netmon),
                  *([t("log", path=self.log)] if self.log else [])]
        room = height - len(rows) - len(footer)
        body: list[str] = []
        for verdict in (Verdict.DOWN, Verdict.DEGRADED, Verdict.UNKNOWN):
            group = sorted((line for line in judged if line.verdict is verdict), key=lambda x: x.name)
            if group:
                body.append(t(verdict.label if verdict is not Verdict.UNKNOWN else "unknown"))
                body += [f" {line.name:<14} {line.diagnosis}" for line in group]
        if len(body) > room:
            body = [*body[:room - 1], t("more", n=len(body) - room + 1)]
        return [_fit(row, width) for row in (*rows, *body, *footer)]

    def _alerts(self, alerts: list[tuple[str, str, str]] | None) -> str:
        t = self._say
        if alerts is None:
            return t("no_prometheus")
        shown = [f"{name} {where}" + (f" ({t('pending')})" if state == "pending" else "")
                 for name, where, state in alerts]
        return f"{t('alerts')} {' · '.join(shown) or t('no_alerts')}"

    def _say(self, key: str, **values: object) -> str:
        return text(CATALOG, key, self.lang, **values)

    async def run(self, interval: float = REFRESH) -> None:
        """Redraw until cancelled: clear, home, draw (a terminal is assumed: see `netmon.commands.demo`)."""
        while True:
            size = shutil.get_terminal_size((WIDTH, HEIGHT))
            screen = await asyncio.to_thread(self.screen, dt.datetime.now(), size.columns, size.lines)
            self.out.write("\x1b[H\x1b[2J" + "\n".join(screen))
            self.out.flush()
            await asyncio.sleep(interval)


@contextlib.contextmanager
def logs_to_file() -> Iterator[Path]:
    """While the board holds the terminal, the service's log goes to a private file (0600) it names.

    Log lines written to the same terminal would scroll the board away between two redraws."""
    fd, name = tempfile.mkstemp(prefix="netmon-demo-", suffix=".log")
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(name, encoding="utf-8")
    handler.setFormatter(saved[0].formatter if saved else None)
    root.handlers = [handler]
    try:
        yield Path(name)
    finally:
        root.handlers = saved
        handler.close()
        os.close(fd)


def injected(status: Mapping[str, Any], addresses: Mapping[str, str], lang: Lang = "en") -> str:
    """The faults the lab holds now, from its daemon's status (its ground truth): cut links and hubs,
    loss, services answering badly, devices on battery. The scenario's normal per-link-type delays are
    not faults and are not listed."""
    parts = [f"{target} ↓" for target in status.get("down", [])]
    for address, effect in sorted((status.get("impaired") or {}).items()):
        if effect.get("loss", 0) > 0:
            where = addresses.get(address, address)
            parts.append(f"{where} {text(CATALOG, 'loss', lang, loss=effect['loss'])}")
    for sid, service in sorted((status.get("services") or {}).items()):
        if service.get("status", 200) != 200:
            parts.append(f"{sid} HTTP {service['status']}")
        if service.get("latency", 0) >= 1:
            parts.append(f"{sid} +{service['latency']:g} s")
        if service.get("cert_days", 365) < 30:
            parts.append(f"{sid} cert {service['cert_days']:g} d")
    devices = sorted((status.get("devices") or {}).items())
    parts += [f"{key} {text(CATALOG, 'battery', lang)}" for key, d in devices if d.get("on_battery")]
    return "; ".join(dict.fromkeys(parts))


def _wrap(row: str, width: int, lines: int) -> list[str]:
    """``row`` over at most ``lines`` lines of ``width``, broken at spaces (the last cut with …)."""
    out: list[str] = []
    while row and len(out) < lines - 1 and len(row) > width:
        cut = row.rfind(" ", 0, width)
        cut = cut if cut > 0 else width
        out.append(row[:cut])
        row = "  " + row[cut:].lstrip()
    return [*out, row]


def _fit(row: str, width: int) -> str:
    return row if len(row) <= width else row[:width - 1] + "…"


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # the lab or Prometheus went away: the board shows what it still knows
        return None
