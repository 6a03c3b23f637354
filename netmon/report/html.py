"""The planner's HTML report: one self-contained file (inline CSS and SVG, no script, no fetch).

Charts are drawn as inline SVG so the page opens offline, prints, and cannot leak a request: an
availability-over-time line per link type, RTT p50/p95 per link type, and a map of the centers
placed by their inventory coordinates (equirectangular; fine at a province's scale), colored by
availability, over an approximate outline of the province and its former districts
(`netmon.geo`, the same the dashboards draw). Every chart takes the page's full width.
"""

from __future__ import annotations

import math
from html import escape

from netmon import geo
from netmon.i18n import Lang, text
from netmon.report import labels as labels_
from netmon.report.compute import Report, Row, rank
from netmon.report.filing_text import cause, subject
from netmon.report.formats import (
    CATALOG,
    COLUMNS,
    availability_text,
    coverage_pct,
    header,
    human,
    local,
    pct,
    secs,
)

EXTRA: dict[str, tuple[str, str]] = {
    "summary": ("Summary", "Tổng quan"),
    "over_time": ("Availability by day and link type", "Khả dụng theo ngày và loại đường truyền"),
    "latency": ("Latency by link type (p50 / p95)", "Độ trễ theo loại đường truyền (p50 / p95)"),
    "map": ("Map of the centers, colored by availability", "Bản đồ các trung tâm theo mức khả dụng"),
    "ranked": ("Sites ranked by availability", "Xếp hạng các điểm theo khả dụng"),
    "grouped": ("By {by}", "Theo {by}"),
    "log": ("Longest outages", "Các lần mất kết nối dài nhất"),
    "start": ("Start", "Bắt đầu"),
    "cause": ("Cause", "Nguyên nhân"),
    "duration": ("Duration", "Thời lượng"),
    "site": ("Site", "Điểm"),
    "link": ("Link", "Đường truyền"),
    "outline": (
        "Outlines are approximations drawn around the centers' locations, not official boundaries; "
        "dashed: former districts",
        "Đường bao là ước lượng vẽ quanh vị trí các trung tâm, không phải ranh giới chính thức; "
        "nét đứt: các huyện cũ",
    ),
    "no_data": (
        "no data or insufficient data (coverage below the floor)",
        "không có hoặc không đủ dữ liệu (độ phủ dưới ngưỡng)",
    ),
}

COLORS = ((0.999, "#1a9850"), (0.995, "#91cf60"), (0.99, "#fee08b"), (0.98, "#fc8d59"), (0.0, "#d73027"))
#: No data / insufficient data: grey, never one of the availability colours.
NO_DATA = "#bdbdbd"
LINE_COLORS = ("#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a")

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em;color:#222;font-size:13px}
h1{font-size:20px}h2{font-size:16px;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:nth-child(2),th:nth-child(2),td:first-child,th:first-child{text-align:left}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;padding:.5em 1em;border-radius:4px}
.card b{display:block;font-size:18px}svg{background:#fafafa;border:1px solid #ddd;width:100%;height:auto}
.legend span{display:inline-block;margin-right:1em}.sw{width:10px;height:10px;display:inline-block}
@media print{body{margin:0;font-size:10px}h2{page-break-after:avoid}svg,table{page-break-inside:avoid}}
"""


def color(availability: float | None) -> str:
    if availability is None:
        return NO_DATA
    return next(c for limit, c in COLORS if availability >= limit)


def _t(key: str, lang: Lang, **values: object) -> str:
    return text(EXTRA if key in EXTRA else CATALOG, key, lang, **values)


def _no_data_legend(lang: Lang) -> str:
    return f'<span><i class="sw" style="background:{NO_DATA}"></i> {escape(_t("no_data", lang))}</span>'


def _table(rows: list[Row], lang: Lang, total: Row | None = None) -> str:
    head = "".join(f"<th>{escape(text(CATALOG, c, lang))}</th>" for c in COLUMNS)
    body = []
    for r in [*rows, *([total] if total else [])]:
        cells = human(r, lang)
        if r is total:
            cells["key"] = text(CATALOG, "total", lang)
        style = f' style="background:{color(r.availability)}33"'
        body.append(f"<tr{style}>" + "".join(f"<td>{escape(cells[c])}</td>" for c in COLUMNS) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _over_time(report: Report, lang: Lang) -> str:
    """One line per link type; a day without enough observed time breaks the line and is shaded
    grey across the chart, so "no data" never reads as "up"."""
    w, h, pad = 1000, 260, 40
    points = [a for series in report.daily.values() for _, a in series if a is not None]
    if not report.daily:
        return "<p>–</p>"
    low = min([*points, 0.99])
    days = max(len(s) for s in report.daily.values())
    step = (w - 2 * pad) / max(1, days - 1)

    def x(j: int) -> float:
        return pad + 10 + step * j

    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    for j in range(days):
        if all(j >= len(s) or s[j][1] is None for s in report.daily.values()):
            parts.append(
                f'<rect x="{x(j) - step / 2:.1f}" y="{pad}" width="{max(step, 2):.1f}" '
                f'height="{h - 2 * pad}" fill="{NO_DATA}" opacity="0.6"/>'
            )
    for frac in (0.0, 0.5, 1.0):
        y = pad + (h - 2 * pad) * frac
        parts.append(
            f'<line x1="{pad}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="2" y="{y + 4:.1f}" font-size="10">{pct(1 - (1 - low) * frac)}</text>'
        )
    legend = []
    for i, (link_type, series) in enumerate(sorted(report.daily.items())):
        c = LINE_COLORS[i % len(LINE_COLORS)]
        runs: list[list[tuple[float, float]]] = [[]]
        for j, (_, a) in enumerate(series):
            if a is None:
                runs.append([])
            else:
                runs[-1].append((x(j), pad + (h - 2 * pad) * (1 - a) / (1 - low)))
        for xy in runs:
            if len(xy) > 1:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in xy)
                parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{path}"/>')
            parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2" fill="{c}"/>' for px, py in xy[:400]]
        legend.append(f'<span><i class="sw" style="background:{c}"></i> {escape(link_type)}</span>')
    legend.append(_no_data_legend(lang))
    first = next(iter(report.daily.values()))
    parts.append(
        f'<text x="{pad}" y="{h - 8}" font-size="10">{local(first[0][0])[:10]}</text>'
        f'<text x="{w - 110}" y="{h - 8}" font-size="10">{local(first[-1][0])[:10]}</text></svg>'
    )
    return "".join(parts) + f'<div class="legend">{"".join(legend)}</div>'


def _latency(report: Report) -> str:
    rows = [(r.key, r.rollup.rtt_p(0.5), r.rollup.rtt_p(0.95)) for r in report.by_link_type]
    top = max((p95 or 0 for _, _, p95 in rows), default=0) or 1
    w, bar = 720, 22
    h = 20 + len(rows) * (2 * bar + 10)
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    y = 10
    for key, p50, p95 in rows:
        parts.append(f'<text x="4" y="{y + bar}" font-size="12">{escape(key)}</text>')
        for value, c, label in ((p50, "#1f78b4", "p50"), (p95, "#a6cee3", "p95")):
            length = 0 if value is None else (w - 260) * value / top
            txt = "–" if value is None else f"{label} {value * 1000:.1f} ms"
            parts.append(
                f'<rect x="100" y="{y}" width="{length:.1f}" height="{bar - 4}" fill="{c}"/>'
                f'<text x="{106 + length:.1f}" y="{y + bar - 8}" font-size="11">{txt}</text>'
            )
            y += bar
        y += 10
    return "".join(parts) + "</svg>"


def _map(report: Report, lang: Lang) -> str:
    """The centers on an equirectangular projection (longitude scaled by cos(latitude)), over the
    approximate outlines of the province and its former districts the dashboards draw too (`netmon.geo`)."""
    located = [r for r in report.sites if r.site and r.site.lat is not None and r.site.lon is not None]
    if not located:
        return "<p>–</p>"
    units = [
        (r.site.name, r.site.district, float(r.site.lat), float(r.site.lon))  # type: ignore[arg-type]
        for r in located
        if r.site
    ]
    shapes = geo.outlines(units, "") if len(units) >= 3 else None
    squeeze = math.cos(math.radians(sum(u[2] for u in units) / len(units)))

    def flat(lon: float, lat: float) -> tuple[float, float]:
        return lon * squeeze, lat

    rings = (
        {
            kind: [
                [flat(*c) for c in ring]
                for f in shapes["features"]
                if f["properties"]["kind"] == kind
                for ring in geo.rings(f)
            ]
            for kind in ("province", "district")
        }
        if shapes
        else {}
    )
    frame = rings["province"][0] if rings else [flat(u[3], u[2]) for u in units]
    xs, ys = [p[0] for p in frame], [p[1] for p in frame]
    w, pad = 1000, 20
    scale = (w - 2 * pad) / max(max(xs) - min(xs), 0.01)
    h = round(2 * pad + max(max(ys) - min(ys), 0.01) * scale)

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        return pad + (p[0] - min(xs)) * scale, h - pad - (p[1] - min(ys)) * scale

    def path(points: list[tuple[float, float]]) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, points))

    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    parts += [
        f'<polygon points="{path(ring)}" fill="#f3f1ea" stroke="#8c7b5a" stroke-width="1.5"/>'
        for ring in rings.get("province", [])
    ]
    parts += [
        f'<polygon points="{path(ring)}" fill="none" stroke="#b9ad92" stroke-dasharray="4 3"/>'
        for ring in rings.get("district", [])
    ]
    districts: dict[str, list[tuple[float, float]]] = {}
    for _, district, lat, lon in units:
        districts.setdefault(district.split(";")[0].strip(), []).append(flat(lon, lat))
    labels = []
    for name, points in sorted(districts.items()):
        cx, cy = xy((sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)))
        labels.append(
            f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="11" fill="#8c7b5a" text-anchor="middle" '
            f'font-style="italic" opacity="0.8">{escape(name)}</text>'
        )
    parts += labels
    dots = [xy(flat(lon, lat)) for _, _, lat, lon in units]
    font = 11
    names = [r.site.name if r.site else "" for r in located]
    anchors = [(d, 0.56 * font * len(name)) for d, name in zip(dots, names, strict=True)]
    spots = labels_.place_labels(anchors, font, 8, [(x - 6, y - 6, x + 6, y + 6) for x, y in dots])
    for r, (x, y), spot in zip(located, dots, spots, strict=True):
        assert r.site is not None
        tip = f"{r.site.name} — {availability_text(r, lang)} ({coverage_pct(r.coverage)})"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{color(r.availability)}" '
            f'stroke="#333" stroke-width="0.6"><title>{escape(tip)}</title></circle>'
        )
        if spot is not None:
            parts.append(
                f'<text x="{spot[0]:.1f}" y="{spot[1]:.1f}" font-size="{font}" stroke="#fff" '
                f'stroke-width="3" paint-order="stroke">{escape(r.site.name)}</text>'
            )
    note = escape(_t("outline", lang))
    parts.append(f'<text x="{pad}" y="{h - 6}" font-size="11" fill="#555">{note}</text>')
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i> ≥ {limit * 100:g} %</span>' for limit, c in COLORS
    ) + _no_data_legend(lang)
    return "".join(parts) + f'</svg><div class="legend">{legend}</div>'


def render(report: Report, lang: Lang) -> str:
    t = report.total
    names = {r.site.slug: r.site.name for r in report.sites if r.site}
    rules = "".join(f"<li>{escape(line)}</li>" for line in header(report, lang))
    cards = "".join(
        f'<div class="card">{escape(_t(k, lang))}<b>{escape(v)}</b></div>'
        for k, v in (
            ("availability", availability_text(t, lang)),
            ("coverage", coverage_pct(t.coverage)),
            ("availability_excl", human(t, lang)["availability_excl"]),
            ("outages", str(t.outages)),
            ("downtime", secs(t.down)),
            ("mttr", secs(t.mttr)),
        )
    )
    ranked = rank(report.sites)
    longest = sorted((o for o in report.outages if o.end is not None), key=lambda o: o.start - (o.end or 0))[
        :50
    ]
    log = "".join(
        f"<tr><td>{escape(names.get(o.site, o.site))}</td><td>{escape(subject(o.link, lang))}</td>"
        f"<td>{local(o.start)}</td><td>{secs((o.end or 0) - o.start)}</td>"
        f"<td>{escape(cause(o.cause, lang))}</td></tr>"
        for o in longest
    )
    grouped = ""
    if report.by != "site":
        grouped = f"<h2>{escape(_t('grouped', lang, by=report.by))}</h2>{_table(report.rows, lang, t)}"
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(_t("title", lang))}</title>
<style>{CSS}</style></head><body>
<h1>{escape(_t("title", lang))}</h1><ul>{rules}</ul>
<h2>{escape(_t("summary", lang))}</h2><div class="cards">{cards}</div>
<h2>{escape(_t("over_time", lang))}</h2>{_over_time(report, lang)}
<h2>{escape(_t("latency", lang))}</h2>{_latency(report)}
<h2>{escape(_t("map", lang))}</h2>{_map(report, lang)}
{grouped}
<h2>{escape(_t("ranked", lang))}</h2>{_table(ranked, lang, t)}
<h2>{escape(_t("log", lang))}</h2><table><thead><tr><th>{escape(_t("site", lang))}</th>
<th>{escape(_t("link", lang))}</th><th>{escape(_t("start", lang))}</th><th>{escape(_t("duration", lang))}</th>
<th>{escape(_t("cause", lang))}</th>
</tr></thead><tbody>{log}</tbody></table>
</body></html>
"""
