"""The center's edge agent as the history store saw it: how far its results reach, what it measured from
inside during the site's latest outage, and when it was not heard at all.

Read from the history's sample spans (exporters/history_samples.py): each of the agent's echo checks
(to its hub, to the data center's canary: link ``agent``) is a run of up/down spans, and time covered by
no span is time no result came from the agent — it was dead, powered off, or killed. That is distinct
from the link being down: during a cut the agent keeps measuring and its results arrive later, filling
the spans in at their own times; only the agent not running leaves a hole. Until a backlog has
arrived, the hole reaches to now ("results up to ...").
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exporters.history_samples import SampleSpan
from exporters.history_schema import connect
from netmon.agent.checks import AGENT_LINK
from netmon.report import intervals as iv

#: How far back an outage of the site is still "its latest" worth showing.
RECENT_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Span:
    check: str
    start: float
    end: float
    down: bool


@dataclass(frozen=True)
class Outage:
    link: str
    start: float
    end: float | None


@dataclass(frozen=True)
class AgentView:
    site: str
    #: The end of the time the agent's results cover (its last run plus one interval).
    covered_until: float
    #: The site's latest link outage (ended within `RECENT_SECONDS`, or open), if any.
    outage: Outage | None
    #: The agent's spans overlapping the outage, clipped to it (empty without an outage).
    inside: tuple[Span, ...]
    #: Periods within the outage (up to now when open) with no result from the agent at all.
    silent: tuple[tuple[float, float], ...]


def silences(covered: Iterable[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The parts of ``[start, end)`` that no span of the agent's results covers: the agent not heard."""
    return iv.subtract([(start, end)], iv.merge(covered))


def coverage(samples: Iterable[SampleSpan]) -> dict[str, list[tuple[float, float]]]:
    """Per site, the time the agent's results cover (merged), from the history's sample spans."""
    out: dict[str, list[tuple[float, float]]] = {}
    for x in samples:
        if x.link == AGENT_LINK:
            out.setdefault(x.site, []).append((x.start, x.end))
    return {site: iv.merge(spans) for site, spans in out.items()}


def silent_during(covered: list[tuple[float, float]], start: float,
                  end: float) -> tuple[tuple[float, float], ...]:
    """When the agent was not heard during ``[start, end)``; from its first result on only (before it,
    the agent may not have been installed yet)."""
    if not covered or covered[0][0] >= end:
        return ()
    return tuple(silences(covered, max(start, covered[0][0]), end))


def view(conn: sqlite3.Connection, site: str, now: float) -> AgentView | None:
    """The agent's view of ``site``, or None when the store has no result from an agent there."""
    row = conn.execute('SELECT MAX("end") FROM samples WHERE site = ? AND link = ?',
                       (site, AGENT_LINK)).fetchone()
    if row[0] is None:
        return None
    found = conn.execute(
        'SELECT link, start, "end" FROM outages WHERE site = ? AND link NOT IN (\'\', ?) '
        'AND ("end" IS NULL OR "end" > ?) ORDER BY start DESC LIMIT 1',
        (site, AGENT_LINK, now - RECENT_SECONDS)).fetchone()
    if found is None:
        return AgentView(site, float(row[0]), None, (), ())
    outage = Outage(str(found[0]), float(found[1]), None if found[2] is None else float(found[2]))
    end = outage.end if outage.end is not None else now
    spans = [Span(check, max(start, outage.start), min(stop, end), bool(down)) for check, start, stop, down in
             conn.execute('SELECT check_id, start, "end", down FROM samples WHERE site = ? AND link = ? '
                          'AND start < ? AND "end" > ? ORDER BY check_id, start',
                          (site, AGENT_LINK, end, outage.start))]
    silent = silences(((x.start, x.end) for x in spans), outage.start, end)
    return AgentView(site, float(row[0]), outage, tuple(spans), tuple(silent))


def read(path: str | Path, site: str, now: float | None = None) -> AgentView | None:
    """`view` from the store at ``path``; None without a store (the CLI works without one)."""
    if not Path(path).is_file():
        return None
    conn = connect(path, readonly=True)
    try:
        return view(conn, site, time.time() if now is None else now)
    finally:
        conn.close()
