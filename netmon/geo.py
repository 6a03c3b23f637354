"""Approximate outlines of the province and its former districts, drawn from the units' centroids.

No boundary data that we may redistribute ships with the project, and maps must work offline (no tiles
from the internet on the provincial office's wall screen, no map service in a printed report). So the
outlines are *derived*: the province is the convex hull of the 75 unit centroids pushed out by a margin,
each unit is its Voronoi cell inside that hull (the area nearer its centroid than any other), and a
former district is the union of its units' cells. Every feature says ``approximate: true`` and the
collection's name says so too: these shapes place markers in context, they are not legal boundaries.

Coordinates are worked in a local plane (km east/north of the province's mean centroid), where a
Voronoi bisector is a straight line, and returned as WGS84 lon/lat for GeoJSON.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

Point = tuple[float, float]

#: Margin around the outermost centroids, in km: about the radius of a mountain commune.
PROVINCE_MARGIN_KM = 12.0
#: Two vertices of neighbouring cells closer than this (km) are the same Voronoi vertex.
SNAP_KM = 1e-6
KM_PER_DEGREE_LAT = 110.574


class _Plane:
    """An equirectangular projection around ``origin`` (lat, lon): good to metres over one province."""

    def __init__(self, origin: Point) -> None:
        self.lat0, self.lon0 = origin
        self.kx = 111.320 * math.cos(math.radians(self.lat0))

    def to_xy(self, lat: float, lon: float) -> Point:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * KM_PER_DEGREE_LAT)

    def to_lonlat(self, p: Point) -> list[float]:
        return [round(self.lon0 + p[0] / self.kx, 5), round(self.lat0 + p[1] / KM_PER_DEGREE_LAT, 5)]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: Iterable[Point]) -> list[Point]:
    """Counter-clockwise hull (Andrew's monotone chain), no repeated first point."""
    pts = sorted(set(points))
    if len(pts) < 3:
        raise ValueError("an outline needs at least three distinct locations")
    lower: list[Point] = []
    upper: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _line_intersection(p: Point, d: Point, q: Point, e: Point) -> Point:
    """Where the line p + t·d meets the line q + s·e (they are not parallel here)."""
    denom = d[0] * e[1] - d[1] * e[0]
    t = ((q[0] - p[0]) * e[1] - (q[1] - p[1]) * e[0]) / denom
    return (p[0] + t * d[0], p[1] + t * d[1])


def offset_convex(polygon: Sequence[Point], distance: float) -> list[Point]:
    """A counter-clockwise convex polygon with every edge moved ``distance`` outward (mitred corners)."""
    n = len(polygon)
    lines = []
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = math.hypot(dx, dy)
        nx, ny = dy / length, -dx / length  # outward normal of a CCW edge
        lines.append(((a[0] + nx * distance, a[1] + ny * distance), (dx, dy)))
    return [_line_intersection(*lines[i - 1], *lines[i]) for i in range(n)]


def _clip(polygon: list[tuple[Point, int]], a: Point, b: Point, neighbour: int) -> list[tuple[Point, int]]:
    """Keep the part of a convex polygon nearer ``a`` than ``b``.

    Each vertex carries the label of the edge that *leaves* it: the neighbour whose bisector made that
    edge, or -1 for the province's outline. That label is what lets cells be merged into districts.
    """
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    nx, ny = b[0] - a[0], b[1] - a[1]

    def side(p: Point) -> float:
        return (p[0] - mx) * nx + (p[1] - my) * ny  # <= 0: nearer a

    out: list[tuple[Point, int]] = []
    for i, (p, label) in enumerate(polygon):
        q = polygon[(i + 1) % len(polygon)][0]
        sp, sq = side(p), side(q)
        if sp <= 0:
            out.append((p, label))
        if (sp <= 0) != (sq <= 0):
            t = sp / (sp - sq)
            cut = (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))
            # Entering the kept side the edge continues as before; leaving it, the bisector takes over.
            out.append((cut, neighbour if sp <= 0 else label))
    return out


def voronoi_cells(points: Sequence[Point], boundary: Sequence[Point]) -> list[list[tuple[Point, int]]]:
    """Each point's Voronoi cell inside the convex ``boundary``, vertices labelled as in `_clip`."""
    cells = []
    for i, a in enumerate(points):
        cell = [(p, -1) for p in boundary]
        for j, b in enumerate(points):
            if j != i and cell:
                cell = _clip(cell, a, b, j)
        cells.append(cell)
    return cells


def _rings(edges: list[tuple[Point, Point]]) -> list[list[Point]]:
    """Chain directed boundary edges (tail to head) into closed rings, snapping equal vertices."""
    canon: list[Point] = []

    def snap(p: Point) -> Point:
        for c in canon:
            if abs(c[0] - p[0]) < SNAP_KM and abs(c[1] - p[1]) < SNAP_KM:
                return c
        canon.append(p)
        return p

    nxt: dict[Point, list[Point]] = defaultdict(list)
    for a, b in edges:
        nxt[snap(a)].append(snap(b))
    rings = []
    while any(nxt.values()):
        start = next(p for p, heads in nxt.items() if heads)
        ring, p = [start], nxt[start].pop()
        while p != start:
            ring.append(p)
            p = nxt[p].pop()
        rings.append(ring)
    return rings


def _feature(kind: str, name: str, rings: list[list[Point]], plane: _Plane) -> dict[str, Any]:
    coords = [[plane.to_lonlat(p) for p in (*ring, ring[0])] for ring in rings]
    geometry = ({"type": "Polygon", "coordinates": coords} if len(coords) == 1 else
                {"type": "MultiPolygon", "coordinates": [[ring] for ring in coords]})
    return {"type": "Feature", "properties": {"kind": kind, "name": name, "approximate": True},
            "geometry": geometry}


def rings(feature: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The outer rings of a feature's polygon(s), as (lon, lat) points."""
    geometry = feature["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [[(lon, lat) for lon, lat in polygon[0]] for polygon in polygons]


def outlines(units: Sequence[tuple[str, str, float, float]], province: str) -> dict[str, Any]:
    """GeoJSON: the province, its former districts and every unit, from (name, district, lat, lon).

    A unit listed under two former districts ("A; B") is drawn with the first.
    """
    plane = _Plane((sum(u[2] for u in units) / len(units), sum(u[3] for u in units) / len(units)))
    points = [plane.to_xy(lat, lon) for _, _, lat, lon in units]
    boundary = offset_convex(convex_hull(points), PROVINCE_MARGIN_KM)
    districts = [district.split(";")[0].strip() for _, district, _, _ in units]
    cells = voronoi_cells(points, boundary)

    features = [_feature("province", province, [boundary], plane)]
    for district in dict.fromkeys(districts):
        edges = [(p, cell[(k + 1) % len(cell)][0])
                 for i, cell in enumerate(cells) if districts[i] == district
                 for k, (p, neighbour) in enumerate(cell)
                 if neighbour < 0 or districts[neighbour] != district]
        features.append(_feature("district", district, _rings(edges), plane))
    features += [_feature("unit", name, [[p for p, _ in cell]], plane)
                 for (name, _, _, _), cell in zip(units, cells, strict=True)]
    return {"type": "FeatureCollection", "name": f"{province} (approximate outlines)", "features": features}
