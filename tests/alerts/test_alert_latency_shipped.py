"""Benchmark (not in CI): times from fault to first notification with everything as shipped.

The shipped inventory (30 s checks), the shipped rules unscaled (generated from it), Prometheus at the
shipped scrape/evaluation intervals (config/prometheus.yml: netmon every 5 s, rules every 15 s, the
generated availability group every 5 s), Alertmanager with the shipped routes,
inhibitions and timers; only the receivers become a webhook. Three faults at once, on unrelated parts
of the province: nine cut fibers (centers without a backup, one per hub), a hub down (hub-moc-chau) and
the document system answering 503. Run with ``NETMON_ALERT_BENCH=1 pytest tests/alerts/test_alert_latency_shipped.py -s``;
figures go to bench/README.md ("Alert latency").
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon import alerting
from netmon.inventory import load
from netmon.lab import control
from tests.alerts import peers
from tests.alerts.test_e2e import Stack, report
from tests.support import ROOT, http_get, netmon_run, prometheus, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("NETMON_ALERT_BENCH") != "1",
                                 reason="benchmark: set NETMON_ALERT_BENCH=1 (about 10 minutes on the lab)")]

#: Fiber centers without a backup, one per hub (none behind hub-moc-chau): the same cut at nine phases
#: of their checks, so one run gives a distribution, not one draw.
CUT_FIBER = ("quynh-nhai", "thuan-chau", "ngoc-chien", "bac-yen", "phu-yen", "yen-chau", "mai-son", "song-ma",
             "van-ho")
FAULTS: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, dict[str, Any]]] = {  # alert -> lab change
    **{("SiteUnreachable", (("site", site),)): (site, {"down": True}) for site in CUT_FIBER},
    ("HubUnreachable", (("site", "hub-moc-chau"),)): ("hub-moc-chau", {"down": True}),
    ("ServiceUnreachable", (("check", "qlvb-https"),)): ("qlvb", {"status": 503}),
}


@contextmanager
def shipped_stack(lab: control.Lab, tmp: Path) -> Iterator[Stack]:
    """netmon, Prometheus and Alertmanager as shipped on the whole simulated province, once it is up in
    Prometheus; Alertmanager's receivers are a webhook, nothing else changes."""
    config = ROOT / "config" / "communes.yaml"
    shipped_prom = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    job = next(j for j in shipped_prom["scrape_configs"] if j["job_name"] == "netmon")
    rules = [ROOT / "alerts" / "recording.rules.yml", ROOT / "alerts" / "netmon.rules.yml"]
    generated = tmp / "site-availability.rules.yml"
    generated.write_text(yaml.safe_dump(alerting.availability_rules(load(config)), allow_unicode=True))
    am_config = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
    with peers.webhook_receiver() as hook, \
            peers.alertmanager(tmp, peers.webhook_config(am_config, hook.url, retime=False)) as am, \
            netmon_run(config, tmp) as prober, \
            prometheus(tmp, [prober.url.removeprefix("http://")], rule_files=[*rules, generated],
                       scrape_interval=job.get("scrape_interval", shipped_prom["global"]["scrape_interval"]),
                       evaluation_interval=shipped_prom["global"]["evaluation_interval"],
                       alertmanager=am.url.removeprefix("http://")) as prom:
        wait_until(lambda: len(prom.query("netmon:site_up == 1")) >= 70, 180, "the province up in Prometheus")
        yield Stack(lab, prom, am, hook)


def cost(prom: Any) -> dict[str, object]:
    """What the shipped timings cost here: netmon's scrape (samples, longest in 10 min), each rule group's
    last evaluation and Prometheus's CPU since it started (share of one core)."""
    def one(expr: str) -> float:
        (sample,) = prom.query(expr)
        return round(float(sample["value"][1]), 4)

    own = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
           for line in http_get(f"{prom.url}/metrics")[1].splitlines() if line and not line.startswith("#")}
    groups = {k.split(";")[-1].split('"')[0]: round(v, 4) for k, v in own.items()
              if k.startswith("prometheus_rule_group_last_duration_seconds{")}
    cpu = own["process_cpu_seconds_total"] / (time.time() - own["process_start_time_seconds"])
    return {"netmon_scrape_samples": one('scrape_samples_scraped{job="netmon"}'),
            "netmon_scrape_s_max_10m": one('max_over_time(scrape_duration_seconds{job="netmon"}[10m])'),
            "rule_group_last_s": dict(sorted(groups.items())), "prometheus_cpu_share": round(cpu, 3)}


def test_times_to_first_notification_as_shipped(province_lab: control.Lab, tmp_path: Path) -> None:
    with shipped_stack(province_lab, tmp_path) as stack:
        hook = stack.hook
        applied = {}  # each fault from the moment the lab was asked for it (eleven changes take seconds)
        for fault, (target, values) in FAULTS.items():
            applied[fault] = time.time()
            province_lab.set(target, **values)
        try:
            times = {}
            for alertname, labels in FAULTS:
                notification, _ = hook.wait_for(900, "firing", alertname=alertname, **dict(labels))
                times[alertname, labels] = round(notification.received - applied[alertname, labels], 1)
        finally:
            province_lab.reset()
        restored = time.time()
        resolved = {}
        for alertname, labels in FAULTS:
            notification, _ = hook.wait_for(900, "resolved", alertname=alertname, **dict(labels))
            resolved[alertname, labels] = round(notification.received - restored, 1)
        firing = [a["labels"] for _, a in hook.matching("firing")]
        for n, a in hook.matching():  # the whole story, for a notification that is no injected fault
            print(f"  {n.received - applied[next(iter(FAULTS))]:7.1f} s {a['status']:8} {a['labels']['alertname']} "
                  f"{a['labels'].get('site')} {a['labels'].get('link', '')} startsAt={a.get('startsAt')}")
        # the hub outage is one notification: nothing about the centers behind it reaches anyone
        behind_hub = [lb for lb in firing if lb.get("hub") == "hub-moc-chau" and lb["alertname"] != "HubUnreachable"]
        unexpected = [lb for lb in firing if not any(
            lb["alertname"] == a and all(lb.get(k) == v for k, v in lbs) for a, lbs in FAULTS)]
        cuts = sorted(times["SiteUnreachable", (("site", site),)] for site in CUT_FIBER)
        others = [(a, lb) for a, lb in FAULTS if a != "SiteUnreachable"]
        report("shipped timing", load_average=os.getloadavg(), cut_fiber_to_notify_s=cuts,
               cut_fiber_median_s=statistics.median(cuts),
               **{f"{a}_to_notify_s": times[a, lb] for a, lb in others},
               cut_fiber_to_resolved_s=sorted(resolved["SiteUnreachable", (("site", s),)] for s in CUT_FIBER),
               **{f"{a}_to_resolved_s": resolved[a, lb] for a, lb in others},
               firing_notified=len(firing), not_a_fault=[(lb["alertname"], lb.get("site")) for lb in unexpected],
               **cost(stack.prom))
        if behind_hub:  # what netmon said of the hub's centers, every 5 s from the faults on
            t0 = applied[next(iter(FAULTS))]
            for series in stack.prom.query_range('netmon_probe_success{site=~"moc-chau|tan-yen|long-sap|hub-moc-chau"}',
                                                 t0 - 30, time.time(), 5):
                values = "".join(str(int(float(v))) for _, v in series["values"])
                print(f"  {series['metric'].get('site')}/{series['metric'].get('check')}: {values}")
        assert behind_hub == [], behind_hub
