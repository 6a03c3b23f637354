"""Benchmark: sweep N loopback targets the way `netmon run` does (or on the bare engine) and with fping.

    python bench/icmp_sweep.py [--sizes 1000 5000 20000] [--counts 1 3] [--reps 5]
                                [--path scheduler|engine] [--no-history] [--max-pps 0]

For every size and echo count both tools sweep the same targets (127.0.0.1 first, then 127.x.y.z),
``--reps`` times each, alternately, and the medians are printed as a markdown table: targets per
second (N / wall time of the sweep), CPU seconds (user + system), the median RTT reported for
127.0.0.1 during the sweep and the machine's load. Each netmon repetition runs in a fresh interpreter
(``--worker``) that sweeps twice: the 1st sweep finds a fresh process (every check's exported state
is created), the 2nd finds what every later interval of a running `netmon run` finds. Each is timed
inside, from the first burst to the last result; the whole process from spawn to exit, less the 2nd
sweep (a process that sweeps once); fping is timed as a process (its start-up is a few ms).
``--path scheduler`` (the default) is the scheduler's real path, history store included as in
`netmon run` (``--no-history`` leaves it out), see `_scheduler_sweep`;
``--path engine`` the engine alone. fping runs unpaced (``-i 0``); the engine at its default pace
(50,000 echoes/s, the product's), or another (``--max-pps``; ``--max-pps 0``: unpaced, like fping).
Both use the same per-target spacing (``-p``) and per-echo timeout (``-t``).
Goal (issue 16, scheduler path, 20,000×3): ≥ 0.7× fping's targets/s, CPU ≤ 2× fping's, 127.0.0.1's
median RTT ≤ fping's + 0.01 ms, no echo lost.
Only loopback addresses are ever probed. Needs root (raw sockets) and fping.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probes.base import Result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probes.icmp_engine import DEFAULT_MAX_PPS  # noqa: E402


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rtt_local: float | None  # seconds
    received: int
    proc_wall: float = 0.0  # the whole process, from spawn to exit (fping: the same as wall)
    proc_cpu: float = 0.0
    load: float = 0.0  # 1-minute load average when the run started
    write: float = 0.0  # CPU of the history store's write of the sweep's sums, after it (`_scheduler_sweep`)


def targets(n: int) -> list[str]:
    """127.0.0.1, then distinct 127.x.y.z addresses (never .0 or .255 in the last octet)."""
    out = ["127.0.0.1"]
    i = 0
    while len(out) < n:
        i += 1
        x, y, z = i // (254 * 256), i // 254 % 256, i % 254 + 1
        address = f"127.{x + 1}.{y}.{z}"
        out.append(address)
    return out


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _scheduler_sweep(n: int, count: int, spacing: float, timeout: float, history: bool,
                           max_pps: float) -> list[Run]:
    """The path `netmon run` takes: scheduler → runner → probe → engine → Result → /metrics publish.

    Every check is put in the scheduler (`Scheduler.apply`), then every slot is fired at once
    (`_fire`, what a slot's timer calls), so the sweep is the same burst of work fping gets instead
    of being spread over an interval; the sweep ends when the last Result has been published. The
    check timeout is as long as fping would wait for the whole sweep: in `netmon run` the checks of
    one interval are spread over 300 slots, and a deadline that counts from a start all 20,000
    share would measure the pile-up this artificial sweep makes, not the path.

    Two sweeps: the first in a fresh process (every check's exported state is created), the second
    as every later interval of a running `netmon run` finds it (the states exist). With ``history``
    (the default, as in `netmon run`) the results also go to a history store in a temp dir: its
    `HistoryWriter.publish` folds each into the pending sums, spans and outages on the loop, inside the
    sweep. The store writes sums and spans once per ``rollup_every`` (60 s), not per sweep: after each
    sweep that write is forced (`HistoryWriter.flush`) and its CPU counted apart (``write``), as if a
    check's sums were written after every run, twice what `netmon run` writes at a 30 s interval. The
    meeting board, `netmon run`'s third sink, is left out: it watches only the 75 centers' few checks
    and returns at once for the others.
    """
    from exporters.prometheus import ResultCollector
    from netmon.scheduler import Scheduler
    from netmon.service import GC_THRESHOLDS
    from probes import icmp
    from probes.base import Check
    from probes.icmp_engine import shared_engine

    options = icmp.IcmpOptions(count=count, spacing=spacing, packet_timeout=timeout)
    checks = [Check(site=f"s{i}", id="icmp", probe="icmp", target=a, options=options, interval=30.0,
                    timeout=25.0) for i, a in enumerate(targets(n))]
    collector = ResultCollector(icmp.METRICS)
    local: list[float] = []
    received = published = 0
    done = asyncio.Event()

    def sink(result: Result) -> None:
        nonlocal received, published
        collector.publish(result)
        rtts = result.details.get("rtts", ())
        received += len(rtts) - rtts.count(None)  # the bench's own count, kept out of the way
        published += 1
        if result.site == "s0" and result.check == "icmp":
            local.extend(r for r in rtts if r is not None)
        if published == n:
            done.set()

    sinks = [sink]
    writer = None
    if history:
        from exporters.history import HistoryWriter

        store = tempfile.mkdtemp()
        writer = HistoryWriter(Path(store) / "history.db", probes=("icmp",))
        writer.start()
        sinks.append(writer.publish)
    scheduler = Scheduler(sinks)
    scheduler.apply(checks)
    shared_engine(max_pps=max_pps)  # opened before the clock starts, as in `netmon run`, at the bench's pace
    icmp.engine()
    gc.collect()  # and the collector set up as `netmon run` sets it up (Service.run)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    runs = []
    for sweep in range(2):
        local.clear()
        received = published = 0
        done.clear()
        cpu0, t0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
        now = time.monotonic()
        for slot in list(scheduler._slots):
            scheduler._fire(slot, now)
        await done.wait()
        wall, cpu = time.perf_counter() - t0, _cpu(resource.RUSAGE_SELF) - cpu0
        write = 0.0
        if writer is not None:
            write0 = _cpu(resource.RUSAGE_SELF)
            writer.flush()
            write = _cpu(resource.RUSAGE_SELF) - write0
            assert writer.status.committed == n * (sweep + 1) and not writer.status.problem, writer.status
        runs.append(Run(wall, cpu, statistics.median(local) if local else None, received, write=write))
        await asyncio.sleep(0)  # let the sweep's tasks finish before the next one fires
        # Every check has published once: `netmon run` freezes the sinks' per-check states now
        # (`Daemon.install`'s settle timer), so later intervals' collections do not walk them.
        gc.freeze()
    await scheduler.stop()
    if writer is not None:
        writer.close()
        shutil.rmtree(store)
    return runs


async def _engine_sweep(n: int, count: int, spacing: float, timeout: float, max_pps: float) -> list[Run]:
    """The bare engine, sweeping every target at once, twice (as `_scheduler_sweep`)."""
    from probes.icmp_engine import IcmpEngine

    addresses = targets(n)
    runs = []
    async with IcmpEngine(max_pps=max_pps) as engine:
        for _ in range(2):
            cpu0, t0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
            results = await engine.sweep(addresses, count, spacing, timeout)
            wall, cpu = time.perf_counter() - t0, _cpu(resource.RUSAGE_SELF) - cpu0
            local = results[0].received
            runs.append(Run(wall, cpu, statistics.median(local) if local else None,
                            sum(len(r.received) for r in results)))
    return runs


def engine_run(n: int, count: int, args: argparse.Namespace, path: str) -> tuple[Run, Run]:
    """One worker in a fresh interpreter, so repetitions do not share heap or GC state: its first
    sweep (cold) and its second (warm), each timed inside (first burst to last result). The whole
    process is timed from spawn to exit, like fping, less the warm sweep: a process that sweeps once."""
    cmd = [sys.executable, __file__, "--worker", str(n), str(count), "--path", path, "--spacing",
           str(args.spacing), "--timeout", str(args.timeout), "--max-pps", str(args.max_pps),
           *([] if args.history else ["--no-history"])]
    load = os.getloadavg()[0]
    cpu0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall, cpu = time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - cpu0
    cold, warm = (Run(**r) for r in json.loads(done.stdout))
    whole = {"proc_wall": wall - warm.wall, "proc_cpu": cpu - warm.cpu, "load": load}
    return dataclasses.replace(cold, **whole), dataclasses.replace(warm, **whole)


def fping_run(n: int, count: int, args: argparse.Namespace, target_file: Path) -> Run:
    cmd = ["fping", "-C", str(count), "-q", "-i", "0", "-p", f"{args.spacing * 1000:g}",
           "-t", f"{args.timeout * 1000:g}", "-f", str(target_file)]
    load = os.getloadavg()[0]
    cpu0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)  # exit 1 when some target lost echoes
    wall, cpu = time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - cpu0
    received, local = 0, None
    for line in done.stderr.splitlines():  # "127.0.0.1 : 0.03 0.04 -"
        host, _, values = line.partition(" : ")
        rtts = [float(v) / 1000 for v in values.split() if v != "-"]
        received += len(rtts)
        if host.strip() == "127.0.0.1" and rtts:
            local = statistics.median(rtts)
    return Run(wall, cpu, local, received, wall, cpu, load)


def median_run(runs: list[Run]) -> Run:
    rtts = [r.rtt_local for r in runs if r.rtt_local is not None]
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
               statistics.median(rtts) if rtts else None, min(r.received for r in runs),
               statistics.median(r.proc_wall for r in runs), statistics.median(r.proc_cpu for r in runs),
               statistics.median(r.load for r in runs), statistics.median(r.write for r in runs))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--path", choices=("scheduler", "engine"), default="scheduler",
                        help="scheduler: the path `netmon run` takes; engine: bursts straight on the engine")
    parser.add_argument("--spacing", type=float, default=0.2, help="seconds between a target's echoes")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each echo")
    parser.add_argument("--max-pps", type=float, default=DEFAULT_MAX_PPS,
                        help="engine send pace, packets/s (both paths); 0: unpaced, as fping -i 0")
    parser.add_argument("--history", action="store_true", default=True,
                        help="scheduler path: into a history store too, as netmon run does (the default)")
    parser.add_argument("--no-history", dest="history", action="store_false",
                        help="scheduler path: without the history store, as netmon run --no-history "
                             "(bench/README.md's figures before 2026-12-01 16:00 UTC unless they say so)")
    parser.add_argument("--worker", type=int, nargs=2, metavar=("N", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        n, count = args.worker
        sweep = (_scheduler_sweep(n, count, args.spacing, args.timeout, args.history, args.max_pps)
                 if args.path == "scheduler"
                 else _engine_sweep(n, count, args.spacing, args.timeout, args.max_pps))
        runs = asyncio.run(sweep)
        fields = ("wall", "cpu", "rtt_local", "received", "write")
        print(json.dumps([{k: getattr(r, k) for k in fields} for r in runs]))
        return
    if shutil.which("fping") is None:
        sys.exit("fping is not installed (apt-get install -y fping)")

    store = "" if args.path == "engine" else " with the history store" if args.history else " without it"
    pace = f"{args.max_pps:g} pps" if args.max_pps > 0 else "unpaced (like fping)"
    print(f"path {args.path}{store}, spacing {args.spacing:g} s, timeout {args.timeout:g} s, engine pace "
          f"{pace}, fping -i 0; medians of {args.reps} alternating runs\n")
    print("| targets × echoes | tool | targets/s | CPU s | whole process: targets/s | CPU s | replies "
          "| 127.0.0.1 RTT ms | load 1m |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    ratios: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            target_file = Path(tmp) / f"targets-{n}.txt"
            target_file.write_text("\n".join(targets(n)) + "\n")
            for count in args.counts:
                colds: list[Run] = []
                warms: list[Run] = []
                theirs: list[Run] = []
                for rep in range(args.reps):
                    for side in ("netmon", "fping") if rep % 2 == 0 else ("fping", "netmon"):
                        if side == "netmon":
                            cold, warm = engine_run(n, count, args, args.path)
                            colds.append(cold)
                            warms.append(warm)
                        else:
                            theirs.append(fping_run(n, count, args, target_file))
                peer = median_run(theirs)
                loads = [r.load for r in colds + theirs]
                for tool, run in ((f"netmon {args.path}, 1st sweep", median_run(colds)),
                                  (f"netmon {args.path}, 2nd sweep", median_run(warms)), ("fping", peer)):
                    print(f"| {n:,} × {count} | {tool} | {n / run.wall:,.0f} | {run.cpu:.3f} "
                          f"| {n / run.proc_wall:,.0f} | {run.proc_cpu:.3f} | {run.received:,}/{n * count:,} "
                          f"| {_ms(run.rtt_local)} | {min(loads):.1f}–{max(loads):.1f} |", flush=True)
                for which, ours in (("1st sweep", colds), ("2nd sweep", warms)):
                    mine = median_run(ours)
                    speed = [peer.wall / o.wall for o in ours]
                    ratios.append(
                        f"{n:,} × {count}, {which}: targets/s {peer.wall / mine.wall:.2f}× fping "
                        f"in-process (runs {min(speed):.2f}–{max(speed):.2f}), "
                        f"CPU {mine.cpu / peer.cpu:.2f}× in-process"
                        + (f"; the store's write of the sweep's sums {mine.write:.3f} s CPU "
                           f"({mine.write / n * 1e6:.1f} µs a check), "
                           f"with it {(mine.cpu + mine.write) / peer.cpu:.2f}×" if mine.write else ""))
                ratios.append(f"{n:,} × {count}, fping's own spread: wall {min(r.wall for r in theirs):.3f}–"
                              f"{max(r.wall for r in theirs):.3f} s, CPU {min(r.cpu for r in theirs):.3f}–"
                              f"{max(r.cpu for r in theirs):.3f} s")
                mine = median_run(colds)
                ratios.append(f"{n:,} × {count}, whole process (spawn, 1st sweep, exit): targets/s "
                              f"{peer.proc_wall / mine.proc_wall:.2f}× fping, "
                              f"CPU {mine.proc_cpu / peer.proc_cpu:.2f}×")
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
