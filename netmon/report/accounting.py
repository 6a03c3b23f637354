"""The accounting rules, stated once and applied by every planner's filing (contract, incidents,
the periodic report). docs/report.md explains each with a worked example.

1. **Service period** (``--service-period``): only the centers' opening hours count, Vietnamese
   public holidays left out (`netmon.report.calendar`). Without it, all hours count.
2. **Reclassification**: the latest planner verdict on an outage replaces its cause: ``maintenance``
   (planned work: left out of the figures "excluding maintenance" and of the contract), ``power`` (the
   center's own power: counts for the citizens, not against the provider), ``provider`` (the ISP's
   fault: counts everywhere), ``not-outage`` (a false alarm: removed from every figure). The original
   cause stays visible in the incident log.
3. **Short interruptions** (``accounting.ignore_shorter_than``): outages whose whole duration is
   shorter are dropped from every figure; off (0) by default, disclosed in the header when on. An
   outage still open is never dropped.
4. **Against the provider**: outages caused by the link, its hub, or reclassified ``provider``.
5. **Error budget**: allowed downtime = (1 - contracted availability) × the contract's observed time
   (the period, or the service period, minus maintenance); ``warning`` from ``budget_warning`` (half)
   of it used, ``breached`` beyond all of it.
6. **Outage-count SLA**: at most ``max_outages_per_month`` × (observed days / 30.44) outages against
   the provider.

Observed time is the planners' truth of `netmon.report.compute` (the spans the reachability checks'
runs stand for): time nobody observed is neither up nor down, and below the coverage floor a figure
is not given. Down time is the union of the *accounted outages* inside it (rules 2-4 decide which
outages, `compute.outage_row` does the union and maintenance), so a reclassification or the
short-interruption filter changes the figures exactly by the outages it concerns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from exporters.history_samples import SampleSpan
from netmon.inventory.model import Accounting
from netmon.report import calendar
from netmon.report import intervals as iv
from netmon.report.compute import COVERAGE_FLOOR, Row, observed_spans, outage_row
from netmon.report.data import OutageEvent, Rollup, SiteInfo
from netmon.report.reclassify import OutageKey, Reclassification

#: Causes that count against the provider's contract.
AGAINST_PROVIDER = frozenset({"link", "hub", "provider"})
MONTH_DAYS = 365.25 / 12


def key(o: OutageEvent) -> OutageKey:
    return (o.site, o.link, o.start)


@dataclass(frozen=True, slots=True)
class Rules:
    accounting: Accounting
    service_period: bool = False

    @property
    def ignore_shorter_than(self) -> float:
        return self.accounting.ignore_shorter_than

    def window(self, start: float, stop: float) -> list[iv.Span]:
        """The time a figure is about: the period, or its service period."""
        if stop <= start:
            return []
        if self.service_period:
            return calendar.service_spans(self.accounting.service_period, start, stop)
        return [(start, stop)]

    def uncovered_years(self, start: float, end: float) -> list[int]:
        """Years whose holidays are unknown, when they matter (only with the service period)."""
        if not self.service_period:
            return []
        return calendar.uncovered_years(self.accounting.service_period, start, end)


@dataclass(frozen=True, slots=True)
class Note:
    """The folded audit trail of one outage: its current verdict, ticket and actions."""

    original: str
    cause: str
    entries: tuple[Reclassification, ...]
    ticket: str | None
    actions: str | None

    @property
    def reclassified(self) -> bool:
        return self.cause != self.original


def fold(entries: Iterable[Reclassification]) -> dict[OutageKey, Note]:
    """Latest verdict, latest ticket and latest actions per outage (entries oldest first)."""
    out: dict[OutageKey, Note] = {}
    for e in entries:
        prev = out.get(e.key) or Note(e.original, e.original, (), None, None)
        out[e.key] = Note(
            e.original,
            e.as_cause or prev.cause,
            (*prev.entries, e),
            e.ticket or prev.ticket,
            e.actions or prev.actions,
        )
    return out


@dataclass
class Accounted:
    """The outages a report counts, after rules 2 and 3, and what was left out (for the header)."""

    outages: list[OutageEvent]
    notes: dict[OutageKey, Note] = field(default_factory=dict)
    reclassified: int = 0
    not_outages: int = 0
    ignored_short: int = 0
    _by_site: dict[str, list[OutageEvent]] | None = field(default=None, init=False, repr=False)

    def of_site(self, site: str) -> list[OutageEvent]:
        """``site``'s outages: indexed once, since reports ask site by site over thousands of them."""
        if self._by_site is None:
            self._by_site = {}
            for o in self.outages:
                self._by_site.setdefault(o.site, []).append(o)
        return self._by_site.get(site, [])

    @staticmethod
    def against_provider(outages: Iterable[OutageEvent]) -> list[OutageEvent]:
        return [o for o in outages if o.cause in AGAINST_PROVIDER]

    def maintenance(self, site: str) -> list[iv.Span]:
        """Outages of ``site`` reclassified as maintenance: excluded like planned windows."""
        return [(o.start, o.end) for o in self.of_site(site) if o.cause == "maintenance" and o.end]


def account(outages: Sequence[OutageEvent], entries: Iterable[Reclassification], rules: Rules) -> Accounted:
    notes = fold(entries)
    result = Accounted([], notes)
    for o in outages:
        note = notes.get(key(o))
        if note is not None and note.reclassified:
            result.reclassified += 1
            if note.cause == "not-outage":
                result.not_outages += 1
                continue
            o = replace(o, cause=note.cause)
        if o.end is not None and o.end - o.start < rules.ignore_shorter_than:
            result.ignored_short += 1
            continue
        result.outages.append(o)
    return result


def samples_by_site(samples: Iterable[SampleSpan]) -> dict[str, list[SampleSpan]]:
    """Reports ask site by site: index the period's samples once."""
    out: dict[str, list[SampleSpan]] = {}
    for x in samples:
        out.setdefault(x.site, []).append(x)
    return out


def accounted_row(
    site: SiteInfo,
    link: str,
    outages: Sequence[OutageEvent],
    samples: Sequence[SampleSpan],
    window: list[iv.Span],
    maintenance: list[iv.Span],
    rollups: dict[tuple[str, str], Rollup],
    now: float,
) -> Row:
    """``link``'s row: the accounted ``outages`` over the observed part of ``window``, with the window
    and the coverage floor of the planners' figures (so a link seen too little reads "not enough data")."""
    seen, _ = observed_spans(samples, site.slug, link)
    row = outage_row(site, link, outages, iv.intersect(seen, window), maintenance, rollups, now)
    row.window = iv.total(window)
    row.window_excl = iv.total(iv.subtract(window, maintenance))
    row.floor = COVERAGE_FLOOR
    return row


@dataclass(frozen=True, slots=True)
class Budget:
    """Rule 5. ``allowed`` and ``used`` in seconds."""

    allowed: float
    used: float
    warning_at: float

    @property
    def fraction(self) -> float | None:
        if self.allowed > 0:
            return self.used / self.allowed
        return None if self.used == 0 else float("inf")

    @property
    def state(self) -> str:
        f = self.fraction
        if f is None or f < self.warning_at:
            return "ok"
        return "warning" if f <= 1 else "breached"


def budget(availability: float, observed: float, down: float, warning_at: float) -> Budget:
    return Budget((1 - availability) * observed, down, warning_at)


def allowed_outages(per_month: int | None, observed_days: float) -> float | None:
    """Rule 6: the period's allowance, pro rata of 30.44-day months."""
    return None if per_month is None else per_month * observed_days / MONTH_DAYS
