"""The meeting calendar: the inventory's events plus an iCalendar file, and when readiness is due.

Times are kept as aware datetimes; a meeting written without an offset is in the province's local time
(`netmon.inventory.model.local_time`). A readiness check is due at ``start - offset`` for each offset of
``readiness_at``; one that was missed by more than `LATE` (the service was down) is skipped rather than
sent late, because a "T-60" summary sent at T-5 tells the office something false about the timing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from netmon import i18n, oswording
from netmon.inventory import Inventory
from netmon.inventory.model import local_time

#: How late a readiness check may still run.
LATE = dt.timedelta(minutes=5)


class CalendarError(ValueError):
    """The calendar file cannot be read; the message names the file and what is wrong, in the service's
    language: only the service log says it, and the operator who wrote the file reads it there."""

    def __init__(self, key: str, path: Path, **values: object) -> None:
        super().__init__(i18n.text(_TEXT, key, i18n.lang(), path=path, **values))


_TEXT = {
    "unreadable": ("{path}: cannot read the meeting calendar: {reason}",
                   "{path}: không đọc được lịch họp: {reason}"),
    "no_start": ("{path}: event {title!r} has no start time",
                 "{path}: cuộc họp {title!r} không có giờ bắt đầu"),
    "bad_start": ("{path}: event {title!r}: its start time cannot be read: {reason}",
                  "{path}: cuộc họp {title!r}: không đọc được giờ bắt đầu: {reason}"),
    "whole_days": ("{path}: event {title!r} lasts whole days; a meeting needs a start time",
                   "{path}: cuộc họp {title!r} kéo dài cả ngày; một cuộc họp cần giờ bắt đầu"),
}


@dataclass(frozen=True, order=True)
class Meeting:
    start: dt.datetime
    title: str
    duration: dt.timedelta


@dataclass(frozen=True, order=True)
class ReadinessCheck:
    """Check every center for ``meeting`` at ``due`` (``lead`` before it starts)."""

    due: dt.datetime
    meeting: Meeting
    lead: dt.timedelta

    @property
    def label(self) -> str:
        """``T-60`` for a check an hour before (minutes), ``T-30s`` under a minute."""
        seconds = round(self.lead.total_seconds())
        return f"T-{seconds // 60}" if seconds % 60 == 0 else f"T-{seconds}s"


def read_ics(path: Path) -> list[Meeting]:
    """Every VEVENT of an iCalendar file; floating times are local to the province."""
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except OSError as exc:
        why = oswording.error(exc, i18n.lang())
        raise CalendarError("unreadable", path, reason=why) from None
    except ValueError as exc:
        raise CalendarError("unreadable", path, reason=exc) from None
    meetings = []
    for event in calendar.events:
        title = str(event.get("SUMMARY", "")).strip() or "?"
        try:
            start, length = event.start, event.duration
        except icalendar.IncompleteComponent:
            raise CalendarError("no_start", path, title=title) from None
        except ValueError as exc:  # a DTSTART that is not a date: icalendar's BrokenCalendarProperty
            raise CalendarError("bad_start", path, title=title, reason=exc) from None
        if not isinstance(start, dt.datetime):
            raise CalendarError("whole_days", path, title=title)
        meetings.append(Meeting(local_time(start), title, length or dt.timedelta(hours=2)))
    return meetings


def meetings(inventory: Inventory) -> list[Meeting]:
    """The inventory's meetings and its calendar file's, in start order."""
    spec = inventory.spec.meetings
    listed = [Meeting(local_time(m.start), m.title, dt.timedelta(seconds=m.duration)) for m in spec.events]
    if spec.calendar:
        listed += read_ics(Path(inventory.file).parent / spec.calendar)
    return sorted(listed)


def schedule(inventory: Inventory) -> list[ReadinessCheck]:
    """Every readiness check of every meeting, in the order they fall due."""
    leads = [dt.timedelta(seconds=s) for s in inventory.spec.meetings.readiness_at]
    return sorted(ReadinessCheck(m.start - lead, m, lead) for m in meetings(inventory) for lead in leads)


def meetings_of(checks: list[ReadinessCheck]) -> list[Meeting]:
    """The meetings a schedule covers, in start order."""
    return sorted({c.meeting for c in checks})


def upcoming(checks: list[ReadinessCheck], now: dt.datetime,
             done: set[ReadinessCheck]) -> list[ReadinessCheck]:
    """The checks still to run: not done, and not already missed by more than `LATE`."""
    return [c for c in checks if c not in done and now < c.due + LATE]
