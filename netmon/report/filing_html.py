"""The periodic filing as one print-ready A4 HTML file: inline CSS and SVG, no script, no request.

Printing is the point: ``@page`` sets A4 with margins, every chart scales to the page width through
its viewBox, tables repeat their header on each page and never split a row, and the calendar fits
one page for a year of 75 centers. Colours are the availability bands of the planner's report
(`netmon.report.html.COLORS`); grey means no check ran that day, which is not the same as "up".
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from netmon.i18n import Lang
from netmon.report import filing_text as ft
from netmon.report import intervals as iv
from netmon.report.filing import ROW_COLUMNS, Filing, row_cells, s, summary
from netmon.report.html import COLORS, color
from netmon.report.incidents import longest

CSS = """
@page{size:A4;margin:14mm 12mm}
body{font-family:"DejaVu Sans","Noto Sans",Arial,sans-serif;font-size:9.5pt;color:#111;
margin:0 auto;max-width:186mm}
h1{font-size:14pt;text-align:center;margin:0 0 2mm}h2{font-size:11.5pt;margin:6mm 0 2mm;break-after:avoid}
p.sub{text-align:center;margin:0 0 1mm}ul.rules{font-size:8.5pt;margin:2mm 0 4mm;padding-left:5mm}
table{border-collapse:collapse;width:100%;font-size:8pt;margin:1mm 0 3mm}
th,td{border:0.5pt solid #888;padding:1pt 3pt;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{font-weight:600;background:#eee}td.n,th.n{text-align:right}td.n{white-space:nowrap}
thead{display:table-header-group}tr{break-inside:avoid}
svg{width:100%;height:auto;display:block;break-inside:avoid}
.legend{font-size:8pt}
.legend i{display:inline-block;width:3mm;height:3mm;margin:0 1mm 0 3mm;vertical-align:middle}
.kv td:first-child{width:60%}
"""

_NUMERIC = {"sites", "availability", "availability_excl", "outages", "downtime", "mttr"}


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    def cell(tag: str, i: int, v: str) -> str:
        cls = ' class="n"' if i in numeric else ""
        return f"<{tag}{cls}>{escape(v)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _legend(lang: Lang) -> str:
    bands = "".join(f'<i style="background:{c}"></i>≥ {limit * 100:g} %' for limit, c in COLORS)
    grey = f'<i style="background:{color(None)}"></i>{escape(s("no_data", lang))}'
    return f'<div class="legend">{bands}{grey}</div>'


def calendar_svg(f: Filing, lang: Lang) -> str:
    """One row per center (grouped by former district), one cell per day."""
    rows = sorted(f.sites, key=lambda r: ((r.site.district if r.site else ""), r.label))
    label_w, grid_w, row_h, top = 150.0, 560.0, 8.0, 14.0
    n = max(1, len(f.days))
    cell_w = grid_w / n
    height = top + row_h * len(rows) + 4
    parts = [f'<svg viewBox="0 0 {label_w + grid_w:.0f} {height:.0f}" role="img" font-size="6.5">']
    last_month = None
    for i, d in enumerate(f.days):
        month = datetime.fromtimestamp(d, iv.LOCAL_TZ).strftime("%m/%Y")
        if month != last_month:
            x = label_w + i * cell_w
            parts.append(
                f'<text x="{x:.1f}" y="9">{month}</text>'
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="{height - 4:.0f}" '
                'stroke="#444" stroke-width="0.3"/>'
            )
            last_month = month
    for j, r in enumerate(rows):
        y = top + j * row_h
        parts.append(f'<text x="0" y="{y + row_h - 1.8:.1f}">{escape(r.label)}</text>')
        for i, a in enumerate(f.calendar.get(r.key, [])):
            value = ft.pct(a, lang=lang) if a is not None else s("no_data", lang)
            tip = f"{r.label} {ft.day(f.days[i], lang)}: {value}"
            parts.append(
                f'<rect x="{label_w + i * cell_w:.2f}" y="{y:.1f}" width="{cell_w + 0.05:.2f}" '
                f'height="{row_h - 1:.1f}" fill="{color(a)}"><title>{escape(tip)}</title></rect>'
            )
    return "".join(parts) + "</svg>" + _legend(lang)


def districts_svg(f: Filing, lang: Lang) -> str:
    """Bars of availability per former district, from just under the lowest value (at most 98 %) to 100 %."""
    values = [r.availability for r in f.districts if r.availability is not None]
    if not values:
        return ""
    low = max(0.0, min(min(values), 0.98) - 0.005)
    label_w, bar_w, row_h = 150.0, 480.0, 14.0
    parts = [
        f'<svg viewBox="0 0 {label_w + bar_w + 80:.0f} {row_h * len(f.districts) + 6:.0f}" '
        'role="img" font-size="8">'
    ]
    for j, r in enumerate(f.districts):
        y = 3 + j * row_h
        a = r.availability
        width = 0.0 if a is None else bar_w * (a - low) / (1 - low)
        parts.append(
            f'<text x="0" y="{y + 9:.1f}">{escape(r.label)}</text>'
            f'<rect x="{label_w}" y="{y:.1f}" width="{width:.1f}" height="{row_h - 4}" fill="{color(a)}"/>'
            f'<text x="{label_w + width + 3:.1f}" y="{y + 9:.1f}">{ft.pct(a, lang=lang)}</text>'
        )
    return "".join(parts) + "</svg>"


def render(f: Filing, lang: Lang) -> str:
    t = ft.t
    rules = "".join(
        f"<li>{escape(line)}</li>" for line in ft.rules_header(f.rules, f.accounted, f.start, f.end, lang)
    )
    kv = "".join(f"<tr><td>{escape(k)}</td><td class=n>{escape(v)}</td></tr>" for k, v in summary(f, lang))
    numeric_rows = {i for i, c in enumerate(ROW_COLUMNS) if c in _NUMERIC}
    districts = _table(
        [s(c, lang) for c in ROW_COLUMNS],
        [row_cells(r, lang) for r in f.districts] + [[s("province", lang), *row_cells(f.total, lang)[1:]]],
        numeric_rows,
    )
    major = longest(f.incidents)
    cols: tuple[str, ...] = ("id", "start", "site", "link", "cause", "duration", "impact", "ticket",
                             "actions")
    if any(i.agent_silent is not None for i in major):
        cols += ("agent",)
    idx = [ft.INCIDENT_COLUMNS.index(c) for c in cols]
    incidents = f"<p>{escape(ft.t('major', lang, n=len(f.incidents), k=len(major)))}</p>"
    if major:
        incidents += _table(
            [t(c, lang) for c in cols], [ft.pick(ft.incident_cells(i, lang), idx) for i in major], {0, 5}
        )
    c = f.contract
    isp = _table(
        [
            t("isp", lang),
            t("links", lang),
            t("contract_avail", lang),
            t("outages", lang),
            t("breaches", lang),
            t("below_contract", lang),
            t("below_floor", lang),
        ],
        [
            [
                i.isp,
                str(i.links),
                ft.pct(i.row.availability_excl, lang=lang),
                str(i.row.outages),
                str(i.breaches),
                str(i.below_contract),
                str(i.below_floor),
            ]
            for i in c.isps
        ],
        {1, 2, 3, 4, 5, 6},
    )
    below = [lc for lc in c.links if lc.meets_contract is False or lc.budget.state != "ok"]
    links = (
        _table(
            [
                t("site", lang),
                t("link", lang),
                t("isp", lang),
                t("contract_avail", lang),
                t("contracted", lang),
                t("budget", lang),
                t("state", lang),
            ],
            [
                [
                    lc.site.name,
                    lc.link,
                    lc.isp,
                    ft.pct(lc.availability, lang=lang),
                    ft.pct(lc.terms.availability, lang=lang),
                    ft.pct(lc.budget.fraction, 0, lang=lang),
                    t(f"state.{lc.budget.state}", lang),
                ]
                for lc in below
            ],
            {3, 4, 5},
        )
        if below
        else ""
    )
    target = f.rules.accounting.bandwidth_target_mbps
    no_backup = ", ".join(x.name for x in c.no_backup) or t("none", lang)
    bandwidth = ", ".join(
        f"{x.name} ({t('bw_unknown', lang) if bw is None else f'{bw:g} Mbps'})" for x, bw in c.below_bandwidth
    ) or t("none", lang)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(s("title", lang))}</title>
<style>{CSS}</style></head><body>
<h1>{escape(s("title", lang))}</h1><p class="sub">{escape(s("province", lang))}</p>
<ul class="rules">{rules}</ul>
<h2>{escape(s("s1", lang))} · {escape(s("s2", lang))}</h2><table class="kv"><tbody>{kv}</tbody></table>
<h2>{escape(s("s3", lang))}</h2>{districts_svg(f, lang)}{districts}
<h2>{escape(s("s4", lang))}</h2>{calendar_svg(f, lang)}
<h2>{escape(s("s5", lang))}</h2>{incidents}
<h2>{escape(s("s6", lang))}</h2>{isp}{links}
<h2>{escape(s("s7", lang))}</h2>
<p><b>{escape(t("no_backup", lang))} ({len(c.no_backup)}):</b> {escape(no_backup)}</p>
<p><b>{escape(t("below_bw", lang, n=target))} ({len(c.below_bandwidth)}):</b> {escape(bandwidth)}</p>
</body></html>
"""
