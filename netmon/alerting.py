"""The alerting configuration that follows from the inventory, written by `netmon alerts generate`.

Hand-written: ``alerts/netmon.rules.yml`` (every rule whose limits are joined at query time from
``netmon:link_threshold`` / ``netmon_site_info``) and ``alerts/alertmanager.base.yml`` (routing,
inhibition, receivers). Generated here, and committed so that reviews see them:

- ``alerts/generated/site-availability.rules.yml``: how long a site may be silent before it is
  unreachable depends on its link type (`Thresholds.unreachable_after`), and a rule's ``for:`` cannot be
  joined from a series, so there is one SiteUnreachable/SitePowerOutage/SiteOnBackup rule per link type.
  A site is unreachable only when every one of its paths is down or unknown; primary down with a backup
  up is SiteOnBackup, whose text names the backup (type and ISP: facts only the inventory has, so those
  rules list their sites). HubUnreachable ends as soon as any center behind the hub is seen, so it never
  outlives a child's alert (Alertmanager drops the resolved notification of an alert still inhibited
  when its group flushes). None of them has a ``for:``: netmon says when each check's failure began
  (``netmon_probe_failing_since_timestamp_seconds``), so an outage is counted from the first failed run
  rather than from when Prometheus first saw it, and a site, its primary link or a hub fires once a failed
  run ``unreachable_after`` later proves the outage that long (a hub: the shortest ``unreachable_after``);
  a center behind a hub that has not been seen since its outage began is left to the hub's alert, and
  once the hub is seen again it must fail a run after that sighting. The group is evaluated every 5 s
  (docs/runbook.md#timing: the budget from cut to notification).
- ``alerts/alertmanager.yml``: the base plus the inventory's maintenance windows as Alertmanager time
  intervals, muted on routes matching the site (or, for a hub, every alert carrying ``hub=<id>``).

Hub → site relations are not listed here: every site/hub alert carries a ``hub`` label joined from
``netmon_site_info`` at query time, so an inventory reload moves a site without regenerating anything.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from netmon.inventory import ConfigError, Inventory, maintenance
from netmon.inventory.model import MAINTENANCE_TZ, MaintenanceWindow

RULES_FILE = Path("generated/site-availability.rules.yml")
AM_BASE_FILE = Path("alertmanager.base.yml")
AM_FILE = Path("alertmanager.yml")
RUNBOOK = "docs/runbook.md"

#: Labels every site/hub alert copies from ``netmon:site_info:hub`` (see alerts/netmon.rules.yml).
SITE_LABELS = "name, kind, link_type, isp, upstream, hub"
_JOIN = f"* on (site) group_left ({SITE_LABELS}) netmon:site_info:hub"

#: {alert: (english, vietnamese)} one-line summaries; ``{after}`` is the rule's ``for:``.
SUMMARIES: dict[str, tuple[str, str]] = {
    "SiteUnreachable": (
        "{{ $labels.name }} ({{ $labels.site }}): every link down for over {after} (primary "
        "{{ $labels.link_type }}, {{ $labels.isp }}). Check the CPE and its power at the center, "
        "then hub {{ $labels.hub }}.",
        "TT PVHCC {{ $labels.name }}: mất kết nối mọi đường truyền quá {after} (đường chính "
        "{{ $labels.link_type }}, {{ $labels.isp }}). Kiểm tra thiết bị đầu cuối (CPE) và nguồn điện tại "
        "trung tâm, sau đó kiểm tra trạm {{ $labels.hub }}.",
    ),
    "SitePowerOutage": (
        "{{ $labels.name }} ({{ $labels.site }}): POWER CUT, not a link fault: the UPS was on "
        "battery and the center has been unreachable for over {after}. Call the center about grid "
        "power or a generator.",
        "TT PVHCC {{ $labels.name }}: MẤT ĐIỆN, không phải lỗi đường truyền: UPS đã chạy bằng pin và "
        "trung tâm mất kết nối quá {after}. Liên hệ trung tâm về điện lưới hoặc máy phát.",
    ),
    "SiteOnBackup": (
        "{{ $labels.name }} ({{ $labels.site }}): primary {{ $labels.link_type }} link "
        "({{ $labels.isp }}) down for over {after}; the center is running on its {backup} backup. "
        "Call {{ $labels.isp }} to repair the primary before the backup fails too.",
        "TT PVHCC {{ $labels.name }}: đường truyền chính ({{ $labels.link_type }}, {{ $labels.isp }}) mất "
        "kết nối quá {after}; trung tâm đang chạy trên đường dự phòng {backup}. Báo {{ $labels.isp }} "
        "sửa đường chính trước khi đường dự phòng cũng gặp sự cố.",
    ),
    "HubUnreachable": (
        "VNPT hub {{ $labels.name }} ({{ $labels.site }}) unreachable for over {after}: every "
        "center behind it is cut off (their own alerts are suppressed). Check the hub's power and uplink.",
        "Trạm VNPT {{ $labels.name }} ({{ $labels.site }}) mất kết nối quá {after}: mọi trung tâm "
        "phía sau trạm bị mất kết nối (cảnh báo riêng của từng trung tâm được gộp). Kiểm tra nguồn và "
        "đường lên của trạm.",
    ),
}


def prom_duration(seconds: float) -> str:
    """Prometheus duration text for ``seconds``: ``2m``, ``90s``, ``1h``, ``500ms``."""
    ms = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


#: How a link type reads in an alert, English and Vietnamese ("Viettel 4G", "VNPT cáp quang").
LINK_TYPE_TEXT: dict[str, tuple[str, str]] = {
    "fiber": ("fiber", "cáp quang"), "4g": ("4G", "4G"),
    "microwave": ("microwave", "vi ba"), "vsat": ("VSAT", "VSAT"),
}


def _alert(name: str, expr: str, after: float, severity: str = "critical", backup: tuple[str, str] = ("", ""),
           counted: bool = False, **labels: str) -> dict[str, object]:
    """One alert rule; ``counted``: ``expr`` itself holds the ``after`` (no ``for:``)."""
    english, vietnamese = SUMMARIES[name]
    duration = prom_duration(after)
    return {
        "alert": name,
        "expr": expr,
        **({} if counted else {"for": duration}),
        "labels": {"severity": severity, "team": "vnpt", **labels},
        "annotations": {
            "summary": english.replace("{after}", duration).replace("{backup}", backup[0]),
            "summary_vi": vietnamese.replace("{after}", duration).replace("{backup}", backup[1]),
            "runbook_url": f"{RUNBOOK}#{name.lower()}",
        },
    }


def _backups(inventory: Inventory, link_type: str) -> dict[tuple[str, str], list[str]]:
    """{(backup type, backup ISP): site slugs} for the sites whose primary link is of ``link_type``."""
    out: dict[tuple[str, str], list[str]] = {}
    for site in inventory.spec.sites:
        if any(lk.role == "primary" and lk.type == link_type for lk in site.links):
            for kind in dict.fromkeys((lk.type, lk.isp) for lk in site.links if lk.role == "backup"):
                out.setdefault(kind, []).append(site.slug)
    return dict(sorted(out.items()))


#: A site's reachability checks, as netmon:site_up counts them (alerts/recording.rules.yml).
_REACH = 'link!~"|agent", probe!="snmp"'
#: Its primary link's checks (SiteOnBackup).
_PRIMARY = 'link="primary", probe!="snmp"'
#: The seconds the generated group is evaluated every (Prometheus's global 15 s for the rest): a cut is
#: proven by netmon's runs, so each evaluation between the proof and the alert is pure waiting; the
#: group's rules over 75 sites take ~35 ms (178 ms at load 3.5; bench/README.md "Alert truth").
EVALUATION_SECONDS = 5.0
#: How much less than ``unreachable_after`` apart two failed runs may start and still prove it: runs
#: scheduled 30 s apart start with the scheduler's lag (a few ms), so a strict comparison missed about
#: half of the pairs and waited a whole interval more. The scheduler's slot (`netmon.scheduler.SLOT_SECONDS`)
#: is the finest time a start means anything to.
RUN_SLACK = 0.1


def _series(name: str, checks: str) -> str:
    """``name`` for ``checks``: a label selector, or ``hub`` for the hubs' own checks."""
    if checks == "hub":
        return f'({name}{{probe!="snmp"}} and on (site) netmon:site_info:hub{{kind="hub"}})'
    return f"{name}{{{checks}}}"


def _down_since(checks: str, interval: float) -> str:
    """When the outage of ``checks`` (per site) began: the first failed run of the check that failed
    first, when that is consistent with the others (no check was seen up after it, which holds when every
    check's first failed run came within the shortest check interval of it; else the last to fail starts
    it), and only while every one of them fails."""
    since = _series("netmon_probe_failing_since_timestamp_seconds", checks)
    spread = f"max by (site) ({since}) - min by (site) ({since})"
    first = f"min by (site) ({since}) and on (site) ({spread} < {interval:g})"
    failing = f"max by (site) ({_series('netmon_probe_success', checks)}) == 0"
    return f"(({first}) or max by (site) ({since})) and on (site) ({failing})"


def _lasted(checks: str, since: str) -> str:
    """How long the outage recorded in ``since`` has lasted, measured by netmon's runs: the latest failed
    run's start minus its start. A failed run ``unreachable_after`` later proves an outage that long (an
    outage of 20-30 s cannot fail two runs 30 s apart), whereas time since the start would only say
    nobody has looked again yet."""
    last = _series("netmon_probe_last_run_timestamp_seconds", checks)
    return f"max by (site) ({last}) - on (site) {since}"


def _outage_rules(inventory: Inventory, outages: tuple[str, ...]) -> list[dict[str, object]]:
    """How long each ``outages`` (``site``, ``site_primary``, ``hub``) has lasted (docs/runbook.md#timing).

    In the alert group, not with netmon:site_up: one evaluation less between a run and its alert.
    A center's outage counts as its own only once its hub has been seen since the outage began (its own
    checks, or a center's primary behind it, succeeding in a run started later); while it has not, the
    outage may be the hub's, and HubUnreachable says so. A center that waited for its hub must then fail a
    run started after the hub's first sighting (``netmon:<outage>_hub_back_timestamp_seconds``): its runs
    before it failed for the hub, and without this the center paged the moment the hub came back, its
    last runs still failed and the hub alert that would inhibit it gone (#21: long-sap behind
    hub-moc-chau). So a cut center pages at its first failed run after its hub is back, in a group of its
    own (group_wait, not the group_interval of a group held muted through the hub outage). A center that
    fired before its hub failed keeps firing through the hub outage (its own alert holds it) and
    resolves after the hub alert, so its resolve is delivered. A hub without checks of its own holds
    nothing back.
    """
    reach = [c.interval for c in inventory.checks if c.probe != "snmp" and c.link not in ("", "agent")]
    interval = min(reach, default=inventory.spec.defaults.interval)
    hub_ok = 'netmon_probe_last_run_timestamp_seconds{probe!="snmp"} and (netmon_probe_success == 1)'
    primary_ok = ('netmon_probe_last_run_timestamp_seconds{link="primary", probe!="snmp"} '
                  "and (netmon_probe_success == 1)")
    hub_seen = (f'max by (hub) (({hub_ok}) * on (site) group_left (hub) netmon:site_info:hub{{kind="hub"}} '
                f'or ({primary_ok}) * on (site) group_left (hub) '
                'netmon:site_info:hub{kind=~"ward|commune"})')
    hub_checked = 'label_replace(netmon:hub_up, "hub", "$1", "site", "(.*)")'
    alerts = {"site": "SiteUnreachable", "site_primary": "SiteOnBackup"}

    rules: list[dict[str, object]] = []
    checked = {"site": _REACH, "site_primary": _PRIMARY, "hub": "hub"}
    for name in outages:
        checks = checked[name]
        since = f"netmon:{name}_down_since"
        lasted = _lasted(checks, since)
        rules.append({"record": since, "expr": _down_since(checks, interval)})
        if name == "site":
            rules.append({"record": "netmon:hub_seen_timestamp_seconds", "expr": hub_seen})
        if name != "hub":
            with_hub = f"{since} * on (site) group_left (hub) netmon:site_info:hub"
            seen = f"({with_hub} <= on (hub) group_left () netmon:hub_seen_timestamp_seconds)"
            waiting, back = f"netmon:{name}_waiting_for_hub", f"netmon:{name}_hub_back_timestamp_seconds"
            last = f"max by (site) ({_series('netmon_probe_last_run_timestamp_seconds', checks)})"
            firing = f'ALERTS{{alertname="{alerts[name]}", alertstate="firing"}}'
            # Value: the outage's start, so that a later outage of the site is not taken for this one.
            rules.append({"record": waiting,
                          "expr": f"({with_hub} and on (hub) {hub_checked}) unless on (site) {seen}"})
            # The hub's first sighting after the center waited for it (kept while the outage lasts; taken
            # again if the hub is lost again).
            rules.append({"record": back, "expr": (
                f"(({back} >= on (site) {since}) unless on (site) {waiting}) "
                f"or max by (site) ((0 * {seen} + on (hub) group_left () netmon:hub_seen_timestamp_seconds) "
                f"and on (site) (max_over_time({waiting}[1m]) == on (site) group_left () {since}))")})
            own = f"({seen} unless on (site) ({back} > on (site) {last}))"
            lasted = (f"({lasted}) and on (site) ({own} or ({with_hub} unless on (hub) {hub_checked}) "
                      f"or ({with_hub} and on (site) {firing}))")
        rules.append({"record": f"netmon:{name}_down_seconds", "expr": lasted})
    return rules


def availability_rules(inventory: Inventory, interval: float | None = EVALUATION_SECONDS) -> dict[str, Any]:
    """HubUnreachable, the outage durations, then per primary link type SiteUnreachable, SitePowerOutage
    and SiteOnBackup, in one group evaluated every ``interval`` seconds (None: Prometheus's global)."""
    limits = inventory.spec.defaults.link_types
    used = sorted({lk.type for site in inventory.spec.sites for lk in site.links if lk.role == "primary"})
    rules: list[dict[str, object]] = []
    if used:
        # Counted like a center's, at the shortest unreachable_after: an outage shorter than that never
        # pages for the hub either; the centers behind it are left to this alert (_outage_rules).
        hub_after = min(limits[t].unreachable_after for t in used)
        # A center seen behind the hub proves the hub passes traffic (its own address may not answer).
        child_seen = ('on (hub) (max by (hub) (netmon_probe_success{link="primary", probe!="snmp"} '
                      '* on (site) group_left (hub) netmon:site_info:hub{kind=~"ward|commune"}) == 1)')
        hub_down = f"((netmon:hub_down_seconds >= {hub_after - RUN_SLACK:g}) {_JOIN}) unless {child_seen}"
        rules += _outage_rules(inventory, ("hub",))
        rules.append(_alert("HubUnreachable", hub_down, hub_after, counted=True))
        rules += _outage_rules(inventory, ("site", "site_primary"))
    for link_type in used:
        after = limits[link_type].unreachable_after
        proven = f"{after - RUN_SLACK:g}"
        sites = f'netmon:site_info:hub{{kind=~"ward|commune", link_type="{link_type}"}}'
        # Unreachable: no check on any of the site's links succeeded (a path without data counts as down),
        # in runs that span `after` (netmon:site_down_seconds).
        down = f"(netmon:site_down_seconds >= {proven}) * on (site) group_left ({SITE_LABELS}) {sites}"
        # The cause of an outage holds until the site is seen again: the UPS stops answering with the site,
        # so "on battery" is looked for only at the start; after that the alert's own state carries it.
        power = ("on (site) ((max by (site) (max_over_time(netmon_ups_on_battery[15m])) == 1) "
                 'or max by (site) (ALERTS{alertname="SitePowerOutage"}))')
        # The link_type label (equal to the joined one) keeps the per-type rules distinct for promtool's lint.
        rules.append(_alert("SiteUnreachable", down, after, counted=True, link_type=link_type))
        rules.append(_alert("SitePowerOutage", f"({down}) and {power}", after, counted=True,
                            link_type=link_type))
        for (backup_type, isp), slugs in _backups(inventory, link_type).items():
            english, vietnamese = LINK_TYPE_TEXT[backup_type]
            # The primary's failed runs count, as a site's do; a check on any path answering says the
            # center is still served.
            on_backup = (f"((netmon:site_primary_down_seconds >= {proven}) "
                         f"and on (site) (max by (site) (netmon_probe_success{{{_REACH}}}) == 1)) "
                         f"* on (site) group_left ({SITE_LABELS}) "
                         f'netmon:site_info:hub{{site=~"{"|".join(slugs)}", link_type="{link_type}"}}')
            rules.append(_alert("SiteOnBackup", on_backup, after, severity="warning", counted=True,
                                backup=(f"{isp} {english}", f"{isp} {vietnamese}"), link_type=link_type,
                                backup_link=f"{isp} {english}"))
    group: dict[str, Any] = {"name": "netmon-site-availability"}
    if interval is not None:
        group["interval"] = prom_duration(interval)
    return {"groups": [{**group, "rules": rules}]}


@dataclass(frozen=True)
class _Muted:
    matcher: str
    intervals: tuple[str, ...]


def time_intervals(window: MaintenanceWindow) -> list[dict[str, object]]:
    """One maintenance window as Alertmanager ``time_intervals`` entries in the province's time zone.

    The times come from `netmon.inventory.maintenance` (the expansion the history and the report use).
    Alertmanager has no absolute ranges, so a one-off window becomes one entry per local calendar day
    it touches (year + month + day + clock range); a recurring one stays recurring.
    """

    def clock_range(opens: time, closes: time | None) -> dict[str, str]:
        return {"start_time": opens.strftime("%H:%M"),
                "end_time": closes.strftime("%H:%M") if closes else "24:00"}

    if window.time is not None:
        return [{"weekdays": list(window.weekdays), "times": [clock_range(*maintenance.clock(window))],
                 "location": MAINTENANCE_TZ}]
    out: list[dict[str, object]] = []
    for a, b in maintenance.spans(window, -math.inf, math.inf):
        for start, end in maintenance.local_days(datetime.fromtimestamp(a, maintenance.ZONE),
                                                 datetime.fromtimestamp(b, maintenance.ZONE)):
            day = start.date()
            out.append({
                "years": [str(day.year)], "months": [str(day.month)], "days_of_month": [str(day.day)],
                "times": [clock_range(start.time(), None if end.date() > day else end.time())],
                "location": MAINTENANCE_TZ,
            })
    return out


def _maintenance(inventory: Inventory) -> tuple[list[dict[str, object]], list[_Muted]]:
    """Named time intervals and the routes that mute them: sites first (with their hub's windows too,
    since the first matching route wins), then hubs for everything else behind them."""
    spec = inventory.spec
    named: list[dict[str, object]] = []

    def interval(owner: str, windows: list[MaintenanceWindow]) -> tuple[str, ...]:
        if not windows:
            return ()
        name = f"maintenance-{owner}"
        named.append({"name": name, "time_intervals": [e for w in windows for e in time_intervals(w)]})
        return (name,)

    hubs = {hub.id: interval(hub.id, list(hub.maintenance)) for hub in spec.hubs}
    muted = [_Muted(f'site="{s.slug}"', interval(s.slug, list(s.maintenance)) + hubs.get(s.upstream, ()))
             for s in spec.sites if s.maintenance]
    muted += [_Muted(f'hub="{hub}"', names) for hub, names in hubs.items() if names]
    return named, muted


def alertmanager_config(inventory: Inventory, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the inventory's maintenance windows muted under every team route."""
    config = copy.deepcopy(base)
    named, muted = _maintenance(inventory)
    if not named:
        return config
    config["time_intervals"] = [*config.get("time_intervals", []), *named]
    route = config["route"]
    children = [{"matchers": [m.matcher], "mute_time_intervals": list(m.intervals)} for m in muted]
    for team_route in route.get("routes", []):
        team_route["routes"] = [*copy.deepcopy(children), *team_route.get("routes", [])]
    return config


def _dump(data: object, header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096)


def _base(path: Path) -> dict[str, Any]:
    """The operator's Alertmanager config that the generated one extends; raises `OSError` when it cannot
    be read and `ConfigError` (file, line, field) when it is not YAML with a ``route:`` mapping."""
    from netmon.inventory.source import parse

    doc = parse(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("route"), dict):
        raise ConfigError([doc.issue(("route",), "Alertmanager's config needs a route: mapping")])
    return doc.data


def render(inventory: Inventory, alerts_dir: Path) -> dict[Path, str]:
    """Every generated file under ``alerts_dir`` with its content."""
    source = Path(inventory.file).name
    header = (f"# GENERATED by `netmon alerts generate` from {source} — do not edit by hand;\n"
              "# change the inventory (or alerts/alertmanager.base.yml) and run it again.\n")
    base = _base(alerts_dir / AM_BASE_FILE)
    return {
        alerts_dir / RULES_FILE: _dump(availability_rules(inventory), header),
        alerts_dir / AM_FILE: _dump(alertmanager_config(inventory, base), header),
    }


def write(inventory: Inventory, alerts_dir: Path) -> list[Path]:
    """Write the generated files; return those whose content changed."""
    changed = []
    for path, text in render(inventory, alerts_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(inventory: Inventory, alerts_dir: Path) -> Iterator[Path]:
    """Generated files that are missing or differ from what the inventory gives."""
    for path, text in render(inventory, alerts_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            yield path
