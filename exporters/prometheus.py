"""Results become Prometheus series here, and only here.

A custom collector keeps the latest `Result` of each check (plus the running totals and histogram
buckets that span runs) and builds metric families at scrape time. So a removed check's series
disappear at the next scrape, a check that never ran has no series (not a fake 0), and a failed run
exports only what it really measured — never the previous run's values.

``publish`` runs on the event loop; ``collect`` runs in the HTTP server's thread. A lock guards the
state; ``collect`` works on a snapshot taken under it, so rendering never blocks probing for long.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from probes.base import Kind, MetricSpec, Result

log = logging.getLogger("netmon.exporter")

IDENTITY = ("site", "check", "probe", "target", "link")
SITE_INFO_LABELS = ("site", "name", "kind", "district", "link_type", "isp", "upstream", "lat", "lon")

_Series = tuple[str, tuple[tuple[str, str], ...]]  # (metric name, measurement labels)


@dataclass
class Buckets:
    """Cumulative histogram state with fixed bounds, cheap to update on the event loop."""

    bounds: tuple[float, ...]
    counts: list[int]
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    @classmethod
    def with_bounds(cls, bounds: Sequence[float]) -> Buckets:
        return cls(tuple(bounds), [0] * (len(bounds) + 1))

    def buckets(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


@dataclass
class _CheckState:
    latest: Result
    totals: dict[_Series, float] = field(default_factory=dict)
    histograms: dict[_Series, Buckets] = field(default_factory=dict)
    failures: dict[str, float] = field(default_factory=dict)


class ResultCollector(Collector):
    """Turns the stream of `Result` values into the metric contract of DESIGN.md."""

    def __init__(self, specs: Iterable[MetricSpec]):
        self._specs = {s.name: s for s in specs}
        self._lock = threading.Lock()
        self._checks: dict[str, _CheckState] = {}
        self._sites: tuple[Mapping[str, str], ...] = ()
        self._thresholds: dict[str, tuple[tuple[tuple[str, str], ...], Mapping[str, float]]] = {}
        self._unknown: set[str] = set()

    # -- fed by the application ------------------------------------------------------------------

    def publish(self, result: Result) -> None:
        """Record one result; called for every run of every check."""
        with self._lock:
            state = self._checks.get(result.key)
            if state is None or _identity(state.latest) != _identity(result):
                state = self._checks[result.key] = _CheckState(result)
            state.latest = result
            if result.reason:
                state.failures[result.reason] = state.failures.get(result.reason, 0.0) + 1
            for m in result.measurements:
                spec = self._specs.get(m.name)
                if spec is None:
                    if m.name not in self._unknown:
                        self._unknown.add(m.name)
                        log.warning("measurement %s has no MetricSpec; not exported", m.name)
                    continue
                if spec.kind is Kind.INCREMENT:
                    series = (m.name, m.labels)
                    state.totals[series] = state.totals.get(series, 0.0) + m.value
                elif spec.kind is Kind.OBSERVATION:
                    hist = state.histograms.get((m.name, m.labels))
                    if hist is None:
                        hist = Buckets.with_bounds(spec.buckets)
                        state.histograms[(m.name, m.labels)] = hist
                    hist.observe(m.value)

    def retain(self, keys: Iterable[str]) -> None:
        """Forget every check not in ``keys`` (after a reload removed it)."""
        wanted = set(keys)
        with self._lock:
            for key in [k for k in self._checks if k not in wanted]:
                del self._checks[key]
            for key in [k for k in self._thresholds if k not in wanted]:
                del self._thresholds[key]

    def set_sites(self, sites: Sequence[Mapping[str, str]]) -> None:
        """The static facts published as ``netmon_site_info``, one mapping per site."""
        with self._lock:
            self._sites = tuple(dict(s) for s in sites)

    def set_thresholds(self, thresholds: Mapping[str, tuple[Mapping[str, str], Mapping[str, float]]]) -> None:
        """Per-check limits (check key → (identity labels, {name: value})), joined by alert rules."""
        with self._lock:
            self._thresholds = {
                key: (tuple((k, ident[k]) for k in IDENTITY), dict(limits))
                for key, (ident, limits) in thresholds.items()
            }

    # -- read by prometheus_client ---------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic collector: no registration-time descriptions

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            states = [
                (s.latest, dict(s.totals), {k: (list(h.buckets()), h.total) for k, h in s.histograms.items()},
                 dict(s.failures))
                for s in self._checks.values()
            ]
            sites = self._sites
            thresholds = list(self._thresholds.values())
        yield from self._core(states)
        yield from self._measurements(states)
        yield self._site_info(sites)
        yield self._threshold_family(thresholds)

    def _core(self, states: list) -> Iterator[Metric]:
        success = GaugeMetricFamily("netmon_probe_success", "1 if the last run of the check succeeded.",
                                    labels=IDENTITY)
        duration = GaugeMetricFamily("netmon_probe_duration_seconds", "Duration of the last run.",
                                     labels=IDENTITY)
        last = GaugeMetricFamily("netmon_probe_last_run_timestamp_seconds",
                                 "Unix time the last run started.", labels=IDENTITY)
        failures = CounterMetricFamily("netmon_probe_failures", "Failed runs by reason.",
                                       labels=(*IDENTITY, "reason"))
        for result, _totals, _hists, reasons in states:
            ident = _identity(result)
            success.add_metric(ident, 1.0 if result.success else 0.0)
            duration.add_metric(ident, result.duration)
            last.add_metric(ident, result.started)
            for reason, count in reasons.items():
                failures.add_metric((*ident, reason), count)
        yield from (success, duration, last, failures)

    def _measurements(self, states: list) -> Iterator[Metric]:
        families: dict[str, Any] = {}

        def family(spec: MetricSpec) -> Any:
            if spec.name not in families:
                labels = (*IDENTITY, *spec.labels)
                if spec.kind in (Kind.COUNTER, Kind.INCREMENT):
                    families[spec.name] = CounterMetricFamily(spec.name, spec.help, labels=labels)
                elif spec.kind is Kind.OBSERVATION:
                    families[spec.name] = HistogramMetricFamily(spec.name, spec.help, labels=labels)
                else:
                    families[spec.name] = GaugeMetricFamily(spec.name, spec.help, labels=labels)
            return families[spec.name]

        for result, totals, hists, _reasons in states:
            ident = _identity(result)
            for m in result.measurements:
                spec = self._specs.get(m.name)
                if spec is None or spec.kind in (Kind.INCREMENT, Kind.OBSERVATION):
                    continue
                value = 1.0 if spec.kind is Kind.INFO else m.value
                family(spec).add_metric((*ident, *_label_values(spec, m.labels)), value)
            for (name, labels), total in totals.items():
                spec = self._specs[name]
                family(spec).add_metric((*ident, *_label_values(spec, labels)), total)
            for (name, labels), (buckets, total) in hists.items():
                spec = self._specs[name]
                hist = family(spec)
                assert isinstance(hist, HistogramMetricFamily)
                hist.add_metric([*ident, *_label_values(spec, labels)], buckets, total)
        yield from families.values()

    def _site_info(self, sites: Sequence[Mapping[str, str]]) -> Metric:
        info = GaugeMetricFamily("netmon_site_info", "Static facts about a site; always 1. Join on site.",
                                 labels=SITE_INFO_LABELS)
        for site in sites:
            info.add_metric([site.get(label, "") for label in SITE_INFO_LABELS], 1.0)
        return info

    def _threshold_family(self, thresholds: list) -> Metric:
        family = GaugeMetricFamily(
            "netmon_check_threshold",
            "Limit of the link type a check measures (rtt/jitter in seconds, loss as a ratio).",
            labels=(*IDENTITY, "threshold"),
        )
        for ident, limits in thresholds:
            values = [v for _, v in ident]
            for name, value in sorted(limits.items()):
                family.add_metric([*values, name], value)
        return family


def _identity(result: Result) -> tuple[str, ...]:
    return (result.site, result.check, result.probe, result.target, result.link)


def _label_values(spec: MetricSpec, labels: tuple[tuple[str, str], ...]) -> list[str]:
    given = dict(labels)
    return [given.get(name, "") for name in spec.labels]
