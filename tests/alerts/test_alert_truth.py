"""Alert truth on the simulated province: a timeline of faults and recoveries, every notification judged.

Real netmon → Prometheus 2.42 → Alertmanager 0.25 (shipped routes and inhibitions, receivers turned into
webhooks) on the lab, with the rules scaled as in test_e2e.py (`SCALE`: "10 minutes after a recovery"
is 20 s here). Faults, one after the other, each followed by its recovery and a quiet period:

=================  ====================================  ===========================================
fault              lab action                            the one true notification
=================  ====================================  ===========================================
quiet period       nothing                               none
cut, backup up     chieng-an/primary down                SiteOnBackup chieng-an
cut, no backup     quynh-nhai down                       SiteUnreachable quynh-nhai
hub down and back  hub-quynh-nhai down                   HubUnreachable hub-quynh-nhai (nothing else)
loss               muong-sai (4G) 30 % loss              PacketLossHigh muong-sai
power, link stays  chieng-an/ups on battery              UpsOnBattery chieng-an
power, link goes   chieng-coi/ups on battery, then its   UpsOnBattery, then SitePowerOutage chieng-coi
                   primary and backup down
service 503        dich-vu-cong answers 503              ServiceUnreachable portal-https
flapping link      chieng-sinh flaps (5 s, 2.5 s down)   LinkUnstable chieng-sinh
=================  ====================================  ===========================================

to-hieu, muong-chien and muong-gion are control sites (muong-* only go dark with their hub). Asserted:
precision and recall 1.0 over firing notifications, exactly one notification for the hub outage, no
firing notification in the quiet period after a recovery, every expected alert's resolve delivered and
none before its recovery. Figures (time to first notification per fault) are printed with ``-s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon.lab import control
from tests.alerts.test_e2e import ICMP, SCALE, Stack, _stack, report
from tests.support import ROOT

pytestmark = [
    pytest.mark.privileged, pytest.mark.slow, pytest.mark.timeout(1800),
    # Opt-in: ~8 minutes one fault after the other, which make test's 30-minute budget has not got
    # (bench/README.md, Alert truth: passed on main 2026-12-01 10:27-10:34, precision and recall 1.0).
    pytest.mark.skipif(not os.environ.get("NETMON_ALERT_TRUTH"),
                       reason="alert-truth timeline: set NETMON_ALERT_TRUTH=1 (about 10 minutes on the lab)"),
]

#: "No notification in the 10 minutes after a recovery", scaled like the rules.
QUIET_AFTER = 600 / SCALE
HUBS_KEPT = ("hub-son-la", "hub-quynh-nhai")
POWER_SITES = ("chieng-an", "chieng-coi")


def truth_inventory(path: Path) -> Path:
    """The shipped inventory cut to two hubs' centers, 2 s intervals, every link probed, the portal
    checked from the data center, and the lab's UPS agents at chieng-an and chieng-coi."""
    spec = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text(encoding="utf-8"))
    spec["defaults"]["interval"], spec["defaults"]["timeout"] = "2s", "1.5s"
    for link_type, limits in spec["defaults"]["link_types"].items():
        limits["unreachable_after"] = {"fiber": "8s", "vsat": "14s"}.get(link_type, "10s")
    spec["datacenter"]["checks"] = [{"id": "canary-core", "probe": "icmp", "target": "198.18.0.1", **ICMP},
                                    {"id": "portal-https", "probe": "http", "service": "dich-vu-cong"}]
    for hub in spec["hubs"]:
        hub["checks"] = [{"id": "icmp", "probe": "icmp", **ICMP}]
    spec["sites"] = [s for s in spec["sites"] if s["upstream"] in HUBS_KEPT]
    for site in spec["sites"]:
        site["checks"] = [{"id": f"icmp-{link['id']}", "probe": "icmp", "link": link["id"], **ICMP}
                          for link in site["links"]]
        site["checks"].append({"id": "cpe-https", "probe": "tcp", "link": "primary", "port": 443})
        site["devices"] = [{**d, "interval": "2s", "timeout": "0.5s", "retries": 0}
                           for d in site.get("devices", []) if d["id"] == "ups" and site["slug"] in POWER_SITES]
        if not site["devices"]:
            del site["devices"]
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path



Change = tuple[str, dict[str, Any]]  # (lab target, values for `lab.set`)


@dataclass
class Fault:
    """Lab changes, each followed by the notification it must cause: (changes, (alertname, site))."""

    name: str
    steps: list[tuple[list[Change], tuple[str, str]]]
    #: A duration under test after the last notification (flapping goes on: still one alert).
    hold: float = 0.0
    injected: float = 0.0
    recovered: float = 0.0
    quiet_until: float = 0.0
    first_notified: dict[tuple[str, str], float] = field(default_factory=dict)
    #: Seconds from the recovery to each expected alert's resolved notification.
    resolved: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def expected(self) -> list[tuple[str, str]]:
        return [key for _, key in self.steps]


FAULTS = [
    Fault("cut with backup", [([("chieng-an/primary", {"down": True})], ("SiteOnBackup", "chieng-an"))]),
    Fault("cut without backup", [([("quynh-nhai", {"down": True})], ("SiteUnreachable", "quynh-nhai"))]),
    Fault("hub down and back", [([("hub-quynh-nhai", {"down": True})], ("HubUnreachable", "hub-quynh-nhai"))]),
    Fault("loss 30 % on 4G", [([("muong-sai", {"loss": 0.3})], ("PacketLossHigh", "muong-sai"))]),
    Fault("power cut, link stays", [([("chieng-an/ups", {"on_battery": True})], ("UpsOnBattery", "chieng-an"))]),
    # the battery runs out: the center goes dark (both links) with its UPS on battery
    Fault("power cut, link follows", [
        ([("chieng-coi/ups", {"on_battery": True})], ("UpsOnBattery", "chieng-coi")),
        ([("chieng-coi", {"down": True}), ("chieng-coi/backup", {"down": True})], ("SitePowerOutage", "chieng-coi"))]),
    Fault("service 503", [([("dich-vu-cong", {"status": 503})], ("ServiceUnreachable", "trung-tam-du-lieu"))]),
    Fault("flapping link", [([("chieng-sinh", {"flap": {"every": "5s", "down_for": "2.5s"}})],
                             ("LinkUnstable", "chieng-sinh"))], hold=20),
]


@pytest.fixture(scope="module")
def stack(province_lab: control.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("truth")
    yield from _stack(province_lab, tmp, truth_inventory(tmp / "inventory.yaml"))


def firing(stack: Stack, since: float, until: float = float("inf")) -> list[tuple[float, str, str]]:
    """(received, alertname, site) of every firing alert notified in [since, until)."""
    return [(n.received, a["labels"]["alertname"], a["labels"].get("site", ""))
            for n, a in stack.hook.matching("firing") if since <= n.received < until]


def run_fault(stack: Stack, fault: Fault, end: Callable[[], object] | None = None, wait: float = 180,
         quiet_after: float = QUIET_AFTER) -> None:
    """Inject the fault's steps, each awaited as its notification, then end it (`end`, else the lab's
    reset), await its resolves and keep the quiet period after the recovery under test."""
    fault.injected = time.time()
    try:
        for changes, (alertname, site) in fault.steps:
            step = time.time()
            for target, values in changes:
                stack.lab.set(target, **values)
            notification, _ = stack.hook.wait_for(wait, "firing", alertname=alertname, site=site)
            fault.first_notified[(alertname, site)] = notification.received - step
        time.sleep(fault.hold)
    finally:
        (end or stack.lab.reset)()
    fault.recovered = time.time()
    for alertname, site in fault.expected:
        notification, _ = stack.hook.wait_for(wait, "resolved", alertname=alertname, site=site)
        fault.resolved[(alertname, site)] = notification.received - fault.recovered
    # the quiet period after the recovery is itself under test: nothing may fire in it
    time.sleep(max(0.0, fault.recovered + quiet_after - time.time()))
    fault.quiet_until = time.time()


def judge(stack: Stack, faults: list[Fault], since: float, **figures: object) -> None:
    """Every firing notification since ``since`` against the faults injected (several may run at once).

    A notification is true when one of the faults expects it and it came while that fault was on; any
    other — about a control site, after a recovery, a second alert for the same fault — is false.
    """
    notes = firing(stack, since)

    def owner(received: float, key: tuple[str, str]) -> Fault | None:
        return next((f for f in faults if key in f.expected and f.injected <= received < f.recovered), None)

    true_notes: list[tuple[str, str, str, float]] = []
    false_notes: list[tuple[str, str, str, float]] = []
    for received, alertname, site in notes:
        fault = owner(received, (alertname, site))
        (true_notes if fault else false_notes).append(
            (fault.name if fault else "none", alertname, site, round(received - since, 1)))
    expected = [(f, key) for f in faults for key in f.expected]
    found = [(f, key) for f, key in expected if key in f.first_notified]
    precision = len(true_notes) / len(notes) if notes else 1.0
    recall = len(found) / len(expected)
    hub_notes = [n for n in notes if n[1] == "HubUnreachable"]
    after_recovery = [n for f in faults for n in firing(stack, f.recovered, f.quiet_until)
                      if not owner(n[0], (n[1], n[2]))]
    premature = [(f.name, a["labels"]["alertname"]) for f in faults for n, a in stack.hook.matching("resolved")
                 if (a["labels"]["alertname"], a["labels"].get("site", "")) in f.expected
                 and f.injected <= n.received < f.recovered]
    for fault in faults:
        report(fault.name, **{f"{a}_time_to_notify_s": round(t, 1) for (a, _), t in fault.first_notified.items()},
               **{f"{a}_resolved_after_recovery_s": round(t, 1) for (a, _), t in fault.resolved.items()})
    report("alert truth", precision=round(precision, 3), recall=round(recall, 3), notifications=len(notes),
           false=false_notes, hub_notifications=len(hub_notes), after_recovery=after_recovery,
           premature_resolves=premature, load_average=os.getloadavg(), **figures)
    assert false_notes == []
    assert precision == 1.0 and recall == 1.0
    assert len(hub_notes) == 1
    assert after_recovery == []
    assert premature == []  # and every expected resolve was awaited in run_fault


def test_alert_truth_timeline(stack: Stack) -> None:
    quiet_start = time.time()
    time.sleep(QUIET_AFTER)  # a quiet period: the calm province must not page
    quiet = firing(stack, quiet_start)
    for fault in FAULTS:
        run_fault(stack, fault)
    judge(stack, FAULTS, quiet_start, quiet_period=quiet)
    assert quiet == []
