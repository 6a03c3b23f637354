"""The one-line diagnosis: what is wrong, where, and what probably causes it, in the user's language.

Reasoning goes along the path a clerk's request takes. A dead hub explains every site behind it, so
it is named first and the site's own link is not blamed; a dead data center canary means the prober
itself is cut off. Then each of the site's links (with the trace's last hop when it failed), then the
services. The likely cause of loss or latency depends on the medium: 18 % loss on 4G is radio or
congestion, on fiber it is damage or a bad port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from collectors.snmp import UPS_CHARGE
from netmon.diagnose.session import Outcome, Report
from netmon.i18n import Lang, text
from netmon.inventory.model import SECURE_CHECK, InventoryFile, Link, Site
from netmon.placeholders import placeholder_targets
from probes import noroute
from probes.base import get as probe_type
from probes.icmp import RECEIVED, RTT_MEDIAN, SENT
from probes.linkstats import echoes_to_judge
from probes.verdict import Verdict

CATALOG: dict[str, tuple[str, str]] = {
    "hub_down": ("hub {hub} is down — every site behind it is cut off, not a fault at {site}",
                 "{hub} mất kết nối — mọi điểm phía sau đều mất, không phải lỗi tại {site}"),
    "hub_degraded": ("hub {hub} degraded ({detail})", "{hub} suy giảm ({detail})"),
    "datacenter_down": ("the data center's own uplink fails ({check}) — check the prober first",
                        "đường truyền của trung tâm dữ liệu lỗi ({check}) — kiểm tra máy đo trước"),
    "datacenter_no_route": ("the prober cannot send to the data center ({check}): {why}{hint}",
                            "máy đo không gửi được tới trung tâm dữ liệu ({check}): {why}{hint}"),
    "link_down": ("{link} down", "{link} mất kết nối"),
    "trace_stops": ("trace stops at {hop}", "traceroute dừng tại {hop}"),
    "past_hub": ("hub answers: last mile or CPE ({hint})", "trạm trả lời: đoạn cuối hoặc CPE ({hint})"),
    "before_hub": ("path breaks before the hub: backbone", "đứt trước trạm: mạng trục"),
    "on_backup": ("running on {link}", "đang chạy trên {link}"),
    "link_ok": ("{link} OK", "{link} tốt"),
    "link_ok_sure": ("{link} OK (loss under {high}, 95 % sure)",
                     "{link} tốt (tỷ lệ mất dưới {high}, chắc chắn 95 %)"),
    "loss": ("link up, {value} loss on {link} — {hint}{sure}",
             "kết nối còn, mất {value} gói trên {link} — {hint}{sure}"),
    "sure": (" ({lost} of {sent} echoes lost; 95 % sure the loss is {low}–{high})",
             " ({lost}/{sent} gói mất; chắc chắn 95 % tỷ lệ mất trong khoảng {low}–{high})"),
    "loss_unconfirmed": ("{link} up; {lost} of {sent} echoes lost — too few echoes to judge the {limit} "
                         "limit (95 % sure the loss is {low}–{high}); rerun with --count {n}",
                         "{link} còn kết nối; mất {lost}/{sent} gói — quá ít gói để kết luận so với "
                         "ngưỡng {limit} (chắc chắn 95 % tỷ lệ mất trong khoảng {low}–{high}); "
                         "đo lại với --count {n}"),
    "latency": ("link up, RTT {value} on {link} (limit {limit}) — congestion or rerouting",
                "kết nối còn, RTT {value} trên {link} (ngưỡng {limit}) — nghẽn hoặc đổi tuyến"),
    "latency_down": ("link up, but RTT {value} on {link} exceeds the {type} limit of {limit} — "
                     "congestion, rerouting or the wrong medium",
                     "kết nối còn, nhưng RTT {value} trên {link} vượt ngưỡng {limit} của đường {type} — "
                     "nghẽn, đổi tuyến hoặc sai loại đường truyền"),
    "latency_vs_baseline": ("link up, RTT {value} on {link}, usually {limit} — congestion or rerouting",
                            "kết nối còn, RTT {value} trên {link}, thường {limit} — nghẽn hoặc đổi tuyến"),
    "jitter": ("link up, jitter {value} on {link} — meetings will stutter",
               "kết nối còn, jitter {value} trên {link} — họp trực tuyến sẽ giật"),
    "slow_connect": ("{link} up, but {check} is slow to accept a connection ({value}{echo}) — the device "
                     "is busy or overloaded, not the link",
                     "{link} vẫn tốt, nhưng {check} nhận kết nối chậm ({value}{echo}) — thiết bị bận hoặc "
                     "quá tải, không phải do đường truyền"),
    "echo_rtt": ("; echo RTT {value}", "; RTT ping {value}"),
    "check_failed": ("{link} up but {check}: {error}", "{link} còn nhưng {check}: {error}"),
    "service_down": ("{service} down ({error})", "{service} ngừng ({error})"),
    "service_degraded": ("{service} degraded ({error})", "{service} suy giảm ({error})"),
    "services_ok": ("{service} OK", "{service} tốt"),
    "and_more": ("{service} and {n} other services", "{service} và {n} dịch vụ khác"),
    "target_ok": ("{target} answers", "{target} trả lời"),
    "target_down": ("{target} does not answer ({error})", "{target} không trả lời ({error})"),
    "target_no_route": ("{target}: {why}{hint}", "{target}: {why}{hint}"),
    "placeholder": (" — a placeholder address of the shipped inventory, answered only by the simulated "
                    "province (`netmon lab up`)",
                    " — địa chỉ giữ chỗ của danh mục mẫu, chỉ tỉnh mô phỏng trả lời (`netmon lab up`)"),
    "target_degraded": ("{target}: {detail}", "{target}: {detail}"),
    "link_name": ("the {type} link {id} ({isp})", "đường {type} {id} ({isp})"),
    "power": ("power, cabling or the CPE", "nguồn điện, cáp hoặc CPE"),
    "cannot_measure": ("cannot measure {checks}: no permission — {fix}",
                       "không đo được {checks}: thiếu quyền — {fix}"),
    "on_battery": ("mains power lost — {device} on battery, {charge} charge, ~{minutes} min left",
                   "mất điện lưới — {device} đang chạy pin, còn {charge}, ~{minutes} phút"),
    "secure_down": ("line up, secure channel down — the encryptor or its tunnel, not the line",
                    "đường truyền tốt, kênh bảo mật mất — lỗi thiết bị mã hóa hoặc đường hầm, không phải "
                    "đường truyền"),
    "secure_ok": ("secure channel OK", "kênh bảo mật tốt"),
    "power_cut": ("{link} down during the power cut: the CPE has no power, not a cable fault",
                  "{link} mất kết nối trong lúc mất điện: CPE không có nguồn, không phải lỗi cáp"),
}

#: Link types as a technician says them.
MEDIA: dict[str, tuple[str, str]] = {
    "fiber": ("fiber", "cáp quang"), "4g": ("4g", "4G"), "microwave": ("microwave", "vi ba"),
    "vsat": ("vsat", "VSAT"),
}

HINTS: dict[str, tuple[str, str]] = {
    "fiber": ("fiber damage or a bad port", "đứt cáp quang hoặc cổng lỗi"),
    "4g": ("radio or congestion", "sóng vô tuyến hoặc nghẽn"),
    "microwave": ("antenna alignment or rain fade", "lệch anten hoặc suy hao do mưa"),
    "vsat": ("weather or dish pointing", "thời tiết hoặc hướng chảo"),
}

#: Causes described in words of their own rather than by the probe's (English) error message.
DETAILS: dict[str, tuple[str, str]] = {
    "cert_untrusted": ("certificate not trusted: {error}", "chứng chỉ không tin cậy"),
    "cert_expired": ("certificate expired", "chứng chỉ đã hết hạn"),
    "cert_expiring": ("certificate expires in {days} days", "chứng chỉ hết hạn sau {days} ngày"),
}

#: A measured figure named in a service or hub clause.
FIGURES: dict[str, tuple[str, str]] = {
    "loss": ("loss {value}", "mất gói {value}"),
    "latency": ("latency {value}", "độ trễ {value}"),
    "latency_vs_baseline": ("latency {value}", "độ trễ {value}"),
    "jitter": ("jitter {value}", "jitter {value}"),
    "slow": ("slow {value}", "chậm {value}"),
    "slow_connect": ("slow to connect {value}", "kết nối chậm {value}"),
}

FIXES: dict[str, tuple[str, str]] = {
    "no_permission": ("run as root, or `sudo setcap cap_net_raw+ep $(readlink -f $(which python3))`",
                      "chạy bằng root, hoặc `sudo setcap cap_net_raw+ep $(readlink -f $(which python3))`"),
}

#: Adds one part of the sentence: a catalog key and its values.
Say = Callable[..., None]

SERVICE_NAMES: dict[str, tuple[str, str]] = {
    "document-management": ("document system", "hệ thống văn bản"),
    "meeting": ("online meetings", "họp trực tuyến"),
    "portal": ("public-service portal", "cổng dịch vụ công"),
    "signature": ("digital signatures", "chữ ký số"),
    "party-management": ("Party agencies' management system", "hệ thống điều hành của cơ quan Đảng"),
    "procedures": ("administrative-procedure system", "hệ thống giải quyết thủ tục hành chính"),
    "reporting": ("reporting system", "hệ thống thông tin báo cáo"),
    "dns": ("DNS", "DNS"),
    "other": ("service", "dịch vụ"),
}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    text: str
    #: Stable cause keys in the order they were found (``hub_down``, ``loss``, ``link_down``...).
    causes: tuple[str, ...]


def diagnose(report: Report, spec: InventoryFile | None, lang: Lang) -> Diagnosis:
    parts: list[str] = []
    causes: list[str] = []

    def say(key: str, cause: str | None = None, **values: object) -> None:
        """Adds the sentence ``key``; its cause is ``key`` unless it words a known ``cause`` otherwise."""
        parts.append(text(CATALOG, key, lang, **values))
        causes.append(cause or key)

    place = report.plan.place
    blind = [o for o in report.outcomes if o.finding.verdict is Verdict.UNKNOWN]
    if blind:  # said once, first: nothing below may read a probe that never ran as a dead link or hub
        say("cannot_measure", checks=", ".join(dict.fromkeys(o.row.check.probe for o in blind)),
            fix=text(FIXES, "no_permission", lang))
    by_role = {role: [o for o in report.outcomes if o.row.role == role and o not in blind]
               for role in ("datacenter", "hub", "site", "adhoc")}
    dc_link = [o for o in by_role["datacenter"] if o.row.check.probe == "icmp"]
    dc_down = [o for o in dc_link if o.finding.verdict is Verdict.DOWN]
    for o in dc_down:
        if why := noroute.worded(o.result.error, lang):  # nothing left this machine: not the uplink's fault
            say("datacenter_no_route", "datacenter_down", check=o.row.check.id, why=why,
                hint=_placeholder(o, lang))
        else:
            say("datacenter_down", check=o.row.check.id)
    if dc_down:  # the prober is cut off: everything downstream is explained, blame nothing else
        return Diagnosis("; ".join(parts), tuple(causes))
    hub_down = False
    for o in by_role["hub"]:
        name = _hub_name(spec, o.row.check.site)
        if o.finding.verdict is Verdict.DOWN:
            hub_down = True
            say("hub_down", hub=_hub_vi(name, lang), site=place.name if place else "")
        elif o.finding.verdict is Verdict.DEGRADED:
            say("hub_degraded", hub=_hub_vi(name, lang), detail=_detail(o, lang))
    battery = [o for o in by_role["site"] if o.finding.cause == "on_battery"]
    for o in battery:
        say("on_battery", device=o.row.check.id, charge=_percent(o.result.value(UPS_CHARGE)),
            minutes=_minutes(o.finding.figure))
    if place and place.site and not hub_down:
        lines = _links(report, place.site.links, by_role["site"], lang, say,
                       power_cut=bool(battery) or report.plan.power_outage)
        _secure_channel(place.site, lines, by_role["site"], say)
    for o in by_role["adhoc"]:
        target = o.row.check.target
        if o.finding.verdict is Verdict.DOWN and (why := noroute.worded(o.result.error, lang)):
            say("target_no_route", "target_down", target=target, why=why, hint=_placeholder(o, lang))
        elif o.finding.verdict is Verdict.DOWN:
            say("target_down", target=target, error=_error(o, lang))
        elif o.finding.verdict is Verdict.DEGRADED:
            say("target_degraded", target=target, detail=_detail(o, lang))
        else:
            say("target_ok", target=target)
    _services(spec, [o for o in by_role["datacenter"] if o not in dc_link], lang, say)
    return Diagnosis("; ".join(parts), tuple(causes))


def _links(report: Report, links: list[Link], outcomes: list[Outcome], lang: Lang, say: Say,
           power_cut: bool = False) -> dict[str, Verdict]:
    """One clause per link; returns each measured link's verdict. With the site's UPS on battery
    (``power_cut``) a dead link is the outage, not a cut cable: the trace would only say where the
    packets stop, which is the powerless CPE."""
    state: dict[str, Verdict] = {}
    for link in sorted(links, key=lambda lk: lk.role != "primary"):
        mine = [o for o in outcomes if o.row.check.link == link.id and o.finding.cause != "on_battery"]
        if not mine:
            continue
        name = text(CATALOG, "link_name", lang, type=_medium(link.type, lang), id=link.id, isp=link.isp)
        # On a tie the echo check speaks for the link: it measures the path itself.
        worst = max(mine, key=lambda o: (o.finding.verdict.rank, o.row.check.probe == "icmp"))
        state[link.id] = worst.finding.verdict
        # The link itself is down when no echo comes back; a refused port behind a live link is not,
        # and neither is a link whose echoes all return too late or too few (it is up, but bad).
        echoes = [o for o in mine if o.row.check.probe == "icmp"] or mine
        unsure = next((o for o in mine if o.finding.cause == "loss_unconfirmed"), None)
        if worst.finding.verdict is Verdict.OK and unsure is not None:
            say("loss_unconfirmed", link=name, limit=_value(unsure, limit=True), n=min(100, echoes_to_judge(
                unsure.finding.limit or 0.0)), **_evidence(unsure))
        elif worst.finding.verdict is Verdict.OK:
            burst = next((o for o in mine if o.finding.interval), None)
            if burst is not None:
                say("link_ok_sure", link=name, **_evidence(burst))
            else:
                say("link_ok", link=name)
        elif all(_dead(o) for o in echoes) and power_cut:
            say("power_cut", link=name)
        elif all(_dead(o) for o in echoes):
            say("link_down", link=name)
            _trace(report, link, lang, say)
        elif worst.finding.cause in ("loss", "latency", "latency_vs_baseline", "jitter"):
            key = worst.finding.cause
            if key == "latency" and worst.finding.verdict is Verdict.DOWN:
                key = "latency_down"
            sure = text(CATALOG, "sure", lang, **_evidence(worst)) if worst.finding.interval else ""
            say(key, link=name, value=_value(worst), limit=_value(worst, limit=True),
                type=_medium(link.type, lang),
                hint=HINTS[link.type][lang == "vi"], sure=sure)
        elif worst.finding.cause == "slow_connect":
            rtt = next((o.result.value(RTT_MEDIAN) for o in mine if o.row.check.probe == "icmp"), None)
            echo = text(CATALOG, "echo_rtt", lang, value=f"{rtt * 1000:.1f} ms") if rtt is not None else ""
            say("slow_connect", link=name, check=worst.row.check.id, value=_value(worst), echo=echo)
        else:
            say("check_failed", link=name, check=worst.row.check.id, error=_error(worst, lang))
    primary_down = any(v is Verdict.DOWN for k, v in state.items()
                       if any(lk.id == k and lk.role == "primary" for lk in links))
    for link in links:
        if primary_down and link.role == "backup" and state.get(link.id) is Verdict.OK:
            say("on_backup", link=text(CATALOG, "link_name", lang, type=_medium(link.type, lang), id=link.id,
                                       isp=link.isp))
    return state


def _secure_channel(site: Site, lines: dict[str, Verdict], outcomes: list[Outcome], say: Say) -> None:
    """The encrypted tunnel beside its line: dead while the line answers is the encryptor's fault; dead
    with the line is the line's (already said), so the encryptor is not blamed for a cut cable."""
    channel = next((o for o in outcomes if o.row.check.id == SECURE_CHECK), None)
    if channel is None or site.secure_channel is None:
        return
    line = lines.get(site.primary.id)
    if _dead(channel) and line is not None and line is not Verdict.DOWN:
        say("secure_down")
    elif channel.finding.verdict is Verdict.OK:
        say("secure_ok")


def _dead(o: Outcome) -> bool:
    """No answer at all: the run failed and, for an echo burst, not a single reply came back."""
    if o.finding.verdict is not Verdict.DOWN:
        return False
    if o.row.check.probe == "icmp":
        return o.finding.cause not in ("latency", "loss") or (o.finding.figure or 0.0) >= 1.0
    return not o.result.success


def _trace(report: Report, link: Link, lang: Lang, say: Say) -> None:
    view = next((p for p in report.paths if p.link == link.id), None)
    if view is None or view.stops_at is None:
        return
    say("trace_stops", hop=view.stops_at)
    last = view.last
    if last is not None and last.role == "hub":
        say("past_hub", hint=HINTS[link.type][lang == "vi"] + ", " + text(CATALOG, "power", lang))
    elif last is not None and last.role == "datacenter":
        say("before_hub")


def _services(spec: InventoryFile | None, outcomes: list[Outcome], lang: Lang, say: Say) -> None:
    if not outcomes:
        return
    names = [_service_name(spec, o, lang) for o in outcomes]
    bad = [(n, o) for n, o in zip(names, outcomes, strict=True) if o.finding.verdict is not Verdict.OK]
    for name, o in bad:
        key = "service_down" if o.finding.verdict is Verdict.DOWN else "service_degraded"
        say(key, service=name, error=_detail(o, lang))
    if not bad:
        first = names[0]
        label = text(CATALOG, "and_more", lang, service=first, n=len(names) - 1) if len(names) > 1 else first
        say("services_ok", service=label)


def _service_name(spec: InventoryFile | None, o: Outcome, lang: Lang) -> str:
    kind = "dns" if o.row.check.probe == "dns" else "other"
    for svc in spec.services if spec else ():
        if o.row.check.target in (svc.url, urlsplit(svc.url).hostname) and o.row.check.probe != "dns":
            kind = svc.kind
    return SERVICE_NAMES[kind][lang == "vi"]


def _hub_vi(name: str, lang: Lang) -> str:
    """In Vietnamese the word for hub leads the clause ("trạm X mất kết nối"), unless the hub's own name
    already starts with it ("Trạm tập trung VNPT Mai Sơn"): never "trạm Trạm tập trung"."""
    if lang != "vi" or name.lower().startswith("trạm"):
        return name
    return f"trạm {name}"


def _medium(link_type: str, lang: Lang) -> str:
    return text(MEDIA, link_type, lang) if link_type in MEDIA else link_type


def _hub_name(spec: InventoryFile | None, hub_id: str) -> str:
    hub = next((h for h in spec.hubs if h.id == hub_id), None) if spec else None
    return hub.name if hub else hub_id


def _detail(o: Outcome, lang: Lang) -> str:
    f = o.finding
    if f.cause in DETAILS:
        days = f"{(f.figure or 0.0) / 86_400:.0f}"
        return text(DETAILS, f.cause, lang, error=o.result.error or "", days=days)
    if f.cause == "http_5xx" or f.cause == "http_4xx":
        return f"HTTP {f.figure:.0f}" if f.figure is not None else (o.result.error or f.cause)
    if f.figure is not None and f.cause in FIGURES:
        return text(FIGURES, f.cause, lang, value=_value(o))
    return _error(o, lang)


def _placeholder(o: Outcome, lang: Lang) -> str:
    """Says so when a check's target is one of the shipped inventory's placeholders (198.18.0.0/15),
    which this machine blackholes on purpose unless the simulated province is up."""
    return text(CATALOG, "placeholder", lang) if placeholder_targets([o.row.check]) else ""


def _error(o: Outcome, lang: Lang) -> str:
    """Why a check failed: the probe's own message in English (it names the library's error), the
    declared wording of its reason in Vietnamese (a mixed-language sentence helps nobody) — or what
    this machine's routes refused, which the message quotes."""
    if lang == "vi" and (why := noroute.worded(o.result.error, lang)):
        return why
    if lang == "vi" and o.result.reason:
        worded = probe_type(o.result.probe).reason(o.result.reason, lang)
        if worded:
            return worded
    return o.result.error or o.finding.cause or ""


def _evidence(o: Outcome) -> dict[str, str]:
    """Echoes lost and sent, and the loss interval, for a sentence about loss."""
    sent, received = o.result.value(SENT) or 0.0, o.result.value(RECEIVED) or 0.0
    low, high = o.finding.interval or (0.0, 1.0)
    return {"lost": f"{sent - received:.0f}", "sent": f"{sent:.0f}",
            "low": f"{low * 100:.1f} %", "high": f"{high * 100:.1f} %"}


def _percent(ratio: float | None) -> str:
    return "?" if ratio is None else f"{ratio * 100:.0f} %"


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.0f}"


def _value(o: Outcome, limit: bool = False) -> str:
    """``figure`` (or ``limit``) in the unit a person reads: percent for loss, ms for times."""
    f = o.finding
    v = f.limit if limit else f.figure
    if v is None:
        return "?"
    if f.cause in ("loss", "loss_vs_baseline", "loss_unconfirmed"):
        return f"{v * 100:.0f} %"
    return f"{v * 1000:.0f} ms"
