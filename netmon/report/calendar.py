"""Vietnamese public holidays and the service period built from them.

The holidays are data, not a rule: Tết and the Hùng Kings' day follow the lunar calendar and the
government announces each year's days off (with swapped working days) a few months ahead, so the
shipped list covers the years announced when it was written and the inventory extends it
(``accounting.service_period.holidays``). A report whose period runs past `covered_years` says so
in its header instead of silently treating those holidays as working days.

Sources: Labour Code 2019 art. 112 (1/1, Tết 5 days, Hùng Kings 10/3 lunar, 30/4, 1/5, 2/9 + one
day) and the Prime Minister's / Ministry of Home Affairs' notices of the days off for civil servants
in 2025 and 2026. Only days off from Monday to Friday matter (weekends are outside office hours).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from netmon.inventory.model import ServicePeriod
from netmon.report import intervals as iv

#: (day, English, Vietnamese) for the days off of the announced years.
NATIONAL: tuple[tuple[date, str, str], ...] = (
    (date(2025, 1, 1), "New Year's Day", "Tết Dương lịch"),
    *((date(2025, 1, 27) + timedelta(days=i), "Lunar New Year", "Tết Nguyên đán") for i in range(5)),
    (date(2025, 4, 7), "Hùng Kings' Commemoration", "Giỗ Tổ Hùng Vương"),
    (date(2025, 4, 30), "Reunification Day", "Ngày Giải phóng miền Nam"),
    (date(2025, 5, 1), "Labour Day", "Ngày Quốc tế Lao động"),
    (date(2025, 5, 2), "Labour Day (swapped)", "Nghỉ bù Quốc tế Lao động"),
    (date(2025, 9, 1), "National Day", "Quốc khánh"),
    (date(2025, 9, 2), "National Day", "Quốc khánh"),
    (date(2026, 1, 1), "New Year's Day", "Tết Dương lịch"),
    *((date(2026, 2, 16) + timedelta(days=i), "Lunar New Year", "Tết Nguyên đán") for i in range(5)),
    (date(2026, 4, 27), "Hùng Kings' Commemoration (in lieu)", "Nghỉ bù Giỗ Tổ Hùng Vương"),
    (date(2026, 4, 30), "Reunification Day", "Ngày Giải phóng miền Nam"),
    (date(2026, 5, 1), "Labour Day", "Ngày Quốc tế Lao động"),
    (date(2026, 9, 1), "National Day", "Quốc khánh"),
    (date(2026, 9, 2), "National Day", "Quốc khánh"),
)


def covered_years(period: ServicePeriod) -> set[int]:
    """Years for which the holiday list is known complete (shipped ones, plus any the user lists)."""
    years = {d.year for d, _, _ in NATIONAL} if period.national_holidays else set()
    return years | {h.date.year for h in period.holidays}


def holidays(period: ServicePeriod) -> dict[date, str]:
    """Day → Vietnamese name of every day off the service period skips."""
    days = {d: vi for d, _, vi in NATIONAL} if period.national_holidays else {}
    days.update((h.date, h.name) for h in period.holidays)
    return days


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def service_spans(period: ServicePeriod, start: float, end: float) -> list[iv.Span]:
    """The service period inside ``[start, end)``: its hours on its weekdays, holidays left out."""
    opens = time.fromisoformat(period.hours[:5])
    closes_text = period.hours[6:]
    off = holidays(period)
    weekdays = {_WEEKDAYS.index(d) for d in period.weekdays}
    day = datetime.fromtimestamp(start, iv.LOCAL_TZ).date()
    last = datetime.fromtimestamp(end, iv.LOCAL_TZ).date()
    out: list[iv.Span] = []
    while day <= last:
        if day.weekday() in weekdays and day not in off:
            a = datetime.combine(day, opens, iv.LOCAL_TZ).timestamp()
            if closes_text == "24:00":
                b = datetime.combine(day + timedelta(days=1), time(0), iv.LOCAL_TZ).timestamp()
            else:
                b = datetime.combine(day, time.fromisoformat(closes_text), iv.LOCAL_TZ).timestamp()
            out.append((a, b))
        day += timedelta(days=1)
    return iv.intersect(out, [(start, end)])


def in_service(period: ServicePeriod, t: float) -> bool:
    """Whether ``t`` falls inside the service period (what `netmon run` exports as a gauge)."""
    return any(a <= t < b for a, b in service_spans(period, t - 1, t + 1))


def uncovered_years(period: ServicePeriod, start: float, end: float) -> list[int]:
    """Years of ``[start, end)`` the holiday list does not cover (the report header names them)."""
    first = datetime.fromtimestamp(start, iv.LOCAL_TZ).year
    last = datetime.fromtimestamp(max(start, end - 1), iv.LOCAL_TZ).year
    known = covered_years(period)
    return [y for y in range(first, last + 1) if y not in known]
