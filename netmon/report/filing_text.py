"""Words and numbers of the planners' filings (contract, incident log, periodic report) in Vietnamese
and English, and the header every report starts with (`netmon report` too): the period and every
accounting rule that shaped a figure (service period, coverage floor, short interruptions left out,
reclassifications included), in words (`rules_header`) and as data (`rules_data`, for JSON).

CSV files are what a planner opens in Excel: UTF-8 with a byte-order mark (else Excel reads the
diacritics as Latin-1), headers in the report's language, figures rounded as printed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from netmon.i18n import Lang, text
from netmon.inventory.model import FLOOR_AVAILABILITY, SECURE_CHECK
from netmon.report.accounting import Accounted, Rules
from netmon.report.contract import RESTORE_CLASSES, ContractReport
from netmon.report.incidents import Incident
from netmon.report.intervals import LOCAL_TZ

CATALOG: dict[str, tuple[str, str]] = {
    "contract.title": (
        "Provider contracts: measured vs contracted vs floor",
        "Cam kết chất lượng của nhà cung cấp: đo được, cam kết và ngưỡng tối thiểu",
    ),
    "incidents.title": ("Incident log", "Nhật ký sự cố"),
    "period": ("Period", "Kỳ báo cáo"),
    "rule.all_hours": ("all hours count", "tính mọi thời điểm"),
    "rule.service": (
        "service period only: {hours}, {days}, public holidays excluded",
        "chỉ tính giờ phục vụ: {hours}, {days}, trừ ngày nghỉ lễ",
    ),
    "rule.short": (
        "interruptions shorter than {n} are not counted ({k} left out)",
        "không tính các lần gián đoạn ngắn hơn {n} (đã bỏ {k} lần)",
    ),
    "rule.short_off": (
        "every interruption counts (no minimum duration)",
        "tính mọi lần gián đoạn (không đặt ngưỡng thời lượng)",
    ),
    "rule.reclassified": (
        "{n} outages reclassified by planners ({k} of them removed as not an outage)",
        "{n} sự cố đã được phân loại lại ({k} trong số đó không phải sự cố)",
    ),
    "rule.floor": (
        "availability over observed time; below {floor} coverage: insufficient data",
        "khả dụng tính trên thời gian quan sát được; độ phủ dưới {floor}: không đủ dữ liệu",
    ),
    "rule.no_trail": (
        "no reclassification applied: the audit trail is kept in the history store (source: Prometheus)",
        "chưa áp dụng phân loại lại: nhật ký phân loại nằm trong kho lịch sử (nguồn: Prometheus)",
    ),
    "rule.holidays": (
        "holiday list does not cover {years}: those holidays count as working days",
        "danh sách ngày lễ chưa có năm {years}: các ngày lễ đó đang tính là ngày làm việc",
    ),
    "floor": ("QCVN 34 floor", "Ngưỡng QCVN 34"),
    "site": ("Center", "Trung tâm"),
    "district": ("Former district", "Huyện cũ"),
    "link": ("Link", "Đường truyền"),
    "isp": ("ISP", "Nhà cung cấp"),
    "links": ("Links", "Số đường truyền"),
    "measured": ("Measured", "Đo được"),
    "service_avail": ("Availability (citizens)", "Khả dụng (phục vụ dân)"),
    "contract_avail": ("Availability (contract)", "Khả dụng (theo hợp đồng)"),
    "contracted": ("Contracted", "Cam kết"),
    "budget": ("Error budget used", "Đã dùng quỹ gián đoạn"),
    "state": ("State", "Đánh giá"),
    "state.ok": ("ok", "đạt"),
    "state.warning": ("warning: half used", "cảnh báo: đã dùng quá nửa"),
    "state.breached": ("breached", "vi phạm"),
    "outages": ("Outages", "Số lần mất kết nối"),
    "allowed": ("Allowed", "Cho phép"),
    "latency": ("Latency p95", "Độ trễ p95"),
    "restore": ("Restore limit", "Thời gian khôi phục cam kết"),
    "breaches": ("Restore breaches", "Số lần khôi phục quá hạn"),
    "below_contract": ("Below contract", "Dưới mức cam kết"),
    "below_floor": ("Below floor", "Dưới ngưỡng QCVN"),
    "restore_dist": ("Restore time distribution", "Phân bố thời gian khôi phục"),
    "breach_list": ("Outages that breached the contract", "Các sự cố vi phạm cam kết"),
    "no_backup": ("Centers without a backup link", "Trung tâm chưa có đường truyền dự phòng"),
    "below_bw": ("Centers below the {n:g} Mbps bandwidth target", "Trung tâm chưa đạt băng thông {n:g} Mbps"),
    "bw_unknown": ("bandwidth not stated", "chưa khai báo băng thông"),
    "none": ("none", "không có"),
    "major": (
        "{n} incidents in the period; the {k} that left centers offline longest are listed below "
        "(the full log: netmon report incidents --format csv).",
        "Trong kỳ có {n} sự cố; {k} sự cố làm trung tâm mất kết nối lâu nhất được liệt kê dưới đây "
        "(nhật ký đầy đủ: netmon report incidents --format csv).",
    ),
    "id": ("No.", "Mã"),
    "start": ("Start", "Bắt đầu"),
    "end": ("End", "Kết thúc"),
    "ongoing": ("ongoing", "đang diễn ra"),
    "duration": ("Duration", "Thời lượng"),
    "cause": ("Cause", "Nguyên nhân"),
    "original": ("Original cause", "Nguyên nhân ban đầu"),
    "impact": ("Impact", "Ảnh hưởng"),
    "actions": ("Actions taken", "Biện pháp khắc phục"),
    "ticket": ("VNPT ticket", "Số phiếu VNPT"),
    "agent": ("Edge agent", "Tác tử tại trung tâm"),
    "agent.heard": ("heard throughout", "liên lạc suốt thời gian"),
    "agent.silent": ("not heard {spans}", "mất liên lạc {spans}"),
    "reason": ("Reclassified (by, when, why)", "Phân loại lại (người, thời điểm, lý do)"),
    "impact.offline": ("center offline {d}", "trung tâm mất kết nối {d}"),
    "impact.on-backup": ("on backup link, service kept", "chạy trên đường dự phòng, vẫn phục vụ"),
    "impact.backup-lost": ("backup link lost, primary up", "mất đường dự phòng, đường chính vẫn hoạt động"),
    "impact.secure-channel": ("line up, secure channel down", "đường truyền tốt, kênh bảo mật mất"),
    "subject.secure": ("secure channel", "kênh bảo mật"),
    "cause.link": ("link", "đường truyền"),
    "cause.hub": ("hub", "trạm tập trung"),
    "cause.power": ("power", "mất điện"),
    "cause.secure_channel": ("secure channel (encryptor)", "kênh bảo mật (thiết bị mã hóa)"),
    "cause.maintenance": ("maintenance", "bảo trì"),
    "cause.provider": ("provider", "lỗi nhà cung cấp"),
    "cause.not-outage": ("not an outage", "không phải sự cố"),
    "yes": ("yes", "có"),
    "no": ("no", "không"),
}

_DAYS = {
    "monday": ("Mon", "T2"),
    "tuesday": ("Tue", "T3"),
    "wednesday": ("Wed", "T4"),
    "thursday": ("Thu", "T5"),
    "friday": ("Fri", "T6"),
    "saturday": ("Sat", "T7"),
    "sunday": ("Sun", "CN"),
}


def t(key: str, lang: Lang, **values: object) -> str:
    return text(CATALOG, key, lang, **values)


def cause(value: str, lang: Lang) -> str:
    return t(f"cause.{value}", lang) if f"cause.{value}" in CATALOG else value


def subject(link: str, lang: Lang) -> str:
    """What an outage happened to, as the incident log names it: the link's id, or the secure channel."""
    return t("subject.secure", lang) if link == SECURE_CHECK else link


def when(ts: float | None, lang: Lang) -> str:
    if ts is None:
        return t("ongoing", lang)
    fmt = "%d/%m/%Y %H:%M" if lang == "vi" else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ts, LOCAL_TZ).strftime(fmt)


def day(ts: float, lang: Lang) -> str:
    return datetime.fromtimestamp(ts, LOCAL_TZ).strftime("%d/%m/%Y" if lang == "vi" else "%Y-%m-%d")


def pct(v: float | None, digits: int = 3, lang: Lang = "en") -> str:
    """A share in per cent; Vietnamese writes the decimal comma (99,500 %)."""
    if v is None:
        return "–"
    text_ = f"{v * 100:.{digits}f} %"
    return text_.replace(".", ",") if lang == "vi" else text_


def minutes(v: float | None, lang: Lang = "en") -> str:
    """Durations as a planner reads them: ``2 h 05`` / ``2 giờ 05``, ``12 min`` / ``12 phút``."""
    if v is None:
        return "–"
    m = round(v / 60)
    hour, minute = ("giờ", "phút") if lang == "vi" else ("h", "min")
    return f"{m // 60} {hour} {m % 60:02d}" if m >= 60 else f"{m} {minute}"


def minute_unit(lang: Lang) -> str:
    return "phút" if lang == "vi" else "min"


def ms(v: float | None) -> str:
    return "–" if v is None else f"{v * 1000:.0f} ms"


def num(v: float | None, scale: float = 1.0, digits: int = 3) -> str:
    """A CSV number: rounded as printed, in the column's unit, empty when unknown."""
    return "" if v is None else f"{v * scale:.{digits}f}"


def unit(key: str, u: str, lang: Lang) -> str:
    return f"{t(key, lang)} ({u})"


def rules_header(rules: Rules, accounted: Accounted, start: float, end: float, lang: Lang) -> list[str]:
    """The period and every rule that shaped the figures, so no report hides how it counted."""
    sp = rules.accounting.service_period
    lines = [f"{t('period', lang)}: {when(start, lang)} → {when(end, lang)} (Asia/Ho_Chi_Minh)"]
    if rules.service_period:
        days = ", ".join(_DAYS[d][lang == "vi"] for d in sp.weekdays)
        lines.append(t("rule.service", lang, hours=sp.hours, days=days))
    else:
        lines.append(t("rule.all_hours", lang))
    lines.append(t("rule.floor", lang, floor=pct(rules.floor, 0, lang)))
    if rules.ignore_shorter_than > 0:
        lines.append(
            t("rule.short", lang, n=minutes(rules.ignore_shorter_than, lang), k=accounted.ignored_short)
        )
    else:
        lines.append(t("rule.short_off", lang))
    if accounted.trail:
        lines.append(t("rule.reclassified", lang, n=accounted.reclassified, k=accounted.not_outages))
    else:
        lines.append(t("rule.no_trail", lang))
    missing = rules.uncovered_years(start, end)
    if missing:
        lines.append(t("rule.holidays", lang, years=", ".join(map(str, missing))))
    return lines


def rules_data(rules: Rules, accounted: Accounted, start: float, end: float) -> dict[str, Any]:
    """The same disclosure for machines: every JSON report carries these keys at its top level."""
    sp = rules.accounting.service_period
    return {
        "start": start,
        "end": end,
        "service_period": rules.service_period,
        "service_hours": sp.hours if rules.service_period else None,
        "service_weekdays": list(sp.weekdays) if rules.service_period else None,
        "holidays_unknown": rules.uncovered_years(start, end),
        "coverage_floor": rules.floor,
        "ignore_shorter_than": rules.ignore_shorter_than,
        "ignored_short": accounted.ignored_short,
        "reclassifications_applied": accounted.trail,
        "reclassified": accounted.reclassified,
        "not_outages": accounted.not_outages,
    }


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()


def dumps(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent) + "\n"


# -- contract ---------------------------------------------------------------------------------------

_CONTRACT_COLUMNS = (
    "site",
    "link",
    "isp",
    "service_avail",
    "contract_avail",
    "contracted",
    "floor",
    "budget",
    "state",
    "outages",
    "allowed",
    "latency",
    "breaches",
)


def contract_cells(report: ContractReport, lang: Lang) -> list[list[str]]:
    rows = []
    for lc in report.links:
        b = lc.budget
        rows.append(
            [
                lc.site.name,
                lc.link,
                lc.isp,
                pct(lc.service.availability, lang=lang),
                pct(lc.availability, lang=lang),
                pct(lc.terms.availability, lang=lang),
                pct(FLOOR_AVAILABILITY, lang=lang),
                pct(b.fraction, 0, lang=lang),
                t(f"state.{b.state}", lang),
                str(lc.contract.outages),
                "–" if lc.allowed_outages is None else f"{lc.allowed_outages:.1f}",
                f"{ms(lc.latency_p95)} / {ms(lc.terms.latency)}",
                str(len(lc.breaches)),
            ]
        )
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [fmt(header), line, *(fmt(r) for r in rows)]


def contract_text(report: ContractReport, lang: Lang) -> str:
    lines = [
        t("contract.title", lang),
        *rules_header(report.rules, report.accounted, report.start, report.end, lang),
        "",
    ]
    lines += _table([t(c, lang) for c in _CONTRACT_COLUMNS], contract_cells(report, lang))
    lines += ["", f"{t('isp', lang)}:"]
    classes = ["≤15 min", "≤1 h", "≤4 h", "≤24 h", ">24 h"]
    header = [
        t("isp", lang),
        t("links", lang),
        t("contract_avail", lang),
        t("outages", lang),
        t("breaches", lang),
        t("below_contract", lang),
        t("below_floor", lang),
        *classes,
    ]
    rows = [
        [
            i.isp,
            str(i.links),
            pct(i.row.availability_excl, lang=lang),
            str(i.row.outages),
            str(i.breaches),
            str(i.below_contract),
            str(i.below_floor),
            *map(str, i.restore_classes),
        ]
        for i in report.isps
    ]
    lines += _table(header, rows)
    lines += ["", f"{t('breach_list', lang)}:"]
    for lc, o in report.breaches:
        lines.append(
            f"  {when(o.start, lang)}  {lc.site.name} / {lc.link} ({lc.isp}): "
            f"{minutes((o.end or report.end) - o.start, lang)} > {minutes(lc.terms.restore, lang)}"
        )
    if not report.breaches:
        lines.append(f"  {t('none', lang)}")
    lines += ["", f"{t('no_backup', lang)} ({len(report.no_backup)}):"]
    lines += [f"  {s.name} ({s.district})" for s in report.no_backup] or [f"  {t('none', lang)}"]
    target = report.rules.accounting.bandwidth_target_mbps
    lines += ["", f"{t('below_bw', lang, n=target)} ({len(report.below_bandwidth)}):"]
    lines += [
        f"  {s.name}: {t('bw_unknown', lang) if bw is None else f'{bw:g} Mbps'}"
        for s, bw in report.below_bandwidth
    ] or [f"  {t('none', lang)}"]
    return "\n".join(lines) + "\n"


def contract_csv(report: ContractReport, lang: Lang) -> str:
    header = [
        t("site", lang),
        t("link", lang),
        t("isp", lang),
        unit("service_avail", "%", lang),
        unit("contract_avail", "%", lang),
        unit("contracted", "%", lang),
        unit("floor", "%", lang),
        unit("budget", "%", lang),
        t("state", lang),
        t("outages", lang),
        t("allowed", lang),
        unit("latency", "ms", lang),
        unit("contracted", "ms", lang),
        t("breaches", lang),
    ]
    rows = [
        [
            lc.site.name,
            lc.link,
            lc.isp,
            num(lc.service.availability, 100),
            num(lc.availability, 100),
            num(lc.terms.availability, 100),
            num(FLOOR_AVAILABILITY, 100),
            num(lc.budget.fraction, 100, 1),
            t(f"state.{lc.budget.state}", lang),
            str(lc.contract.outages),
            num(lc.allowed_outages, 1, 1),
            num(lc.latency_p95, 1000, 1),
            num(lc.terms.latency, 1000, 1),
            str(len(lc.breaches)),
        ]
        for lc in report.links
    ]
    return csv_text(header, rows)


def contract_json(report: ContractReport) -> str:
    return dumps(contract_data(report))


def contract_data(report: ContractReport) -> dict[str, Any]:
    def r(v: float | None, n: int = 6) -> float | None:
        return None if v is None else round(v, n)

    return {
        **rules_data(report.rules, report.accounted, report.start, report.end),
        "links": [
            {
                "site": lc.site.slug,
                "link": lc.link,
                "isp": lc.isp,
                "role": lc.role,
                "contract": lc.terms.model_dump(),
                "availability_service": r(lc.service.availability),
                "availability_contract": r(lc.availability),
                "meets_contract": lc.meets_contract,
                "meets_floor": lc.meets_floor,
                "budget": {
                    "allowed": r(lc.budget.allowed, 1),
                    "used": r(lc.budget.used, 1),
                    "fraction": r(lc.budget.fraction),
                    "state": lc.budget.state,
                },
                "outages": lc.contract.outages,
                "allowed_outages": r(lc.allowed_outages, 2),
                "latency_p95": r(lc.latency_p95),
                "latency_ok": lc.latency_ok,
                "latency_floor_ok": lc.latency_floor_ok,
                "too_many_outages": lc.too_many_outages,
                "restore_times": [round(x, 1) for x in lc.restore_times],
                "breaches": [{"start": o.start, "end": o.end, "cause": o.cause} for o in lc.breaches],
            }
            for lc in report.links
        ],
        "isps": [
            {
                "isp": i.isp,
                "links": i.links,
                "availability_contract": r(i.row.availability_excl),
                "outages": i.row.outages,
                "breaches": i.breaches,
                "below_contract": i.below_contract,
                "below_floor": i.below_floor,
                "restore_classes": dict(
                    zip([str(c) for c in RESTORE_CLASSES], i.restore_classes, strict=True)
                ),
            }
            for i in report.isps
        ],
        "no_backup": [s.slug for s in report.no_backup],
        "below_bandwidth": [{"site": s.slug, "bandwidth_mbps": bw} for s, bw in report.below_bandwidth],
    }


# -- incident log -----------------------------------------------------------------------------------

INCIDENT_COLUMNS = (
    "id",
    "start",
    "end",
    "site",
    "district",
    "link",
    "isp",
    "cause",
    "original",
    "duration",
    "impact",
    "actions",
    "ticket",
    "reason",
    "agent",
)


def agent_cell(i: Incident, lang: Lang) -> str:
    """"not heard 05:52–06:10" (the agent died, lost power, was killed) or "heard throughout"; empty
    for a center without an edge agent."""
    if i.agent_silent is None:
        return ""
    if not i.agent_silent:
        return t("agent.heard", lang)
    clock = lambda ts: datetime.fromtimestamp(ts, LOCAL_TZ).strftime("%H:%M")  # noqa: E731
    return t("agent.silent", lang, spans=", ".join(f"{clock(a)}–{clock(b)}" for a, b in i.agent_silent))


def impact(i: Incident, lang: Lang) -> str:
    return t(f"impact.{i.impact}", lang, d=minutes(i.offline, lang))


def incident_cells(i: Incident, lang: Lang) -> list[str]:
    lk = i.site.link(i.outage.link)
    trail = "; ".join(
        f"{e.by}, {when(e.at, lang)}: {cause(e.as_cause, lang) if e.as_cause else '–'} — {e.reason}"
        for e in (i.note.entries if i.note else ())
    )
    return [
        "" if i.id is None else str(i.id),
        when(i.outage.start, lang),
        when(i.outage.end, lang),
        i.site.name,
        i.site.district,
        subject(i.outage.link, lang),
        lk.isp if lk else "",
        cause(i.cause, lang),
        cause(i.original_cause, lang) if i.original_cause != i.cause else "",
        minutes(i.duration, lang),
        impact(i, lang),
        (i.note.actions if i.note else None) or "",
        (i.note.ticket if i.note else None) or "",
        trail,
        agent_cell(i, lang),
    ]


def pick(cells: list[str], idx: Sequence[int]) -> list[str]:
    return [cells[k] for k in idx]


def incidents_text(items: Sequence[Incident], header: list[str], lang: Lang) -> str:
    cols: tuple[str, ...] = ("id", "start", "site", "link", "cause", "duration", "impact", "ticket")
    if any(i.agent_silent is not None for i in items):
        cols += ("agent",)
    idx = [INCIDENT_COLUMNS.index(c) for c in cols]
    rows = [pick(incident_cells(i, lang), idx) for i in items]
    return (
        "\n".join([t("incidents.title", lang), *header, "", *_table([t(c, lang) for c in cols], rows)]) + "\n"
    )


def incidents_csv(items: Sequence[Incident], lang: Lang) -> str:
    """The log with durations as numbers of minutes (one decimal), the rest as printed."""
    at = INCIDENT_COLUMNS.index("duration")
    header = [unit(c, minute_unit(lang), lang) if c == "duration" else t(c, lang) for c in INCIDENT_COLUMNS]
    rows = []
    for i in items:
        cells = incident_cells(i, lang)
        cells[at] = num(i.duration, 1 / 60, 1)
        rows.append(cells)
    return csv_text(header, rows)


def incidents_json(items: Sequence[Incident], rules: dict[str, Any]) -> str:
    return dumps({**rules, "incidents": incidents_data(items)})


def incidents_data(items: Sequence[Incident]) -> list[dict[str, Any]]:
    return [
        {
            "id": i.id,
            "site": i.site.slug,
            "name": i.site.name,
            "district": i.site.district,
            "link": i.outage.link,
            "start": i.outage.start,
            "end": i.outage.end,
            "duration": round(i.duration, 1),
            "offline": round(i.offline, 1),
            "impact": i.impact,
            "cause": i.cause,
            "original_cause": i.original_cause,
            "ticket": i.note.ticket if i.note else None,
            "actions": i.note.actions if i.note else None,
            "reclassifications": [
                {"as": e.as_cause, "reason": e.reason, "by": e.by, "at": e.at}
                for e in (i.note.entries if i.note else ())
            ],
            "agent_silent": None if i.agent_silent is None else [list(x) for x in i.agent_silent],
        }
        for i in items
    ]
