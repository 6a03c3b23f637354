"""Child processes for the kill -9 tests, on the history writer alone.

``PATH``: writes batches forever, printing each committed batch number.
``PATH lag``: the scenario day's runs 0-1899 committed (`HistoryWriter.flush`), then runs 1900-2005
published and not flushed: ban-b's and hub-x's outages open at run 2001 and are committed within
``flush_every``; the rollups and spans of runs 1900-2005 wait for ``rollup_every`` (an hour here). Prints
``published`` and sleeps until killed.
"""

from __future__ import annotations

import sys
import time

from exporters.history import HistoryWriter
from tests.exporters.history_scenario import TOPOLOGY, icmp, results

BATCH = 2000
#: The lag scenario: runs before COMMITTED are flushed, runs from it to PUBLISHED only published.
COMMITTED, PUBLISHED = 1900, 2006


def batches(path: str) -> None:
    writer = HistoryWriter(path, flush_every=0.01)
    writer.start()
    k = 0
    for batch in range(10**9):
        for _ in range(BATCH):
            writer.publish(icmp("ban-a", k % 2880))
            k += 1
        writer.flush()
        print(batch + 1, flush=True)


def lag(path: str) -> None:
    writer = HistoryWriter(path, TOPOLOGY, flush_every=0.01, rollup_every=3600)
    writer.start()
    day = results()  # three results a run, in time order, until run 2500's UPS reading
    for r in day[:3 * COMMITTED]:
        writer.publish(r)
    writer.flush()
    for r in day[3 * COMMITTED:3 * PUBLISHED]:
        writer.publish(r)
    print("published", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    (lag if sys.argv[2:] == ["lag"] else batches)(sys.argv[1])
