"""What a report is computed from, whichever source it comes from (the SQLite store or Prometheus).

A `Source` answers three questions for a time range: what each run measured, as observed spans up or
down (`SampleSpan`, availability and coverage come from these), which outages happened
(`OutageEvent`), and what the rollups say per site and link (`Rollup`: runs, successes, RTT
histogram, loss, jitter). The availability maths in `netmon.report.compute` only sees these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from exporters.history_outages import Window
from exporters.history_rollup import RunSums, percentile
from exporters.history_samples import SampleSpan


@dataclass(frozen=True, slots=True)
class LinkInfo:
    id: str
    type: str
    isp: str
    since: date
    role: str


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """A center as the inventory describes it (plain values, so sources need not parse YAML)."""

    slug: str
    name: str
    kind: str
    district: str
    upstream: str
    lat: float | None
    lon: float | None
    links: tuple[LinkInfo, ...]

    @property
    def primary(self) -> LinkInfo:
        return next((lk for lk in self.links if lk.role == "primary"), self.links[0])

    def link(self, link_id: str) -> LinkInfo | None:
        return next((lk for lk in self.links if lk.id == link_id), None)


@dataclass(frozen=True, slots=True)
class OutageEvent:
    site: str
    link: str
    start: float
    end: float | None
    cause: str


@dataclass(slots=True, kw_only=True)
class Rollup(RunSums):
    """A period's `RunSums` and each day's loss; `merge` makes group rows from site rows."""

    daily_loss: list[float] = field(default_factory=list)

    def merge(self, other: Rollup) -> None:
        RunSums.merge(self, other)
        self.daily_loss.extend(other.daily_loss)

    def rtt_p(self, q: float) -> float | None:
        return percentile(self.rtt, q)

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.loss_n if self.loss_n else None

    @property
    def loss_p95(self) -> float | None:
        if not self.daily_loss:
            return None
        ordered = sorted(self.daily_loss)
        return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]

    @property
    def jitter(self) -> float | None:
        return self.jitter_sum / self.jitter_n if self.jitter_n else None


class Source(Protocol):
    def outages(self, start: float, end: float) -> list[OutageEvent]:
        """Outages of every subject that overlap ``[start, end)`` (open ones have ``end`` None)."""
        ...

    def rollups(self, start: float, end: float) -> dict[tuple[str, str], Rollup]:
        """ICMP rollups per (site, link) plus the site's total runs under (site, "*")."""
        ...

    def samples(self, start: float, end: float) -> list[SampleSpan]:
        """Observed spans of every reachability check that overlap ``[start, end)``."""
        ...

    def maintenance(self) -> list[Window]: ...
