"""A generated week with known answers for every accounting rule (tests/report/test_accounting.py).

The week of Monday 2026-04-27 (Asia/Ho_Chi_Minh): Monday is the day off in lieu of the Hùng Kings'
day, Thursday 30/4 and Friday 1/5 are public holidays, so the service period (07:00-17:00, Mon-Fri)
is Tuesday and Wednesday only: 2 × 36,000 s. Every check runs once a minute; an outage of n minutes
is n failed runs from its start (the tracker opens it at the first failure, closes it at the next
success), so durations are exact.

- ``ban-a`` (fiber VNPT primary, 4G Viettel backup; contract 99.9 %, restore 1 h, 10 outages/month,
  300 Mbps): O1 Tue 09:00 90 min (backup also down 09:30-10:00), O2 Tue 20:00 3 min, O3 Wed 10:00
  2 min, O4 Thu 30/4 10:00 30 min, O5 Wed 14:00 20 min (the planner calls it power).
- ``ban-b`` (4G Viettel only, no contract: the QCVN 34 floor): P1 Wed 08:00 60 min (the planner
  calls it not an outage), P2 Mon 27/4 09:00 30 min.
- ``ban-c`` (fiber VNPT only, 100 Mbps): never down; no check ran on Saturday and Sunday.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from exporters.history import HistoryWriter, Topology
from probes.base import Measurement, Result

T0 = datetime(2026, 4, 27, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
DAYS = 7
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


def at(day: int, hour: float) -> float:
    return T0 + day * DAY + hour * HOUR


#: (site, link) → [(start, minutes)]
DOWN: dict[tuple[str, str], list[tuple[float, int]]] = {
    ("ban-a", "primary"): [(at(1, 9), 90), (at(1, 20), 3), (at(2, 10), 2), (at(3, 10), 30), (at(2, 14), 20)],
    ("ban-a", "backup"): [(at(1, 9.5), 30)],
    ("ban-b", "primary"): [(at(2, 8), 60), (at(0, 9), 30)],
}
O1, O2, O3, O4, O5 = DOWN[("ban-a", "primary")]
P1, P2 = DOWN[("ban-b", "primary")]

INVENTORY = """\
version: 1
defaults:
  link_types:
    fiber: {rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5, jitter_degraded: 10ms, unreachable_after: 2m}
    4g: {rtt_degraded: 150ms, rtt_down: 800ms, loss_degraded: 0.05, loss_down: 0.5, jitter_degraded: 40ms, unreachable_after: 3m}
datacenter: {slug: dc, name: Trung tâm Dữ liệu, address: 198.18.0.2, location: {lat: 21.3, lon: 103.9}}
hubs:
  - {id: hub-x, name: Trạm X, district: Huyện Mường La, address: 198.18.1.1}
sites:
  - slug: ban-a
    name: Bản Á
    kind: commune
    admin_code: "00001"
    district: Huyện Mường La
    location: {lat: 21.5, lon: 104.0}
    upstream: hub-x
    links:
      - {id: primary, type: fiber, isp: VNPT, since: 2020-01-01, cpe: 198.19.1.1,
         contract: {availability: 0.999, restore: 1h, max_outages_per_month: 10, bandwidth_mbps: 300}}
      - {id: backup, role: backup, type: 4g, isp: Viettel, since: 2022-01-01, cpe: 198.19.101.1}
  - slug: ban-b
    name: Bản Bê
    kind: commune
    admin_code: "00002"
    district: Huyện Sốp Cộp
    location: {lat: 20.9, lon: 103.5}
    upstream: hub-x
    links:
      - {id: primary, type: 4g, isp: Viettel, since: 2020-01-01, cpe: 198.19.1.2}
  - slug: ban-c
    name: Bản Cờ
    kind: commune
    admin_code: "00003"
    district: Huyện Sốp Cộp
    location: {lat: 20.8, lon: 103.4}
    upstream: hub-x
    links:
      - {id: primary, type: fiber, isp: VNPT, since: 2020-01-01, cpe: 198.19.1.3,
         contract: {bandwidth_mbps: 100}}
"""


def _result(site: str, link: str, t: float, ok: bool) -> Result:
    ms = (Measurement("netmon_icmp_rtt_seconds", 0.012),) if ok else ()
    return Result(site, f"icmp-{link}", "icmp", "198.19.0.1", link, ok, t, 0.01, measurements=ms)


def write(directory: Path) -> tuple[Path, Path]:
    """The inventory file and the history store of the week, in ``directory``."""
    config = directory / "communes.yaml"
    config.write_text(INVENTORY, encoding="utf-8")
    store = directory / "history.db"
    subjects = [("ban-a", "primary"), ("ban-a", "backup"), ("ban-b", "primary"), ("ban-c", "primary")]
    topology = Topology(intervals={f"{site}/icmp-{link}": MIN for site, link in subjects})
    writer = HistoryWriter(store, topology, flush_every=0.01)
    writer.start()
    for k in range(int(DAYS * DAY / MIN)):
        t = T0 + k * MIN
        for site, link in subjects:
            if site == "ban-c" and t >= at(5, 0):
                continue  # no data on the weekend
            down = any(start <= t < start + n * MIN for start, n in DOWN.get((site, link), ()))
            writer.publish(_result(site, link, t, not down))
    writer.flush()
    writer.close()
    return config, store
