"""`netmon alerts backtest`: the alert rules replayed over a period of the history store, per site.

A change of ``for:`` or of a limit is judged on the province's own past before it is deployed: the
history store's outages (per link, with their cause) and hourly loss become Prometheus series, and
promtool's rule engine — the same rules files Prometheus loads, so a candidate copy can be passed
with ``--alerts-dir`` — evaluates them minute by minute. What fired is then set against the outages
recorded: which outages were alerted, which were not (and how long they lasted), which alerts had no
outage behind them.

Alertmanager's shipped inhibitions that decide what is notified are applied (a power cut over its
site's unreachable alert, a hub over the centers behind it). The series are a reconstruction, said
plainly in the report: a link's checks run every minute, failing during its recorded
outages and succeeding otherwise; a power outage's UPS reported on battery in the 5 minutes before it and was
silent during it; loss is the hour's mean. PacketLossHigh judges echo counters (lost/sent over 10 min
and 1 h), which the store does not keep: it is replayed with the ratio approximation, every minute
`ECHOES_PER_MINUTE` echoes of which the hour's mean share is lost — evenly, so a replayed hour is never
a run of bad luck, and the replay says so. Alerts that need series the history store does not keep
(latency, jitter, equipment, services) are not replayed.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netmon import i18n
from netmon.inventory import Inventory
from netmon.report.data import OutageEvent
from probes.errors import NetmonError

#: {(site, link): {hour number: mean ICMP loss}}
HourlyLoss = dict[tuple[str, str], dict[int, float]]
#: The alerts the history store holds the evidence for.
REPLAYED = ("SiteUnreachable", "SiteOnBackup", "SitePowerOutage", "HubUnreachable", "PacketLossHigh")
RULE_FILES = ("recording.rules.yml", "netmon.rules.yml", "generated/site-availability.rules.yml")
#: Echoes a link's check sends a minute as shipped (5 every 30 s): the replay's echo counters.
ECHOES_PER_MINUTE = 10
#: Minutes of "on battery" reported before a power outage (the UPS is silent once the site is dark).
POWER_LEAD = 5
_TEXT = {
    "missing": ("{promtool} not found: install Debian's prometheus package, which has promtool "
                "(scripts/bootstrap.sh does)",
                "không tìm thấy {promtool}: hãy cài gói prometheus của Debian, gói này có promtool "
                "(scripts/bootstrap.sh sẽ cài)"),
    "failed": ("promtool could not replay the rules:\n{output}",
               "promtool không chạy lại được các quy tắc:\n{output}"),
}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass
class Fired:
    """One alert's firing period (minute resolution)."""

    alert: str
    site: str
    start: float
    end: float


@dataclass
class SiteVerdict:
    site: str
    outages: list[OutageEvent] = field(default_factory=list)
    alerted: list[OutageEvent] = field(default_factory=list)
    missed: list[OutageEvent] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    #: Firing periods that overlap no recorded outage of the site (or of its hub).
    unexplained: list[Fired] = field(default_factory=list)


def _runs(values: list[float]) -> str:
    """promtool's expanding notation for ``values``: ``1x59 0x9 1x0``-style runs."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        out.append(f"{values[i]:g}x{j - i}" if j > i else f"{values[i]:g}")
        i = j + 1
    return " ".join(out)


def _failing_since(values: list[float]) -> str:
    """promtool input for ``netmon_probe_failing_since_timestamp_seconds`` of a check whose runs (one a
    minute, at 60 m s) succeeded as ``values`` say: each failure's first minute while it lasts, then
    stale (netmon drops the series with the first success)."""
    out: list[str] = []
    since: int | None = None
    for m, value in enumerate(values):
        if value:
            out.append("stale" if since is not None else "_")
            since = None
        else:
            since = m if since is None else since
            out.append(f"{60 * since}")
    return " ".join(out)


def hourly_loss(conn: sqlite3.Connection, start: float, end: float) -> HourlyLoss:
    """{(site, link): {hour number: mean ICMP loss}} from the store's hourly rollups."""
    out: HourlyLoss = {}
    rows = conn.execute("SELECT site, link, ts, loss_sum, loss_n FROM rollup_hour "
                        "WHERE probe = 'icmp' AND loss_n > 0 AND ts >= ? AND ts < ?", (start - 3600, end))
    for site, link, ts, loss_sum, loss_n in rows:
        out.setdefault((site, link), {})[int(ts // 3600)] = loss_sum / loss_n
    return out


def _counter(increments: list[float]) -> str:
    """promtool input for a counter whose sample m holds ``increments[0..m]``: ``10+10x58 600+9x9``-style
    arithmetic runs."""
    values = list(itertools.accumulate(round(x, 6) for x in increments))
    out: list[str] = []
    i = 0
    while i < len(values):
        step = values[i + 1] - values[i] if i + 1 < len(values) else 0.0
        j = i
        while j + 1 < len(values) and abs(values[j + 1] - values[j] - step) < 1e-6:
            j += 1
        out.append(f"{round(values[i], 6):.15g}+{round(step, 6):.15g}x{j - i}")
        i = j + 1
    return " ".join(out)


def _minute(t: float, start: float) -> int:
    return max(0, int((t - start) // 60))


def series(inventory: Inventory, outages: Iterable[OutageEvent], loss: HourlyLoss, start: float,
           end: float) -> list[dict[str, str]]:
    """promtool input series reconstructing the period from the history store."""
    spec = inventory.spec
    minutes = _minute(end, start) + 1
    down: dict[tuple[str, str], list[float]] = {}
    battery: dict[str, list[float | None]] = {}
    for o in outages:
        if o.cause == "maintenance":
            continue
        values = down.setdefault((o.site, o.link), [1.0] * minutes)
        first, last = _minute(o.start, start), _minute(o.end if o.end is not None else end, start)
        for m in range(first, min(last, minutes)):
            values[m] = 0.0
        if o.cause == "power":
            ups = battery.setdefault(o.site, [0.0] * minutes)
            for m in range(max(0, first - POWER_LEAD), min(last, minutes)):
                ups[m] = 1.0 if m < first else None
    out: list[dict[str, str]] = []
    limits = spec.defaults.link_types
    # a site with no outage and no loss fires nothing: only the others (and the hubs) are replayed
    evented = {site for site, _ in down} | {site for (site, _), hours in loss.items() if any(hours.values())}
    # a hub's alert also asks whether any center behind it was seen: replay all of a troubled hub's centers
    evented |= {site.slug for site in spec.sites if site.upstream in evented}
    for site in spec.sites:
        if site.slug not in evented:
            continue
        primary = site.primary
        info = (f'netmon_site_info{{site="{site.slug}",name="{site.name}",kind="{site.kind}",'
                f'district="{site.district}",link_type="{primary.type}",isp="{primary.isp}",'
                f'upstream="{site.upstream}"}}')
        out.append({"series": info, "values": f"1x{minutes - 1}"})
        for link in site.links:
            labels = f'site="{site.slug}",check="icmp-{link.id}",probe="icmp",link="{link.id}"'
            out += _check_series(labels, down.get((site.slug, link.id), [1.0] * minutes))
            hourly = loss.get((site.slug, link.id), {})
            values = [hourly.get(int((start + 60 * m) // 3600), 0.0) for m in range(minutes)]
            out.append({"series": f"netmon_icmp_packet_loss_ratio{{{labels}}}", "values": _runs(values)})
            # the ratio approximation: sample m holds the echoes of minute m's run
            received = [ECHOES_PER_MINUTE * (1 - v) for v in values]
            out.append({"series": f"netmon_icmp_packets_sent_total{{{labels}}}",
                        "values": _counter([float(ECHOES_PER_MINUTE)] * minutes)})
            out.append({"series": f"netmon_icmp_packets_received_total{{{labels}}}",
                        "values": _counter(received)})
            out.append({"series": (f'netmon_link_info{{site="{site.slug}",link="{link.id}",'
                                   f'link_type="{link.type}",isp="{link.isp}",role="{link.role}"}}'),
                        "values": f"1x{minutes - 1}"})
        if site.slug in battery:
            text = " ".join("_" if v is None else f"{v:g}" for v in battery[site.slug])
            out.append({"series": f'netmon_ups_on_battery{{site="{site.slug}",check="ups",probe="snmp"}}',
                        "values": text})
    for link_type in sorted({lk.type for site in spec.sites if site.slug in evented for lk in site.links}):
        out.append({"series": f'netmon_link_threshold{{link_type="{link_type}",threshold="loss_degraded"}}',
                    "values": f"{limits[link_type].loss_degraded:g}x{minutes - 1}"})
    for hub in spec.hubs:
        out.append({"series": (f'netmon_site_info{{site="{hub.id}",name="{hub.name}",kind="hub",'
                               f'district="{hub.district}",upstream="{spec.datacenter.slug}"}}'),
                    "values": f"1x{minutes - 1}"})
        out += _check_series(f'site="{hub.id}",check="icmp",probe="icmp",link=""',
                             down.get((hub.id, ""), [1.0] * minutes))
    return out


def _check_series(labels: str, values: list[float]) -> list[dict[str, str]]:
    """A check run every minute (at 60 m s, the replay's own clock) that succeeded as ``values`` say:
    its success, when its last run started and, while it fails, since when."""
    out = [{"series": f"netmon_probe_success{{{labels}}}", "values": _runs(values)},
           {"series": f"netmon_probe_last_run_timestamp_seconds{{{labels}}}",
            "values": f"0+60x{len(values) - 1}"}]
    if not all(values):
        out.append({"series": f"netmon_probe_failing_since_timestamp_seconds{{{labels}}}",
                    "values": _failing_since(values)})
    return out


#: How long after an event an alert it caused may still be held (SitePowerOutage, the UPS alerts).
SETTLE_MINUTES = 15


def checked_minutes(outages: Iterable[OutageEvent], loss: HourlyLoss, start: float, end: float) -> list[int]:
    """The minutes at which alerts are looked at: around outages and lossy hours only (elsewhere every
    replayed series says "up, no loss" and no rule can fire), so a month is not 43,200 promtool cases."""
    last = _minute(end, start)
    spans = [(o.start, o.end if o.end is not None else end) for o in outages if o.cause != "maintenance"]
    spans += [(h * 3600.0, h * 3600.0 + 3600) for hours in loss.values() for h, v in hours.items() if v]
    minutes: set[int] = set()
    for a, b in spans:
        minutes.update(range(max(1, _minute(a, start)), min(last, _minute(b, start) + SETTLE_MINUTES) + 1))
    return sorted(minutes)


def _duration(text: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", text))


_CASE = re.compile(r"alertname: (\w+), time: (\S+), \n\s+exp:\[\], \n\s+got:\[(.*?)\n\s+\]", re.S)
_SITE = re.compile(r'Labels:\{[^}]*?\bsite="([^"]*)"')


def replay(inventory: Inventory, outages: list[OutageEvent], loss: HourlyLoss, start: float, end: float,
           alerts_dir: Path, promtool: str = "promtool") -> list[Fired]:
    """Every firing period of the replayed alerts between ``start`` and ``end``."""
    with tempfile.TemporaryDirectory(prefix="netmon-backtest-") as tmp:
        test = {
            "rule_files": [str((alerts_dir / name).resolve()) for name in RULE_FILES],
            "evaluation_interval": "1m",
            "tests": [{
                "name": "backtest", "interval": "1m",
                "input_series": series(inventory, outages, loss, start, end),
                "alert_rule_test": [{"eval_time": f"{m}m", "alertname": name, "exp_alerts": []}
                                    for m in checked_minutes(outages, loss, start, end) for name in REPLAYED],
            }],
        }
        path = Path(tmp) / "backtest_test.yml"
        path.write_text(yaml.safe_dump(test, allow_unicode=True, width=1 << 20), encoding="utf-8")
        try:
            done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
        except FileNotFoundError:
            raise NetmonError(i18n.text(_TEXT, "missing", i18n.lang(), promtool=promtool)) from None
    if done.returncode != 0 and "FAILED" not in done.stdout + done.stderr:
        raise NetmonError(i18n.text(_TEXT, "failed", i18n.lang(), output=done.stdout + done.stderr))
    return list(_periods(done.stdout + done.stderr, start))


def _periods(output: str, start: float) -> Iterator[Fired]:
    """Consecutive minutes an alert was firing for a site, as periods."""
    seen: dict[tuple[str, str], list[float]] = {}
    for alert, when, got in _CASE.findall(output):
        for site in _SITE.findall(got):
            seen.setdefault((alert, site), []).append(start + _duration(when))
    for (alert, site), times in sorted(seen.items()):
        times.sort()
        first = prev = times[0]
        for t in [*times[1:], float("inf")]:
            if t - prev > 60:
                yield Fired(alert, site, first, prev + 60)
                first = t
            prev = t


#: promtool evaluates rule groups in no fixed order: an alert built on a recording rule may trail its data
#: by one (1-minute) evaluation.
TRAIL = 60.0


def _inhibited(f: Fired, fired: list[Fired], upstream: dict[str, str]) -> bool:
    """Whether Alertmanager's shipped inhibitions hold ``f`` back for its whole period: a power cut
    over its site's unreachable alert, a hub over every alert of the centers behind it."""
    def covers(g: Fired) -> bool:
        # an alert built on a recording rule may trail its data by one evaluation (see `judge`), so the
        # inhibitor may start or end one evaluation off the alert it holds back
        return g.start - TRAIL <= f.start and f.end <= g.end + TRAIL
    return any(covers(g) for g in fired if (g.alert == "SitePowerOutage" and g.site == f.site
                                            and f.alert == "SiteUnreachable")
               or (g.alert == "HubUnreachable" and g.site == upstream.get(f.site)))


def judge(inventory: Inventory, outages: list[OutageEvent], fired: list[Fired]) -> list[SiteVerdict]:
    """Per site (and hub): outages recorded vs the alerts that would have been notified."""
    upstream = {s.slug: s.upstream for s in inventory.spec.sites}
    verdicts = {slug: SiteVerdict(slug) for slug in [*upstream, *(h.id for h in inventory.spec.hubs)]}
    for o in outages:
        if o.site in verdicts and o.cause != "maintenance":
            verdicts[o.site].outages.append(o)
    for f in fired:
        if f.site in verdicts and not _inhibited(f, fired, upstream):
            verdicts[f.site].fired.append(f)

    def overlaps(o: OutageEvent, f: Fired) -> bool:
        # promtool evaluates rule groups in no fixed order, so an alert built on a recording rule may
        # trail its data by one evaluation: one minute of slack after the outage
        return f.start < (o.end if o.end is not None else float("inf")) + TRAIL and o.start < f.end

    for v in verdicts.values():
        hub = verdicts.get(upstream.get(v.site, ""))
        # a hub's alert answers for the outages of the sites behind it
        answers = [*v.fired, *(f for f in (hub.fired if hub else []) if f.alert == "HubUnreachable")]
        for o in v.outages:
            (v.alerted if any(overlaps(o, f) for f in answers) else v.missed).append(o)
        explained = [*v.outages, *(hub.outages if hub else [])]
        v.unexplained = [f for f in v.fired if not any(overlaps(o, f) for o in explained)]
    return [v for v in verdicts.values() if v.outages or v.fired]


def as_dict(verdicts: list[SiteVerdict]) -> list[dict[str, Any]]:
    return [{"site": v.site, "outages": len(v.outages), "alerted": len(v.alerted),
             "missed": [{"link": o.link, "start": o.start, "end": o.end, "cause": o.cause} for o in v.missed],
             "alerts": [vars(f) for f in v.fired], "unexplained": [vars(f) for f in v.unexplained]}
            for v in verdicts]
