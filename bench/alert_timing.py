"""A model of the path from a cut link to the technician's notification, at the shipped timings.

Not a measurement (tests/alerts/test_alert_latency_shipped.py measures on the lab): a check of the
arithmetic in docs/runbook.md#timing over many cut times, which one lab run (one cut time) cannot give.
The shipped inventory's own check phases (`netmon.scheduler.phase`, aligned to the epoch; a site's
reachability checks spread evenly over the interval) and run lengths (ICMP burst, its 10-echo re-test,
the TCP timeout) are used; every run starts up to 20 ms late (the scheduler's lag); the cut time and
Prometheus's scrape and rule-group phases are drawn at random. The rule is the shipped one: a failed run
``unreachable_after`` (less the scheduler's slot) after the first failed run, read in the generated group.
The timings are read from the shipped files (netmon's scrape interval in config/prometheus.yml, the
generated group's ``interval``, VNPT's group_wait in alerts/alertmanager.base.yml) and compared with the
previous ones (every stage 15 s, group_wait 10 s, hashed phases, a strict ``>=``).

A hub is modelled as the shipped rule counts it: its own check failing twice the shortest
``unreachable_after`` apart while every center behind it is unseen (their primary checks' latest published
runs failed); the previous hub rule (``for: 15s`` from first sight) is not modelled.

Run: ``python -m bench.alert_timing [--draws 2000]``; figures in bench/README.md ("Alert truth").
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from netmon.alerting import RUN_SLACK, prom_duration
from netmon.inventory import Inventory, load
from netmon.scheduler import phase
from probes import icmp
from probes.base import parse_duration

ROOT = Path(__file__).resolve().parent.parent
#: The benchmark's nine fiber centers without backup (tests/alerts/test_alert_latency_shipped.py).
CENTERS = ("quynh-nhai", "thuan-chau", "ngoc-chien", "bac-yen", "phu-yen", "yen-chau", "mai-son", "song-ma",
           "van-ho")
#: The scheduler's lag at the start of a run: up to this many seconds.
LAG = 0.02

#: A run: (start, when its result is published, succeeded).
Run = tuple[float, float, bool]


@dataclass(frozen=True)
class Timings:
    """Seconds of each stage after netmon publishes a result."""

    scrape: float
    evaluation: float
    group_wait: float
    slack: float

    @classmethod
    def shipped(cls) -> Timings:
        prometheus = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text(encoding="utf-8"))
        job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "netmon")
        rules = yaml.safe_load((ROOT / "alerts" / "generated" / "site-availability.rules.yml").read_text(
            encoding="utf-8"))
        group = rules["groups"][0]
        alertmanager = yaml.safe_load((ROOT / "alerts" / "alertmanager.base.yml").read_text(encoding="utf-8"))
        vnpt = next(r for r in alertmanager["route"]["routes"] if r["matchers"] == ['team="vnpt"'])

        def seconds(text: str) -> float:
            return float(parse_duration(text))  # type: ignore[arg-type]

        return cls(seconds(job.get("scrape_interval", prometheus["global"]["scrape_interval"])),
                   seconds(group.get("interval", prometheus["global"]["evaluation_interval"])),
                   seconds(vnpt["group_wait"]), RUN_SLACK)


#: Before this work: every stage 15 s, group_wait 10 s, a strict comparison (and hashed phases).
PREVIOUS = Timings(15.0, 15.0, 10.0, 0.0)


@dataclass(frozen=True)
class Check:
    """One reachability check: its phase, interval and how long a failed run takes to publish."""

    probe: str
    start: float
    interval: float
    tcp_fail: float

    def runs(self, down: Callable[[float, float], bool], t0: float, rng: random.Random) -> list[Run]:
        """Runs from a minute before ``t0`` to 4 minutes after; ``down(a, b)``: the link is down from a to b.
        A first failure is re-tested at once and published with the first run's start."""
        options = icmp.IcmpOptions()
        burst, retest = options.minimum_timeout(), options.confirmation().minimum_timeout()
        out: list[Run] = []
        failing = False
        slot = self.start + math.floor((t0 - 60 - self.start) / self.interval) * self.interval
        while slot < t0 + 240:
            start = slot + rng.uniform(0, LAG)
            if self.probe == "icmp":
                fails, took = down(start, start + burst - 1.0), burst
                if fails and not failing:
                    fails, took = down(start + took, start + took + retest - 1.0), took + retest
                took = took if fails else 0.85
            else:  # a TCP connect to a cut CPE: refused at once (the hub says unreachable) or timed out
                fails, took = down(start, start + 0.01), self.tcp_fail
                if fails and not failing:
                    fails, took = down(start + took, start + took + 0.01), 2 * self.tcp_fail
                took = took if fails else 0.01
            out.append((start, start + took, not fails))
            failing = fails
            slot += self.interval
        return out


def seen(runs: list[Run], t: float) -> tuple[bool, float, float | None]:
    """(succeeded, last run's start, failing since) as published at ``t``."""
    ok, last, since = True, -math.inf, None
    for start, published, success in runs:
        if published > t:
            break
        ok, last = success, start
        since = None if success else (start if since is None else since)
    return ok, last, since


def proven(runs: list[list[Run]], interval: float, t: float, after: float) -> bool:
    """Every check fails at ``t`` and a failed run ``after`` after the outage's start proves it (the
    start: the first failed run, if every check's came within ``interval`` of it; else the last's)."""
    data = [seen(r, t) for r in runs]
    if any(ok for ok, _, _ in data):
        return False
    since = [s for _, _, s in data if s is not None]
    start = min(since) if max(since) - min(since) < interval else max(since)
    return max(last for _, last, _ in data) - start >= after


def notified(checks: Sequence[Check], t0: float, after: float, timings: Timings, rng: random.Random,
             outage: float = math.inf, children: Sequence[Check] = ()) -> float | None:
    """Seconds from ``t0`` to the notification, or None if the rule never fires. ``children``: the
    primary checks of the centers behind a hub (it fires only while none of them is seen)."""
    def down(a: float, b: float) -> bool:
        return t0 <= a and b <= t0 + outage

    runs = [c.runs(down, t0, rng) for c in checks]
    interval = min(c.interval for c in checks)
    behind = [c.runs(down, t0, rng) for c in children]
    scrape, group = rng.uniform(0, timings.scrape), rng.uniform(0, timings.evaluation)
    t = group + math.ceil((t0 - group) / timings.evaluation) * timings.evaluation
    while t < t0 + 240:
        scraped = scrape + math.floor((t - scrape) / timings.scrape) * timings.scrape
        unseen = not any(seen(r, scraped)[0] for r in behind)
        if unseen and proven(runs, interval, scraped, after - timings.slack):
            return t + timings.group_wait - t0
        t += timings.evaluation
    return None


def reachability(inventory: Inventory, tcp_fail: float, spread: bool = True) -> dict[str, list[Check]]:
    """Each site's checks that count for its reachability (a hub's: its own), as the scheduler phases them
    (``spread``) or by their keys' hash alone (before the inventory spread them)."""
    out: dict[str, list[Check]] = {}
    hubs = {h.id for h in inventory.spec.hubs}
    for c in inventory.checks:
        if c.probe != "snmp" and (c.site in hubs or c.link not in ("", "agent")):
            at = phase(c if spread else dataclasses.replace(c, phase=None))
            out.setdefault(c.site, []).append(Check(c.probe, at, c.interval, tcp_fail))
    return out


def _primaries(inventory: Inventory, hub: str, tcp_fail: float) -> list[Check]:
    """The primary checks of the centers behind ``hub``."""
    sites = {s.slug for s in inventory.spec.sites if s.upstream == hub}
    return [Check(c.probe, phase(c), c.interval, tcp_fail) for c in inventory.checks
            if c.site in sites and c.link == "primary" and c.probe != "snmp"]


def _figures(times: list[float | None]) -> str:
    got = [t for t in times if t is not None]
    q = statistics.quantiles(got, n=1000)
    return (f"median {statistics.median(got):5.1f} s, p99.9 {q[-1]:5.1f} s, max {max(got):5.1f} s, "
            f"under 90 s {sum(t < 90 for t in got) / len(times):6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    inventory = load(ROOT / "config" / "communes.yaml")
    limits = inventory.spec.defaults.link_types
    fiber = limits["fiber"].unreachable_after
    hub_after = min(limits[lk.type].unreachable_after for s in inventory.spec.sites for lk in s.links)
    shipped = Timings.shipped()
    hubs = [h.id for h in inventory.spec.hubs if any(c.site == h.id for c in inventory.checks)]
    rng = random.Random(1)
    for name, timings, spread in (("previous", PREVIOUS, False), ("shipped", shipped, True)):
        print(f"{name}: netmon scraped every {prom_duration(timings.scrape)}, availability group every "
              f"{prom_duration(timings.evaluation)}, group_wait {prom_duration(timings.group_wait)}, "
              f"{'spread' if spread else 'hashed'} phases, slack {timings.slack:g} s")
        for tcp_fail, how in ((0.05, "TCP refused at once (the lab)"), (10.0, "TCP timing out at 10 s")):
            centers = reachability(inventory, tcp_fail, spread)
            cuts = [notified(centers[s], t0, fiber, timings, rng)
                    for t0 in (rng.uniform(0, 30) for _ in range(args.draws)) for s in CENTERS]
            print(f"  {how:30} nine cut fiber centers x {args.draws}: {_figures(cuts)}")
            if name == "shipped":  # the previous hub rule was a `for:` from first sight, not modelled here
                downs = [notified(centers[h], rng.uniform(0, 30), hub_after, timings, rng,
                                  children=_primaries(inventory, h, tcp_fail))
                         for h in hubs for _ in range(args.draws // len(hubs) + 1)]
                print(f"  {how:30} hub down ({len(downs)} outages, {len(hubs)} hubs):      {_figures(downs)}")
    centers = reachability(inventory, 0.05)
    sites = sorted(s for s in centers if s not in hubs)
    for who, pool, after in (("center", sites, fiber), ("hub", hubs, hub_after)):
        paged = sum(notified(centers[rng.choice(pool)], rng.uniform(0, 30), after, shipped, rng,
                             outage=rng.uniform(20, 29.9)) is not None for _ in range(args.draws * 5))
        print(f"shipped: outages of 20-29.9 s, any {who} judged at {after:g} s: "
              f"{paged} of {args.draws * 5} paged")

if __name__ == "__main__":
    main()
