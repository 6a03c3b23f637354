"""``--watch``: rerun the plan every few seconds and redraw a live table, like mtr.

Each row shows the last figure, the average so far and the loss over every echo sent since the
start, so a flapping 4G link shows up as growing loss rather than as one lucky run. No trace in this
mode (a trace takes seconds and the table would freeze); run without ``--watch`` to trace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from netmon.diagnose import render, session
from netmon.diagnose.diagnosis import Diagnosis
from netmon.diagnose.plan import Plan
from netmon.i18n import Lang, text
from probes.icmp import LOSS, RECEIVED, RTT_MEDIAN, SENT
from probes.wording import ms

CLEAR = "\x1b[H\x1b[2J"

CATALOG: dict[str, tuple[str, str]] = {
    "title": ("{what} — round {n}, every {every:g}s — Ctrl-C to stop",
              "{what} — lượt {n}, mỗi {every:g}s — Ctrl-C để dừng"),
    "budget_stop": ("stopped: the probe budget of a metered link allows no more rounds today",
                    "dừng: ngân sách đo của đường truyền tính cước không cho phép thêm lượt hôm nay"),
}


@dataclass
class Stats:
    """Running figures for one row across rounds."""

    runs: int = 0
    failures: int = 0
    sent: float = 0.0
    received: float = 0.0
    rtts: list[float] = field(default_factory=list)

    def add(self, o: session.Outcome) -> None:
        self.runs += 1
        self.failures += int(not o.result.success)
        sent, received = o.result.value(SENT), o.result.value(RECEIVED)
        if sent is not None and received is not None:
            self.sent += sent
            self.received += received
        rtt = o.result.value(RTT_MEDIAN)
        if rtt is not None:
            self.rtts.append(rtt)

    def cell(self, o: session.Outcome, lang: Lang) -> str:
        if self.sent and self.rtts:
            loss = 1 - self.received / self.sent
            average = sum(self.rtts) / len(self.rtts)
            return f"{ms(self.rtts[-1])} ~{ms(average)} {loss * 100:.0f}%"
        if o.result.value(LOSS) is None and self.runs > 1:
            return f"{render.measured(o, lang)} {self.runs - self.failures}/{self.runs}"
        return render.measured(o, lang)


async def watch(plan: Plan, every: float, out: TextIO, lang: Lang, title: str,
                diagnose: Callable[[session.Report], Diagnosis], max_rounds: int | None = None) -> int:
    """Run rounds until cancelled (Ctrl-C) or ``max_rounds`` is reached; returns rounds run."""
    stats = [Stats() for _ in plan.rows]
    color = render.use_color(out)
    tty = out.isatty()
    n = 0
    while max_rounds is None or n < max_rounds:
        begin = time.monotonic()
        report = await session.run(plan, trace=False, progress=session.Progress(enabled=False))
        n += 1
        for s, o in zip(stats, report.outcomes, strict=True):
            s.add(o)
        cells = {i: s.cell(o, lang) for i, (s, o) in enumerate(zip(stats, report.outcomes, strict=True))}
        lines = [render.fit(text(CATALOG, "title", lang, what=title, n=n, every=every), render.WIDTH - 1),
                 "", *render.table(report.outcomes, lang, color, cells), "",
                 render.verdict_line(report, diagnose(report), lang, color)]
        render.write(out, (CLEAR if tty else "\n") + "\n".join(line.rstrip() for line in lines) + "\n")
        await asyncio.sleep(max(0.0, every - (time.monotonic() - begin)))
    if max_rounds is not None:
        render.write(out, text(CATALOG, "budget_stop", lang) + "\n")
    return n
