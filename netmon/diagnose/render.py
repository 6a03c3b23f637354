"""Terminal output: the verdict table, the path, the diagnosis — readable on an 80-column terminal.

Colors only when writing to a terminal and ``NO_COLOR`` (https://no-color.org) is unset or empty;
a piped or logged output is plain text.
"""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from collections.abc import Sequence
from typing import TextIO

from netmon.agent.view import AgentView
from netmon.diagnose.diagnosis import Diagnosis
from netmon.diagnose.path import PathView
from netmon.diagnose.session import Outcome, Report
from netmon.i18n import Lang, text
from probes import base, noroute
from probes.verdict import Verdict
from probes.wording import ms

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
    "unanswered": ("{target} not reached, no hop answered",
                   "không tới được {target}, không chặng nào trả lời"),
    "no_route": ("{target} not reached: {why}", "không tới được {target}: {why}"),
    "path": ("Path", "Đường đi"),
    "agent": ("Edge agent in the center (history store): results up to {until} UTC+7 ({ago} min ago)",
              "Tác tử tại trung tâm (kho lịch sử): có số liệu đến {until} giờ VN ({ago} phút trước)"),
    "agent_outage": ("Outage of link {link} {start}–{end}, measured from inside the center:",
                     "Sự cố đường {link} {start}–{end}, đo từ bên trong trung tâm:"),
    "agent_none": ("Outage of link {link} {start}–{end}: no result from the agent at all",
                   "Sự cố đường {link} {start}–{end}: tác tử không có số liệu nào"),
    "now": ("now", "nay"), "span_up": ("up", "tốt"), "span_down": ("down", "mất"),
    "agent_silent": ("no result from the agent {start}–{end} (not running, or not delivered yet)",
                     "tác tử không có số liệu {start}–{end} (không chạy, hoặc chưa gửi về)"),
}
#: Times of the agent's view, as the center's staff read a clock (Asia/Ho_Chi_Minh has no DST).
LOCAL = dt.timezone(dt.timedelta(hours=7))

_COLORS = {Verdict.OK: "32", Verdict.DEGRADED: "33", Verdict.DOWN: "31", Verdict.UNKNOWN: "35"}


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(value: str, verdict: Verdict, color: bool) -> str:
    return f"\x1b[{_COLORS[verdict]}m{value}\x1b[0m" if color else value


def fit(value: str, width: int) -> str:
    """``value`` cut to ``width`` characters with an ellipsis, padded to exactly ``width``."""
    return (value if len(value) <= width else value[: width - 1] + "…").ljust(width)


def measured(o: Outcome, lang: Lang = "en") -> str:
    """The probe's own summary of the figures that matter, else the failure, in ``lang``.

    A failure reads as the probe's declared wording in Vietnamese; in English as the probe's own
    message, whose words (and the library errors inside it) are English anyway and more precise.
    """
    r = o.result
    probe = base.get(r.probe)
    summary = probe.summary(r, lang)
    if summary is not None:
        return summary
    if not r.success:
        # "no_permission" carries the whole fix as its message, too long for a cell: its words instead.
        if r.reason and (lang == "vi" or r.reason == "no_permission"):
            return probe.reason(r.reason, lang) or r.error or r.reason
        return r.error or r.reason or "failed"
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
    elif view.error:  # not reached and no hop answered (the probe's error is English: --json has it)
        why = noroute.worded(view.error, lang)  # or nothing was sent: this machine's routes refused it
        said = text(CATALOG, "no_route" if why else "unanswered", lang, target=view.target, why=why)
        lines += ["  " + paint(part, Verdict.DOWN, color) for part in textwrap.wrap(said, WIDTH - 3)]
    return lines


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, LOCAL).strftime("%H:%M:%S")


def agent_lines(view: AgentView, lang: Lang, now: float) -> list[str]:
    """What the site's edge agent saw (`netmon.agent.view`): how recent its results are and, for the
    site's latest outage, each of its echo checks from inside and the time it was not heard at all."""
    t = lambda key, **v: text(CATALOG, key, lang, **v)  # noqa: E731
    lines = [t("agent", until=_clock(view.covered_until), ago=max(0, round((now - view.covered_until) / 60)))]
    o = view.outage
    if o is None:
        return lines
    span = {"link": o.link, "start": _clock(o.start), "end": t("now") if o.end is None else _clock(o.end)}
    if not view.inside:
        return [*lines, "  " + t("agent_none", **span)]
    lines.append("  " + t("agent_outage", **span))
    for check in dict.fromkeys(s.check for s in view.inside):
        parts = [f"{t('span_down' if s.down else 'span_up')} {_clock(s.start)}–{_clock(s.end)}"
                 for s in view.inside if s.check == check]
        lines += textwrap.wrap(f"{check}: " + ", ".join(parts), WIDTH - 1, initial_indent="    ",
                               subsequent_indent="      ")
    lines += ["    " + t("agent_silent", start=_clock(a), end=_clock(b)) for a, b in view.silent]
    return lines


def document(report: Report, diagnosis: Diagnosis, lang: Lang, color: bool, title: str = "") -> str:
    """The whole human-readable report: title, table, traces, notes, diagnosis wrapped to 79 columns."""
    sections = [[fit(title, WIDTH - 1).rstrip()]] if title else []
    sections.append(table(report.outcomes, lang, color))
    sections += [trace_lines(view, lang, color) for view in report.paths]
    if report.plan.agent is not None:
        sections.append(agent_lines(report.plan.agent, lang, report.started + report.duration))
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
