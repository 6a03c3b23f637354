"""The lab as an oracle: generated fault schedules, run under a real `netmon run --history`, and every
planner-facing figure of `netmon report` compared with what the lab's event log says it injected.

A *round* runs several *cases* at once, each on its own sites, on the lab already up with the shipped
inventory: netmon probes a generated inventory (those sites, every hub, the data center; ICMP only,
every ``interval`` seconds, maintenance windows of the cases written under their sites), a timeline
drives `Lab.set` (and stops/restarts netmon itself for a "prober down" period), then the report over
the round's window is checked site by site against `netmon.lab.events`.

Tolerances: ``tau = interval + BURST`` (a transition inside an ICMP burst may read either way, and a
run stands for the interval after it); they were fixed before any result was seen. The detection
model follows the scheduler: a first failure is re-tested at once (``CONFIRM`` after the run's
start the re-test's burst has ended), and only a failed re-test makes a down sample:
- each outage's start and end within ± tau of the injected transition; its cause equal;
- an injected stretch longer than ``2 * interval + BURST`` must be an outage, one shorter than
  ``interval + BURST`` cannot be (two failed runs need two whole bursts inside it); every other
  stretch longer than ``interval + CONFIRM`` must be a short outage, and no more stretches than
  there are may be;
- observed time within ± tau per prober gap boundary (at least tau), down time within ± tau per
  injected stretch (at least tau); the availability status ("ok" vs "below_floor") must agree
  unless the true coverage is within that tolerance of the floor;
- every site whose true availability is clearly below the 10th worst (by more than its
  tolerance) must be in the report's Worst 10, and nothing clearly better may be.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from netmon.lab import events
from netmon.lab.control import Lab
from netmon.lab.topology import Plan

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
#: An ICMP burst (5 echoes 0.2 s apart) and the round trip after it.
BURST = 1.0
#: From a run's start to the end of its re-test's burst: its 5 echoes, 1 s for the last reply, 10 more
#: echoes 50 ms apart (scheduler confirm on failure).
CONFIRM = 2.5
FLOOR = 0.9
#: Link types fast enough for the scaled interval (a VSAT burst alone takes ~2 s).
FAST = ("fiber", "4g", "microwave")
#: Case kinds, as often as they should be drawn.
KINDS = ("cut", "cut", "blip", "flap", "flap", "loss", "maint-in", "maint-out", "hub", "mixed")
LEAD = 15.0  # seconds between writing the inventory and the round's start: netmon starts meanwhile

Span = tuple[float, float]


@dataclass(frozen=True)
class Fault:
    """One injected fault, times in seconds from the round's start."""

    kind: str  # cut | blip | flap | loss | hub
    target: str
    start: float
    end: float
    every: float = 0.0
    down_for: float = 0.0
    loss: float = 0.0


@dataclass(frozen=True)
class Case:
    kind: str
    sites: tuple[str, ...]  # the sites whose figures this case checks
    faults: tuple[Fault, ...]
    #: A maintenance window on the (single) site, seconds from the round's start.
    window: tuple[float, float] | None = None


@dataclass(frozen=True)
class Round:
    seed: int
    interval: float
    length: float
    cases: tuple[Case, ...]
    prober_down: tuple[float, float] | None = None


@dataclass
class Mismatch:
    seed: int
    site: str
    figure: str
    expected: Any
    got: Any


@dataclass
class Outcome:
    round: Round
    mismatches: list[Mismatch] = field(default_factory=list)
    compared: int = 0
    #: figure → worst absolute error seen (seconds), for the benchmark's table.
    worst_error: dict[str, float] = field(default_factory=dict)

    def error(self, figure: str, value: float) -> None:
        self.worst_error[figure] = max(self.worst_error.get(figure, 0.0), abs(value))


# -- generation ---------------------------------------------------------------------------------


def generate(seed: int, plan: Plan, cases: int, interval: float = 5.0, length: float = 150.0,
             prober_down: bool | None = None) -> Round:
    """A random round: ``cases`` cases on distinct sites (at most one hub outage, which takes every
    site behind the hub), faults separated by enough up time that each is its own stretch."""
    rng = random.Random(seed)
    by_hub: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for lk in plan.links:
        if lk.role == "primary":
            by_hub.setdefault(lk.hub.id, []).append(lk.site)
            kinds[lk.site] = lk.type
    fast = sorted(site for site, kind in kinds.items() if kind in FAST)
    rng.shuffle(fast)
    used: set[str] = set()
    out: list[Case] = []
    gap = 3 * interval + BURST
    busy_until = length - 4 * interval
    while len(out) < cases:
        kind = rng.choice(KINDS)
        if kind == "hub":
            hubs = sorted(h for h, sites in by_hub.items() if len(sites) <= 8 and not used & set(sites)
                          and all(kinds[s] in FAST for s in sites))
            if any(c.kind == "hub" for c in out) or not hubs:
                continue
            hub = rng.choice(hubs)
            used.update(by_hub[hub])
            a = rng.uniform(10, busy_until - 60)
            out.append(Case("hub", tuple(sorted(by_hub[hub])),
                            (Fault("hub", hub, a, a + rng.uniform(2 * interval + 3, 50)),)))
            continue
        site = next((s for s in fast if s not in used), None)
        if site is None:
            break
        used.add(site)
        t = rng.uniform(5, 25)
        faults: list[Fault] = []
        window = None
        for part in (("cut", "blip", "flap", "loss") if kind == "mixed" else (kind,)):
            if t > busy_until - 20:
                break
            fault, window = _fault(rng, part, site, t, interval, busy_until)
            faults.append(fault)
            t = fault.end + gap
        out.append(Case(kind, (site,), tuple(faults), window))
    down = rng.random() < 0.4 if prober_down is None else prober_down
    gap_at = None
    total = length
    if down:
        # Either a short stop (coverage ~96 %) or a long one (~80 %): clear of the 90 % floor by more
        # than the coverage tolerance, so the status each site must have is known.
        short = rng.random() < 0.5
        stop = length + 2 * interval
        gap_at = (stop, stop + (rng.uniform(8, 10) if short else rng.uniform(50, 60)))
        total = gap_at[1] + (60.0 if short else 40.0)
    return Round(seed, interval, total, tuple(out), gap_at)


def _fault(rng: random.Random, kind: str, site: str, t: float, interval: float,
           busy_until: float) -> tuple[Fault, tuple[float, float] | None]:
    room = busy_until - t
    if kind == "cut":
        return Fault("cut", site, t, t + rng.uniform(2 * interval + 2, min(45, room))), None
    if kind == "blip":
        return Fault("cut", site, t, t + rng.uniform(0.3, interval)), None
    if kind == "flap":
        every = rng.choice((4, 6, 8)) * interval
        down_for = rng.uniform(interval + BURST, every - 2 * interval - BURST)
        return Fault("flap", site, t, t + min(room, rng.uniform(3, 5) * every), every, down_for), None
    if kind == "loss":
        ratio = rng.choice((0.05, 0.1, 0.15))
        return Fault("loss", site, t, t + rng.uniform(15, min(50, room)), loss=ratio), None
    # A maintenance window of 40 s and a cut starting well inside it, or well after it.
    window = (t, t + 40.0)
    inside = kind == "maint-in"
    start = t + rng.uniform(interval + 3, 20) if inside else window[1] + interval + 3 + rng.uniform(0, 10)
    return Fault("cut", site, start, start + rng.uniform(2 * interval + 2, 15)), window


# -- running -----------------------------------------------------------------------------------


def inventory(base: Path, rnd: Round, t0: float) -> dict[str, Any]:
    """The shipped inventory cut down to the round: its sites (ICMP checks, no devices), every hub,
    the data center, each case's maintenance window in local time."""
    spec = yaml.safe_load(base.read_text(encoding="utf-8"))
    wanted = {s for c in rnd.cases for s in c.sites}
    windows = {c.sites[0]: c.window for c in rnd.cases if c.window}
    spec["defaults"]["interval"] = f"{rnd.interval:g}s"
    spec["defaults"]["timeout"] = f"{rnd.interval - 0.5:g}s"

    def icmp(owner: dict[str, Any]) -> None:
        owner["checks"] = [c for c in owner.get("checks", []) if c.get("probe") == "icmp"]

    icmp(spec["datacenter"])
    for hub in spec.get("hubs", []):
        icmp(hub)
    sites = []
    for site in spec["sites"]:
        if site["slug"] not in wanted:
            continue
        icmp(site)
        site.pop("devices", None)
        if site["slug"] in windows:
            a, b = windows[site["slug"]]
            site["maintenance"] = [{"reason": "oracle", "start": _local(t0 + a), "end": _local(t0 + b)}]
        sites.append(site)
    spec["sites"] = sites
    return dict(spec)


def _local(t: float) -> str:
    return datetime.fromtimestamp(t, ZONE).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Netmon:
    """`netmon run --history` as a child process, stopped by its PID."""

    def __init__(self, config: Path, db: Path, log: Path) -> None:
        self.config, self.db, self.log = config, db, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 60.0) -> float:
        """Start and wait until /-/healthy answers; returns that moment."""
        port = _free_port()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "netmon.cli", "run", "--config", str(self.config),
                 "--listen", f"127.0.0.1:{port}", "--history", str(self.db)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NETMON_LANG": "en"})
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:]
                raise RuntimeError(f"netmon exited with {self.proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1) as resp:
                    if resp.status == 200:
                        return time.time()
            except OSError:
                time.sleep(0.2)  # not listening yet: poll its health endpoint
        raise RuntimeError("netmon did not become healthy")

    def stop(self) -> float:
        assert self.proc is not None
        stopped = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        return stopped


def _actions(rnd: Round, lab: Lab) -> list[tuple[float, Callable[[], object]]]:
    out: list[tuple[float, Callable[[], object]]] = []
    for case in rnd.cases:
        for f in case.faults:
            on: dict[str, Any]
            off: dict[str, Any]
            if f.kind in ("cut", "hub"):
                on, off = {"down": True}, {"down": False}
            elif f.kind == "flap":
                on, off = {"flap": {"every": f.every, "down_for": f.down_for}}, {"flap": None}
            else:
                on, off = {"loss": f.loss}, {"loss": 0.0}
            out.append((f.start, functools.partial(lab.set, f.target, **on)))
            out.append((f.end, functools.partial(lab.set, f.target, **off)))
    return sorted(out, key=lambda a: a[0])


def run(rnd: Round, lab: Lab, base: Path, work: Path) -> Outcome:
    """Run ``rnd`` on ``lab`` (up with ``base``) and compare the report with the event log."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time() + LEAD
    name = work / f"round-{rnd.seed}"
    config = name.with_suffix(".yaml")
    config.write_text(yaml.safe_dump(inventory(base, rnd, t0), allow_unicode=True, sort_keys=False))
    db = name.with_suffix(".db")
    netmon = _Netmon(config, db, name.with_suffix(".log"))
    netmon.start()
    gap: Span | None = None
    try:
        for at, act in _actions(rnd, lab):
            _sleep_until(t0 + at)
            act()
        if rnd.prober_down:
            _sleep_until(t0 + rnd.prober_down[0])
            stopped = netmon.stop()
            _sleep_until(t0 + rnd.prober_down[1])
            gap = (stopped, netmon.start())
        _sleep_until(t0 + rnd.length)
    finally:
        lab.reset()
        if netmon.proc is not None:
            netmon.stop()
    t1 = t0 + rnd.length
    report = subprocess.run(
        [sys.executable, "-m", "netmon.cli", "report", "--config", str(config), "--history", str(db),
         "--format", "json", "--from", _local(t0), "--to", _local(t1)],
        capture_output=True, text=True, check=True)
    name.with_suffix(".json").write_text(report.stdout)
    log = [e for e in events.read(lab.state) if t0 - 600 <= e["t"] <= t1 + 60]
    name.with_suffix(".events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    meta = {"round": asdict(rnd), "t0": t0, "t1": t1, "gap": gap}
    name.with_suffix(".meta.json").write_text(json.dumps(meta))
    return compare(rnd, json.loads(report.stdout), log, primary_links(config), t0, t1, gap)


def recompare(work: Path, seed: int) -> Outcome:
    """`compare` again on a round's saved files (after a fix to the comparison, not to netmon)."""
    name = work / f"round-{seed}"
    meta = json.loads(name.with_suffix(".meta.json").read_text())
    r = meta["round"]
    cases = tuple(Case(c["kind"], tuple(c["sites"]), tuple(Fault(**f) for f in c["faults"]),
                       tuple(c["window"]) if c["window"] else None) for c in r["cases"])
    rnd = Round(r["seed"], r["interval"], r["length"], cases,
                tuple(r["prober_down"]) if r["prober_down"] else None)
    log = [json.loads(line) for line in name.with_suffix(".events.jsonl").read_text().splitlines()]
    gap = tuple(meta["gap"]) if meta["gap"] else None
    return compare(rnd, json.loads(name.with_suffix(".json").read_text()), log,
                   primary_links(name.with_suffix(".yaml")), meta["t0"], meta["t1"], gap)


def _sleep_until(t: float) -> None:
    delay = t - time.time()
    if delay > 0:
        time.sleep(delay)  # the schedule is the clock: nothing to await but the time itself


def primary_links(config: Path) -> dict[str, tuple[str, str]]:
    """Site → (primary link id, upstream hub of that link), from the round's inventory."""
    spec = yaml.safe_load(config.read_text(encoding="utf-8"))
    out = {}
    for s in spec["sites"]:
        primary = next((lk for lk in s["links"] if lk.get("role", "primary") == "primary"), s["links"][0])
        out[s["slug"]] = (primary["id"], primary.get("upstream") or s["upstream"])
    return out


# -- comparing ---------------------------------------------------------------------------------


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _clip(spans: list[Span], lo: float, hi: float) -> list[Span]:
    return [(max(a, lo), min(b, hi)) for a, b in spans if b > lo and a < hi]


def _minus(spans: list[Span], cut: Span | None) -> list[Span]:
    if cut is None:
        return spans
    out: list[Span] = []
    for a, b in spans:
        if b <= cut[0] or a >= cut[1]:
            out.append((a, b))
        else:
            out += [s for s in ((a, cut[0]), (cut[1], b)) if s[1] > s[0]]
    return out


def compare(rnd: Round, report: dict[str, Any], log: list[dict[str, Any]], links: dict[str, tuple[str, str]],
            t0: float, t1: float, gap: Span | None) -> Outcome:
    outcome = Outcome(rnd)
    tau = rnd.interval + BURST
    rows = {r["key"]: r for r in report["rows"]}
    windows = {c.sites[0]: (t0 + c.window[0], t0 + c.window[1]) for c in rnd.cases if c.window}
    width = t1 - t0
    unobserved = _clip([gap], t0, t1) if gap else []
    truth_avail: dict[str, tuple[float, float, str | None]] = {}  # site → (availability, tolerance, status)

    def bad(site: str, figure: str, expected: Any, got: Any) -> None:
        outcome.mismatches.append(Mismatch(rnd.seed, site, figure, expected, got))

    for site, (link, hub) in links.items():
        outcome.compared += 1
        row = rows.get(site)
        if row is None:
            bad(site, "row", "present", None)
            continue
        link_down = events.down_spans(log, "link", f"{site}/{link}", t1)
        hub_down = events.down_spans(log, "hub", hub, t1)
        stretches = _clip(_merge(link_down + hub_down), t0, t1)
        for u in unobserved:
            stretches = _minus(stretches, u)
        observed = width - sum(b - a for a, b in unobserved)
        down = sum(b - a for a, b in stretches)
        # coverage
        cov_tol = tau * max(1, 2 * len(unobserved))
        outcome.error("observed", row["observed"] - observed)
        if abs(row["observed"] - observed) > cov_tol:
            bad(site, "observed seconds", round(observed, 1), round(row["observed"], 1))
        coverage = observed / width
        status: str | None = "ok" if coverage >= FLOOR else "below_floor"
        if abs(coverage - FLOOR) <= cov_tol / width:
            status = None  # within tolerance of the floor: either reading is right
        elif row["status"] != status:
            bad(site, "status", status, row["status"])
        # down time (availability over observed time)
        down_tol = tau * max(1, len(stretches))
        outcome.error("down", row["downtime"] - down)
        if abs(row["downtime"] - down) > down_tol:
            bad(site, "down seconds", round(down, 1), round(row["downtime"], 1))
        truth_avail[site] = (1 - down / observed if observed else 1.0, down_tol / max(observed, 1.0), status)
        # outages: each reported one matches one injected stretch, with the right cause
        reported = [o for o in report["outages"] if o["site"] == site]
        matched: set[int] = set()
        for o in reported:
            end = o["end"] if o["end"] is not None else t1
            best = min(range(len(stretches)), key=lambda i: abs(stretches[i][0] - o["start"]), default=None)
            if best is None or best in matched or abs(stretches[best][0] - o["start"]) > tau \
                    or abs(min(stretches[best][1], t1) - min(end, t1)) > tau:
                bad(site, "outage", "none at that time", (round(o["start"] - t0, 1), round(end - t0, 1)))
                continue
            matched.add(best)
            outcome.error("outage start", o["start"] - stretches[best][0])
            outcome.error("outage end", min(end, t1) - min(stretches[best][1], t1))
            a = stretches[best][0]
            cause = ("hub" if any(h0 - 1 <= a <= h1 for h0, h1 in hub_down)
                     else "maintenance" if site in windows and windows[site][0] <= a < windows[site][1]
                     else "link")
            if o["cause"] != cause:
                bad(site, "cause", cause, o["cause"])
        must = [i for i, (a, b) in enumerate(stretches) if b - a >= 2 * rnd.interval + BURST + 0.5 and b < t1]
        cannot = {i for i, (a, b) in enumerate(stretches) if b - a < rnd.interval + BURST - 0.5}
        for i in must:
            if i not in matched:
                a, b = stretches[i]
                bad(site, "missed outage", (round(a - t0, 1), round(b - t0, 1)), None)
        for i in matched & cannot:
            bad(site, "outage below the detection floor", None, round(stretches[i][0] - t0, 1))
        # The rest are short outages: those surely seen by a whole burst must be counted, none beyond
        # those a burst could have seen.
        rest = [i for i in range(len(stretches)) if i not in matched]
        lo = len([i for i in rest if stretches[i][1] - stretches[i][0] >= rnd.interval + CONFIRM + 0.5])
        hi = len([i for i in rest if stretches[i][1] - stretches[i][0] > 0.5])
        if not lo <= row["short_outages"] <= hi:
            bad(site, "short outages", f"{lo}..{hi}", row["short_outages"])
    _compare_worst(outcome, report, truth_avail)
    return outcome


def _compare_worst(outcome: Outcome, report: dict[str, Any],
                   truth: dict[str, tuple[float, float, str | None]]) -> None:
    """Worst 10: ranked like the report (meaningful figures first, by availability). Skipped when a
    site's status is itself within tolerance of the floor, or when no figure is meaningful."""
    if len(truth) <= 10 or any(status is None for _, _, status in truth.values()):
        return
    meaningful = sorted(a for a, _, status in truth.values() if status == "ok")
    if len(meaningful) <= 10:
        return
    tenth = meaningful[9]
    listed = set(report["worst"])
    for site, (avail, tol, status) in truth.items():
        if status == "ok" and avail < tenth - 2 * tol and site not in listed:
            outcome.mismatches.append(Mismatch(outcome.round.seed, site, "worst 10", "listed", "absent"))
        if (status != "ok" or avail > tenth + 2 * tol) and site in listed:
            outcome.mismatches.append(Mismatch(outcome.round.seed, site, "worst 10", "absent", "listed"))


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    worst: dict[str, float] = {}
    for o in outcomes:
        for k, v in o.worst_error.items():
            worst[k] = max(worst.get(k, 0.0), v)
    return {
        "rounds": len(outcomes),
        "cases": sum(len(o.round.cases) for o in outcomes),
        "sites_compared": sum(o.compared for o in outcomes),
        "mismatches": [asdict(m) for o in outcomes for m in o.mismatches],
        "worst_error_seconds": {k: round(v, 2) for k, v in sorted(worst.items())},
        "kinds": sorted({c.kind for o in outcomes for c in o.round.cases}),
    }
