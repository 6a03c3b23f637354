"""The one interface of everything results flow into (Prometheus exposition, the history store).

A sink never probes and never reads the inventory: the service hands it each result as it comes
(`Sink.publish`), the inventory's facts as plain values whenever an inventory is installed — at start
and on every reload (`Sink.on_inventory`) — and stops it once, after the last result (`Sink.close`).
`netmon.facts` is the one place those facts are derived from an inventory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from exporters.history_outages import Topology
from probes.base import Result

#: Link type → {threshold name: value}.
Thresholds = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class InventoryFacts:
    """What sinks publish about the inventory, as plain values.

    ``owned`` are the keys of the checks this process runs (its shard); ``sites`` the label sets of
    ``netmon_site_info`` and ``links`` those of ``netmon_link_info`` (both empty on every shard but the
    first, so joins on ``site`` and ``(site, link)`` stay one-to-one); ``thresholds`` the link types'
    limits (also only on the first shard); ``histograms`` the owned checks whose observations (ICMP's
    per-echo RTT) are exported as histograms; ``topology`` hubs, maintenance windows and intervals.
    ``inventory`` is the model itself, opaque here: only application-level sinks (``netmon/``, e.g. the
    meeting-readiness board) read it, to derive views of their own.
    """

    owned: frozenset[str] = frozenset()
    sites: tuple[Mapping[str, str], ...] = ()
    thresholds: Thresholds = field(default_factory=dict)
    links: tuple[Mapping[str, str], ...] = ()
    histograms: frozenset[str] = frozenset()
    topology: Topology = field(default_factory=Topology)
    inventory: object = None


class Sink(Protocol):
    def publish(self, result: Result) -> None:
        """Take one result; called on the event loop for every run, so it must not block."""

    def on_inventory(self, facts: InventoryFacts) -> None:
        """Adopt a newly installed inventory's facts (start and every reload)."""

    def close(self) -> None:
        """Flush and release what the sink holds; no result follows. May block (run in a thread)."""
