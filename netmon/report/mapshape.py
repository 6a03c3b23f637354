"""Shapes for the report's map, drawn from the centers' own coordinates (no map data, no tiles).

No redistributable boundary of Son La ships with netmon, so the map draws an *approximation*, and
says so: the province outline is the envelope of discs around every center (per angle from their
mean, the farthest disc edge), and each former district the convex hull of discs around its
centers. Labels are placed greedily beside their dot where they overlap nothing already placed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def _discs(points: Iterable[Point], radius: float, steps: int = 16) -> list[Point]:
    return [
        (x + radius * math.cos(2 * math.pi * k / steps), y + radius * math.sin(2 * math.pi * k / steps))
        for x, y in points
        for k in range(steps)
    ]


def envelope(points: Sequence[Point], radius: float, bins: int = 72) -> list[Point]:
    """A star-shaped outline around ``points`` padded by ``radius``: per angle bin from their mean,
    the farthest padded point (bins with none take their neighbours' reach)."""
    if not points:
        return []
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    reach = [0.0] * bins
    for x, y in _discs(points, radius):
        k = int((math.atan2(y - cy, x - cx) + math.pi) / (2 * math.pi) * bins) % bins
        reach[k] = max(reach[k], math.hypot(x - cx, y - cy))
    for k in range(bins):
        if reach[k] == 0.0:
            reach[k] = max(reach[k - 1], reach[(k + 1) % bins])
    out = []
    for k in range(bins):
        angle = (k + 0.5) / bins * 2 * math.pi - math.pi
        out.append((cx + reach[k] * math.cos(angle), cy + reach[k] * math.sin(angle)))
    return out


def hull(points: Sequence[Point], radius: float) -> list[Point]:
    """Convex hull (monotone chain) of discs of ``radius`` around ``points``."""
    pts = sorted(set(_discs(points, radius, 12)))
    if len(pts) < 3:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    upper: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def place_labels(
    anchors: Sequence[tuple[Point, float]], height: float, gap: float, avoid: Sequence[Box] = ()
) -> list[Point | None]:
    """Where to write each label (its left baseline), given its dot and text width: right, left, above
    or below the dot, the first that overlaps no label placed before; None if none is free (the dot's
    tooltip still names it)."""
    placed: list[Box] = list(avoid)
    out: list[Point | None] = []
    for (x, y), width in anchors:
        spot = None
        for lx, ly in (
            (x + gap, y + height / 3),
            (x - gap - width, y + height / 3),
            (x - width / 2, y - gap),
            (x - width / 2, y + gap + height * 0.8),
        ):
            box = (lx - 1, ly - height, lx + width + 1, ly + 2)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                spot = (lx, ly)
                placed.append(box)
                break
        out.append(spot)
    return out
