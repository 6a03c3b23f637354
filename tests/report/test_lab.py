"""Outage history on the simulated province: a real `netmon run --history` watching real links go down.

A 2-minute link cut and, at the same time, a 2-minute hub outage elsewhere and a cut inside a
site's maintenance window (declared under the site, as docs/runbook.md shows), on a copy of the
shipped inventory probed every 5 s (same sites and addresses, so the session lab answers it). The
store must hold one outage of 120 s ± one interval for the cut link, caused by the link, one per
link behind the hub, caused by the hub, and one caused by maintenance; `netmon report` must say the
same, and count the planned one only in availability, not in availability excluding maintenance.

Meanwhile ``long-he`` flaps (down 10 s of every 20 s: never two failed runs in a row for long): its
availability must match the time the lab's event log says it was down, and it must rank among the
worst (only the sites cut for the whole two minutes before it). And the default 30-day report, with a few minutes of data, must say "insufficient data"
rather than an availability near 100 %.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from netmon.inventory import load
from netmon.lab import control, events, topology
from tests.lab.fixtures import INVENTORY, without_devices
from tests.support import ROOT, netmon_run, wait_until

pytestmark = pytest.mark.privileged

INTERVAL = 5.0
OUTAGE = 120.0
PLAN = topology.plan(load(INVENTORY))
SITE = "chieng-mung"  # fiber, behind hub-mai-son
PLANNED = "chieng-mai"  # fiber, behind hub-mai-son, cut inside its own maintenance window
FLAPPING = "long-he"  # 4g, behind hub-thuan-chau
FLAP = {"every": 20.0, "down_for": 10.0}
HUB = "hub-moc-chau"
BEHIND = sorted((lk.site, lk.link) for lk in PLAN.links if lk.hub.id == HUB)
#: Sites whose primary link (the one availability is computed from) goes through the hub.
PRIMARY_BEHIND = sorted(lk.site for lk in PLAN.links if lk.hub.id == HUB and lk.role == "primary")


def _fast_inventory(tmp: Path) -> Path:
    """The shipped inventory with every check every 5 s (timeout 4 s: the slowest VSAT burst takes 3 s),
    and a one-off maintenance window on `PLANNED` from 40 s from now for an hour, in local time."""
    text = without_devices(INVENTORY.read_text())
    local = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None, microsecond=0) + timedelta(seconds=40)
    window = (f"    maintenance:\n      - {{reason: \"Thay cáp quang trục\", start: {local.isoformat()}, "
              f"end: {(local + timedelta(hours=1)).isoformat()}}}\n")
    for old, new in (("  interval: 30s\n", f"  interval: {INTERVAL:g}s\n"), ("  timeout: 10s\n", "  timeout: 4s\n"),
                     (f"  - slug: {PLANNED}\n", f"  - slug: {PLANNED}\n{window}")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp / "communes-5s.yaml"
    path.write_text(text)
    return path


def _outages(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute('SELECT site, link, start, "end", cause FROM outages ORDER BY start')]


def test_two_minute_outages_are_logged_with_their_cause(fresh_lab: control.Lab, tmp_path: Path) -> None:
    config = _fast_inventory(tmp_path)
    db = tmp_path / "history.db"
    with netmon_run(config, tmp_path, "--history", str(db)) as netmon:
        # Every subject seen up at least twice before the cut, so nothing starts "already down".
        wait_until(lambda: len(netmon.samples("netmon_probe_success")) >= len(load(config).checks), 3 * INTERVAL,
                   "a first result for every check")
        ready = time.time()
        window_opens = _window(config)[0]
        wait_until(lambda: time.time() >= window_opens + 1, 60, "the maintenance window to open")
        fresh_lab.set(SITE, down=True)
        fresh_lab.set(HUB, down=True)
        fresh_lab.set(PLANNED, down=True)
        fresh_lab.set(FLAPPING, flap=FLAP)
        cut = time.time()
        time.sleep(OUTAGE)  # the outage itself is what we measure: nothing to await but the clock
        fresh_lab.reset()
        restored = time.time()

        def closed() -> bool:
            return bool(db.exists()) and all(o["end"] is not None for o in _outages(db)) and len(_outages(db)) > 0

        wait_until(closed, 3 * INTERVAL + 5, "every outage closed after the restore")
    down_for = restored - cut
    outages = [o for o in _outages(db) if o["site"] != FLAPPING]  # the flapping link is checked below
    by_subject = {(str(o["site"]), str(o["link"])): o for o in outages}
    assert len(by_subject) == len(outages), "one outage per subject"

    link = by_subject.pop((SITE, "primary"))
    duration = float(link["end"]) - float(link["start"])  # type: ignore[arg-type]
    assert link["cause"] == "link"
    # First failed run within one interval after the cut (or during a burst just before it), first
    # good run within one interval after the restore.
    assert abs(duration - down_for) <= INTERVAL + 2, (duration, down_for)
    print(f"\nlink cut {down_for:.1f} s → outage {duration:.1f} s logged, cause {link['cause']}")

    planned = by_subject.pop((PLANNED, "primary"))
    assert planned["cause"] == "maintenance", planned

    hub = by_subject.pop((HUB, ""))
    assert abs(float(hub["end"]) - float(hub["start"]) - down_for) <= INTERVAL + 2  # type: ignore[arg-type]
    behind = {k: v["cause"] for k, v in by_subject.items() if k in BEHIND}
    assert behind == dict.fromkeys(BEHIND, "hub"), behind
    assert set(by_subject) == set(BEHIND), f"unexpected outages: {set(by_subject) - set(BEHIND)}"

    end = time.time()
    doc = _report(config, db, "--from", _iso(ready), "--to", _iso(end), "--worst", "100")
    rows = {r["key"]: r for r in doc["rows"]}
    assert (rows[SITE]["outages"], rows[SITE]["causes"]) == (1, {"link": 1}), rows[SITE]
    assert abs(rows[SITE]["downtime"] - down_for) <= INTERVAL + 2
    for site in PRIMARY_BEHIND:
        assert (rows[site]["outages"], rows[site]["causes"]) == (1, {"hub": 1}), rows[site]
    row = rows[PLANNED]
    assert (row["outages"], row["causes"]) == (1, {"maintenance": 1}), row
    assert row["availability"] < 0.99 and row["availability_excl"] == 1.0, row

    # The flapping link: availability over observed time from each run, against the lab's own log.
    flapped = events.down_spans(events.read(fresh_lab.state), "link", f"{FLAPPING}/primary", end)
    truth = sum(min(b, end) - max(a, ready) for a, b in flapped if b > ready and a < end)
    flap = rows[FLAPPING]
    assert flap["coverage"] > 0.97 and flap["status"] == "ok", flap
    cycles = len(flapped)
    assert abs(flap["downtime"] - truth) <= cycles * (INTERVAL + 1), (flap["downtime"], truth, cycles)
    # Availability over the observed time against the lab's log, to the downtime's tolerance (a fixed bound
    # such as `< 0.75` held only when the test waited less than ~4 min before the cut).
    observed = (end - ready) * flap["coverage"]
    assert abs(flap["availability"] - (1 - truth / observed)) <= cycles * (INTERVAL + 1) / observed, (flap, truth)
    worse = [k for k, r in rows.items() if r["availability"] is not None and r["availability"] < flap["availability"]]
    assert doc["worst"].index(FLAPPING) == len(worse), (doc["worst"], worse)  # only the cut sites before it
    print(f"\n{FLAPPING} flapping: down {truth:.0f} s by the lab's log, {flap['downtime']:.0f} s measured, "
          f"{flap['outages']} outages + {flap['short_outages']} short")

    # A few minutes of data in the default 30-day window: not a percentage.
    month = _report(config, db)
    row = {r["key"]: r for r in month["rows"]}[SITE]
    assert (row["availability"], row["status"]) == (None, "below_floor") and row["coverage"] < 0.01, row


def _window(config: Path) -> tuple[float, float]:
    (window,) = load(config).spec.sites[[s.slug for s in load(config).spec.sites].index(PLANNED)].maintenance
    assert window.start is not None and window.end is not None
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    return window.start.replace(tzinfo=zone).timestamp(), window.end.replace(tzinfo=zone).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo("Asia/Ho_Chi_Minh")).isoformat()


def _report(config: Path, db: Path, *args: str) -> dict[str, Any]:
    report = subprocess.run(
        [sys.executable, "-m", "netmon.cli", "report", "--config", str(config), "--history", str(db),
         "--format", "json", *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return dict(json.loads(report.stdout))
