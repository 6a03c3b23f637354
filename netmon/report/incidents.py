"""The incident log: one line per outage with what an incident notification asks for — time, site,
cause, duration, impact, actions taken and the VNPT ticket number — in the order they happened.

Impact is computed, not typed: an outage of a center's primary link while its backup link stayed up
left the center working on the backup; without a backup (or with both down) the center was offline
for the overlap. A center's secure channel (its encryptor's tunnel, the check `SECURE_CHECK`) is a
subject of its own: its outage is logged with the impact "line up, secure channel down" and no offline
time — the history store records it only while the line it rides answers, and it never counts against
the line (`netmon.report.compute` counts the lines). Cause, actions and ticket come from the audit
trail (`netmon.report.reclassify`) when a planner gave them; the original cause stays beside the
current one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netmon.agent.view import silent_during
from netmon.inventory.model import SECURE_CHECK
from netmon.report import intervals as iv
from netmon.report.accounting import Accounted, Note, key
from netmon.report.data import OutageEvent, SiteInfo
from netmon.report.reclassify import OutageKey

#: How many incidents the printed filing lists in full, the longest by time offline (the CSV log
#: lists them all): a year of a province's outages would otherwise run to a hundred pages.
PRINTED = 30


def longest(items: Sequence[Incident], n: int = PRINTED) -> list[Incident]:
    """The ``n`` incidents that left centers offline longest, in the order they happened."""
    worst = sorted((i for i in items if i.offline > 0), key=lambda i: -i.offline)[:n]
    return sorted(worst, key=lambda i: (i.outage.start, i.site.slug))


@dataclass(frozen=True, slots=True)
class Incident:
    id: int | None
    site: SiteInfo
    outage: OutageEvent
    #: Seconds from start to end, or to "now" while open.
    duration: float
    #: Seconds the center had no working link at all during this outage.
    offline: float
    #: "offline", "on-backup" (primary lost, backup carried the center), "backup-lost" or "secure-channel"
    #: (the line answered, the encrypted channel over it did not).
    impact: str
    note: Note | None
    #: When the center's edge agent was not heard during the outage (it died, lost power, was killed:
    #: distinct from the link being down, when it keeps measuring); None for a center without an agent.
    agent_silent: tuple[iv.Span, ...] | None = None

    @property
    def cause(self) -> str:
        return self.outage.cause

    @property
    def original_cause(self) -> str:
        return self.note.original if self.note else self.outage.cause


def incidents(
    sites: Sequence[SiteInfo],
    accounted: Accounted,
    observed: list[iv.Span],
    ids: dict[OutageKey, int],
    now: float,
    agents: Mapping[str, list[iv.Span]] | None = None,
) -> list[Incident]:
    """Every counted outage of a center's link or secure channel that overlaps ``observed``, oldest first;
    ``agents`` is the time each center's edge agent is covered by results (`netmon.agent.view.coverage`)."""
    by_slug = {s.slug: s for s in sites}
    down: dict[str, list[tuple[str, iv.Span]]] = {}
    for o in accounted.outages:
        down.setdefault(o.site, []).append((o.link, (o.start, now if o.end is None else o.end)))
    out = []
    for o in sorted(accounted.outages, key=lambda o: (o.start, o.site, o.link)):
        site = by_slug.get(o.site)
        span = (o.start, now if o.end is None else o.end)
        secure = o.link == SECURE_CHECK
        if site is None or (site.link(o.link) is None and not secure) or not iv.intersect([span], observed):
            continue
        offline, impact = (0.0, "secure-channel") if secure else _impact(site, o.link, span, down[o.site])
        out.append(
            Incident(
                ids.get(key(o)),
                site,
                o,
                span[1] - span[0],
                offline,
                impact,
                accounted.notes.get(key(o)),
                silent_during(agents[o.site], *span) if agents and o.site in agents else None,
            )
        )
    return out


def _impact(site: SiteInfo, link: str, span: iv.Span, down: list[tuple[str, iv.Span]]) -> tuple[float, str]:
    """(seconds the center was offline, impact) of an outage of ``link`` over ``span``; ``down``: every
    outage of the center's subjects."""
    others = [lk.id for lk in site.links if lk.id != link]
    # Offline while every other link of the center was down too.
    offline = [span]
    for other in others:
        offline = iv.intersect(offline, iv.merge(s for lk, s in down if lk == other))
    role = site.link(link).role  # type: ignore[union-attr]
    if role == "backup" and others:
        return iv.total(offline), "offline" if iv.total(offline) else "backup-lost"
    return iv.total(offline), "on-backup" if others and not iv.total(offline) else "offline"
