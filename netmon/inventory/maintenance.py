"""Maintenance windows: the one place that turns what the inventory declares into time.

Windows are declared on a site or on a hub (`netmon.inventory.model.MaintenanceWindow`); a hub's
windows cover every site behind it. There is no top-level list: a window always has an owner.
Everything that needs windows as time — the history store (cause ``maintenance``), `netmon report`
from either source ("excl. maintenance") and `netmon alerts generate` (Alertmanager time
intervals) — goes through this module, so the three can never disagree about when a window is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from exporters.history_outages import Window
from netmon.inventory.loader import Inventory
from netmon.inventory.model import MAINTENANCE_TZ, MaintenanceWindow, local_time

ZONE = ZoneInfo(MAINTENANCE_TZ)
DAY = 86400.0
#: How far around "now" `netmon run` expands recurring windows for the history store. Every reload
#: and restart expands again; a report from the inventory expands exactly its own range.
HORIZON_PAST = 400 * DAY
HORIZON_AHEAD = 400 * DAY


def clock(window: MaintenanceWindow) -> tuple[time, time | None]:
    """A recurring window's local opening and closing time; ``None`` closes at midnight (24:00)."""
    assert window.time is not None  # enforced by the model
    opens, closes = window.time.split("-")
    return time.fromisoformat(opens), None if closes == "24:00" else time.fromisoformat(closes)


def local_days(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The pieces of ``[start, end)`` (local, aware) cut at local midnights."""
    day = start.date()
    while (midnight := datetime.combine(day, time(0), ZONE)) < end:
        following = datetime.combine(day + timedelta(days=1), time(0), ZONE)
        yield max(start, midnight), min(end, following)
        day += timedelta(days=1)


def spans(window: MaintenanceWindow, start: float, end: float) -> list[tuple[float, float]]:
    """The times ``window`` is in force that overlap ``[start, end)``, as unix-second spans."""
    if window.start is not None and window.end is not None:
        a, b = local_time(window.start).timestamp(), local_time(window.end).timestamp()
        return [(a, b)] if a < end and b > start else []
    opens, closes = clock(window)
    out: list[tuple[float, float]] = []
    first = datetime.fromtimestamp(start, ZONE) - timedelta(days=1)
    for day_start, _ in local_days(first, datetime.fromtimestamp(end, ZONE)):
        if day_start.strftime("%A").lower() not in window.weekdays:
            continue
        a = datetime.combine(day_start.date(), opens, ZONE).timestamp()
        b = (datetime.combine(day_start.date(), closes, ZONE) if closes is not None
             else datetime.combine(day_start.date() + timedelta(days=1), time(0), ZONE)).timestamp()
        if a < end and b > start:
            out.append((a, b))
    return out


def windows(inventory: Inventory, start: float, end: float) -> tuple[Window, ...]:
    """Every site's and hub's windows in force during ``[start, end)``, owner slug in ``Window.site``."""
    owners = [(s.slug, s.maintenance) for s in inventory.spec.sites]
    owners += [(h.id, h.maintenance) for h in inventory.spec.hubs]
    return tuple(
        Window(owner, a, b, w.reason)
        for owner, declared in owners
        for w in declared
        for a, b in spans(w, start, end)
    )
