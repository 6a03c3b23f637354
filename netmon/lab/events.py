"""The lab's ground truth: every change it makes to the simulated province, as a JSON-lines log.

The daemon appends one line per event to ``events.jsonl`` in its state directory, stamped with the
wall clock (unix seconds) at the moment the change took effect in the kernel or the agent:

- ``{"kind": "start", "scenario": PATH}`` — the daemon came up;
- ``{"kind": "link", "target": "SITE/LINK", "down": bool}`` and ``{"kind": "hub", "target": HUB,
  "down": bool}`` — a carrier went down or came back, whether a scenario schedule (flap, outage), a
  `netmon lab set` or a `netmon lab reset` caused it;
- ``{"kind": "loss", "target": ADDRESS, "ratio": float}`` — the loss toward a destination changed;
- ``{"kind": "battery", "target": "SITE/DEVICE", "on": bool}`` and ``{"kind": "reboot", "target": ...}``;
- ``{"kind": "set", "target": ..., "values": {...}}`` and ``{"kind": "reset"}`` — the requests themselves.

A test or benchmark reads it back (`read`, `down_spans`) and compares what netmon reported with what
was injected: the lab is the oracle (`netmon.lab.oracle`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

FILE = "events.jsonl"


class EventLog:
    """Append-only writer; each line is flushed at once so a reader sees every event that happened."""

    def __init__(self, state: Path) -> None:
        self.path = state / FILE
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the daemon

    def write(self, kind: str, **fields: Any) -> None:
        self._file.write(json.dumps({"t": time.time(), "kind": kind, **fields}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read(state: Path) -> list[dict[str, Any]]:
    path = state / FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def down_spans(
    events: list[dict[str, Any]], kind: str, target: str, until: float
) -> list[tuple[float, float]]:
    """When ``target`` (a link key or hub id) was down, as spans; one still down ends at ``until``."""
    out: list[tuple[float, float]] = []
    since: float | None = None
    for e in events:
        if e["kind"] != kind or e["target"] != target:
            continue
        if e["down"] and since is None:
            since = e["t"]
        elif not e["down"] and since is not None:
            out.append((since, e["t"]))
            since = None
    if since is not None:
        out.append((since, until))
    return out
