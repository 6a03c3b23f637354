"""A check's running totals as a value: failed runs by reason, per-run increments, histogram buckets.

`netmon run` keeps these in its exporter's memory (`exporters.prometheus`) and Prometheus scrapes the
latest. An edge agent's results reach Prometheus later, by remote-write at their own timestamps, live
ones ahead of the backlog: a sum formed where they arrive would be out of order. So the agent counts
itself, in the order it commits (its sequence numbers), and each committed result carries its check's
totals *after* it (`Totals.add`); the central side writes those as counter samples at the result's
timestamp (`exporters.remote_write`), under the names `netmon run` exports. The agent keeps the latest
`Totals` of each check in its buffer's file, in the same transaction as the result, so a restart or a
kill -9 continues the count instead of resetting it (netmon/agent/buffer.py).

The same rules as the exporter's: a failure counts under its reason; an ``increment`` measurement adds
to the series of its name and labels; an ``observation`` falls into its spec's bucket (``le`` bounds,
`bisect_left`) only for checks that export histograms. Plain tuples and dicts of str/float: JSON both
in the buffer and on the wire.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes.base import Kind, MetricSpec, Result

Labels = tuple[tuple[str, str], ...]
#: (measurement name, its labels): one counter or histogram series of a check.
Series = tuple[str, Labels]


@dataclass(frozen=True)
class Totals:
    """One check's cumulative counts once a given result of it is counted."""

    #: The check's identity labels (site, check, probe, target, link): a new identity starts at zero,
    #: as the exporter starts a new series.
    identity: tuple[str, ...]
    #: Failed runs by reason.
    failures: Mapping[str, float] = field(default_factory=dict)
    #: Running sums of ``increment`` measurements.
    increments: Mapping[Series, float] = field(default_factory=dict)
    #: Per-bucket counts (not cumulative, ``+Inf`` last) and the sum of the observations.
    histograms: Mapping[Series, tuple[tuple[int, ...], float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.failures or self.increments or self.histograms)

    def add(self, result: Result, specs: Mapping[str, MetricSpec], histogram: bool) -> Totals:
        """These totals with ``result`` counted (a fresh start if ``result`` is another identity)."""
        identity = identity_of(result)
        base = self if identity == self.identity else Totals(identity)
        failures, increments = dict(base.failures), dict(base.increments)
        histograms = dict(base.histograms)
        if result.reason:
            failures[result.reason] = failures.get(result.reason, 0.0) + 1
        for m in result.measurements:
            spec = specs.get(m.name)
            series = (m.name, m.labels)
            if spec is None:
                continue
            if spec.kind is Kind.INCREMENT:
                increments[series] = increments.get(series, 0.0) + m.value
            elif spec.kind is Kind.OBSERVATION and histogram:
                counts, total = histograms.get(series) or ((0,) * (len(spec.buckets) + 1), 0.0)
                i = bisect.bisect_left(spec.buckets, m.value)
                histograms[series] = ((*counts[:i], counts[i] + 1, *counts[i + 1:]), total + m.value)
        return Totals(identity, failures, increments, histograms)

    def dump(self) -> dict[str, Any]:
        """The wire form (JSON), without the identity: a result carries it already."""
        out: dict[str, Any] = {}
        if self.failures:
            out["f"] = dict(self.failures)
        if self.increments:
            out["i"] = [[name, [list(p) for p in labels], value]
                        for (name, labels), value in self.increments.items()]
        if self.histograms:
            out["h"] = [[name, [list(p) for p in labels], list(counts), total]
                        for (name, labels), (counts, total) in self.histograms.items()]
        return out

    @classmethod
    def load(cls, data: Mapping[str, Any], identity: tuple[str, ...]) -> Totals:
        """`dump`'s inverse; malformed data raises ValueError, KeyError or TypeError."""

        def labels(pairs: Any) -> Labels:
            return tuple((str(k), str(v)) for k, v in pairs)

        return cls(
            identity,
            {str(reason): float(n) for reason, n in dict(data.get("f") or {}).items()},
            {(str(name), labels(pairs)): float(value) for name, pairs, value in data.get("i") or ()},
            {(str(name), labels(pairs)): (tuple(int(c) for c in counts), float(total))
             for name, pairs, counts, total in data.get("h") or ()},
        )


def identity_of(result: Result) -> tuple[str, ...]:
    return (result.site, result.check, result.probe, result.target, result.link)
