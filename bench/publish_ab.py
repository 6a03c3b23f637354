"""`ResultCollector.publish` CPU, this tree's exporter against another version of it, alternating.

    git show REV:exporters/prometheus.py > /tmp/prometheus_old.py
    python bench/publish_ab.py /tmp/prometheus_old.py [--checks 20000] [--reps 6]

Both collectors publish the same N ICMP results (one 5-echo burst each, one echo lost, started
together like a sweep's, each with its own duration) twice; the
second pass is timed (process CPU), as in `netmon run` where every check's state already exists.
Prints the medians and their ratio. For a change to the exporter's per-run cost (issue 16: the
path from a Result to its /metrics text is part of the ICMP scheduler path, bench/icmp_sweep.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probes import icmp  # noqa: E402
from probes.base import Check  # noqa: E402


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="another version of exporters/prometheus.py")
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=6)
    args = parser.parse_args()
    modules = {"other": load(args.other, "_exporter_other"),
               "this": load(ROOT / "exporters" / "prometheus.py", "_exporter_this")}
    options = icmp.IcmpOptions()
    started = time.time()  # a sweep's: every check's the same, a duration of a few tenths of a second
    burst = icmp.measurements((0.010, 0.011, None, 0.012, 0.013))
    results = [Check(site=f"s{i}", id="icmp", probe="icmp", target=f"127.1.{i // 250}.{i % 250 + 1}",
                     options=options, link="primary").ok(started, burst, ended=started + 0.8 + i * 1e-5)
               for i in range(args.checks)]
    times: dict[str, list[float]] = {"other": [], "this": []}
    for rep in range(args.reps):
        for name in ("other", "this") if rep % 2 == 0 else ("this", "other"):
            collector = modules[name].ResultCollector(icmp.METRICS)
            for result in results:
                collector.publish(result)
            begin = time.process_time()
            for result in results:
                collector.publish(result)
            times[name].append(time.process_time() - begin)
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.3f} s CPU per {args.checks:,} publishes "
              f"(runs {min(values):.3f}–{max(values):.3f})")
    print(f"this / other: {statistics.median(times['this']) / statistics.median(times['other']):.2f}")


if __name__ == "__main__":
    main()
