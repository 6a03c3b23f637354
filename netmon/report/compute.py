"""From outages and rollups to the numbers a planner reads.

Definitions (docs/report.md repeats them for readers):
- A site's *availability* is measured on its primary link: ``1 - downtime / observed time``, where
  observed time is the report window (cut at "now", intersected with office hours if asked) and
  downtime is the union of that link's outages inside it. Open outages count up to "now".
- *Excluding maintenance*: planned windows of the site or its upstream hub are removed from both the
  observed time and the downtime.
- *Outages* are those of the primary link overlapping the observed time; *MTTR* is the mean full
  duration of those among them that have ended. *Downtime* is the clipped total.
- A group row (district, link type, ISP, all) sums its sites' times, so availability is weighted by
  observed time, and merges their RTT histograms for percentiles.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from exporters.history_outages import Window
from netmon.report import intervals as iv
from netmon.report.data import OutageEvent, Rollup, SiteInfo, Source

GROUPINGS = ("site", "district", "link-type", "isp")


@dataclass(slots=True)
class Row:
    key: str
    label: str
    sites: int = 0
    observed: float = 0.0
    down: float = 0.0
    observed_excl: float = 0.0
    down_excl: float = 0.0
    outages: int = 0
    repaired: int = 0
    repair_time: float = 0.0
    causes: Counter[str] = field(default_factory=Counter)
    rollup: Rollup = field(default_factory=Rollup)
    runs: int = 0
    site: SiteInfo | None = None

    @property
    def availability(self) -> float | None:
        return 1 - self.down / self.observed if self.observed > 0 else None

    @property
    def availability_excl(self) -> float | None:
        return 1 - self.down_excl / self.observed_excl if self.observed_excl > 0 else None

    @property
    def mttr(self) -> float | None:
        return self.repair_time / self.repaired if self.repaired else None

    def add(self, other: Row) -> None:
        self.sites += other.sites
        self.observed += other.observed
        self.down += other.down
        self.observed_excl += other.observed_excl
        self.down_excl += other.down_excl
        self.outages += other.outages
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
    office_hours: bool
    source: str
    rows: list[Row]
    total: Row
    sites: list[Row]
    worst: list[Row]
    by_link_type: list[Row]
    #: link type → [(local day start, availability or None)]
    daily: dict[str, list[tuple[float, float | None]]]
    outages: list[OutageEvent]


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


def site_row(
    site: SiteInfo,
    link: str,
    outages: Sequence[OutageEvent],
    observed: list[iv.Span],
    maintenance: list[iv.Span],
    rollups: dict[tuple[str, str], Rollup],
    now: float,
) -> Row:
    """One site's row for ``link`` over ``observed`` spans."""
    row = Row(site.slug, site.name, sites=1, site=site)
    mine = [o for o in outages if o.site == site.slug and o.link == link]
    spans = [(o.start, now if o.end is None else o.end) for o in mine]
    down = iv.intersect(iv.merge(spans), observed)
    observed_excl = iv.subtract(observed, maintenance)
    row.observed, row.down = iv.total(observed), iv.total(down)
    row.observed_excl, row.down_excl = iv.total(observed_excl), iv.total(iv.subtract(down, maintenance))
    for o, span in zip(mine, spans, strict=True):
        if iv.intersect([span], observed):
            row.outages += 1
            row.causes[o.cause] += 1
            if o.end is not None:
                row.repaired += 1
                row.repair_time += o.end - o.start
    row.rollup.merge(rollups.get((site.slug, link), Rollup()))
    row.runs = rollups.get((site.slug, "*"), Rollup()).runs
    return row


def build(
    source: Source,
    sites: Sequence[SiteInfo],
    start: float,
    end: float,
    now: float,
    by: str = "site",
    office_hours: bool = False,
    worst: int = 10,
    source_name: str = "store",
) -> Report:
    stop = min(end, now)
    observed = iv.office_hours(start, stop) if office_hours else ([(start, stop)] if stop > start else [])
    outages = source.outages(start, stop)
    rollups = source.rollups(start, stop)
    windows = source.maintenance()
    site_rows = [
        site_row(s, s.primary.id, outages, observed, maintenance_spans(s, windows), rollups, now)
        for s in sites
    ]
    groups: dict[str, Row] = {}
    types: dict[str, Row] = {}
    total = Row("all", "all")
    for s, row in zip(sites, site_rows, strict=True):
        key, label = group_key(s, by)
        target = groups.setdefault(key, Row(key, label)) if by != "site" else None
        for agg in (target, types.setdefault(s.primary.type, Row(s.primary.type, s.primary.type)), total):
            if agg is not None:
                agg.add(row)
    rows = site_rows if by == "site" else list(groups.values())
    ranked = sorted(site_rows, key=lambda r: (r.availability if r.availability is not None else 2, -r.down))
    primary = {(s.slug, s.primary.id) for s in sites}
    return Report(
        start=start,
        end=end,
        by=by,
        office_hours=office_hours,
        source=source_name,
        rows=sorted(rows, key=lambda r: r.key) if by != "site" else rows,
        total=total,
        sites=site_rows,
        worst=ranked[:worst],
        by_link_type=sorted(types.values(), key=lambda r: r.key),
        daily=_daily(sites, outages, observed, now),
        outages=[o for o in outages if (o.site, o.link) in primary],
    )


def _daily(
    sites: Sequence[SiteInfo], outages: Sequence[OutageEvent], observed: list[iv.Span], now: float
) -> dict[str, list[tuple[float, float | None]]]:
    """Availability per local day and primary link type, for the chart."""
    if not observed:
        return {}
    days = iv.days(observed[0][0], observed[-1][1])
    down_by_site: dict[str, list[iv.Span]] = {}
    primary = {s.slug: s.primary.id for s in sites}
    for o in outages:
        if primary.get(o.site) == o.link:
            down_by_site.setdefault(o.site, []).append((o.start, now if o.end is None else o.end))
    starts = [d[0] for d in days]
    observed_per_day = [iv.total(iv.intersect(observed, [d])) for d in days]
    down_per_day: dict[str, list[float]] = {}
    for s in sites:
        per_day = down_per_day.setdefault(s.primary.type, [0.0] * len(days))
        for a, b in iv.intersect(iv.merge(down_by_site.get(s.slug, [])), observed):
            i = max(0, bisect.bisect_right(starts, a) - 1)
            while i < len(days) and days[i][0] < b:
                per_day[i] += max(0.0, min(b, days[i][1]) - max(a, days[i][0]))
                i += 1
    out: dict[str, list[tuple[float, float | None]]] = {}
    for link_type, down in sorted(down_per_day.items()):
        members = sum(1 for s in sites if s.primary.type == link_type)
        out[link_type] = [
            (day[0], 1 - d / (seen * members) if seen else None)
            for day, d, seen in zip(days, down, observed_per_day, strict=True)
        ]
    return out


@dataclass
class Upgrade:
    site: SiteInfo
    link: str
    since: float
    before: Row
    after: Row


def upgrade(
    source: Source, site: SiteInfo, link_id: str, since: float, span_days: float, now: float
) -> Upgrade:
    """The same link's numbers for ``span_days`` before and after ``since`` (its ``since`` date)."""
    windows = maintenance_spans(site, source.maintenance())
    rows = []
    for start, end in ((since - span_days * 86400, since), (since, min(now, since + span_days * 86400))):
        observed = [(start, end)] if end > start else []
        rows.append(
            site_row(
                site,
                link_id,
                source.outages(start, end),
                observed,
                windows,
                source.rollups(start, end) if end > start else {},
                now,
            )
        )
    return Upgrade(site, link_id, since, rows[0], rows[1])
