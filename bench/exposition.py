"""/metrics for N ICMP checks: netmon's cached text and gzip against prometheus_client's generic path.

    python bench/exposition.py [--checks 20000] [--reps 5]

Fills a `ResultCollector` with N checks' results (one 5-echo burst each, one echo lost: every ICMP
family present), then alternates, ``--reps`` times each:
- netmon: ``render_text()`` (the cached blocks the HTTP server writes) and `gzip_chunks` over them, as
  `netmon.httpserver` serves ``Accept-Encoding: gzip``;
- peer: prometheus_client's ``generate_latest`` over the same collector's ``collect()`` (the samples of
  the same `_samples`), then ``gzip.compress`` as its own handler does.
Prints medians, sizes and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, generate_latest

from exporters.prometheus import ResultCollector
from netmon.httpserver import gzip_chunks
from probes import base, icmp


def filled(checks: int) -> tuple[ResultCollector, float]:
    """A collector holding ``checks`` ICMP results, and the seconds ``publish`` took for all of them."""
    collector = ResultCollector(s for p in base.registry().values() for s in p.metrics)
    found = tuple(icmp.measurements((0.010, 0.011, None, 0.012, 0.0105)))
    results = [base.Result(f"site-{i // 4}", f"icmp-{i % 4}", "icmp", f"198.18.{i >> 8 & 255}.{i & 255}",
                           "primary", True, 1.0, 1.0, measurements=found) for i in range(checks)]
    begin = time.perf_counter()
    for result in results:
        collector.publish(result)
    return collector, time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    collector, publish = filled(args.checks)
    registry = CollectorRegistry()
    registry.register(collector)
    ours: dict[str, list[float]] = {"render": [], "gzip": []}
    peer: dict[str, list[float]] = {"render": [], "gzip": []}
    sizes: dict[str, int] = {}
    for _ in range(args.reps):
        begin = time.perf_counter()
        chunks = collector.render_text()
        ours["render"].append(time.perf_counter() - begin)
        begin = time.perf_counter()
        packed = gzip_chunks(chunks)
        ours["gzip"].append(time.perf_counter() - begin)
        sizes |= {"netmon text": sum(map(len, chunks)), "netmon gzip": sum(map(len, packed))}

        begin = time.perf_counter()
        text = generate_latest(registry)
        peer["render"].append(time.perf_counter() - begin)
        begin = time.perf_counter()
        squeezed = gzip.compress(text)
        peer["gzip"].append(time.perf_counter() - begin)
        sizes |= {"peer text": len(text), "peer gzip": len(squeezed)}
    print(f"{args.checks} ICMP checks; publish of all: {publish:.2f} s; "
          f"medians of {args.reps} alternating runs")
    print("| path | render s | gzip s | text MB | gzip MB | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = (("netmon (cached text, gzip level 1)", ours),
            ("prometheus_client (generate_latest, gzip 9)", peer))
    for name, times in rows:
        key = "netmon" if name.startswith("netmon") else "peer"
        text_mb, gzip_mb = sizes[f"{key} text"] / 1e6, sizes[f"{key} gzip"] / 1e6
        render, packing = statistics.median(times["render"]), statistics.median(times["gzip"])
        print(f"| {name} | {render:.2f} | {packing:.2f} "
              f"| {text_mb:.1f} | {gzip_mb:.2f} | {text_mb / gzip_mb:.0f}× |")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
