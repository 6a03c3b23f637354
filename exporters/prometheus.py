"""Results become Prometheus series here, and only here.

A custom collector keeps what it needs of the latest `Result` of each check (plus the running totals
and histogram buckets that span runs) and builds metric families at scrape time. So a removed check's series
disappear at the next scrape, a check that never ran has no series (not a fake 0), and a failed run
exports only what it really measured — never the previous run's values.

``publish`` runs on the event loop; ``collect`` and ``render_text`` run in the HTTP server's thread. A
lock guards the state; readers work on a snapshot taken under it, so a scrape never blocks probing
for long.

One sample model, two encoders. ``publish`` computes each check's samples once per run (`_samples`:
family → (sample name, labels, value)) and keeps their text-format 0.0.4 encoding in a per-family
index (family → check → bytes). ``render_text`` writes the cached text
blocks as they are (a scrape copies one list per family under the lock); ``collect`` hands the same
samples to prometheus_client (OpenMetrics, ``name[]`` filtering, tests). prometheus_client's generic
path took 24 s to render 20,000 ICMP checks (about 800,000 samples); see bench/README.md.

Series diet (issue 16): a default ICMP check exports 13 series, plus one per failure reason seen and,
while it fails, one saying since when (the alert rules count an outage from its first failed run). Its
per-echo RTT histogram (20 series) is exported only for the checks the inventory opts in
(``InventoryFacts.histograms``), and link limits once per link type (``netmon_link_threshold``), with
``netmon_link_info`` saying which type a site's link is, instead of six limits per check.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from exporters import packed
from exporters.sink import InventoryFacts
from probes.base import Kind, MetricSpec, Result, Shape

log = logging.getLogger("netmon.exporter")

IDENTITY = ("site", "check", "probe", "target", "link")
SITE_INFO_LABELS = ("site", "name", "kind", "district", "link_type", "isp", "upstream", "lat", "lon")
LINK_INFO_LABELS = ("site", "link", "link_type", "isp", "role")

_Series = tuple[str, tuple[tuple[str, str], ...]]  # (metric name, measurement labels)
#: One exposition sample: (sample name, ((label, value), ...), value). Plain tuples: GC-untracked.
_Labels = tuple[tuple[str, str], ...]
#: One exposition sample of a series: (sample name, labels after the series' identity, value).
_Sample = tuple[str, _Labels, float]
#: A site's, link's or link type's samples of one family: its identity's label values (their names
#: are the family's: `_STATIC_LABELS`), the samples, their text encoding (a check keeps only the text:
#: `ResultCollector._families`). Plain tuples: GC-untracked. (label, value) pairs and a samples tuple
#: per site and link were ~0.7 KB a check at 50,000 checks, for `collect` alone.
_Block = tuple[tuple[str, ...], tuple[_Sample, ...], bytes]
#: How `ResultCollector._read` reads the values of a run whose `Shape` has no labels of its own: the
#: shared (names, labels) of its gauges, their indices, and its increments' and observations' series
#: and indices. Strings and ints only: untracked by the GC.
_Plan = tuple[tuple[tuple[str, ...], tuple[_Labels, ...]], tuple[int, ...], tuple[tuple[_Series, int], ...],
              tuple[tuple[_Series, int], ...]]
#: A check's lines when each of its families has one sample (`ResultCollector._template`): per line,
#: the family, the text before the check's identity labels and the text between them and the value;
#: the families' names again, in line order; and all the lines as one `str.format` template (`_fill`).
#: Strings only, so that it is untracked by the GC like the rest of a check's steady state.
_Template = tuple[tuple[tuple[str, str, str], ...], tuple[str, ...], str]
#: What a check's lines follow when its series carry no labels of their own: its gauges' names,
#: whether it fails, its failure reasons and its totals' series (`ResultCollector._template`).
_Shape = tuple[tuple[str, ...], bool, tuple[str, ...], tuple[_Series, ...]]
#: The core families every run exports, with their text-format type and help.
CORE = (
    ("netmon_probe_success", "gauge", "1 if the last run of the check succeeded."),
    ("netmon_probe_duration_seconds", "gauge", "Duration of the last run."),
    ("netmon_probe_last_run_timestamp_seconds", "gauge", "Unix time the last run started."),
    ("netmon_probe_failures", "counter", "Failed runs by reason."),
    ("netmon_probe_failing_since_timestamp_seconds", "gauge",
     "Unix time the first failed run of the check's current failure started; only while it fails."),
)
FAILURES = CORE[3][0]
_SUCCESS, _DURATION, _LAST_RUN = (name for name, _, _ in CORE[:3])
_FAILURES_TOTAL = f"{FAILURES}_total"
#: The alert rules count an outage from here, not from when Prometheus first saw it (issue 21).
FAILING_SINCE = CORE[4][0]
SITE_INFO = ("netmon_site_info", "gauge", "Static facts about a site; always 1. Join on site.")
LINK_INFO = ("netmon_link_info", "gauge", "Static facts about a site's link; always 1. Join on (site, link).")
THRESHOLD = ("netmon_link_threshold", "gauge",
             "Limit of a link type (durations in seconds, loss as a ratio); reach a check's through "
             "netmon_link_info on (link_type), or the recording rule netmon:link_threshold.")


@dataclass
class Buckets:
    """Cumulative histogram state with fixed bounds, cheap to update on the event loop."""

    bounds: tuple[float, ...]
    counts: list[int]
    total: float = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        """Count ``value`` ``times`` times (a sweep's checks all start with the same lag)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += times
        self.total += value * times

    @classmethod
    def with_bounds(cls, bounds: Sequence[float]) -> Buckets:
        return cls(tuple(bounds), [0] * (len(bounds) + 1))

    def buckets(self) -> list[tuple[str, float]]:
        return _cumulative(self.bounds, self.counts)


class _CheckState:
    """One check's exported state, made at its first result and kept as long as the check.

    What a run replaces is plain values held in slots, not a container a run makes: CPython's GC
    untracks an exact tuple of untracked items at the young collection after it is made, but a tuple
    holding tracked tuples only one generation later, and never a NamedTuple — 50,000 checks' ``_Latest``
    NamedTuple (and its tuple of (name, labels, value) tuples) reached the old generation every run,
    1,700 objects a second for full collections to walk. Keeping the `Result` itself (with its ~15
    tracked `Measurement` objects) had made every full collection stall the loop ~0.5 s. This object
    and its dicts are long-lived (`netmon.service` freezes them once every check has run).
    """

    __slots__ = ("duration", "failures", "head", "histograms", "identity", "labels", "names",
                 "since", "started", "success", "template", "totals", "values")

    def __init__(self, identity: tuple[str, ...]):
        self.identity = identity
        #: The identity labels' text encoding (escaped once per state, not once per run); their
        #: (name, value) pairs only `collect` needs, and makes (0.36 KB a check, kept, for nothing).
        self.head = _pairs(tuple(zip(IDENTITY, identity, strict=True)))
        self.success = False
        self.duration = self.started = 0.0
        #: The last run's gauge, counter and info measurements as three parallel sequences: their names
        #: and labels are shared by every check of the same shape (`ResultCollector._shape`), so a check
        #: keeps only its floats, packed (`exporters.packed`: a tuple a run makes waits in the young
        #: generation until a collection walks it).
        self.names: tuple[str, ...] = ()
        self.labels: tuple[_Labels, ...] = ()
        self.values = b""
        self.totals: dict[_Series, float] = {}
        #: Histogram series → (per-bucket counts, not cumulative; sum of observations).
        self.histograms: dict[_Series, tuple[tuple[int, ...], float]] = {}
        self.failures: dict[str, float] = {}
        #: Start of the first failed run of the current failure (a confirmed down is published with
        #: that run's start), None while the check succeeds.
        self.since: float | None = None
        #: When each of its families had one sample at the last publish that grouped them, its lines
        #: but for the values (`ResultCollector._template`, shared by the checks of one shape); while
        #: the shape holds, ``publish`` fills in the values without building samples. Else None.
        self.template: _Template | None = None

    def copy(self) -> _CheckState:
        twin = _CheckState.__new__(_CheckState)
        twin.identity, twin.head = self.identity, self.head
        twin.success, twin.duration, twin.started = self.success, self.duration, self.started
        twin.names, twin.labels, twin.values = self.names, self.labels, self.values
        twin.totals, twin.histograms = dict(self.totals), dict(self.histograms)
        twin.failures, twin.since, twin.template = dict(self.failures), self.since, self.template
        return twin


class ResultCollector(Collector):
    """Turns the stream of `Result` values into the metric contract of DESIGN.md."""

    def __init__(self, specs: Iterable[MetricSpec]):
        self._specs = {s.name: s for s in specs}
        self._lock = threading.Lock()
        self._checks: dict[str, _CheckState] = {}
        self._unknown: set[str] = set()
        #: Keys of the checks whose observations are exported as histograms (an explicit choice: a
        #: histogram is ~20 series a check, more than everything else an ICMP check exports).
        self._histograms: frozenset[str] = frozenset()
        self._headers = {name: _header(name, kind, help_) for name, kind, help_ in CORE}
        for spec in self._specs.values():
            self._headers.setdefault(spec.name, _header(spec.name, _TEXT_TYPES[spec.kind], spec.help))
        #: Histogram family → its ``le`` labels, ``+Inf`` last (built once, shared by every sample).
        self._les = {name: _le_labels(spec.buckets)
                     for name, spec in self._specs.items() if spec.kind is Kind.OBSERVATION}
        self._sample_names = {name: _sample(spec) for name, spec in self._specs.items()}
        self._kinds = {name: spec.kind for name, spec in self._specs.items()}
        #: An unlabelled increment's series key, made once: updating a dict's value with a key made
        #: per run (a tuple, tracked until a young collection) makes the dict tracked again, so every
        #: check's totals would re-enter the young generation and climb to the old one each run.
        self._plain = {name: (name, ()) for name, kind in self._kinds.items() if kind is Kind.INCREMENT}
        #: Each shape of a check whose families have one sample each → its lines' `_Template`.
        self._templates: dict[_Shape, _Template] = {}
        #: The last start time `_fill` wrote, and its text: a sweep's checks all share theirs.
        self._stamp: tuple[float, str] = (float("nan"), "")
        #: Each `Shape` without labels of its own → how `_read` reads its runs' values.
        self._plans: dict[Shape, _Plan] = {}
        #: Each measurement shape seen (names, labels) → its one shared copy (`_shape`).
        self._shapes: dict[tuple[tuple[str, ...], tuple[_Labels, ...]],
                           tuple[tuple[str, ...], tuple[_Labels, ...]]] = {}
        #: The specs whose measurements carry labels of their own (the others' are always ()).
        self._labelled = {name: spec for name, spec in self._specs.items() if spec.labels}
        self._types = {name: kind for name, kind, _ in CORE}
        self._types |= {name: _TEXT_TYPES[spec.kind] for name, spec in self._specs.items()}
        self._helps = {name: help_ for name, _, help_ in CORE} | {n: s.help for n, s in self._specs.items()}
        #: Family name → check key → that check's samples of the family in text format, as of its last
        #: publish: the bytes alone (a (labels, samples, text) tuple each was 0.8 KB a check).
        self._families: dict[str, dict[str, bytes]] = {name: {} for name in self._headers}
        #: Sites, links and thresholds, families of their own keyed by site, site/link and link type,
        #: with their samples (`collect` has no state to rebuild them from).
        self._static: dict[str, dict[str, _Block]] = {
            name: {} for name in (SITE_INFO[0], LINK_INFO[0], THRESHOLD[0])}

    # -- fed by the application ------------------------------------------------------------------

    def publish(self, result: Result) -> None:
        """Record one result; called for every run of every check (one pass over its measurements,
        then, while the check's template holds, its values written into its lines: bench/README.md,
        ICMP sweep)."""
        key = result.key
        names, own, values, increments, observations = self._read(result, key in self._histograms)
        identity = (result.site, result.check, result.probe, result.target, result.link)
        families = self._families
        with self._lock:
            state = self._checks.get(key)
            if state is None or state.identity != identity:
                state = self._checks[key] = _CheckState(identity)
                shape_kept = False
            else:  # a family a run can leave out is a gauge the previous run had (totals only grow)
                shape_kept = state.names is names
            state.success, state.started = result.success, result.started
            state.duration = float(result.duration)  # `_fill` writes it as its repr: 1 must read 1.0
            state.names, state.labels, state.values = names, own, values
            if result.success != (state.since is None):  # a first failure starts it, a success ends it
                state.since = None if result.success else result.started
                shape_kept = False
            # A new failure reason or series can give a family a second sample: lines rebuilt as groups.
            if result.reason:
                failures = state.failures
                shape_kept = shape_kept and result.reason in failures
                failures[result.reason] = failures.get(result.reason, 0.0) + 1
            totals = state.totals
            for series, value in increments:
                shape_kept = shape_kept and series in totals
                totals[series] = totals.get(series, 0.0) + value
            for series, spec, value in observations if key in self._histograms else ():
                counts, total = state.histograms.get(series) or ((0,) * (len(spec.buckets) + 1), 0.0)
                index = bisect.bisect_left(spec.buckets, value)
                state.histograms[series] = (
                    (*counts[:index], counts[index] + 1, *counts[index + 1:]), total + value)
                shape_kept = False
            head = state.head
            template = state.template
            if not (shape_kept and template is not None):  # the families may have changed: group the rows
                rows = self._samples(state)
                grouped = _grouped(rows)
                for name in self._headers:
                    if name not in grouped:
                        families[name].pop(key, None)
                if len(grouped) < len(rows):  # a family with more samples: written as groups
                    state.template = None
                    for name, found in grouped.items():
                        families[name][key] = _text(head, found)
                    return
                template = state.template = self._template(state, rows)
            self._fill(key, state, template)

    def _fill(self, key: str, state: _CheckState, template: _Template) -> None:
        """Write the lines of a check whose families have one sample each (most checks) from its
        template: all of them in one `str.format` call while every value but the timestamps is a
        finite float under 10^6, which Go's formatting (``floatToGoString``) writes as Python's
        ``repr`` does; the start time (the same for every check of a sweep) formatted once. Otherwise,
        and if a label's text splits a line in two, line by line through `_go`. Writing 13 lines one
        f-string, ``repr`` and ``encode`` at a time was ~8 µs of an ICMP run's publish (bench/README.md,
        ICMP sweep)."""
        lines, names, layout = template
        families = self._families
        values = (1.0 if state.success else 0.0, state.duration, *state.failures.values(),
                  *packed.unpack(state.values), *state.totals.values())
        total = sum(values)
        if total - total == 0.0 and max(values) < 1e6:  # all finite (inf - inf is nan), < 7 digits before "."
            started, text = self._stamp
            if started != state.started:
                started, text = self._stamp = state.started, _go(state.started)
            since = "" if state.since is None else _go(state.since)
            written = layout.format(state.head, text, since, *values).encode().splitlines(keepends=True)
            if len(written) == len(names):
                for name, line in zip(names, written, strict=True):
                    families[name][key] = line
                return
        head = state.head
        for (name, opening, closing), value in zip(lines, self._values(state), strict=True):
            families[name][key] = f"{opening}{head}{closing}{_go(value)}\n".encode()

    def _read(self, result: Result, histogram: bool) -> tuple[
            tuple[str, ...], tuple[_Labels, ...], bytes, list[tuple[_Series, float]],
            list[tuple[_Series, MetricSpec, float]]]:
        """``result``'s gauge, counter and info measurements (names, labels and values, the first two
        shared: `_shape`), its increments and (when its check exports a histogram) its observations.

        A run whose shape has no labels of its own (ICMP's) follows its shape's plan (`_Plan`: a few
        per probe), made by the first such run's pass over its measurements."""
        readings = result.readings
        plan = self._plans.get(readings.shape)
        if plan is not None:
            shape, gauges, increments, observations = plan
            specs = self._specs
            found = readings.values
            return (*shape, packed.pack([found[i] for i in gauges]),
                    [(series, found[i]) for series, i in increments],
                    [(series, specs[series[0]], found[i]) for series, i in observations]
                    if histogram else [])
        measurements = result.measurements
        names: list[str] = []
        labelled: list[_Labels] = []
        values: list[float] = []
        increments_read: list[tuple[_Series, float]] = []
        observations_read: list[tuple[_Series, MetricSpec, float]] = []
        steps: tuple[list[int], list[tuple[_Series, int]], list[tuple[_Series, int]]] | None = ([], [], [])
        kinds = self._kinds
        for index, (name, value, labels) in enumerate(measurements):
            kind = kinds.get(name)
            if kind is Kind.GAUGE or kind is Kind.COUNTER:  # the most frequent first
                names.append(name)
                labelled.append(labels)
                values.append(value)
                if steps:
                    steps[0].append(index)
            elif kind is Kind.OBSERVATION:
                if histogram:
                    observations_read.append(((name, labels), self._specs[name], value))
                if steps:
                    steps[2].append(((name, labels), index))
            elif kind is Kind.INCREMENT:
                series = self._plain[name] if not labels else (name, labels)
                increments_read.append((series, value))
                if steps:
                    steps[1].append((series, index))
            elif kind is Kind.INFO:
                names.append(name)
                labelled.append(labels)
                values.append(1.0)
                steps = None
            else:
                steps = None
                if name not in self._unknown:
                    self._unknown.add(name)
                    log.warning("measurement %s has no MetricSpec; not exported", name)
        shape = self._shape(tuple(names), tuple(labelled))
        if steps and readings.shape.plain:
            self._plans[readings.shape] = (shape, tuple(steps[0]), tuple(steps[1]), tuple(steps[2]))
        return shape[0], shape[1], packed.pack(values), increments_read, observations_read

    def _shape(self, names: tuple[str, ...], labels: tuple[_Labels, ...]) -> tuple[
            tuple[str, ...], tuple[_Labels, ...]]:
        """The one shared copy of a run's measurement names (and of its labels when they are all
        empty, as ICMP's are): per-check copies were ~0.5 KB a check, and `publish` tells an unchanged
        shape by identity. Labels of their own (interface names) stay per check: they would make one
        entry per check here, never forgotten."""
        if any(labels):
            return self._shapes.setdefault((names, ()), (names, ()))[0], labels
        return self._shapes.setdefault((names, labels), (names, labels))

    def on_inventory(self, facts: InventoryFacts) -> None:
        """Forget checks no longer owned; publish the sites', links' and link types' static facts."""
        self.retain(facts.owned)
        self.set_histograms(facts.histograms)
        self.set_sites(facts.sites)
        self.set_links(facts.links)
        self.set_thresholds(facts.thresholds)

    def set_histograms(self, keys: Iterable[str]) -> None:
        """Export observations as histograms for the checks ``keys`` only; the others' are dropped
        (their series end at the next scrape), so a reload can turn one off."""
        wanted = frozenset(keys)
        with self._lock:
            self._histograms = wanted
            for key, state in self._checks.items():
                if state.histograms and key not in wanted:
                    state.histograms.clear()
                    for name in self._les:
                        self._families[name].pop(key, None)

    def close(self) -> None:
        """Nothing to release: the series live as long as the process."""

    def retain(self, keys: Iterable[str]) -> None:
        """Forget every check not in ``keys`` (after a reload removed it)."""
        wanted = set(keys)
        with self._lock:
            for key in [k for k in self._checks if k not in wanted]:
                del self._checks[key]
                for name in self._headers:
                    self._families[name].pop(key, None)

    def set_sites(self, sites: Sequence[Mapping[str, str]]) -> None:
        """The static facts published as ``netmon_site_info``, one mapping per site."""
        family = {site.get("site", ""):
                  _block(SITE_INFO_LABELS, tuple(site.get(k, "") for k in SITE_INFO_LABELS), _SITE_SAMPLES)
                  for site in sites}
        with self._lock:
            self._static[SITE_INFO[0]] = family

    def set_links(self, links: Sequence[Mapping[str, str]]) -> None:
        """The static facts published as ``netmon_link_info``, one mapping per site link."""
        family = {f"{link.get('site', '')}/{link.get('link', '')}":
                  _block(LINK_INFO_LABELS, tuple(link.get(k, "") for k in LINK_INFO_LABELS), _LINK_SAMPLES)
                  for link in links}
        with self._lock:
            self._static[LINK_INFO[0]] = family

    def set_thresholds(self, thresholds: Mapping[str, Mapping[str, float]]) -> None:
        """Each link type's limits (link type → {name: value}), once per type, not per check: alert
        rules reach a check's through ``netmon_link_info`` (see alerts/recording.rules.yml)."""
        family = {link_type: _block(_STATIC_LABELS[THRESHOLD[0]], (link_type,),
                                    tuple((THRESHOLD[0], (("threshold", name),), float(value))
                                          for name, value in sorted(limits.items())))
                  for link_type, limits in thresholds.items()}
        with self._lock:
            self._static[THRESHOLD[0]] = family

    # -- read by prometheus_client ---------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic collector: no registration-time descriptions

    def collect(self) -> Iterator[Metric]:
        """The same samples `render_text` writes, as prometheus_client metric families.

        A check's samples come from `_samples` on a copy of its state, as ``publish`` encoded them:
        keeping them beside their text would cost ~80 % more memory (20,000 ICMP checks: 150 → 268 MB)
        for a path that only OpenMetrics clients, ``name[]`` and tests take.
        """
        with self._lock:
            states = [(s.identity, s.copy()) for s in self._checks.values()]
            static = {name: list(family.values()) for name, family in self._static.items()}
        blocks: dict[str, list[tuple[_Labels, Sequence[_Sample]]]] = {}
        for identity, state in states:
            ident = tuple(zip(IDENTITY, identity, strict=True))
            for name, found in _grouped(self._samples(state)).items():
                blocks.setdefault(name, []).append((ident, found))
        for name, _ in self._snapshot(None):
            entries = blocks.get(name) or [(tuple(zip(_STATIC_LABELS[name], values, strict=True)), samples)
                                           for values, samples, _ in static.get(name, ())]
            family = Metric(_base(name, self._type(name)), self._help(name), self._type(name))
            for ident, samples in entries:
                for sample, labels, value in samples:
                    family.add_sample(sample, dict((*ident, *labels)), value)
            yield family

    def render_text(self, names: Collection[str] | None = None) -> list[bytes]:
        """The exposition in text format 0.0.4, as chunks to write in order (no copy of the whole).

        ``names``, when given, keeps only the families with a sample of one of those names (the
        ``name[]`` query parameter prometheus_client offers).
        """
        out: list[bytes] = []
        for name, blocks in self._snapshot(names):
            out.append(self._headers.get(name) or _header(name, self._type(name), self._help(name)))
            out += blocks
        return out

    def _snapshot(self, names: Collection[str] | None) -> Iterator[tuple[str, list[bytes]]]:
        """Each wanted family with its checks' (or sites', links', link types') text, copied under the lock.

        Families without samples are left out, except the core ones and the site, link and threshold
        families, which a reader expects to find (HELP and TYPE at least).
        """
        with self._lock:
            families = [(name, list(family.values())) for name, family in self._families.items()]
            families += [(name, [text for _, _, text in family.values()])
                         for name, family in self._static.items()]
        for name, entries in families:
            if names is not None and not _sample_names(name, self._type(name)) & set(names):
                continue
            if entries or name in _ALWAYS:
                yield name, entries

    def _type(self, name: str) -> str:
        return self._types.get(name, "gauge")

    def _help(self, name: str) -> str:
        return self._helps.get(name) or {f[0]: f[2] for f in (SITE_INFO, LINK_INFO, THRESHOLD)}[name]

    def _template(self, state: _CheckState, rows: Sequence[tuple[str, str, _Labels, float]]) -> _Template:
        """The lines of a check whose every family has one sample (`_samples`' ``rows``), but for
        the check's identity and the values: each row's family, sample name and own labels. Shared by
        every check of the same shape, the state's series without labels of their own (which the rows
        follow alone); a check with labels of its own (interface names) has its own, as it would make
        an entry per check here, never forgotten."""
        shape = (state.names, state.since is not None, tuple(state.failures), tuple(state.totals))
        shared = not any(state.labels) and not any(labels for _, labels in state.totals)
        template = self._templates.get(shape) if shared else None
        if template is None:
            lines = tuple((name, f"{sample}{{", f"{_tail(labels)}}} ") for name, sample, labels, _ in rows)
            # `_fill`'s arguments: the identity's labels, the start and failing-since times as text,
            # then the other values in line order, each written as its repr.
            fields = iter(range(3, len(rows) + 3))
            slots = [{_LAST_RUN: "{1}", FAILING_SINCE: "{2}"}.get(name) or f"{{{next(fields)}!r}}"
                     for name, _, _ in lines]
            layout = "".join(f"{_braced(opening)}{{0}}{_braced(closing)}{slot}\n"
                             for (_, opening, closing), slot in zip(lines, slots, strict=True))
            template = (lines, tuple(name for name, _, _ in lines), layout)
            if shared:
                self._templates[shape] = template
        return template

    @staticmethod
    def _values(state: _CheckState) -> list[float]:
        """The values of `_samples`' rows but the histogram's, in the same order (a check with a
        histogram has no template)."""
        values = [1.0 if state.success else 0.0, state.duration, state.started]
        if state.since is not None:
            values.append(state.since)
        values += state.failures.values()
        values += packed.unpack(state.values)
        values += state.totals.values()
        return values

    def _samples(self, state: _CheckState) -> list[tuple[str, str, _Labels, float]]:
        """This check's samples as (family, sample name, labels after its identity, value), a family's
        samples in order: the one place a check's state becomes exposition samples (their values,
        histograms' aside, from `_values`, which `publish` reads alone while a check's template holds).
        A flat list, as most checks' families have one sample each (`_grouped` gathers the others)."""
        series: list[tuple[str, str, _Labels]] = [
            (_SUCCESS, _SUCCESS, ()), (_DURATION, _DURATION, ()), (_LAST_RUN, _LAST_RUN, ())]
        if state.since is not None:
            series.append((FAILING_SINCE, FAILING_SINCE, ()))
        series += [(FAILURES, _FAILURES_TOTAL, (("reason", reason),)) for reason in state.failures]
        names, labelled = self._sample_names, self._labelled
        series += [(name, names[name], _own(labelled[name], labels) if name in labelled else ())
                   for name, labels in zip(state.names, state.labels, strict=True)]
        series += [(name, names[name], _own(labelled[name], labels) if name in labelled else ())
                   for name, labels in state.totals]
        rows = [(name, sample, labels, value)
                for (name, sample, labels), value in zip(series, self._values(state), strict=True)]
        for (name, labels), (counts, total) in state.histograms.items():
            own = _own(self._specs[name], labels)
            bucket = f"{name}_bucket"
            rows += [(name, bucket, (*own, le), float(count))
                     for le, count in zip(self._les[name], itertools.accumulate(counts), strict=True)]
            rows.append((name, f"{name}_count", own, float(sum(counts))))
            rows.append((name, f"{name}_sum", own, total))
        return rows


class Restricted(CollectorRegistry):
    """``registry`` with only the samples named in ``names``: prometheus_client's own
    ``restricted_registry`` finds collectors by their ``describe``, which dynamic collectors like
    `ResultCollector` leave empty, so it would find none of their samples."""

    def __init__(self, registry: CollectorRegistry, names: Collection[str]):
        super().__init__(auto_describe=False)
        self._source = registry
        self._names = frozenset(names)

    def collect(self) -> Iterator[Metric]:
        for metric in self._source.collect():
            samples = [s for s in metric.samples if s.name in self._names]
            if samples:
                kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                kept.samples = samples
                yield kept


class TextRegistry(CollectorRegistry):
    """A registry whose text format 0.0.4 (`render_text`) takes each collector's own ``render_text()``
    where it has one (text it keeps encoded, e.g. series that change only with the inventory) and
    prometheus_client's encoder elsewhere, collector by collector in registration order: the same bytes
    as ``generate_latest(registry)``, without its ~10-20 µs and two objects per sample at every scrape."""

    def __init__(self) -> None:
        super().__init__()
        self._order: list[Collector] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self._order.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self._order.remove(collector)

    def render_text(self) -> list[bytes]:
        out = []
        for collector in list(self._order):
            render = getattr(collector, "render_text", None)
            out.append(render() if render else generate_latest(collector))
        return out


class Families:
    """Fixed metric families as a collector (for ``generate_latest`` on a few families)."""

    def __init__(self, *families: Metric):
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def text_samples(name: str, rows: Iterable[tuple[_Labels, float]]) -> bytes:
    """Samples of family ``name`` (a gauge's) in text format 0.0.4, each row's labels in the order given
    (``generate_latest`` sorts them by name), escaped and formatted as `render_text` does."""
    return "".join(f"{name}{{{_pairs(labels)}}} {_go(value)}\n" if labels else f"{name} {_go(value)}\n"
                   for labels, value in rows).encode()


def _grouped(rows: Iterable[tuple[str, str, _Labels, float]]) -> dict[str, list[_Sample]]:
    """`ResultCollector._samples`' rows by family, in order."""
    found: dict[str, list[_Sample]] = {}
    for name, sample, labels, value in rows:
        same = found.get(name)
        if same is None:
            found[name] = [(sample, labels, value)]
        else:
            same.append((sample, labels, value))
    return found


def _cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Per-bucket counts → the (le, cumulative count) pairs of a histogram, ``+Inf`` last."""
    out, running = [], 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def _le_labels(bounds: Sequence[float]) -> tuple[tuple[str, str], ...]:
    """The ``le`` label of each bucket of a histogram with ``bounds``, ``+Inf`` last."""
    return tuple(("le", le) for le, _ in _cumulative(bounds, [0] * (len(bounds) + 1)))


def _sample_names(family: str, kind: str) -> set[str]:
    """The sample names a family can expose, for ``name[]`` filtering."""
    base = _base(family, kind)
    if kind == "counter":
        return {f"{base}_total"}
    if kind == "histogram":
        return {f"{family}_bucket", f"{family}_count", f"{family}_sum"}
    return {family}


_TEXT_TYPES = {Kind.GAUGE: "gauge", Kind.INFO: "gauge", Kind.COUNTER: "counter", Kind.INCREMENT: "counter",
               Kind.OBSERVATION: "histogram"}
#: The identity labels of the site, link and link type families, and the samples the first two
#: always have (one, shared).
_STATIC_LABELS = {SITE_INFO[0]: SITE_INFO_LABELS, LINK_INFO[0]: LINK_INFO_LABELS,
                  THRESHOLD[0]: ("link_type",)}
_SITE_SAMPLES: tuple[_Sample, ...] = ((SITE_INFO[0], (), 1.0),)
_LINK_SAMPLES: tuple[_Sample, ...] = ((LINK_INFO[0], (), 1.0),)
#: Families always exposed, even without samples.
_ALWAYS = frozenset((*(name for name, _, _ in CORE), SITE_INFO[0], LINK_INFO[0], THRESHOLD[0]))


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
    if "\\" not in value and "\n" not in value and '"' not in value:  # nearly always: no copy
        return value
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _own(spec: MetricSpec, labels: _Labels) -> _Labels:
    """A measurement's own labels in its spec's order ("" for one not given)."""
    if not spec.labels:
        return ()
    given = dict(labels)
    return tuple((name, given.get(name, "")) for name in spec.labels)


def _go(value: float) -> str:
    """``floatToGoString`` without its checks for the common case: a finite float whose ``repr`` Go
    writes the same way (a dot, within 6 digits of the start); anything else goes to `_go_odd`."""
    text = repr(value)
    dot = text.find(".")
    if dot < 0 or dot > 6 or type(value) is not float:
        return _go_odd(value, text, dot)
    return text


def _go_odd(value: float, text: str, dot: int) -> str:
    """``floatToGoString(value)``, given ``value``'s ``repr`` and the index of its dot: a negative float
    keeps its repr; prometheus_client writes the rest (not a float, no dot: inf, nan, 1e-05; 7 digits
    or more before the dot, as every timestamp has: an exponent, whose form changed between versions)."""
    if type(value) is float and dot > 6 and value < 0:
        return text
    return floatToGoString(value)


def _braced(text: str) -> str:
    """``text`` as literal text of a `str.format` template."""
    return text.replace("{", "{{").replace("}", "}}")


def _pairs(labels: _Labels) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels)


#: A sample's own labels recur across checks and runs (``le`` bounds, reasons, interface names).
_tail = functools.lru_cache(maxsize=8192)(lambda labels: "," + _pairs(labels) if labels else "")


def _block(names: tuple[str, ...], values: tuple[str, ...], samples: tuple[_Sample, ...]) -> _Block:
    """``samples`` of a site, link or link type (labels ``names`` = ``values``) with their text encoding."""
    return values, samples, _text(_pairs(tuple(zip(names, values, strict=True))), samples)


def _text(head: str, samples: Sequence[_Sample]) -> bytes:
    """``samples`` in text format 0.0.4, ``head`` the identity's labels, escaped once for all of them."""
    text = "".join(f"{name}{{{head}{_tail(labels)}}} {_go(value)}\n" for name, labels, value in samples)
    return text.encode()
