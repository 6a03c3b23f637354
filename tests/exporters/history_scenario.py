"""A deterministic day of synthetic Results with known outages, shared by the history and report tests.

One local day (Monday 2026-03-02, Asia/Ho_Chi_Minh), checks every 30 s (run k starts at T0 + 30k):
- ``ban-a`` (fiber, behind ``hub-x``): runs 100-103 fail → outage [T0+3000, T0+3120] = 120 s, cause
  link; run 200 fails alone → no outage; runs 1000-1019 fail → [T0+30000, T0+30600] = 600 s inside
  the maintenance window [T0+29990, T0+33600] → cause maintenance.
- ``hub-x`` runs 2000-2009 fail (its checks run 5 s after the sites') → hub outage 300 s.
- ``ban-b`` (4g, behind ``hub-x``): runs 2000-2010 fail → [T0+60000, T0+60330] = 330 s, cause hub;
  its UPS reports on battery at run 2500, runs 2501-2505 fail → [T0+75030, T0+75180] = 150 s, power.
Office hours 07:00-17:00 are [T0+25200, T0+61200].
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from exporters.history_outages import Topology, Window
from netmon.report.data import LinkInfo, SiteInfo
from probes.base import Measurement, Result

T0 = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
RUNS = 2880
RTT = {"ban-a": 0.010, "ban-b": 0.080, "hub-x": 0.002}
FAIL = {
    "ban-a": {*range(100, 104), 200, *range(1000, 1020)},
    "ban-b": {*range(2000, 2011), *range(2501, 2506)},
    "hub-x": set(range(2000, 2010)),
}
MAINTENANCE = Window("ban-a", T0 + 29990, T0 + 33600, "thay thiết bị")
TOPOLOGY = Topology(upstream={"ban-a": "hub-x", "ban-b": "hub-x"}, maintenance=(MAINTENANCE,))

SITES = [
    SiteInfo(
        "ban-a",
        "Bản Á",
        "commune",
        "Huyện Mường La",
        "hub-x",
        21.5,
        104.0,
        (LinkInfo("primary", "fiber", "VNPT", date(2026, 3, 2), "primary"),),
    ),
    SiteInfo(
        "ban-b",
        "Bản Bê",
        "commune",
        "Huyện Sốp Cộp",
        "hub-x",
        20.9,
        103.5,
        (LinkInfo("primary", "4g", "Viettel", date(2020, 1, 1), "primary"),),
    ),
]


def icmp(site: str, k: int, link: str = "primary", offset: float = 0.0) -> Result:
    started = T0 + 30 * k + offset
    if k in FAIL[site]:
        return Result(
            site,
            "icmp-primary" if link else "icmp",
            "icmp",
            "127.0.0.1",
            link,
            False,
            started,
            2.0,
            "timeout",
            "no reply",
            (Measurement("netmon_icmp_packet_loss_ratio", 1.0),),
        )
    ms = (
        Measurement("netmon_icmp_rtt_seconds", RTT[site]),
        Measurement("netmon_icmp_rtt_seconds", RTT[site]),
        Measurement("netmon_icmp_packet_loss_ratio", 0.0),
        Measurement("netmon_icmp_jitter_seconds", 0.001),
    )
    return Result(
        site,
        "icmp-primary" if link else "icmp",
        "icmp",
        "127.0.0.1",
        link,
        True,
        started,
        0.01,
        measurements=ms,
    )


def ups(site: str, k: int, on_battery: bool) -> Result:
    return Result(
        site,
        "ups",
        "snmp",
        "127.0.0.1:161",
        "",
        True,
        T0 + 30 * k + 1,
        0.1,
        measurements=(Measurement("netmon_ups_on_battery", float(on_battery)),),
    )


def results() -> list[Result]:
    out = []
    for k in range(RUNS):
        out.append(icmp("ban-a", k))
        out.append(icmp("ban-b", k))
        out.append(icmp("hub-x", k, link="", offset=5))
        if k == 2500:
            out.append(ups("ban-b", k, True))
    return out
