"""Table, CSV and JSON renderings of a `Report`, in English or Vietnamese (`netmon.i18n`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from netmon.i18n import Lang, text
from netmon.report.compute import Report, Row, Upgrade
from netmon.report.filing_text import cause, rules_data, rules_header
from netmon.report.intervals import LOCAL_TZ

CATALOG: dict[str, tuple[str, str]] = {
    "title": ("Link availability report", "Báo cáo khả dụng đường truyền"),
    "period": ("Period", "Thời gian"),
    "source": ("Source", "Nguồn"),
    "key": ("Key", "Mã"),
    "name": ("Name", "Tên"),
    "sites": ("Sites", "Số điểm"),
    "availability": ("Availability", "Khả dụng"),
    "coverage": ("Coverage", "Độ phủ"),
    "availability_excl": ("Avail. excl. maint.", "Khả dụng trừ bảo trì"),
    "coverage_excl": ("Coverage excl. maint.", "Độ phủ trừ bảo trì"),
    "outages": ("Outages", "Số lần mất kết nối"),
    "short_outages": ("Short outages", "Mất kết nối ngắn"),
    "downtime": ("Downtime", "Thời gian mất"),
    "mttr": ("MTTR", "Thời gian khắc phục TB"),
    "rtt_p50": ("RTT p50", "RTT p50"),
    "rtt_p95": ("RTT p95", "RTT p95"),
    "loss": ("Loss", "Mất gói"),
    "loss_p95": ("Loss p95 (daily)", "Mất gói p95 (ngày)"),
    "jitter": ("Jitter", "Jitter"),
    "runs": ("Checks run", "Số lần kiểm tra"),
    "causes": ("Causes", "Nguyên nhân"),
    "total": ("All sites", "Toàn tỉnh"),
    "worst": ("Worst {n} sites", "{n} điểm kém nhất"),
    "before": ("Before", "Trước"),
    "after": ("After", "Sau"),
    "upgrade": ("Link {link} of {name} since {since}", "Đường truyền {link} của {name} từ {since}"),
    "status.no_data": ("no data", "không có dữ liệu"),
    "status.below_floor": ("insufficient data", "không đủ dữ liệu"),
}

COLUMNS = (
    "key",
    "name",
    "sites",
    "availability",
    "coverage",
    "availability_excl",
    "coverage_excl",
    "outages",
    "short_outages",
    "downtime",
    "mttr",
    "rtt_p50",
    "rtt_p95",
    "loss",
    "loss_p95",
    "jitter",
    "runs",
    "causes",
)


def status(row: Row) -> str:
    """``ok``, ``below_floor`` (observed, but less than the coverage floor) or ``no_data``."""
    if row.availability is not None:
        return "ok"
    return "below_floor" if row.observed > 0 else "no_data"


def values(row: Row) -> dict[str, Any]:
    """Machine values of a row, base units (seconds, ratios)."""
    r = row.rollup
    return {
        "key": row.key,
        "name": row.label,
        "sites": row.sites,
        "availability": row.availability,
        "coverage": row.coverage,
        "availability_excl": row.availability_excl,
        "coverage_excl": row.coverage_excl,
        "outages": row.outages,
        "short_outages": row.short,
        "downtime": row.down,
        "mttr": row.mttr,
        "rtt_p50": r.rtt_p(0.5),
        "rtt_p95": r.rtt_p(0.95),
        "loss": r.loss,
        "loss_p95": r.loss_p95,
        "jitter": r.jitter,
        "runs": row.runs,
        "causes": dict(row.causes),
        "status": status(row),
        "window": row.window,
        "observed": row.observed,
    }


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.3f} %"


def secs(v: float | None) -> str:
    if v is None:
        return "–"
    v = round(v)
    h, rest = divmod(v, 3600)
    return f"{h}h{rest // 60:02d}m{rest % 60:02d}s" if h else f"{rest // 60}m{rest % 60:02d}s"


def ms(v: float | None) -> str:
    return "–" if v is None else f"{v * 1000:.1f} ms"


def coverage_pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


def availability_text(row: Row, lang: Lang) -> str:
    """The availability figure, or why there is none ("no data" is never printed as "up")."""
    state = status(row)
    return pct(row.availability) if state == "ok" else text(CATALOG, f"status.{state}", lang)


def human(row: Row, lang: Lang) -> dict[str, str]:
    v = values(row)
    excl = "status.no_data" if row.observed_excl <= 0 else "status.below_floor"
    fmt: dict[str, Callable[[Any], str]] = {
        "availability": lambda _: availability_text(row, lang),
        "availability_excl": lambda a: pct(a) if a is not None else text(CATALOG, excl, lang),
        "coverage": coverage_pct,
        "coverage_excl": coverage_pct,
        "downtime": secs,
        "mttr": secs,
        "rtt_p50": ms,
        "rtt_p95": ms,
        "jitter": ms,
        "loss": pct,
        "loss_p95": pct,
        "causes": lambda c: ", ".join(
            f"{cause(k, lang)} {n}" for k, n in sorted(c.items())
        ),
    }
    return {k: fmt.get(k, str)(v[k]) for k in COLUMNS}


def local(t: float) -> str:
    return datetime.fromtimestamp(t, LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def header(report: Report, lang: Lang) -> list[str]:
    """Title and source, then the accounting rules worded as every filing words them."""
    return [
        f"{text(CATALOG, 'title', lang)} — {text(CATALOG, 'source', lang)}: {report.source}",
        *rules_header(report.rules, report.accounted, report.start, report.end, lang),
    ]


def table(report: Report, lang: Lang) -> str:
    rows = [*report.rows, report.total]
    cells = [[text(CATALOG, c, lang) for c in COLUMNS]]
    cells += [list(human(r, lang).values()) for r in rows]
    cells[-1][0] = text(CATALOG, "total", lang)
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = [*header(report, lang), ""]
    for i, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if i in (0, len(cells) - 2):
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", text(CATALOG, "worst", lang, n=len(report.worst)) + ":"]
    lines += [
        f"  {r.label} ({r.key}): {availability_text(r, lang)} ({text(CATALOG, 'coverage', lang).lower()} "
        f"{coverage_pct(r.coverage)}), {r.outages} × {secs(r.mttr)}, "
        f"{text(CATALOG, 'short_outages', lang).lower()} {r.short}"
        for r in report.worst
    ]
    return "\n".join(lines) + "\n"


def to_csv(report: Report, lang: Lang) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = (*COLUMNS, "status", "window", "observed")
    writer.writerow(columns)
    for r in [*report.rows, report.total]:
        v = values(r)
        v["causes"] = ";".join(f"{k}={n}" for k, n in sorted(v["causes"].items()))
        writer.writerow(["" if v[c] is None else v[c] for c in columns])
    return out.getvalue()


def to_json(report: Report) -> str:
    return (
        json.dumps(
            {
                **rules_data(report.rules, report.accounted, report.start, report.end),
                "by": report.by,
                "source": report.source,
                "rows": [values(r) for r in report.rows],
                "total": values(report.total),
                "worst": [r.key for r in report.worst],
                "outages": [
                    {"site": o.site, "link": o.link, "start": o.start, "end": o.end, "cause": o.cause}
                    for o in report.outages
                ],
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )


def upgrade_text(up: Upgrade, lang: Lang) -> str:
    since = datetime.fromtimestamp(up.since, LOCAL_TZ).date().isoformat()
    lines = [text(CATALOG, "upgrade", lang, link=up.link, name=up.site.name, since=since), ""]
    before, after = human(up.before, lang), human(up.after, lang)
    for key in (
        "availability",
        "coverage",
        "availability_excl",
        "coverage_excl",
        "outages",
        "short_outages",
        "downtime",
        "mttr",
        "rtt_p50",
        "rtt_p95",
        "loss",
        "jitter",
    ):
        lines.append(
            f"  {text(CATALOG, key, lang):<24} {text(CATALOG, 'before', lang)}: {before[key]:<18} "
            f"{text(CATALOG, 'after', lang)}: {after[key]}"
        )
    return "\n".join(lines) + "\n"


def upgrade_json(up: Upgrade) -> str:
    return (
        json.dumps(
            {
                "site": up.site.slug,
                "link": up.link,
                "since": up.since,
                "before": values(up.before),
                "after": values(up.after),
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
