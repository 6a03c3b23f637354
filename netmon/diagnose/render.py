"""Terminal output: the verdict table, the path, the diagnosis — readable on an 80-column terminal.

Colors only when writing to a terminal and ``NO_COLOR`` (https://no-color.org) is unset or empty;
a piped or logged output is plain text.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from typing import TextIO

from netmon.diagnose.diagnosis import Diagnosis
from netmon.diagnose.path import PathView
from netmon.diagnose.session import Outcome, Report
from netmon.diagnose.verdict import (
    DNS_LOOKUP,
    HTTP_DURATION,
    HTTP_STATUS,
    LOSS,
    RTT,
    TCP_CONNECT,
    UPS_CHARGE,
    UPS_ON_BATTERY,
    UPS_REMAINING,
    Verdict,
)
from netmon.i18n import Lang, text

WIDTH = 80
#: where, check, target, result, verdict — with single-space gaps this is 79 columns.
COLUMNS = (10, 14, 20, 23, 8)

CATALOG: dict[str, tuple[str, str]] = {
    "where": ("WHERE", "VỊ TRÍ"), "check": ("CHECK", "KIỂM TRA"), "target": ("TARGET", "ĐÍCH"),
    "result": ("RESULT", "KẾT QUẢ"), "verdict": ("VERDICT", "ĐÁNH GIÁ"),
    "datacenter": ("datacenter", "TT dữ liệu"), "hub": ("hub", "trạm"), "site": ("site", "điểm"),
    "adhoc": ("target", "đích"),
    "ok": ("ok", "tốt"), "degraded": ("degraded", "suy giảm"), "down": ("down", "mất"),
    "unknown": ("unknown", "không rõ"),
    "diagnosis": ("Diagnosis", "Chẩn đoán"),
    "trace": ("Trace to {target}:", "Traceroute tới {target}:"),
    "trace_link": ("Trace over link {link} to {target}:", "Traceroute qua đường {link} tới {target}:"),
    "no_answer": ("(no answer)", "(không trả lời)"),
    "reached": ("reached the target", "tới được đích"),
    "stops": ("stops at {hop}", "dừng tại {hop}"),
    "path": ("Path", "Đường đi"),
    "loss": ("{value:.0f} % loss", "mất {value:.0f} %"),
    "connect": ("connect {time}", "kết nối {time}"),
    "hops": ("{n} hops", "{n} bước"),
    "on_battery": ("ON BATTERY {charge:.0f} %, ~{minutes:.0f} min",
                   "CHẠY PIN {charge:.0f} %, ~{minutes:.0f} phút"),
    "mains": ("mains, battery {charge:.0f} %", "điện lưới, pin {charge:.0f} %"),
}

#: Failure reasons in Vietnamese for the result column; English shows the probe's own message, whose
#: words (and the library errors inside it) are English and would make a mixed-language table.
REASONS_VI: dict[str, str] = {
    "timeout": "không phản hồi", "unreachable": "không tới được", "refused": "từ chối kết nối",
    "reset": "bị ngắt kết nối", "tls": "lỗi TLS", "dns": "lỗi phân giải tên", "http_status": "mã HTTP lỗi",
    "body_mismatch": "nội dung sai", "too_large": "phản hồi quá lớn",
    "too_many_redirects": "chuyển hướng vòng", "protocol": "lỗi giao thức", "bad_response": "trả lời hỏng",
    "answer_mismatch": "trả lời sai", "no_permission": "không có quyền đo",
}

_COLORS = {Verdict.OK: "32", Verdict.DEGRADED: "33", Verdict.DOWN: "31", Verdict.UNKNOWN: "35"}


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(value: str, verdict: Verdict, color: bool) -> str:
    return f"\x1b[{_COLORS[verdict]}m{value}\x1b[0m" if color else value


def fit(value: str, width: int) -> str:
    """``value`` cut to ``width`` characters with an ellipsis, padded to exactly ``width``."""
    return (value if len(value) <= width else value[: width - 1] + "…").ljust(width)


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def measured(o: Outcome, lang: Lang = "en") -> str:
    """The figures that matter for this probe, or the failure message, in ``lang``."""
    r = o.result
    if r.probe == "icmp":
        loss, rtt = r.value(LOSS), r.value(RTT)
        shown = [ms(rtt) if rtt is not None else "",
                 text(CATALOG, "loss", lang, value=loss * 100) if loss is not None else ""]
        if r.success or (loss is not None and loss < 1.0):
            return ", ".join(p for p in shown if p)
    if r.probe == "http" and (status := r.value(HTTP_STATUS)):
        total = r.value(HTTP_DURATION, phase="total")
        return ", ".join(p for p in (f"{status:.0f}", ms(total) if total else "") if p)
    if not r.success:
        if r.reason == "no_permission" and lang == "en":
            return "no permission to measure"
        if lang == "vi" and r.reason in REASONS_VI:
            return REASONS_VI[r.reason]
        return r.error or r.reason or "failed"
    if r.probe == "tcp" and (v := r.value(TCP_CONNECT)) is not None:
        return text(CATALOG, "connect", lang, time=ms(v))
    if r.probe == "dns" and (v := r.value(DNS_LOOKUP)) is not None:
        return ms(v)
    if r.probe == "trace":
        return text(CATALOG, "hops", lang, n=len(r.details.get("hops", ())))
    if r.probe == "snmp" and (on_battery := r.value(UPS_ON_BATTERY)) is not None:
        charge, left = (r.value(UPS_CHARGE) or 0.0) * 100, (r.value(UPS_REMAINING) or 0.0) / 60
        return text(CATALOG, "on_battery" if on_battery else "mains", lang, charge=charge, minutes=left)
    return ms(r.duration)


def row(cells: Sequence[str], verdict: Verdict | None = None, color: bool = False) -> str:
    parts = [fit(c, w) for c, w in zip(cells, COLUMNS, strict=True)]
    if verdict is not None:
        parts[-1] = paint(parts[-1].rstrip(), verdict, color)
    return " ".join(parts).rstrip()


def table(outcomes: Sequence[Outcome], lang: Lang, color: bool,
          result_text: dict[int, str] | None = None) -> list[str]:
    """Header and one line per outcome; ``result_text`` overrides the result cell by index (watch)."""
    t = lambda key: text(CATALOG, key, lang)  # noqa: E731
    lines = [row([t("where"), t("check"), t("target"), t("result"), t("verdict")])]
    for i, o in enumerate(outcomes):
        cells = [t(o.row.role), o.row.check.id, o.row.check.target,
                 (result_text or {}).get(i, measured(o, lang)), t(o.finding.verdict.label)]
        lines.append(row(cells, o.finding.verdict, color))
    return lines


def trace_lines(view: PathView, lang: Lang, color: bool) -> list[str]:
    lines = [text(CATALOG, "trace_link" if view.link else "trace", lang, link=view.link, target=view.target)]
    for hop in view.hops:
        if hop.address is None or hop.loss >= 1.0:
            lines.append(f"  {hop.ttl:>2}  {'*':<16} {text(CATALOG, 'no_answer', lang)}")
            continue
        rtt = ms(hop.rtt) if hop.rtt is not None else ""
        lines.append(f"  {hop.ttl:>2}  {hop.address:<16} {fit(hop.name or '', 46)} {rtt:>8}".rstrip())
    if view.reached:
        lines.append("  " + paint(text(CATALOG, "reached", lang), Verdict.OK, color))
    elif view.stops_at:
        lines.append("  " + paint(text(CATALOG, "stops", lang, hop=view.stops_at), Verdict.DOWN, color))
    elif view.error:
        lines.append("  " + paint(fit(view.error, WIDTH - 3).rstrip(), Verdict.DOWN, color))
    return lines


def document(report: Report, diagnosis: Diagnosis, lang: Lang, color: bool, title: str = "") -> str:
    """The whole human-readable report: title, table, traces, notes, diagnosis wrapped to 79 columns."""
    sections = [[fit(title, WIDTH - 1).rstrip()]] if title else []
    sections.append(table(report.outcomes, lang, color))
    sections += [trace_lines(view, lang, color) for view in report.paths]
    if report.plan.notes:
        sections.append([f"! {fit(note, WIDTH - 3).rstrip()}" for note in report.plan.notes])
    sections.append([verdict_line(report, diagnosis, lang, color)])
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def verdict_line(report: Report, diagnosis: Diagnosis, lang: Lang, color: bool) -> str:
    """"Diagnosis: ..." wrapped to 79 columns, the label colored by the overall verdict."""
    label = text(CATALOG, "diagnosis", lang) + ":"
    wrapped = textwrap.fill(f"{label} {diagnosis.text}", WIDTH - 1, subsequent_indent="  ")
    return paint(label, report.verdict, color) + wrapped[len(label):]


def write(stream: TextIO, content: str) -> None:
    stream.write(content)
    stream.flush()
