"""Verdicts: one `Result` judged ok / degraded / down, with the cause and the figures that decided it.

Each probe type declares how its results are judged (`probes.base.ProbeType.judge`); this module holds
the vocabulary they share. Limits come from the link type's thresholds in the inventory (a VSAT link
at 600 ms is normal, fiber at 600 ms is broken) and, when the history store knows the site, from its
own baseline: a fiber link that usually answers in 4 ms and now takes 40 ms is degraded even though
40 ms is under the fiber limit. A baseline can only ever make a verdict worse by one step (to
degraded), never call a link down — the thresholds alone decide "down", so a bad history cannot hide
or invent an outage.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # base imports this module at run time
    from probes.base import Result

#: Baseline rule: degraded when RTT exceeds both this multiple of the usual median and the margin below.
BASELINE_FACTOR = 3.0
BASELINE_MARGIN_SECONDS = 0.020


class Verdict(enum.IntEnum):
    """The value is also the process exit code (3 is taken by usage and configuration errors).

    UNKNOWN is "cannot measure" (the probe could not run, e.g. no ICMP permission): it says nothing
    about the link, so it ranks below anything actually measured wrong — use `rank`/`worst`, not ``max``.
    """

    OK = 0
    DEGRADED = 1
    DOWN = 2
    UNKNOWN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def worst(verdicts: Iterable[Verdict]) -> Verdict:
        return max(verdicts, key=lambda v: v.rank, default=Verdict.OK)


_RANK = {Verdict.OK: 0, Verdict.UNKNOWN: 1, Verdict.DEGRADED: 2, Verdict.DOWN: 3}


class Limits(Protocol):
    """A link type's limits, as the inventory's thresholds carry them (seconds and ratios 0-1)."""

    @property
    def rtt_degraded(self) -> float: ...
    @property
    def rtt_down(self) -> float: ...
    @property
    def loss_degraded(self) -> float: ...
    @property
    def loss_down(self) -> float: ...
    @property
    def jitter_degraded(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is normal for one check of one site, from the history store's daily rollups."""

    rtt_median: float | None
    loss: float | None
    days: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict. ``cause`` is a stable key (``loss``, ``latency``, ``timeout``, ``http_5xx``...)
    used by the diagnosis and in ``--json``; ``figure`` is the measured value behind it and ``limit``
    the threshold it crossed (same unit), both None when the cause is a plain failure. For
    ``on_battery`` the figure is the battery runtime left (seconds).
    """

    verdict: Verdict
    cause: str | None = None
    figure: float | None = None
    limit: float | None = None
    #: For a ratio estimated from a sample (loss from a burst): its `CONFIDENCE` interval, so the output
    #: can say how sure the figure is.
    interval: tuple[float, float] | None = None


#: The confidence of every interval a verdict states.
CONFIDENCE = 0.95

OK = Finding(Verdict.OK)


def judge_plainly(result: Result, limits: Limits | None = None, baseline: Baseline | None = None) -> Finding:
    """The judgement of a probe that declares none: a failure is down with its reason, a success ok."""
    return OK if result.success else Finding(Verdict.DOWN, result.reason or "error")


def latency(rtt: float | None, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """A round-trip time against the link's limits, then against the check's own usual median."""
    if rtt is None:
        return OK
    if limits and rtt >= limits.rtt_down:
        return Finding(Verdict.DOWN, "latency", rtt, limits.rtt_down)
    if limits and rtt >= limits.rtt_degraded:
        return Finding(Verdict.DEGRADED, "latency", rtt, limits.rtt_degraded)
    usual = baseline.rtt_median if baseline else None
    if usual is not None and rtt > usual * BASELINE_FACTOR and rtt - usual > BASELINE_MARGIN_SECONDS:
        return Finding(Verdict.DEGRADED, "latency_vs_baseline", rtt, usual)
    return OK
