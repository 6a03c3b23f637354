"""The periodic monitoring report the province files (quarter, half-year, year): its figures in the
order a provincial report uses them, as data; `netmon.report.filing_html` prints it.

Order: I. the network (centers, links, backups, bandwidth), II. results for the province
(availability, outages, downtime, restore time), III. comparison of the former districts,
IV. availability calendar per center, V. the incident log, VI. the providers against their
contracts, VII. gaps to close (no backup link, below the bandwidth target). Every figure follows the
accounting rules (`netmon.report.accounting`) and the header says which were on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from netmon.alerting import LINK_TYPE_TEXT
from netmon.i18n import Lang, text
from netmon.inventory.loader import Inventory
from netmon.report import filing_text as ft
from netmon.report import intervals as iv
from netmon.report.accounting import Accounted, Rules, samples_by_site
from netmon.report.compute import Row, link_spans, maintenance_spans, site_row
from netmon.report.contract import ContractReport, build_contract
from netmon.report.data import SiteInfo, Source
from netmon.report.incidents import Incident


@dataclass
class Filing:
    start: float
    end: float
    rules: Rules
    accounted: Accounted
    sites: list[Row]
    districts: list[Row]
    total: Row
    links_by_type: Counter[str]
    #: local day starts, and per center one availability per day over its observed time (None: nothing
    #: observed that day, grey in the calendar)
    days: list[float]
    calendar: dict[str, list[float | None]]
    incidents: list[Incident]
    contract: ContractReport


def per_day(spans: list[iv.Span], days: list[iv.Span]) -> list[list[iv.Span]]:
    """Sorted, disjoint ``spans`` cut at the ``days`` boundaries, one list per day (one pass)."""
    out: list[list[iv.Span]] = [[] for _ in days]
    i = 0
    for a, b in spans:
        while i < len(days) and days[i][1] <= a:
            i += 1
        j = i
        while j < len(days) and days[j][0] < b:
            lo, hi = max(a, days[j][0]), min(b, days[j][1])
            if lo < hi:
                out[j].append((lo, hi))
            j += 1
    return out


def build(
    source: Source,
    inventory: Inventory,
    sites: Sequence[SiteInfo],
    accounted: Accounted,
    rules: Rules,
    items: list[Incident],
    start: float,
    end: float,
    now: float,
) -> Filing:
    stop = min(end, now)
    window = rules.window(start, stop)
    rollups = source.rollups(start, stop) if stop > start else {}
    samples = samples_by_site(source.samples(start, stop)) if stop > start else {}
    windows = source.maintenance()
    rows = [
        site_row(
            s,
            s.primary.id,
            accounted,
            samples.get(s.slug, []),
            window,
            maintenance_spans(s, windows),
            rollups,
            now,
            rules.floor,
        )
        for s in sites
    ]
    districts: dict[str, Row] = {}
    total = Row("all", "all", floor=rules.floor)
    for s, row in zip(sites, rows, strict=True):
        districts.setdefault(s.district, Row(s.district, s.district, floor=rules.floor)).add(row)
        total.add(row)
    days = iv.days(start, stop) if stop > start else []
    calendar = {}
    for s in sites:
        seen, down, _ = link_spans(s.slug, s.primary.id, accounted, samples.get(s.slug, []), window, now)
        cells: list[float | None] = []
        for obs, dn in zip(per_day(seen, days), per_day(down, days), strict=True):
            t = iv.total(obs)
            cells.append(None if t == 0 else 1 - iv.total(dn) / t)
        calendar[s.slug] = cells
    return Filing(
        start,
        end,
        rules,
        accounted,
        rows,
        sorted(districts.values(), key=lambda r: r.key),
        total,
        Counter(lk.type for s in sites for lk in s.links),
        [a for a, _ in days],
        calendar,
        items,
        build_contract(source, inventory, sites, accounted, rules, start, end, now, rollups, samples),
    )


#: Section titles in filing order.
SECTIONS: dict[str, tuple[str, str]] = {
    "title": (
        "Network monitoring report of the commune public administration service centers",
        "Báo cáo kết quả giám sát mạng các Trung tâm Phục vụ hành chính công cấp xã",
    ),
    "province": ("Son La province", "Tỉnh Sơn La"),
    "s1": ("I. The network", "I. Tình hình chung"),
    "s2": ("II. Results for the province", "II. Kết quả giám sát toàn tỉnh"),
    "s3": ("III. Comparison of the former districts", "III. So sánh giữa các huyện cũ"),
    "s4": ("IV. Availability calendar per center", "IV. Lịch khả dụng theo từng trung tâm"),
    "s5": ("V. Incident log", "V. Nhật ký sự cố"),
    "s6": ("VI. Providers against their contracts", "VI. Đánh giá cam kết của nhà cung cấp"),
    "s7": ("VII. Gaps to close", "VII. Tồn tại cần khắc phục"),
    "centers": ("Centers monitored", "Số trung tâm được giám sát"),
    "with_backup": ("Centers with a backup link", "Trung tâm có đường truyền dự phòng"),
    "links_by_type": ("Links by type", "Đường truyền theo loại"),
    "availability": ("Availability", "Tỷ lệ khả dụng"),
    "availability_excl": ("Availability excluding maintenance", "Tỷ lệ khả dụng (trừ bảo trì)"),
    "outages": ("Outages", "Số lần mất kết nối"),
    "downtime": ("Total downtime", "Tổng thời gian mất kết nối"),
    "mttr": ("Mean time to restore", "Thời gian khôi phục trung bình"),
    "worst": ("Centers below 99.5 %", "Trung tâm dưới 99,5 %"),
    "district": ("Former district", "Huyện cũ"),
    "sites": ("Centers", "Số trung tâm"),
    "no_data": ("no data", "không có dữ liệu"),
}


def s(key: str, lang: Lang) -> str:
    english, vietnamese = SECTIONS[key]
    return vietnamese if lang == "vi" else english


def summary(f: Filing, lang: Lang) -> list[tuple[str, str]]:
    """Sections I and II as (label, value) pairs, in filing order."""
    with_backup = sum(1 for r in f.sites if r.site and any(lk.role == "backup" for lk in r.site.links))
    t = f.total
    return [
        (s("centers", lang), str(len(f.sites))),
        (s("with_backup", lang), f"{with_backup}/{len(f.sites)}"),
        (
            s("links_by_type", lang),
            ", ".join(f"{text(LINK_TYPE_TEXT, k, lang)} {n}" for k, n in sorted(f.links_by_type.items())),
        ),
        (s("availability", lang), ft.pct(t.availability, lang=lang)),
        (s("availability_excl", lang), ft.pct(t.availability_excl, lang=lang)),
        (s("outages", lang), str(t.outages)),
        (s("downtime", lang), ft.minutes(t.down, lang)),
        (s("mttr", lang), ft.minutes(t.mttr, lang)),
        (
            s("worst", lang),
            str(sum(1 for r in f.sites if r.availability is not None and r.availability < 0.995)),
        ),
    ]


ROW_COLUMNS = ("district", "sites", "availability", "availability_excl", "outages", "downtime", "mttr")


def row_cells(r: Row, lang: Lang) -> list[str]:
    return [
        r.label,
        str(r.sites),
        ft.pct(r.availability, lang=lang),
        ft.pct(r.availability_excl, lang=lang),
        str(r.outages),
        ft.minutes(r.down, lang),
        ft.minutes(r.mttr, lang),
    ]


def to_text(f: Filing, lang: Lang) -> str:
    lines = [s("title", lang), *ft.rules_header(f.rules, f.accounted, f.start, f.end, lang), ""]
    lines += [f"{label}: {value}" for label, value in summary(f, lang)]
    lines += ["", s("s3", lang)]
    lines += [" | ".join(row_cells(r, lang)) for r in f.districts]
    return "\n".join(lines) + "\n"


def to_csv(f: Filing, lang: Lang) -> str:
    """One line per center, then per former district, then the province, as numbers (availability
    in %, three decimals; durations in minutes, one decimal): what a planner re-sorts in Excel."""
    header = [
        ft.t("site", lang),
        s("district", lang),
        s("sites", lang),
        f"{s('availability', lang)} (%)",
        f"{s('availability_excl', lang)} (%)",
        s("outages", lang),
        f"{s('downtime', lang)} ({ft.minute_unit(lang)})",
        f"{s('mttr', lang)} ({ft.minute_unit(lang)})",
    ]

    def cells(name: str, district: str, r: Row) -> list[str]:
        return [
            name,
            district,
            str(r.sites),
            ft.num(r.availability, 100),
            ft.num(r.availability_excl, 100),
            str(r.outages),
            ft.num(r.down, 1 / 60, 1),
            ft.num(r.mttr, 1 / 60, 1),
        ]

    body = [cells(r.label, r.site.district if r.site else "", r) for r in f.sites]
    body += [cells("", r.label, r) for r in f.districts]
    body.append(cells(s("province", lang), "", f.total))
    return ft.csv_text(header, body)


def _row_json(r: Row) -> dict[str, object]:
    def rnd(v: float | None) -> float | None:
        return None if v is None else round(v, 6)

    return {
        "key": r.key,
        "name": r.label,
        "sites": r.sites,
        "availability": rnd(r.availability),
        "availability_excl": rnd(r.availability_excl),
        "outages": r.outages,
        "downtime": round(r.down, 1),
        "mttr": None if r.mttr is None else round(r.mttr, 1),
    }


def to_json(f: Filing) -> str:
    return ft.dumps(
        {
            **ft.rules_data(f.rules, f.accounted, f.start, f.end),
            "province": _row_json(f.total),
            "districts": [_row_json(r) for r in f.districts],
            "sites": [_row_json(r) for r in f.sites],
            "calendar": {
                "days": [datetime.fromtimestamp(d, iv.LOCAL_TZ).date().isoformat() for d in f.days],
                "sites": {k: [None if a is None else round(a, 6) for a in v] for k, v in f.calendar.items()},
            },
            "incidents": ft.incidents_data(f.incidents),
            "contract": ft.contract_data(f.contract),
        },
        indent=None,  # a year's filing is ~10 MB; the C encoder only runs without indentation
    )


def to_html(f: Filing, lang: Lang) -> str:
    from netmon.report.filing_html import render

    return render(f, lang)
