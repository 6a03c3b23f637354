"""The accounting rules, stated once and applied by every report: `netmon report` (table, CSV, JSON,
HTML, from the store or Prometheus), the contract, the incident log and the periodic filing. Each
states them in its header (`netmon.report.filing_text.rules_header`); docs/report.md explains each
with a worked example.

1. **Service period** (``--service-period``, alias ``--office-hours``): only the centers' opening
   hours count, Vietnamese public holidays left out (`netmon.report.calendar`). Without it, all
   hours count.
2. **Observed time** (#13's planners' truth): the spans the reachability checks' runs stand for;
   time nobody observed is neither up nor down, and below the coverage floor (``--coverage-floor``,
   default 90 %) a figure is not given. Down time is the observed time whose runs failed.
3. **Reclassification**: the latest planner verdict on an outage replaces its cause:
   ``maintenance`` (planned work: left out of the figures "excluding maintenance" and of the
   contract), ``power`` (the center's own power: counts for the citizens, not against the
   provider), ``provider`` (the ISP's fault: counts everywhere), ``not-outage`` (a false alarm: its
   time counts as up and it is no outage). The original cause stays visible in the incident log.
   Only the history store keeps the audit trail: a report from Prometheus says it applied none.
4. **Short interruptions** (``accounting.ignore_shorter_than``): outages whose whole duration is
   shorter are no outage and their time counts as up; off (0) by default, disclosed in the header
   when on. An outage still open is never dropped. Failed runs that opened no outage (shorter than
   the detection floor of two runs) stay down time, counted as "short outages".
5. **Against the provider**: the down time inside outages caused by the link, its hub, or
   reclassified ``provider``.
6. **Error budget**: allowed downtime = (1 - contracted availability) × the contract's observed time
   (the period, or the service period, minus maintenance); ``warning`` from ``budget_warning`` (half)
   of it used, ``breached`` beyond all of it.
7. **Outage-count SLA**: at most ``max_outages_per_month`` × (observed days / 30.44) outages against
   the provider.

`account` applies rules 3-4 to the outages once per report; `down_spans` turns a link's failed time
into the down time each figure counts, and `netmon.report.compute.site_row` makes every row from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from exporters.history_samples import SampleSpan
from netmon.inventory.model import Accounting
from netmon.report import calendar
from netmon.report import intervals as iv
from netmon.report.data import OutageEvent, Source
from netmon.report.reclassify import OutageKey, Reclassification, history

#: Below this coverage (observed ÷ window) an availability figure is not meaningful.
COVERAGE_FLOOR = 0.9

#: Causes that count against the provider's contract.
AGAINST_PROVIDER = frozenset({"link", "hub", "provider"})
MONTH_DAYS = 365.25 / 12


def key(o: OutageEvent) -> OutageKey:
    return (o.site, o.link, o.start)


@dataclass(frozen=True, slots=True)
class Rules:
    accounting: Accounting = field(default_factory=Accounting)
    service_period: bool = False
    floor: float = COVERAGE_FLOOR

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
    """The outages a report counts, after rules 3 and 4, and what was left out (for the header)."""

    outages: list[OutageEvent]
    notes: dict[OutageKey, Note] = field(default_factory=dict)
    reclassified: int = 0
    not_outages: int = 0
    ignored_short: int = 0
    #: Outages left out (not an outage, or shorter than the filter): their time counts as up.
    removed: list[OutageEvent] = field(default_factory=list)
    #: Whether the audit trail could be read (only the history store keeps it).
    trail: bool = True
    _by_site: dict[str, list[OutageEvent]] | None = field(default=None, init=False, repr=False)
    _removed_by_site: dict[str, list[OutageEvent]] | None = field(default=None, init=False, repr=False)

    def of_site(self, site: str) -> list[OutageEvent]:
        """``site``'s outages: indexed once, since reports ask site by site over thousands of them."""
        if self._by_site is None:
            self._by_site = _index(self.outages)
        return self._by_site.get(site, [])

    def removed_of(self, site: str) -> list[OutageEvent]:
        if self._removed_by_site is None:
            self._removed_by_site = _index(self.removed)
        return self._removed_by_site.get(site, [])

    @staticmethod
    def against_provider(outages: Iterable[OutageEvent]) -> list[OutageEvent]:
        return [o for o in outages if o.cause in AGAINST_PROVIDER]

    def maintenance(self, site: str) -> list[iv.Span]:
        """Outages of ``site`` reclassified as maintenance: excluded like planned windows."""
        return [(o.start, o.end) for o in self.of_site(site) if o.cause == "maintenance" and o.end]


def _index(outages: Iterable[OutageEvent]) -> dict[str, list[OutageEvent]]:
    out: dict[str, list[OutageEvent]] = {}
    for o in outages:
        out.setdefault(o.site, []).append(o)
    return out


def account(
    outages: Sequence[OutageEvent], entries: Iterable[Reclassification], rules: Rules, trail: bool = True
) -> Accounted:
    notes = fold(entries)
    result = Accounted([], notes, trail=trail)
    for o in outages:
        note = notes.get(key(o))
        if note is not None and note.reclassified:
            result.reclassified += 1
            if note.cause == "not-outage":
                result.not_outages += 1
                result.removed.append(o)
                continue
            o = replace(o, cause=note.cause)
        if o.end is not None and o.end - o.start < rules.ignore_shorter_than:
            result.ignored_short += 1
            result.removed.append(o)
            continue
        result.outages.append(o)
    return result


def for_source(source: Source, rules: Rules, start: float, stop: float) -> Accounted:
    """The period's outages under ``rules``, with the store's audit trail when the source has one."""
    conn = getattr(source, "conn", None)
    return account(source.outages(start, stop), history(conn) if conn else [], rules, trail=conn is not None)


def span(o: OutageEvent, now: float) -> iv.Span:
    return (o.start, now if o.end is None else o.end)


def down_spans(
    failed: list[iv.Span],
    site: str,
    link: str,
    accounted: Accounted,
    now: float,
    provider_only: bool = False,
) -> tuple[list[iv.Span], list[OutageEvent]]:
    """Rules 3-5 on ``link``'s failed time: (the down time a figure counts, the outages it counts).
    For the citizens every failed run counts but the removed outages'; against the provider only
    what falls inside its outages."""
    mine = [o for o in accounted.of_site(site) if o.link == link]
    gone = [span(o, now) for o in accounted.removed_of(site) if o.link == link]
    down = iv.subtract(failed, iv.merge(gone)) if gone else failed
    if provider_only:
        mine = accounted.against_provider(mine)
        down = iv.intersect(down, iv.merge(span(o, now) for o in mine))
    return down, mine


def samples_by_site(samples: Iterable[SampleSpan]) -> dict[str, list[SampleSpan]]:
    """Reports ask site by site: index the period's samples once."""
    out: dict[str, list[SampleSpan]] = {}
    for x in samples:
        out.setdefault(x.site, []).append(x)
    return out


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
