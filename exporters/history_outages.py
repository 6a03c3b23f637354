"""Turning the stream of reachability results into outage events with a cause.

The rule (documented in docs/report.md): a *subject* is a site's link (``site``, ``link``) or a hub
/ the data center (``link`` ""), observed by its ICMP check(s). ``open_after`` consecutive failed
runs (default 2, so one lost burst is not an outage) open an outage that starts at the *first*
failed run; the next successful run closes it at that run's start. Its duration is therefore exact
to within one check interval. Time we did not observe is never counted: if no result arrives for
``max_gap`` seconds while an outage is open, it is closed at the last failure we saw.

The cause is decided when an outage opens and again when it closes, in this order:
1. ``maintenance`` — it started inside a planned window for the site or its upstream hub;
2. ``hub`` — the upstream hub had an outage that began no later than ``hub_slack`` after this one
   and had not ended when this one began (the hub down takes every site behind it);
3. ``power`` — the site's UPS reported on battery (``netmon_ups_on_battery`` 1) between
   ``power_lookback`` before the start and the end (the link usually dies when the battery does);
4. ``link`` — everything else: the local link itself.

A site's secure channel (its encryptor's tunnel, the checks in `Topology.secure`) is a subject of its
own, ``link`` = the check id, with the cause ``secure_channel``: never a link outage, never counted
against the line's provider. It is judged only while the line it rides answers — a cut line takes
the tunnel with it, and that is the line's outage, recorded once.

This module is pure (no I/O); `exporters.history` persists what it returns.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from probes.base import Result
from probes.power import UPS_ON_BATTERY

CAUSES = ("maintenance", "hub", "power", "link", "secure_channel")


@dataclass(frozen=True, slots=True)
class Window:
    """A planned maintenance window for a site or a hub (``site`` holds either slug)."""

    site: str
    start: float
    end: float
    reason: str = ""


@dataclass(frozen=True)
class Topology:
    """What the tracker must know about the inventory, as plain values.

    ``upstream`` maps ``"site"`` or ``"site/link"`` (a link with its own hub) to the hub slug;
    ``intervals`` maps a check's key (``"site/check"``) to its interval in seconds, the time one run
    stands for (`exporters.history_samples`); ``secure`` maps a secure-channel check's key to the link
    its tunnel rides.
    """

    upstream: Mapping[str, str] = field(default_factory=dict)
    maintenance: tuple[Window, ...] = ()
    intervals: Mapping[str, float] = field(default_factory=dict)
    secure: Mapping[str, str] = field(default_factory=dict)

    def hub_of(self, site: str, link: str) -> str | None:
        return self.upstream.get(f"{site}/{link}") or self.upstream.get(site)


@dataclass(slots=True)
class Outage:
    """One outage of one subject; ``end`` is None while open. ``id`` is the store's row id."""

    site: str
    link: str
    start: float
    last_seen: float
    end: float | None = None
    cause: str = "link"
    failures: int = 0
    id: int | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass(slots=True)
class _Subject:
    fails: int = 0
    first_fail: float = 0.0
    last_fail: float = 0.0
    open: Outage | None = None
    #: The last outages closed, made at the first: an empty deque is 624 bytes, and most of a national
    #: inventory's links never fail (50,000 of them were 31 MB of empty deques).
    closed: deque[Outage] | None = None

    def history(self) -> list[Outage]:
        """Its recent outages, closed and open."""
        return [*(self.closed or ()), *([self.open] if self.open else [])]


class OutageTracker:
    """Per-subject state machine; `observe` returns the outages it opened, extended or closed."""

    def __init__(
        self,
        topology: Topology | None = None,
        open_after: int = 2,
        max_gap: float = 600.0,
        hub_slack: float = 120.0,
        power_lookback: float = 900.0,
        probes: tuple[str, ...] = ("icmp",),
    ):
        if open_after < 1:
            raise ValueError("open_after must be at least 1")
        self.topology = topology or Topology()
        self.open_after = open_after
        self.max_gap = max_gap
        self.hub_slack = hub_slack
        self.power_lookback = power_lookback
        self.probes = probes
        self._subjects: dict[tuple[str, str], _Subject] = {}
        self._battery: dict[str, deque[tuple[float, float]]] = {}

    def watches(self, result: Result) -> bool:
        """Reachability is what ICMP checks measure (``probes``); other probes feed rollups only."""
        return result.probe in self.probes

    def resume(self, outages: Iterable[Outage]) -> None:
        """Take back the outages a previous run left open (from the store)."""
        for o in outages:
            subject = self._subject(o.site, o.link)
            subject.open, subject.fails = o, self.open_after
            subject.first_fail = o.start
            subject.last_fail = o.last_seen

    def open_outages(self) -> list[Outage]:
        return [s.open for s in self._subjects.values() if s.open is not None]

    def close_stale(self, now: float) -> list[Outage]:
        """Close outages not seen failing for ``max_gap`` at their last failure (e.g. after a restart)."""
        out = []
        for subject in self._subjects.values():
            if subject.open is not None and now - subject.last_fail > self.max_gap:
                out.append(self._close(subject, subject.last_fail))
        return out

    def observe(self, result: Result) -> list[Outage]:
        if result.probe not in self.probes:  # `watches`, inline: this runs for every result
            return self._power(result)
        # A reachability run carries no power evidence (that is equipment's, SNMP's UPS profile): its
        # measurements are not read here (13 of them per ICMP run, for every result).
        changed: list[Outage] = []
        secure = self.topology.secure
        line = secure.get(result.key) if secure else None
        if line is not None and self._failing(result.site, line):
            return changed
        name = result.check if line is not None else result.link
        subject = self._subjects.get((result.site, name)) or self._subject(result.site, name)
        t = result.started
        if subject.open is not None and t - subject.last_fail > self.max_gap:
            changed.append(self._close(subject, subject.last_fail))
        if result.success:
            if subject.open is not None:
                changed.append(self._close(subject, t))
            subject.fails = 0
            return changed
        if subject.fails == 0:
            subject.first_fail = t
        subject.fails += 1
        subject.last_fail = t
        if subject.open is not None:
            subject.open.last_seen = t
            subject.open.failures += 1
            changed.append(subject.open)
        elif subject.fails >= self.open_after:
            outage = Outage(result.site, name, subject.first_fail, t, failures=subject.fails)
            outage.cause = self.cause(outage)
            subject.open = outage
            changed.append(outage)
        return changed

    def _power(self, result: Result) -> list[Outage]:
        """Keep the UPS's on-battery readings in ``result``; the outages whose cause they change."""
        changed: list[Outage] = []
        for m in result.measurements:
            if m[0] == UPS_ON_BATTERY:
                self._battery.setdefault(result.site, deque(maxlen=64)).append((result.started, m.value))
                if m.value >= 1:
                    changed += self._recause(result.site)
        return changed

    def cause(self, outage: Outage) -> str:
        """The cause of ``outage`` by the rule in the module docstring."""
        if f"{outage.site}/{outage.link}" in self.topology.secure:
            return "secure_channel"
        hub = self.topology.hub_of(outage.site, outage.link)
        for w in self.topology.maintenance:
            if w.site in (outage.site, hub) and w.start <= outage.start < w.end:
                return "maintenance"
        if hub is not None and self._hub_down(hub, outage):
            return "hub"
        end = math.inf if outage.end is None else outage.end
        for t, value in self._battery.get(outage.site, ()):
            if value >= 1 and outage.start - self.power_lookback <= t <= end:
                return "power"
        return "link"

    def _recause(self, site: str) -> list[Outage]:
        """Evidence can arrive after the outage closed: an edge agent polls the UPS over the LAN during a
        cut and delivers its backlog once the link is back. Decide the site's recent outages again."""
        out = []
        for (s, _), subject in self._subjects.items():
            if s != site:
                continue
            for outage in subject.history():
                cause = self.cause(outage)
                if cause != outage.cause:
                    outage.cause = cause
                    out.append(outage)
        return out

    def _failing(self, site: str, link: str) -> bool:
        """Whether the link is failing or in an outage now (its secure channel is then not judged)."""
        subject = self._subjects.get((site, link))
        return subject is not None and (subject.fails > 0 or subject.open is not None)

    def _hub_down(self, hub: str, outage: Outage) -> bool:
        subject = self._subjects.get((hub, ""))
        if subject is None:
            return False
        return any(
            h.start <= outage.start + self.hub_slack and (h.end is None or h.end >= outage.start)
            for h in subject.history()
        )

    def _close(self, subject: _Subject, end: float) -> Outage:
        outage = subject.open
        assert outage is not None
        outage.end = max(end, outage.start)
        outage.cause = self.cause(outage)
        subject.open = None
        subject.fails = 0
        if subject.closed is None:
            subject.closed = deque(maxlen=32)
        subject.closed.append(outage)
        return outage

    def _subject(self, site: str, link: str) -> _Subject:
        key = (site, link)
        subject = self._subjects.get(key)
        if subject is None:
            subject = self._subjects[key] = _Subject()
        return subject
