"""Availability maths on time spans: merge, intersect, subtract, local days.

A span is ``(start, end)`` in unix seconds with ``start < end``; every function takes and returns
sorted, non-overlapping lists, so "downtime inside office hours, minus maintenance" is a chain of
calls whose result is exact (no sampling), which is what lets the tests hand-compute availability.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

Span = tuple[float, float]

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def apart(a: list[Span], b: list[Span]) -> int:
    """How many spans of ``a`` overlap no span of ``b``, in one pass (a year of a site's short
    stretches against its outages took 1.7 s span by span through `intersect`)."""
    n = j = 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        if j == len(b) or b[j][0] >= end:
            n += 1
    return n


def total(spans: Iterable[Span]) -> float:
    return sum(end - start for start, end in spans)


def days(start: float, end: float) -> list[Span]:
    """Local calendar days covering ``[start, end)``, clipped to it."""
    day = datetime.fromtimestamp(start, LOCAL_TZ).date()
    out: list[Span] = []
    while True:
        a = datetime.combine(day, time(0), LOCAL_TZ).timestamp()
        if a >= end:
            return out
        b = datetime.combine(day + timedelta(days=1), time(0), LOCAL_TZ).timestamp()
        out.append((max(a, start), min(b, end)))
        day += timedelta(days=1)
