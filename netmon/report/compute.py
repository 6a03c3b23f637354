"""From observed samples, outages and rollups to the numbers a planner reads: every report's rows
come from `site_row`, under the accounting rules of `netmon.report.accounting` (service period,
coverage floor, reclassifications, short interruptions, which outages count against the provider).

How they make a row (docs/report.md repeats it for readers, in Vietnamese and English):
- The *window* is the time asked about: the report range cut at "now", intersected with the
  service period if asked. *Observed* time is the part of it some run of the site's primary-link
  reachability check stood for (`exporters.history_samples`); *coverage* is observed ÷ window.
- *Availability* is ``1 - down / observed``: down is the observed time whose run failed (for ICMP, a
  burst that lost every echo), but for outages the planners removed (`accounting.down_spans`).
  Time nobody observed is neither up nor down. Below the coverage
  floor (default 90 %) the figure is not meaningful and is reported as such (None), never as a
  percentage; with no observed time at all the site has "no data".
- *Excluding maintenance*: planned windows of the site or its upstream hub are removed from the
  window, the observed time and the down time alike, and the floor applies to what is left.
- *Outages* are those of the primary link (two consecutive failed runs open one) overlapping the
  window; *MTTR* is the mean full duration of those that have ended. A secure channel's outages
  (cause ``secure_channel``) are listed beside them in the report's outage log, never counted in a
  row. Failed runs that opened no outage (a fault shorter than the detection floor of two runs) are
  *short outages*: each maximal stretch of down samples outside any outage counts once, as
  instability.
- A group row (district, link type, ISP, all) sums its sites' times, so availability is weighted by
  observed time and coverage is that of the whole group; RTT histograms merge for percentiles.
- *Worst* sites: the meaningful ones by availability (lowest first), then most short outages; sites
  below the floor come after them, since nothing can be said of them.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from exporters.history_outages import Window
from exporters.history_samples import SampleSpan
from netmon.inventory.model import SECURE_CHECK
from netmon.report import intervals as iv
from netmon.report.accounting import COVERAGE_FLOOR, Accounted, Rules, down_spans, for_source
from netmon.report.data import OutageEvent, Rollup, SiteInfo, Source

GROUPINGS = ("site", "district", "link-type", "isp")


@dataclass(slots=True)
class Row:
    key: str
    label: str
    sites: int = 0
    window: float = 0.0
    observed: float = 0.0
    down: float = 0.0
    window_excl: float = 0.0
    observed_excl: float = 0.0
    down_excl: float = 0.0
    outages: int = 0
    short: int = 0
    repaired: int = 0
    repair_time: float = 0.0
    causes: Counter[str] = field(default_factory=Counter)
    rollup: Rollup = field(default_factory=Rollup)
    runs: int = 0
    site: SiteInfo | None = None
    floor: float = COVERAGE_FLOOR

    @property
    def coverage(self) -> float | None:
        return self.observed / self.window if self.window > 0 else None

    @property
    def coverage_excl(self) -> float | None:
        return self.observed_excl / self.window_excl if self.window_excl > 0 else None

    @property
    def meaningful(self) -> bool:
        """Enough of the window was observed for the availability figure to mean something."""
        return self.observed > 0 and (self.coverage or 0.0) >= self.floor - 1e-9

    @property
    def availability(self) -> float | None:
        """Over observed time; None when below the coverage floor (or nothing was observed)."""
        return 1 - self.down / self.observed if self.meaningful else None

    @property
    def availability_excl(self) -> float | None:
        if self.observed_excl <= 0 or (self.coverage_excl or 0.0) < self.floor - 1e-9:
            return None
        return 1 - self.down_excl / self.observed_excl

    @property
    def mttr(self) -> float | None:
        return self.repair_time / self.repaired if self.repaired else None

    def add(self, other: Row) -> None:
        self.sites += other.sites
        self.window += other.window
        self.observed += other.observed
        self.down += other.down
        self.window_excl += other.window_excl
        self.observed_excl += other.observed_excl
        self.down_excl += other.down_excl
        self.outages += other.outages
        self.short += other.short
        self.repaired += other.repaired
        self.repair_time += other.repair_time
        self.causes.update(other.causes)
        self.rollup.merge(other.rollup)
        self.runs += other.runs


@dataclass
class Report:
    start: float
    end: float
    by: str
    rules: Rules
    accounted: Accounted
    source: str
    rows: list[Row]
    total: Row
    sites: list[Row]
    worst: list[Row]
    by_link_type: list[Row]
    #: link type → [(local day start, availability or None)]
    daily: dict[str, list[tuple[float, float | None]]]
    #: The log: the primary lines' outages (what the rows count) and the secure channels' (listed only).
    outages: list[OutageEvent]

    @property
    def floor(self) -> float:
        return self.rules.floor


def group_key(site: SiteInfo, by: str) -> tuple[str, str]:
    if by == "site":
        return site.slug, site.name
    if by == "district":
        return site.district, site.district
    if by == "link-type":
        return site.primary.type, site.primary.type
    if by == "isp":
        return site.primary.isp, site.primary.isp
    raise ValueError(f"unknown grouping {by!r} (one of {', '.join(GROUPINGS)})")


def maintenance_spans(site: SiteInfo, windows: Iterable[Window]) -> list[iv.Span]:
    return iv.merge((w.start, w.end) for w in windows if w.site in (site.slug, site.upstream))


def observed_spans(
    samples: Sequence[SampleSpan], site: str, link: str
) -> tuple[list[iv.Span], list[iv.Span]]:
    """(observed, down) time of ``site``'s ``link``: down is where a failed run stands and no
    successful one does (two checks of one link can disagree; a reply from either is "up")."""
    mine = [s for s in samples if s.site == site and s.link == link]
    up = iv.merge((s.start, s.end) for s in mine if not s.down)
    down = iv.subtract(iv.merge((s.start, s.end) for s in mine if s.down), up)
    return iv.merge((s.start, s.end) for s in mine), down


def link_spans(
    site: str,
    link: str,
    accounted: Accounted,
    samples: Sequence[SampleSpan],
    window: list[iv.Span],
    now: float,
    provider_only: bool = False,
) -> tuple[list[iv.Span], list[iv.Span], list[OutageEvent]]:
    """(observed, down) time of ``link`` inside ``window`` under the accounting rules, and the
    outages counted: what every row, day cell and chart point of every report is made of."""
    seen, failed = observed_spans(samples, site, link)
    down, outages = down_spans(failed, site, link, accounted, now, provider_only)
    return iv.intersect(seen, window), iv.intersect(down, window), outages


def site_row(
    site: SiteInfo,
    link: str,
    accounted: Accounted,
    samples: Sequence[SampleSpan],
    window: list[iv.Span],
    maintenance: list[iv.Span],
    rollups: dict[tuple[str, str], Rollup],
    now: float,
    floor: float = COVERAGE_FLOOR,
    provider_only: bool = False,
) -> Row:
    """One site's row for ``link`` over the ``window`` spans, by the accounting rules above;
    ``provider_only``: the down time and outages that count against the provider."""
    row = Row(site.slug, site.name, sites=1, site=site, floor=floor)
    observed, down, outages = link_spans(site.slug, link, accounted, samples, window, now, provider_only)
    maintenance = iv.merge([*maintenance, *accounted.maintenance(site.slug)])
    row.window, row.observed, row.down = iv.total(window), iv.total(observed), iv.total(down)
    row.window_excl = iv.total(iv.subtract(window, maintenance))
    row.observed_excl = iv.total(iv.subtract(observed, maintenance))
    row.down_excl = iv.total(iv.subtract(down, maintenance))
    in_outage = _outages(row, outages, window, now)
    row.short = iv.apart(down, in_outage)
    _rollups(row, rollups, link)
    return row


def _outages(row: Row, mine: Sequence[OutageEvent], window: list[iv.Span], now: float) -> list[iv.Span]:
    """Count the link's outages overlapping ``window`` into ``row``; return the time they cover."""
    spans = [(o.start, now if o.end is None else o.end) for o in mine]
    for o, span in zip(mine, spans, strict=True):
        if iv.intersect([span], window):
            row.outages += 1
            row.causes[o.cause] += 1
            if o.end is not None:
                row.repaired += 1
                row.repair_time += o.end - o.start
    return iv.merge(spans)


def _rollups(row: Row, rollups: dict[tuple[str, str], Rollup], link: str) -> None:
    row.rollup.merge(rollups.get((row.key, link), Rollup()))
    row.runs = rollups.get((row.key, "*"), Rollup()).runs


def rank(rows: Iterable[Row]) -> list[Row]:
    """Worst first: meaningful rows by availability, then most short outages; the rest after."""
    return sorted(
        rows,
        key=lambda r: (
            (0, r.availability, -r.short, -r.down) if r.availability is not None else (1, 0.0, 0, -r.observed)
        ),
    )


def build(
    source: Source,
    sites: Sequence[SiteInfo],
    start: float,
    end: float,
    now: float,
    by: str = "site",
    rules: Rules | None = None,
    worst: int = 10,
    source_name: str = "store",
) -> Report:
    """`netmon report`: every site's primary link and the groups, under ``rules`` (default: all
    hours, the 90 % coverage floor, no short-interruption filter; reclassifications always apply)."""
    rules = rules or Rules()
    floor = rules.floor
    stop = min(end, now)
    window = rules.window(start, stop)
    accounted = for_source(source, rules, start, stop)
    samples = source.samples(start, stop)
    rollups = source.rollups(start, stop)
    windows = source.maintenance()
    site_rows = [
        site_row(
            s, s.primary.id, accounted, samples, window, maintenance_spans(s, windows), rollups, now, floor
        )
        for s in sites
    ]
    groups: dict[str, Row] = {}
    types: dict[str, Row] = {}
    total = Row("all", "all", floor=floor)
    for s, row in zip(sites, site_rows, strict=True):
        key, label = group_key(s, by)
        target = groups.setdefault(key, Row(key, label, floor=floor)) if by != "site" else None
        link_type = types.setdefault(s.primary.type, Row(s.primary.type, s.primary.type, floor=floor))
        for agg in (target, link_type, total):
            if agg is not None:
                agg.add(row)
    rows = site_rows if by == "site" else list(groups.values())
    ranked = rank(site_rows)
    # The log lists what each row counts (the primary line) and the secure channels it does not count.
    listed = {(s.slug, lk) for s in sites for lk in (s.primary.id, SECURE_CHECK)}
    return Report(
        start=start,
        end=end,
        by=by,
        rules=rules,
        accounted=accounted,
        source=source_name,
        rows=sorted(rows, key=lambda r: r.key) if by != "site" else rows,
        total=total,
        sites=site_rows,
        worst=ranked[:worst],
        by_link_type=sorted(types.values(), key=lambda r: r.key),
        daily=_daily(sites, accounted, samples, window, floor, now),
        outages=[o for o in accounted.outages if (o.site, o.link) in listed],
    )


def _daily(
    sites: Sequence[SiteInfo],
    accounted: Accounted,
    samples: Sequence[SampleSpan],
    window: list[iv.Span],
    floor: float,
    now: float,
) -> dict[str, list[tuple[float, float | None]]]:
    """Availability per local day and primary link type, for the chart: over the observed time of
    that day's window, None ("no data") when the day's coverage is below ``floor``."""
    if not window:
        return {}
    days = iv.days(window[0][0], window[-1][1])
    starts = [d[0] for d in days]
    per_type: dict[str, list[list[float]]] = {}  # link type → per day [window, observed, down]
    for s in sites:
        sums = per_type.setdefault(s.primary.type, [[0.0, 0.0, 0.0] for _ in days])
        seen, down, _ = link_spans(s.slug, s.primary.id, accounted, samples, window, now)
        for i, day in enumerate(days):
            sums[i][0] += iv.total(iv.intersect(window, [day]))
        for column, spans in ((1, seen), (2, down)):
            for a, b in spans:
                i = max(0, bisect.bisect_right(starts, a) - 1)
                while i < len(days) and days[i][0] < b:
                    sums[i][column] += max(0.0, min(b, days[i][1]) - max(a, days[i][0]))
                    i += 1
    return {
        link_type: [
            (day[0], 1 - d / seen if seen > 0 and seen >= floor * asked - 1e-9 else None)
            for day, (asked, seen, d) in zip(days, sums, strict=True)
        ]
        for link_type, sums in sorted(per_type.items())
    }


@dataclass
class Upgrade:
    site: SiteInfo
    link: str
    since: float
    before: Row
    after: Row


def upgrade(
    source: Source,
    site: SiteInfo,
    link_id: str,
    since: float,
    span_days: float,
    now: float,
    rules: Rules | None = None,
) -> Upgrade:
    """The same link's numbers for ``span_days`` before and after ``since`` (its ``since`` date)."""
    rules = rules or Rules()
    windows = maintenance_spans(site, source.maintenance())
    rows = []
    for start, end in ((since - span_days * 86400, since), (since, min(now, since + span_days * 86400))):
        if end <= start:
            rows.append(Row(site.slug, site.name, sites=1, site=site, floor=rules.floor))
            continue
        rows.append(
            site_row(
                site,
                link_id,
                for_source(source, rules, start, end),
                source.samples(start, end),
                rules.window(start, end),
                windows,
                source.rollups(start, end),
                now,
                rules.floor,
            )
        )
    return Upgrade(site, link_id, since, rows[0], rows[1])
