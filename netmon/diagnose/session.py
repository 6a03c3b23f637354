"""Run a plan once: every check concurrently through `run_check`, then a path trace for failed links.

Progress goes to stderr while slow checks run (ICMP bursts, HTTP on a VSAT link, traces take
seconds), and only on a terminal, so pipes and ``--json`` stay clean.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from netmon.diagnose import path as paths
from netmon.diagnose.plan import Plan, Row
from netmon.inventory.model import InventoryFile
from netmon.runner import run_check
from probes.base import Result, judge
from probes.verdict import Finding, Verdict

#: Show progress only when a run takes longer than this, so quick runs do not flicker.
PROGRESS_AFTER = 0.4


@dataclass(frozen=True, slots=True)
class Outcome:
    row: Row
    result: Result
    finding: Finding


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one run found; rendering, JSON and the diagnosis all read this."""

    plan: Plan
    outcomes: tuple[Outcome, ...]
    paths: tuple[paths.PathView, ...]
    started: float
    duration: float

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(o.finding.verdict for o in self.outcomes)


class Progress:
    """A one-line status on a terminal's stderr: checks done / total and what is still running."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.shown = False

    def update(self, done: int, total: int, waiting: list[str]) -> None:
        if not self.enabled or time.monotonic() - self.start < PROGRESS_AFTER:
            return
        line = f"{done}/{total} done, waiting for {', '.join(waiting)}" if waiting else f"{done}/{total} done"
        self.stream.write("\r\x1b[K" + line[:79])
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


async def run(plan: Plan, spec: InventoryFile | None = None, trace: bool = True,
              progress: Progress | None = None) -> Report:
    """Run every row of ``plan`` at once; trace the links whose site checks are down."""
    started, begin = time.time(), time.monotonic()
    progress = progress or Progress(enabled=False)
    tasks = {asyncio.create_task(run_check(r.check)): r for r in plan.rows}
    outcomes: dict[int, Outcome] = {}
    pending = set(tasks)
    try:
        while pending:
            progress.update(len(tasks) - len(pending), len(tasks),
                            [tasks[t].check.id for t in pending][:4])
            done, pending = await asyncio.wait(pending, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                row = tasks[task]
                result = task.result()
                outcomes[plan.rows.index(row)] = Outcome(row, result, judge(result, row.limits, row.baseline))
    finally:
        for task in pending:
            task.cancel()
    ordered = tuple(outcomes[i] for i in sorted(outcomes))
    traced: list[paths.PathView] = []
    # A trace needs the same raw ICMP socket an echo check found missing: no point, and no noise.
    blind = any(o.finding.verdict is Verdict.UNKNOWN for o in ordered)
    if trace and not blind and spec is not None and plan.place and plan.place.site and paths.available():
        traced = await _trace_failed(plan, spec, ordered, progress)
    progress.clear()
    return Report(plan, ordered, tuple(traced), started, time.monotonic() - begin)


async def _trace_failed(plan: Plan, spec: InventoryFile, outcomes: tuple[Outcome, ...],
                        progress: Progress) -> list[paths.PathView]:
    site = plan.place.site if plan.place else None
    assert site is not None
    down = [lk for lk in site.links
            if any(o.row.role == "site" and o.row.check.link == lk.id and o.finding.verdict is Verdict.DOWN
                   for o in outcomes)]
    if not down:
        return []
    progress.update(len(outcomes), len(outcomes), [f"trace {lk.id}" for lk in down])
    names = paths.directory(spec)
    return list(await asyncio.gather(*(
        paths.trace(lk.cpe, names, lk.id, paths.expected(spec, site, lk.id), site.slug) for lk in down)))
