"""Results become Prometheus series here, and only here.

A custom collector keeps what it needs of the latest `Result` of each check (plus the running totals
and histogram buckets that span runs) and builds metric families at scrape time. So a removed check's series
disappear at the next scrape, a check that never ran has no series (not a fake 0), and a failed run
exports only what it really measured — never the previous run's values.

``publish`` runs on the event loop; ``collect`` and ``render_text`` run in the HTTP server's thread. A
lock guards the state; readers work on a snapshot taken under it, so a scrape never blocks probing
for long.

Two ways out. ``collect`` builds prometheus_client metric families (OpenMetrics, tests, anything
generic). ``render_text`` serves the text format 0.0.4 fast: ``publish`` renders each check's lines
once per run, per family, into a per-family index (family → check → block), so a scrape copies one
list per family under the lock and writes the cached blocks as they are. prometheus_client's
generic path took 24 s to render 20,000 ICMP checks (about 800,000 samples); see bench/README.md.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporters.sink import InventoryFacts
from probes.base import Kind, MetricSpec, Result

log = logging.getLogger("netmon.exporter")

IDENTITY = ("site", "check", "probe", "target", "link")
SITE_INFO_LABELS = ("site", "name", "kind", "district", "link_type", "isp", "upstream", "lat", "lon")

_Series = tuple[str, tuple[tuple[str, str], ...]]  # (metric name, measurement labels)
#: The core families every run exports, with their text-format type and help.
CORE = (
    ("netmon_probe_success", "gauge", "1 if the last run of the check succeeded."),
    ("netmon_probe_duration_seconds", "gauge", "Duration of the last run."),
    ("netmon_probe_last_run_timestamp_seconds", "gauge", "Unix time the last run started."),
    ("netmon_probe_failures", "counter", "Failed runs by reason."),
)
FAILURES = CORE[3][0]
SITE_INFO = ("netmon_site_info", "gauge", "Static facts about a site; always 1. Join on site.")
THRESHOLD = ("netmon_check_threshold", "gauge",
             "Limit of the link type a check measures (rtt/jitter in seconds, loss as a ratio).")


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
        return _cumulative(self.bounds, self.counts)


class _Latest(NamedTuple):
    """What a scrape needs from a check's last `Result`, as plain values.

    Only tuples of strings and floats: the cyclic GC untracks such tuples, so 20,000 checks' state
    costs a full collection nothing. Keeping the `Result` itself (with its ~15 `Measurement` objects,
    always tracked) made every full collection walk 300,000 more objects and stall the loop ~0.5 s.
    """

    identity: tuple[str, ...]
    success: bool
    duration: float
    started: float
    #: (name, measurement labels, value) of every gauge, counter and info measurement.
    values: tuple[tuple[str, tuple[tuple[str, str], ...], float], ...]


class _CheckState:
    """One check's exported state; every field holds plain values (see `_Latest`)."""

    __slots__ = ("failures", "histograms", "latest", "totals")

    def __init__(self, latest: _Latest):
        self.latest = latest
        self.totals: dict[_Series, float] = {}
        #: Histogram series → (per-bucket counts, not cumulative; sum of observations).
        self.histograms: dict[_Series, tuple[tuple[int, ...], float]] = {}
        self.failures: dict[str, float] = {}


class ResultCollector(Collector):
    """Turns the stream of `Result` values into the metric contract of DESIGN.md."""

    def __init__(self, specs: Iterable[MetricSpec]):
        self._specs = {s.name: s for s in specs}
        self._lock = threading.Lock()
        self._checks: dict[str, _CheckState] = {}
        self._sites: tuple[Mapping[str, str], ...] = ()
        self._thresholds: dict[str, tuple[tuple[tuple[str, str], ...], Mapping[str, float]]] = {}
        self._unknown: set[str] = set()
        self._headers = {name: _header(name, kind, help_) for name, kind, help_ in CORE}
        for spec in self._specs.values():
            self._headers.setdefault(spec.name, _header(spec.name, _TEXT_TYPES[spec.kind], spec.help))
        #: Family name → check key → that check's text-format lines of the family, as of its last publish.
        self._text: dict[str, dict[str, bytes]] = {name: {} for name in self._headers}
        self._site_text = b""
        self._threshold_text: dict[str, bytes] = {}

    # -- fed by the application ------------------------------------------------------------------

    def publish(self, result: Result) -> None:
        """Record one result; called for every run of every check."""
        latest = self._latest(result)
        with self._lock:
            state = self._checks.get(result.key)
            if state is None or state.latest.identity != latest.identity:
                state = self._checks[result.key] = _CheckState(latest)
            state.latest = latest
            if result.reason:
                state.failures[result.reason] = state.failures.get(result.reason, 0.0) + 1
            for m in result.measurements:
                spec = self._specs.get(m.name)
                if spec is None:
                    continue
                series = (m.name, m.labels)
                if spec.kind is Kind.INCREMENT:
                    state.totals[series] = state.totals.get(series, 0.0) + m.value
                elif spec.kind is Kind.OBSERVATION:
                    counts, total = state.histograms.get(series) or ((0,) * (len(spec.buckets) + 1), 0.0)
                    index = bisect.bisect_left(spec.buckets, m.value)
                    state.histograms[series] = (
                        (*counts[:index], counts[index] + 1, *counts[index + 1:]), total + m.value)
            blocks = self._render(state)
            for name, family in self._text.items():
                block = blocks.get(name)
                if block is None:
                    family.pop(result.key, None)
                else:
                    family[result.key] = block

    def _latest(self, result: Result) -> _Latest:
        values = []
        for m in result.measurements:
            spec = self._specs.get(m.name)
            if spec is None:
                if m.name not in self._unknown:
                    self._unknown.add(m.name)
                    log.warning("measurement %s has no MetricSpec; not exported", m.name)
            elif spec.kind not in (Kind.INCREMENT, Kind.OBSERVATION):
                values.append((m.name, m.labels, 1.0 if spec.kind is Kind.INFO else m.value))
        return _Latest(_identity(result), result.success, result.duration, result.started, tuple(values))

    def on_inventory(self, facts: InventoryFacts) -> None:
        """Forget checks no longer owned; publish the sites' and owned checks' static facts."""
        self.retain(facts.owned)
        self.set_sites(facts.sites)
        self.set_thresholds(facts.thresholds)

    def close(self) -> None:
        """Nothing to release: the series live as long as the process."""

    def retain(self, keys: Iterable[str]) -> None:
        """Forget every check not in ``keys`` (after a reload removed it)."""
        wanted = set(keys)
        with self._lock:
            for key in [k for k in self._checks if k not in wanted]:
                del self._checks[key]
                for family in self._text.values():
                    family.pop(key, None)
            for key in [k for k in self._thresholds if k not in wanted]:
                del self._thresholds[key]
                self._threshold_text.pop(key, None)

    def set_sites(self, sites: Sequence[Mapping[str, str]]) -> None:
        """The static facts published as ``netmon_site_info``, one mapping per site."""
        rows = ([s.get(k, "") for k in SITE_INFO_LABELS] for s in sites)
        text = "".join(_line(SITE_INFO[0], _labels(SITE_INFO_LABELS, row), 1.0) for row in rows).encode()
        with self._lock:
            self._sites = tuple(dict(s) for s in sites)
            self._site_text = text

    def set_thresholds(self, thresholds: Mapping[str, tuple[Mapping[str, str], Mapping[str, float]]]) -> None:
        """Per-check limits (check key → (identity labels, {name: value})), joined by alert rules."""
        names = (*IDENTITY, "threshold")
        rendered = {
            key: "".join(_line(THRESHOLD[0], _labels(names, [*(ident[k] for k in IDENTITY), name]), value)
                         for name, value in sorted(limits.items())).encode()
            for key, (ident, limits) in thresholds.items()
        }
        with self._lock:
            self._thresholds = {
                key: (tuple((k, ident[k]) for k in IDENTITY), dict(limits))
                for key, (ident, limits) in thresholds.items()
            }
            self._threshold_text = rendered

    # -- read by prometheus_client ---------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic collector: no registration-time descriptions

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            states = [(s.latest, dict(s.totals), dict(s.histograms), dict(s.failures))
                      for s in self._checks.values()]
            sites = self._sites
            thresholds = list(self._thresholds.values())
        yield from self._core(states)
        yield from self._measurements(states)
        yield self._site_info(sites)
        yield self._threshold_family(thresholds)

    def render_text(self) -> list[bytes]:
        """The exposition in text format 0.0.4, as chunks to write in order (no copy of the whole)."""
        with self._lock:
            families = [(name, list(family.values())) for name, family in self._text.items()]
            site_text = self._site_text
            threshold_text = list(self._threshold_text.values())
        out: list[bytes] = []
        for name, parts in families:
            if parts or name in _ALWAYS:
                out.append(self._headers[name])
                out += parts
        out += [_header(*SITE_INFO), site_text, _header(*THRESHOLD), *threshold_text]
        return out

    def _render(self, state: _CheckState) -> dict[str, bytes]:
        """This check's text lines, per family; mirrors `collect` sample for sample."""
        latest = state.latest
        ident = _labels(IDENTITY, latest.identity)
        lines: dict[str, list[str]] = {}

        def add(family: str, labels: str, value: float, sample: str | None = None) -> None:
            lines.setdefault(family, []).append(_line(sample or family, labels, value))

        success, duration, last = (name for name, _, _ in CORE[:3])
        add(success, ident, 1.0 if latest.success else 0.0)
        add(duration, ident, latest.duration)
        add(last, ident, latest.started)
        for reason, count in state.failures.items():
            add(FAILURES, f'{ident},reason="{_escape(reason)}"', count, f"{FAILURES}_total")
        for name, labels, value in latest.values:
            spec = self._specs[name]
            add(name, _with(ident, spec, labels), value, _sample(spec))
        for (name, labels), total in state.totals.items():
            spec = self._specs[name]
            add(name, _with(ident, spec, labels), total, _sample(spec))
        for (name, labels), (counts, total) in state.histograms.items():
            spec = self._specs[name]
            series = _with(ident, spec, labels)
            for le, count in _cumulative(spec.buckets, counts):
                add(name, f'{series},le="{le}"', count, f"{name}_bucket")
            add(name, series, float(sum(counts)), f"{name}_count")
            add(name, series, total, f"{name}_sum")
        return {name: "".join(text).encode() for name, text in lines.items()}

    def _core(self, states: list) -> Iterator[Metric]:
        (success_name, _, success_help), (duration_name, _, duration_help), \
            (last_name, _, last_help), (failures_name, _, failures_help) = CORE
        success = GaugeMetricFamily(success_name, success_help, labels=IDENTITY)
        duration = GaugeMetricFamily(duration_name, duration_help, labels=IDENTITY)
        last = GaugeMetricFamily(last_name, last_help, labels=IDENTITY)
        failures = CounterMetricFamily(failures_name, failures_help, labels=(*IDENTITY, "reason"))
        for latest, _totals, _hists, reasons in states:
            ident = latest.identity
            success.add_metric(ident, 1.0 if latest.success else 0.0)
            duration.add_metric(ident, latest.duration)
            last.add_metric(ident, latest.started)
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

        for latest, totals, hists, _reasons in states:
            ident = latest.identity
            for name, labels, value in latest.values:
                spec = self._specs[name]
                family(spec).add_metric((*ident, *_label_values(spec, labels)), value)
            for (name, labels), total in totals.items():
                spec = self._specs[name]
                family(spec).add_metric((*ident, *_label_values(spec, labels)), total)
            for (name, labels), (counts, total) in hists.items():
                spec = self._specs[name]
                hist = family(spec)
                assert isinstance(hist, HistogramMetricFamily)
                buckets = _cumulative(spec.buckets, counts)
                hist.add_metric([*ident, *_label_values(spec, labels)], buckets, total)
        yield from families.values()

    def _site_info(self, sites: Sequence[Mapping[str, str]]) -> Metric:
        info = GaugeMetricFamily(SITE_INFO[0], SITE_INFO[2], labels=SITE_INFO_LABELS)
        for site in sites:
            info.add_metric([site.get(label, "") for label in SITE_INFO_LABELS], 1.0)
        return info

    def _threshold_family(self, thresholds: list) -> Metric:
        family = GaugeMetricFamily(THRESHOLD[0], THRESHOLD[2], labels=(*IDENTITY, "threshold"))
        for ident, limits in thresholds:
            values = [v for _, v in ident]
            for name, value in sorted(limits.items()):
                family.add_metric([*values, name], value)
        return family


def _identity(result: Result) -> tuple[str, ...]:
    return (result.site, result.check, result.probe, result.target, result.link)


def _cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Per-bucket counts → the (le, cumulative count) pairs of a histogram, ``+Inf`` last."""
    out, running = [], 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def _label_values(spec: MetricSpec, labels: tuple[tuple[str, str], ...]) -> list[str]:
    given = dict(labels)
    return [given.get(name, "") for name in spec.labels]


_TEXT_TYPES = {Kind.GAUGE: "gauge", Kind.INFO: "gauge", Kind.COUNTER: "counter", Kind.INCREMENT: "counter",
               Kind.OBSERVATION: "histogram"}
#: Families the generic path always yields, even without samples.
_ALWAYS = frozenset(name for name, _, _ in CORE)


def _base(name: str, kind: str) -> str:
    """prometheus_client strips ``_total`` from a counter family's name and adds it back to samples."""
    return name[:-6] if kind == "counter" and name.endswith("_total") else name


def _sample(spec: MetricSpec) -> str:
    """The sample name of a gauge or counter spec (counters end in ``_total``)."""
    kind = _TEXT_TYPES[spec.kind]
    return _base(spec.name, kind) + "_total" if kind == "counter" else spec.name


def _header(name: str, kind: str, help_: str) -> bytes:
    shown = _base(name, kind) + ("_total" if kind == "counter" else "")
    escaped = help_.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {shown} {escaped}\n# TYPE {shown} {kind}\n".encode()


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _labels(names: Sequence[str], values: Iterable[str]) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _with(ident: str, spec: MetricSpec, labels: tuple[tuple[str, str], ...]) -> str:
    return f"{ident},{_labels(spec.labels, _label_values(spec, labels))}" if spec.labels else ident


def _line(name: str, labels: str, value: float) -> str:
    return f"{name}{{{labels}}} {floatToGoString(value)}\n"
