"""Benchmark: the history store's own CPU per Result in steady state, as `netmon run` pays it.

    python -m bench.history_steady [--checks 20000] [--intervals 6] [--interval 30]

``--checks`` ICMP checks (3 echoes each, 13 measurements, RTTs in a few buckets) run every ``--interval``
seconds; each interval's Results are published in slots of interval/300 of the checks (`netmon run`'s
100 ms slots at 30 s), and the store's write of sums and spans (`HistoryWriter.rollup_every`, 60 s) is
forced once per 60 s of Results (`HistoryWriter.flush`), so the figure is the fold on the event loop
plus the share of the minute's write. No network, no scheduler: the store alone. Process CPU (both
threads) per Result, median over the intervals after the first write (the first minute creates every
check's span and rows), and the young collections the store set off in those intervals (the Results
are built outside them; the GC's thresholds are `netmon run`'s, and what is alive after the first
minute is frozen, as `netmon run` freezes every check's state once each has run). Run it in two
trees, alternately, to compare them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exporters.history import HistoryWriter
from probes import icmp
from probes.base import Measurement, Result


def result(i: int, started: float) -> Result:
    rtt = 0.00004 + (i % 50) * 1e-5
    ms = (*(Measurement(icmp.RTT, rtt) for _ in range(3)), Measurement(icmp.LOSS, 0.0),
          Measurement(icmp.RTT_MIN, rtt), Measurement(icmp.RTT_MEDIAN, rtt), Measurement(icmp.RTT_AVG, rtt),
          Measurement(icmp.RTT_MAX, rtt), Measurement(icmp.RTT_STDDEV, 1e-6), Measurement(icmp.JITTER, 1e-6),
          Measurement("netmon_icmp_packets_sent_total", 3.0),
          Measurement("netmon_icmp_packets_received_total", 3.0),
          Measurement("netmon_probe_duration_seconds", 0.2))
    return Result(f"s{i}", "icmp", "icmp", "127.0.0.1", "", True, started, 0.2, measurements=ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--intervals", type=int, default=6)
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args()
    n, per_write = args.checks, max(1, round(60 / args.interval))
    slot = max(1, round(n / 300))
    with tempfile.TemporaryDirectory() as tmp:
        writer = HistoryWriter(Path(tmp) / "history.db")
        writer.start()
        # every run inside one hour, as most are, and each ``--interval`` after the check's last: runs
        # further apart leave a gap, so each would open a new sample span (a row insert), as no steady
        # check does
        hour = time.time() // 3600 * 3600
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)  # as `netmon run` (netmon.service.GC_THRESHOLDS)
        young = Young()
        gc.callbacks.append(young)
        cpu = []
        for k in range(args.intervals):
            results = [result(i, hour + 1 + k * args.interval) for i in range(n)]
            if k == per_write:
                gc.freeze()
            young.counting = k >= per_write
            began = time.process_time()
            for j in range(0, n, slot):
                for r in results[j:j + slot]:
                    writer.publish(r)
            if k % per_write == per_write - 1:
                writer.flush(timeout=600)
            cpu.append(time.process_time() - began)
            young.counting = False
        writer.close()
    minutes = [sum(cpu[i:i + per_write]) for i in range(per_write, len(cpu) - per_write + 1, per_write)]
    print(f"{n:,} checks every {args.interval:g} s, a write every {per_write} interval(s): "
          f"{statistics.median(minutes) / (per_write * n) * 1e6:.2f} µs of CPU a Result "
          f"(intervals: {', '.join(f'{c:.3f}' for c in cpu)} s); young collections "
          f"{young.count / len(minutes):.1f} a minute")


class Young:
    """Counts the young (generation 0) collections that start while ``counting``."""

    def __init__(self) -> None:
        self.counting = False
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if self.counting and phase == "start" and info["generation"] == 0:
            self.count += 1


if __name__ == "__main__":
    main()
