"""A model of the path from a cut link to the technician's notification, at the shipped timings.

Not a measurement (tests/alerts/test_alert_latency_shipped.py measures on the lab): a check of the
arithmetic in docs/runbook.md#timing over many cut times, which one lab run (one cut time) cannot
give. The shipped inventory's own check phases (`netmon.scheduler.phase`, aligned to the epoch) and
run lengths (ICMP burst, its 10-echo re-test, the TCP timeout) are used; the cut time and Prometheus's
scrape and rule-group phases are drawn at random. Two rules are compared:

- ``for``: the previous SiteUnreachable, ``netmon:site_up == 0`` for ``unreachable_after`` from the
  first evaluation that saw it, read through the recording group (one more evaluation phase);
- ``counted``: the shipped one, ``netmon:site_down_seconds >= unreachable_after``, i.e. a failed run
  that long after the first failed run, computed in the alert group itself.

Run: ``python -m bench.alert_timing [--draws 2000]``; figures in bench/README.md ("Alert truth").
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Callable
from pathlib import Path

from netmon.inventory import load
from netmon.scheduler import phase
from probes import icmp

ROOT = Path(__file__).resolve().parent.parent
#: config/prometheus.yml: scrape and evaluation interval; alerts/alertmanager.base.yml: VNPT's group_wait.
STEP, GROUP_WAIT = 15.0, 10.0
#: The benchmark's nine fiber centers without backup (tests/alerts/test_alert_latency_shipped.py).
CENTERS = ("quynh-nhai", "thuan-chau", "ngoc-chien", "bac-yen", "phu-yen", "yen-chau", "mai-son", "song-ma",
           "van-ho")

#: A run: (start, when its result is published, succeeded).
Run = tuple[float, float, bool]


class Check:
    """One reachability check of a center: its phase, interval and how long its runs take."""

    def __init__(self, probe: str, start: float, interval: float, timeout: float):
        self.probe, self.start, self.interval, self.timeout = probe, start, interval, timeout
        options = icmp.IcmpOptions()
        self.burst, self.retest = options.minimum_timeout(), options.confirmation().minimum_timeout()

    def runs(self, down: Callable[[float, float], bool], t0: float, tcp_fail: float) -> list[Run]:
        """Runs from a minute before ``t0`` to 4 minutes after; ``down(a, b)``: the link is down from a to b.
        A first failure is re-tested at once and published with the first run's start."""
        out: list[Run] = []
        failing = False
        start = self.start + math.floor((t0 - 60 - self.start) / self.interval) * self.interval
        while start < t0 + 240:
            if self.probe == "icmp":
                fails, took = down(start, start + self.burst - 1.0), self.burst
                if fails and not failing:
                    fails, took = down(start + took, start + took + self.retest - 1.0), took + self.retest
                took = took if fails else 0.85
            else:  # a TCP connect to a cut CPE: refused at once (the hub says unreachable) or timed out
                fails, took = down(start, start + 0.01), tcp_fail
                if fails and not failing:
                    fails, took = down(start + took, start + took + 0.01), 2 * tcp_fail
                took = took if fails else 0.01
            out.append((start, start + took, not fails))
            failing = fails
            start += self.interval
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


def notified(checks: list[Check], t0: float, after: float, rule: str, phases: tuple[float, float, float],
             outage: float = math.inf, tcp_fail: float = 0.05) -> float | None:
    """Seconds from ``t0`` to the notification, or None if the rule never fires; ``phases``: of the
    scrape, the recording group and the alert group within the 15 s step."""
    runs = [c.runs(lambda a, b: t0 <= a and b <= t0 + outage, t0, tcp_fail) for c in checks]
    interval = min(c.interval for c in checks)
    scrape, recording, alerting = phases

    def tick(t: float, offset: float) -> float:
        return offset + math.floor((t - offset) / STEP) * STEP

    pending = None
    t = alerting + math.ceil((t0 - alerting) / STEP) * STEP
    while t < t0 + 240:
        data = [seen(r, tick(tick(t, recording) if rule == "for" else t, scrape)) for r in runs]
        down = not any(ok for ok, _, _ in data)
        if rule == "for":
            pending = (pending if pending is not None else t) if down else None
            if pending is not None and t - pending >= after:
                return t + GROUP_WAIT - t0
        elif down:
            since = [s for _, _, s in data if s is not None]
            start = min(since) if max(since) - min(since) < interval else max(since)
            if max(last for _, last, _ in data) - start >= after:
                return t + GROUP_WAIT - t0
        t += STEP
    return None


def _phases(rng: random.Random) -> tuple[float, float, float]:
    return rng.uniform(0, STEP), rng.uniform(0, STEP), rng.uniform(0, STEP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    inventory = load(ROOT / "config" / "communes.yaml")
    centers: dict[str, list[Check]] = {}
    for c in inventory.checks:
        if c.probe != "snmp" and c.link not in ("", "agent"):
            centers.setdefault(c.site, []).append(Check(c.probe, phase(c), c.interval, c.timeout))
    fiber = inventory.spec.defaults.link_types["fiber"].unreachable_after
    rng = random.Random(1)
    for tcp_fail, how in ((0.05, "TCP refused at once (the lab)"), (10.0, "TCP timing out at 10 s")):
        for rule in ("for", "counted"):
            medians = []
            for _ in range(args.draws):  # one cut of the nine at once, as the benchmark does
                t0, phases = rng.uniform(0, 30), _phases(rng)
                times = [notified(centers[s], t0, fiber, rule, phases, tcp_fail=tcp_fail) for s in CENTERS]
                medians.append(statistics.median(t for t in times if t is not None))
            q = statistics.quantiles(medians, n=20)
            under = sum(m < 90 for m in medians) / len(medians)
            print(f"{how:32} {rule:8} median of the nine centers' median {statistics.median(medians):5.1f} s "
                  f"(5-95 %: {q[0]:.1f}-{q[-1]:.1f}); under 90 s in {under:.0%}")
    sites = sorted(centers)
    for rule in ("for", "counted"):
        paged = sum(notified(centers[rng.choice(sites)], rng.uniform(0, 30), fiber, rule,
                             _phases(rng),
                             outage=rng.uniform(20, 29.9)) is not None for _ in range(args.draws * 10))
        print(f"outages of 20-29.9 s, any center judged at fiber's {fiber:g} s, {rule:8}: "
              f"{paged} of {args.draws * 10} paged")


if __name__ == "__main__":
    main()
