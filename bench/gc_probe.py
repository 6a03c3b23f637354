"""`netmon` with its garbage collector watched, for ``bench/scale.py --gc``.

    python bench/gc_probe.py OUT.jsonl run --config ...      # then netmon's own arguments

Times every collection with ``gc.callbacks`` and appends one JSON line to OUT every `EVERY` seconds:
collections and pause seconds per generation so far, the longest pause since the previous line, objects
collected (freed
garbage: non-zero means cycles are being made), every young collection's pause since the previous line
(their distribution is the lag tail's: bench/README.md, Scale), pymalloc's allocated blocks and RSS.
Reading the process from inside costs a callback per collection and nothing else (no object walks).
"""

from __future__ import annotations

import gc
import json
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

EVERY = 2.0


class Watch:
    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.pause = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        #: Young (generation 0) pauses since the last report line, seconds.
        self.young: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation, took = info["generation"], time.perf_counter() - self._started
        self.count[generation] += 1
        self.pause[generation] += took
        self.longest[generation] = max(self.longest[generation], took)
        self.collected[generation] += info["collected"]
        if generation == 0:
            self.young.append(took)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(out: Path, watch: Watch) -> None:
    with out.open("a") as sink:
        while True:
            time.sleep(EVERY)
            young, watch.young = watch.young, []
            sink.write(json.dumps({"at": time.time(), "count": watch.count, "pause": watch.pause,
                                   "longest": watch.longest, "collected": watch.collected, "young": young,
                                   "blocks": sys.getallocatedblocks(), "rss": rss_mb()}) + "\n")
            sink.flush()
            watch.longest = [0.0, 0.0, 0.0]


def main() -> None:
    out = Path(sys.argv[1])
    watch = Watch()
    gc.callbacks.append(watch)
    threading.Thread(target=report, args=(out, watch), daemon=True).start()
    sys.argv = ["netmon", *sys.argv[2:]]
    runpy.run_module("netmon.cli", run_name="__main__")


if __name__ == "__main__":
    main()
