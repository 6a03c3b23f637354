"""Is each center ready for the meeting? One judgement per site from the latest results, and its summary.

A center is ready when its primary link answers with loss below its link type's degraded limit over
the last `WINDOW` seconds (every echo of every burst counts: one 5-echo burst cannot tell 5 % loss from
none; a loss is said with its evidence, the echoes lost of those sent and the `CONFIDENCE` interval,
because a window just after start-up holds two or three bursts: 10 lost of 20 is 50 % said, 27–73 %
known), its latest RTT and jitter are judged ok by the verdicts `netmon probe` uses and its estimated call
quality (MOS, E-model) is at least `MIN_MOS`; the meeting system answers from the data center; its UPS,
if it has one, is on mains; its backup link, if it has one, answers. A check that has not reported yet
makes the center "not confirmed", never "ready": readiness is a claim, and nothing measured is no
evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.snmp import UPS_REMAINING
from netmon.i18n import Lang, text
from netmon.inventory import Inventory
from probes.base import Result, judge
from probes.icmp import JITTER, MOS, RECEIVED, RTT_MEDIAN, SENT
from probes.linkstats import loss_bounds
from probes.power import UPS_ON_BATTERY
from probes.verdict import CONFIDENCE, Verdict

#: ITU-T G.107's "many users dissatisfied" boundary (R 60). A VSAT link at its normal 600 ms estimates
#: about 3.5: usable, so not flagged every meeting; the same link with loss or jitter falls below.
MIN_MOS = 3.1
#: How far back the loss of the primary link is counted, seconds.
WINDOW = 300.0

CATALOG: dict[str, tuple[str, str]] = {
    "no_data": ("not measured yet", "chưa có số đo"),
    "link_down": ("primary link down", "đường truyền chính mất kết nối"),
    "loss": ("{loss:.0f} % packet loss ({lost:.0f} of {sent:.0f} echoes lost; 95 % sure the loss is "
             "{low:.0f}–{high:.0f} %)",
             "mất gói {loss:.0f} % ({lost:.0f}/{sent:.0f} gói mất; chắc chắn 95 % tỷ lệ mất trong khoảng "
             "{low:.0f}–{high:.0f} %)"),
    "latency": ("RTT {ms:.0f} ms", "trễ {ms:.0f} ms"),
    "jitter": ("jitter {ms:.0f} ms", "jitter {ms:.0f} ms"),
    "mos": ("call quality MOS {mos:.1f}", "chất lượng gọi MOS {mos:.1f}"),
    "on_battery": ("UPS on battery, ~{minutes:.0f} min left", "UPS đang chạy pin, còn ~{minutes:.0f} phút"),
    "ups_silent": ("UPS not answering", "UPS không trả lời"),
    "backup_down": ("backup link not ready", "đường dự phòng không sẵn sàng"),
    "service_down": ("the meeting system does not answer from the data center",
                     "hệ thống họp trực tuyến không trả lời từ trung tâm dữ liệu"),
    "summary": ("{meeting} at {when} ({label}): {ready}/{total} centers ready",
                "{meeting} lúc {when} ({label}): {ready}/{total} trung tâm sẵn sàng"),
    "all_ready": ("every center is ready", "mọi trung tâm đã sẵn sàng"),
}


@dataclass(frozen=True)
class Problem:
    """Why a center is not ready: a catalog key and the figures its wording needs."""

    key: str
    values: tuple[tuple[str, float | str], ...] = ()

    def say(self, lang: Lang) -> str:
        return text(CATALOG, self.key, lang, **dict(self.values))


@dataclass(frozen=True)
class SiteReadiness:
    site: str
    name: str
    problems: tuple[Problem, ...]

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Plan:
    """Which checks speak for each site, from the inventory: computed once per inventory."""

    #: site → (name, primary link check key, backup link check key or "", UPS check keys)
    sites: Mapping[str, tuple[str, str, str, tuple[str, ...]]]
    #: check keys of the data center's checks on a meeting service
    service: tuple[str, ...]


def plan(inventory: Inventory) -> Plan:
    icmp = {(c.site, c.link): c.key for c in inventory.checks if c.probe == "icmp" and c.link}
    meeting_ids = {s.id for s in inventory.spec.services if s.kind == "meeting"}
    dc = inventory.spec.datacenter
    service = tuple(f"{dc.slug}/{c.id}" for c in dc.checks if c.service in meeting_ids)
    sites = {}
    for site in inventory.spec.sites:
        primary = site.primary
        backup = next((link for link in site.links if link.role == "backup"), None)
        ups = tuple(f"{site.slug}/{d.id}" for d in site.devices if d.kind == "ups")
        sites[site.slug] = (site.name, icmp.get((site.slug, primary.id), ""),
                            icmp.get((site.slug, backup.id), "") if backup else "", ups)
    return Plan(sites, service)


#: One burst as the window keeps it: (started, echoes sent, echoes received).
Burst = tuple[float, float, float]


def burst(result: Result) -> Burst:
    """What the loss over the window needs of one run."""
    return result.started, result.value(SENT) or 0.0, result.value(RECEIVED) or 0.0


@dataclass(frozen=True)
class Recent:
    """What readiness reads of one check: its latest result, and the echoes its bursts within `WINDOW`
    sent and got back (sums, not the results: 50,000 checks' five minutes of `Result` objects were
    ~25 KB a check, most of `netmon run`'s memory, and millions of objects for every full garbage
    collection to walk)."""

    latest: Result
    sent: float = 0.0
    received: float = 0.0

    @classmethod
    def of(cls, latest: Result, bursts: Iterable[Burst]) -> Recent:
        sent = received = 0.0
        for _, out, back in bursts:
            sent, received = sent + out, received + back
        return cls(latest, sent, received)

    @property
    def loss(self) -> float | None:
        """Lost share of every echo sent within the window (None when none was sent)."""
        return 1.0 - self.received / self.sent if self.sent else None


def _link(recent: Recent | None, inventory: Inventory, key: str) -> list[Problem]:
    """The primary link from its recent bursts."""
    if recent is None:
        return [Problem("no_data")]
    latest, limits = recent.latest, inventory.thresholds.get(key)
    if not latest.success:
        return [Problem("link_down") if latest.reason != "no_permission" else Problem("no_data")]
    loss = recent.loss
    if loss is not None and limits is not None and loss >= limits.loss_degraded:
        lost = recent.sent - recent.received
        low, high = loss_bounds(int(recent.sent), int(lost), CONFIDENCE)
        return [Problem("loss", (("loss", 100 * loss), ("lost", lost), ("sent", recent.sent),
                                 ("low", 100 * low), ("high", 100 * high)))]
    finding = judge(latest, limits)
    if finding.cause in ("latency", "latency_vs_baseline"):
        return [Problem("latency", (("ms", 1000 * (latest.value(RTT_MEDIAN) or 0.0)),))]
    if finding.cause == "jitter":
        return [Problem("jitter", (("ms", 1000 * (latest.value(JITTER) or 0.0)),))]
    mos = latest.value(MOS)
    if mos is not None and mos < MIN_MOS:
        return [Problem("mos", (("mos", mos),))]
    return []


def judge_site(site: str, p: Plan, recent: Mapping[str, Recent], inventory: Inventory,
               service_ok: bool) -> SiteReadiness:
    """``recent``: what each check that has reported measured (`Recent`)."""
    name, primary, backup, ups = p.sites[site]
    problems = _link(recent.get(primary), inventory, primary) if primary else [Problem("no_data")]
    if not service_ok:
        problems.append(Problem("service_down"))
    for key in ups:
        result = _latest(recent, key)
        if result is None or not result.success:
            problems.append(Problem("ups_silent"))
        elif result.value(UPS_ON_BATTERY) == 1.0:
            problems.append(Problem("on_battery", (("minutes", (result.value(UPS_REMAINING) or 0.0) / 60),)))
    if backup:
        result = _latest(recent, backup)
        if result is None or judge(result, inventory.thresholds.get(backup)).verdict is Verdict.DOWN:
            problems.append(Problem("backup_down"))
    return SiteReadiness(site, name, tuple(problems))


def _latest(recent: Mapping[str, Recent], key: str) -> Result | None:
    kept = recent.get(key)
    return kept.latest if kept else None


def judge_all(p: Plan, recent: Mapping[str, Recent], inventory: Inventory) -> list[SiteReadiness]:
    """Every site's readiness; the meeting system counts as up when any data-center check of it succeeds."""
    service_ok = not p.service or any(key in recent and recent[key].latest.success for key in p.service)
    return [judge_site(site, p, recent, inventory, service_ok) for site in p.sites]


def summary(meeting: str, when: str, label: str, sites: Sequence[SiteReadiness], lang: Lang) -> str:
    """One message for the provincial office: the count, then each center that is not ready and why."""
    ready = sum(s.ready for s in sites)
    head = text(CATALOG, "summary", lang, meeting=meeting, when=when, label=label, ready=ready,
                total=len(sites))
    late = [f"{s.name}: {', '.join(p.say(lang) for p in s.problems)}" for s in sites if not s.ready]
    return "; ".join([head, *late]) if late else f"{head} — {text(CATALOG, 'all_ready', lang)}"

