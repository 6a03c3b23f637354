"""Where to write the names on the report's map, so they do not overlap one another or the dots."""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]
Box = tuple[float, float, float, float]


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
