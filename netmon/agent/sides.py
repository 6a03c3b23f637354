"""Which side saw an outage: the data center (a link of the site), the site's agent, or both.

The history keeps the agent's outages as its own subject, the link ``agent`` of the site (the agent
lost every check toward the province). Reading them beside the site's link outages answers what the
data center cannot tell alone: seen from both sides, the link was cut; seen only from the data center,
the agent either still reached the province (the fault is in the data center's view of the CPE) or was
not running at all (a power cut: its results stop); seen only by the agent, the province still reached
the center's CPE but the center could not reach the province's services.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from exporters.history_schema import connect
from netmon import i18n
from netmon.agent.checks import AGENT_LINK
from probes.errors import NetmonError
from probes.wording import say


@dataclass(frozen=True)
class SeenOutage:
    site: str
    link: str  # the site's link for the data center's view; ``agent`` when only the agent saw it
    start: float
    end: float | None
    cause: str
    seen_by: str  # "center" | "agent" | "both"


def _overlaps(a: tuple[float, float | None], b: tuple[float, float | None], now: float) -> bool:
    return a[0] <= (b[1] or now) and b[0] <= (a[1] or now)


def seen_by(conn: sqlite3.Connection, start: float, end: float, site: str | None = None) -> list[SeenOutage]:
    """Every outage of a site (not hubs) between ``start`` and ``end``, with the side(s) that saw it."""
    rows = conn.execute(
        'SELECT site, link, start, "end", cause FROM outages WHERE link != \'\' AND start < ? '
        'AND ("end" IS NULL OR "end" > ?) AND (? IS NULL OR site = ?) ORDER BY start',
        (end, start, site, site)).fetchall()
    agent = [(r[0], (r[2], r[3])) for r in rows if r[1] == AGENT_LINK]
    center = [(r[0], (r[2], r[3])) for r in rows if r[1] != AGENT_LINK]
    out = []
    for s, link, t0, t1, cause in rows:
        if link == AGENT_LINK:
            if any(cs == s and _overlaps((t0, t1), span, end) for cs, span in center):
                continue  # told once, on the link's own record
            out.append(SeenOutage(s, link, t0, t1, cause, "agent"))
        else:
            both = any(a == s and _overlaps((t0, t1), span, end) for a, span in agent)
            out.append(SeenOutage(s, link, t0, t1, cause, "both" if both else "center"))
    return out


_NO_HISTORY = ("{path}: no history store here (netmon run --history writes one)",
               "{path}: không có kho lịch sử ở đây (netmon run --history sẽ tạo)")


class NoHistory(NetmonError):
    def __init__(self, path: Path):
        super().__init__(say(_NO_HISTORY, i18n.lang(), path=path))


def read(path: str | Path, start: float, end: float, site: str | None = None) -> list[SeenOutage]:
    if not Path(path).is_file():
        raise NoHistory(Path(path))
    conn = connect(path, readonly=True)
    try:
        return seen_by(conn, start, end, site)
    finally:
        conn.close()
