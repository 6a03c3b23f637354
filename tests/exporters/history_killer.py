"""Child process for the kill -9 test: writes batches forever, printing each committed batch number."""

from __future__ import annotations

import sys

from exporters.history import HistoryWriter
from tests.exporters.history_scenario import icmp

BATCH = 2000

if __name__ == "__main__":
    writer = HistoryWriter(sys.argv[1], flush_every=0.01)
    writer.start()
    k = 0
    for batch in range(10**9):
        for _ in range(BATCH):
            writer.publish(icmp("ban-a", k % 2880))
            k += 1
        writer.flush()
        print(batch + 1, flush=True)
