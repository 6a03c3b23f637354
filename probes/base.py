"""The ground floor: the one `Result` type, the `Check` a probe receives, and the probe registry.

Every active probe (icmp, tcp, http, dns, trace) and every collector (snmp) is an async callable
``run(check) -> Result`` registered here by name together with its options model and the metric
families it can emit. The scheduler, the CLI and the tests call the same function; exporters only
ever see `Result` values. Nothing in this package imports prometheus_client: a probe states *what*
it measured (`Measurement`), the exporter decides how it is exposed.

Conventions a probe must follow:
- Expected network failures (timeout, refused, unreachable, bad status) are data: return
  ``check.fail(reason, message, ...)``, never raise. Exceptions are for bugs and misconfiguration.
- Values are in base units (seconds, bytes, ratios 0-1). icmplib's milliseconds are converted once,
  at the boundary.
- A probe never sleeps to pace itself. It bounds its own work by ``check.remaining()`` (the runner
  stamps each run's absolute deadline) so it can report what it measured before giving up; the
  runner's own timeout (the deadline plus a small grace) is a backstop.
"""

from __future__ import annotations

import enum
import functools
import importlib
import pkgutil
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar, overload
from urllib.parse import urlsplit

from probes import verdict
from probes.schema import STRICT, Before
from probes.wording import Lang, Wording, say

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> object:
    """Accept ``30``, ``0.5``, ``"500ms"``, ``"30s"``, ``"2m"``, ``"1h"``, ``"7d"``; return seconds.

    A plain number (YAML ``30``) is seconds; text needs its unit: ``"80"`` typed on a command line
    (`netmon lab set site delay=80`) is more likely meant as milliseconds than as 80 s, so ask.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 500ms or 2m")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and match.group(2) is None:
            raise ValueError(f"{value.strip()!r} needs a unit: {value.strip()}ms or {value.strip()}s")
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError("expected a duration such as 30s, 500ms or 2m")


#: Seconds, written in config as ``500ms``, ``2s``, ``5m`` or a plain number. Used by the inventory and
#: by every probe's options, so an operator writes durations the same way everywhere.
Duration = Annotated[float, Before(parse_duration)]


class Kind(enum.Enum):
    """How an exporter must treat a measurement's value."""

    GAUGE = "gauge"
    #: A cumulative counter read from the target itself (e.g. ifHCInOctets); exported as is.
    COUNTER = "counter"
    #: A per-run amount (e.g. echoes sent in this burst); the exporter adds it to a running total.
    INCREMENT = "increment"
    #: One observation for a histogram (e.g. one echo's RTT); the exporter buckets it.
    OBSERVATION = "observation"
    #: Constant 1 with descriptive labels (e.g. sysDescr); the value is ignored.
    INFO = "info"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Declares one metric family a probe may emit, so HELP texts and types live beside the probe.

    ``name`` is the full exposition name without a ``_total`` suffix for counters (prometheus_client
    adds it) — e.g. ``netmon_icmp_packets_sent`` for ``netmon_icmp_packets_sent_total``.
    ``labels`` are the measurement's own labels, added after the per-check identity labels.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


#: A measurement's own labels, (name, value) pairs: ``(("ifname", "eth0"),)``; most have none.
Labels = tuple[tuple[str, str], ...]


class Measurement(NamedTuple):
    """One value a run produced, named after the `MetricSpec` it belongs to, as a reader sees it.

    A `Result` keeps its measurements as `Readings` (names and labels shared, values alone) and makes
    these as a reader iterates them.
    """

    name: str
    value: float
    labels: Labels = ()


#: Builds a `Measurement` from its (name, value, labels) without NamedTuple's Python-level ``__new__``.
_measurement = functools.partial(tuple.__new__, Measurement)


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Shape:
    """What a run measured but for the values: each measurement's name and labels, in order.

    Interned (`Shape.of`): runs that measure the same things share one instance (an ICMP run's shape
    depends only on how many echoes came back), so a `Result` carries a tuple of values beside it,
    and a reader that prepares work per shape (the exporter's lines) finds it by identity. Equal shapes
    are the same object, so identity is equality. ``plain``: no measurement has labels of its own —
    only those shapes are few enough for a reader to keep work per shape (an SNMP interface's labels
    make a shape per device).
    """

    names: tuple[str, ...]
    labels: tuple[Labels, ...]
    plain: bool

    @staticmethod
    def of(names: tuple[str, ...], labels: tuple[Labels, ...]) -> Shape:
        """The one shape with these names and labels (one per measurement, in order)."""
        key = (names, labels)
        found = _SHAPES.get(key)
        if found is None:
            found = _SHAPES[key] = Shape(names, labels, not any(labels))
        return found


#: Every shape some live `Result` or reader holds; forgotten with the last of them.
_SHAPES: weakref.WeakValueDictionary[tuple[tuple[str, ...], tuple[Labels, ...]], Shape] = \
    weakref.WeakValueDictionary()


class Readings(Sequence[Measurement]):
    """A run's measurements as their `Shape` and a tuple of their values: the sequence of `Measurement`
    every reader iterates, kept as one tuple of numbers per run.

    A run used to carry a `Measurement` named tuple per value (13 for a 3-echo ICMP run, 20,000 runs a
    sweep): building them was ~2 µs a run and, being NamedTuples, each stayed tracked by the cyclic GC
    until it died. A reader on a hot path (`exporters.prometheus`) reads ``shape`` and ``values``; the
    others iterate, index or slice it as they did the tuple, getting `Measurement`s made on the way.
    """

    __slots__ = ("shape", "values")

    def __init__(self, shape: Shape, values: tuple[float, ...]):
        self.shape = shape
        self.values = values

    @staticmethod
    def of(measurements: Iterable[Measurement]) -> Readings:
        """``measurements`` (any iterable of `Measurement`s, or (name, value, labels) triples) as readings."""
        rows = tuple(measurements)
        return Readings(Shape.of(tuple(m[0] for m in rows), tuple(m[2] for m in rows)),
                        tuple(m[1] for m in rows))

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Measurement]:
        shape = self.shape
        return map(_measurement, zip(shape.names, self.values, shape.labels, strict=True))

    @overload
    def __getitem__(self, index: int) -> Measurement: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Measurement, ...]: ...

    def __getitem__(self, index: int | slice) -> Measurement | tuple[Measurement, ...]:
        shape = self.shape
        if isinstance(index, slice):
            rows = zip(shape.names[index], self.values[index], shape.labels[index], strict=True)
            return tuple(map(_measurement, rows))
        return _measurement((shape.names[index], self.values[index], shape.labels[index]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Readings):
            return NotImplemented
        return self.shape is other.shape and self.values == other.values

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the tuple it replaces

    def __repr__(self) -> str:
        return f"Readings({list(self)!r})"


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """Base of every probe's options: a frozen dataclass, so that a running probe needs no pydantic
    (an edge agent has 50 MB in all). Pydantic validates it from the dataclass itself at load
    (`options`), as strictly as the inventory's models: unknown keys rejected."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    def minimum_timeout(self) -> float:
        """Shortest check timeout (seconds) these options can finish in; the loader rejects less.

        Zero for probes whose duration is bounded only by the network; a burst probe overrides it
        (N echoes × spacing + one packet timeout).
        """
        return 0.0

    def confirmation(self) -> ProbeOptions:
        """Options for the re-test the scheduler runs at once after a check's first failed run.

        A first failure is only reported once a re-test confirms it, so a cut link can be alerted on
        without minutes of ``for:`` while one unlucky run on a lossy link pages nobody. By default the
        re-test is the same run; a burst probe makes it a denser, longer burst.
        """
        return self

    def histogram(self) -> bool | None:
        """This check's own choice of exporting its observations as a histogram (ICMP: per-echo RTT,
        ~20 series a check), or None to follow its link type's (``defaults.rtt_histogram``)."""
        return None

    def check_target(self, target: str) -> str | None:
        """Why ``target`` cannot work with these options (e.g. a TCP target without a port), or None.

        Called by the loader, so a target error is a config error with file and line, not a failed run.
        """
        return None

    @classmethod
    def service_target(cls, url: str) -> str:
        """What a check of an inventory service (known by its URL) aims at: its host, unless the probe
        speaks to the URL itself (http)."""
        return urlsplit(url).hostname or url


OptionsT = TypeVar("OptionsT", bound=ProbeOptions)


def options(kind: type[OptionsT], raw: Mapping[str, Any]) -> OptionsT:
    """``raw`` (a check's settings) validated into ``kind``; raises pydantic's ValidationError.

    Pydantic is imported here, on the first validation, not by the probes: a process that only runs
    checks resolved elsewhere (the edge agent) never loads it.
    """
    from pydantic import TypeAdapter

    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter.validate_python(raw)


_ADAPTERS: dict[type[ProbeOptions], Any] = {}


@dataclass(frozen=True, slots=True)
class Check:
    """A fully resolved check, as the inventory hands it to a probe.

    ``target`` is already resolved (an address, ``host:port`` or a URL); ``options`` is an instance
    of the probe's own options model. ``thresholds`` carries the link type's limits for verdicts;
    probes do not use it, the CLI and exporters may.
    """

    site: str
    id: str
    probe: str
    target: str
    options: ProbeOptions
    interval: float = 30.0
    timeout: float = 5.0
    link: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Seconds into each interval (from the epoch) that the check runs; None: from its key's hash.
    phase: float | None = None
    #: When this run must have reported (`time.monotonic`), stamped by the runner as it starts the run;
    #: None outside a run (a probe called directly then has its whole ``timeout``).
    deadline: float | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """Unique key of this check across the inventory."""
        return f"{self.site}/{self.id}"

    def stamped(self, deadline: float) -> Check:
        """This check with ``deadline`` stamped, as the runner starts a run: its fields copied into a
        new instance, in half of `dataclasses.replace`'s time (20,000 a sweep)."""
        twin = object.__new__(Check)
        for name in _RUN_FIELDS:
            _set(twin, name, getattr(self, name))
        _set(twin, "deadline", deadline)
        return twin

    def remaining(self) -> float:
        """Seconds this run has left to report what it measured: the one budget a probe bounds its
        work by, so that it answers before the runner's backstop (a little after the deadline)."""
        if self.deadline is None:
            return self.timeout
        return max(0.0, self.deadline - time.monotonic())

    def ok(self, started: float, measurements: Iterable[Measurement] = (), *, ended: float | None = None,
           **details: Any) -> Result:
        """A successful result for this check, started at ``started`` and ended at ``ended`` (unix
        seconds; now if not given: a sweep builds its results after the last of its runs ended)."""
        return self._result(True, started, ended, None, None, measurements, details)

    def fail(
        self,
        reason: str,
        message: str,
        started: float,
        measurements: Iterable[Measurement] = (),
        *,
        ended: float | None = None,
        **details: Any,
    ) -> Result:
        """A failed result; ``reason`` is a short stable category (``timeout``, ``refused``...)."""
        return self._result(False, started, ended, reason, message, measurements, details)

    def _result(
        self,
        success: bool,
        started: float,
        ended: float | None,
        reason: str | None,
        message: str | None,
        measurements: Iterable[Measurement],
        details: Mapping[str, Any],
    ) -> Result:
        return Result(
            site=self.site,
            check=self.id,
            probe=self.probe,
            target=self.target,
            link=self.link,
            success=success,
            started=started,
            duration=max(0.0, (time.time() if ended is None else ended) - started),
            reason=reason,
            error=message,
            measurements=measurements if type(measurements) is Readings else Readings.of(measurements),
            details=details,  # a fresh dict: the caller's ``**details``
        )


#: Every field of a `Check` but the one `Check.stamped` sets.
_RUN_FIELDS = tuple(f.name for f in fields(Check) if f.name != "deadline")
_set = object.__setattr__


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one run of one check: the only type that flows from probes to exporters.

    ``reason`` is a short machine category for failures (bounded set, safe as a label value);
    ``error`` is the human message. ``details`` holds structured extras for the CLI and history
    (e.g. traceroute hops, HTTP phase names) that are not metrics.
    """

    site: str
    check: str
    probe: str
    target: str
    link: str
    success: bool
    started: float
    duration: float
    reason: str | None = None
    error: str | None = None
    #: Given as any sequence of `Measurement`s, kept as `Readings` (`readings`).
    measurements: Sequence[Measurement] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.measurements) is not Readings:
            object.__setattr__(self, "measurements", Readings.of(self.measurements))

    @property
    def key(self) -> str:
        return f"{self.site}/{self.check}"

    @property
    def readings(self) -> Readings:
        """The measurements as their shared `Shape` and their values, for readers on a hot path."""
        return self.measurements  # type: ignore[return-value]  # made Readings by __post_init__

    def value(self, name: str, **labels: str) -> float | None:
        """The first measurement called ``name`` whose labels include ``labels``, or None."""
        shape = self.readings.shape
        wanted = labels.items()
        for found, own, value in zip(shape.names, shape.labels, self.readings.values, strict=True):
            if found == name and wanted <= set(own):
                return value
        return None


ProbeFn = Callable[[Check], Awaitable[Result]]
#: Runs many checks of one probe as one: a `Result` per check, in the same order.
SweepFn = Callable[[Sequence[Check]], Awaitable[list[Result]]]
JudgeFn = Callable[[Result, "verdict.Limits | None", "verdict.Baseline | None"], "verdict.Finding"]
#: The figures that matter for one result in a short cell, or None to show the failure instead.
SummaryFn = Callable[[Result, Lang], str | None]

#: Reasons any probe may fail with: the runner's backstop and crash guard, the generic fallbacks, and
#: what every probe that resolves a name and sends packets can meet. A probe may word them its own way.
COMMON_REASONS: Mapping[str, Wording] = {
    "timeout": ("no answer", "không phản hồi"),
    "dns": ("cannot resolve the name", "lỗi phân giải tên"),
    "unreachable": ("unreachable", "không tới được"),
    "probe_error": ("probe error", "lỗi đầu dò"),
    "error": ("error", "lỗi"),
    "no_permission": ("no permission to measure", "không có quyền đo"),
}


def _no_summary(result: Result, lang: Lang) -> str | None:
    return None


def _one_kilobyte(check: Check) -> int:
    return 1_000


@dataclass(frozen=True, slots=True)
class ProbeType:
    """Everything the application knows about one kind of probe, declared by its module.

    - ``run``, ``options``, ``metrics``: what it does, how it is configured, what it may emit.
    - ``shares_engine``: runs are multiplexed on one engine (no socket of their own), so the
      scheduler's concurrency bound does not apply; ``open`` creates the engine before privileges are
      dropped, ``close`` releases what the probe holds when the service stops.
    - ``sweep``: the same runs as ``run``, many checks at once (the scheduler hands it every check of
      the probe due in one slot), for a probe whose per-run cost is mostly per-call overhead.
    - ``reasons``: every failure reason it can report, with its wording (a test holds every
      ``fail()`` call to it); `COMMON_REASONS` are added.
    - ``judge``: its verdict against the link's limits and the check's baseline.
    - ``summary``: its one-line result cell per language.
    - ``run_bytes``: IP-layer bytes one run puts on the link, on the generous side (metered links).
    - ``retain``: for a probe that keeps state between runs (per check key), drop every key not in
      the given set; the daemon calls it with each installed inventory's keys.
    """

    name: str
    run: ProbeFn
    options: type[ProbeOptions]
    metrics: tuple[MetricSpec, ...] = ()
    shares_engine: bool = False
    open: Callable[[], object] | None = None
    close: Callable[[], None] | None = None
    reasons: Mapping[str, Wording] = field(default_factory=dict)
    judge: JudgeFn = verdict.judge_plainly
    summary: SummaryFn = _no_summary
    run_bytes: Callable[[Check], int] = _one_kilobyte
    retain: Callable[[Collection[str]], None] | None = None
    sweep: SweepFn | None = None

    def reason(self, key: str, lang: Lang) -> str | None:
        """The wording of failure reason ``key`` in ``lang``, or None if it was never declared."""
        wording = self.reasons.get(key) or COMMON_REASONS.get(key)
        return say(wording, lang) if wording else None


_REGISTRY: dict[str, ProbeType] = {}

#: Packages whose every module is a plugin that registers itself when imported. Named, not imported:
#: the registry sits on the ground floor and the collectors above it, so it finds them by name on
#: first use instead of relying on each caller to import them first (a caller that forgot got
#: ``unknown probe 'icmp' (known: none)``).
PLUGIN_PACKAGES = ("probes", "collectors")
_discovered = False


def register(
    name: str,
    options: type[ProbeOptions],
    metrics: Iterable[MetricSpec] = (),
    *,
    shares_engine: bool = False,
    open: Callable[[], object] | None = None,
    close: Callable[[], None] | None = None,
    reasons: Mapping[str, Wording] | None = None,
    judge: JudgeFn = verdict.judge_plainly,
    summary: SummaryFn = _no_summary,
    run_bytes: Callable[[Check], int] = _one_kilobyte,
    retain: Callable[[Collection[str]], None] | None = None,
    sweep: SweepFn | None = None,
) -> Callable[[ProbeFn], ProbeFn]:
    """Decorator registering ``run`` as the probe ``name`` with the facts `ProbeType` lists.

    Registering the same name twice is a programming error and raises.
    """

    def decorate(run: ProbeFn) -> ProbeFn:
        if name in _REGISTRY:
            raise ValueError(f"probe {name!r} registered twice")
        _REGISTRY[name] = ProbeType(name, run, options, tuple(metrics), shares_engine, open, close,
                                    dict(reasons or {}), judge, summary, run_bytes, retain, sweep)
        return run

    return decorate


def _discover() -> None:
    """Import every module of the plugin packages, once per process."""
    global _discovered
    if _discovered:
        return
    _discovered = True  # before importing: a plugin that asks the registry while loading must not recurse
    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")


def registry() -> Mapping[str, ProbeType]:
    """All probes by name (read-only view); the plugin packages are discovered on first use."""
    _discover()
    return _REGISTRY


def judge(result: Result, limits: verdict.Limits | None = None,
          baseline: verdict.Baseline | None = None) -> verdict.Finding:
    """The verdict on ``result`` by its own probe type (``limits`` None for checks not bound to a link).

    A probe that could not run for want of permission measured nothing: "cannot measure", whatever
    the probe, never a verdict on the link.
    """
    if result.reason == "no_permission":
        return verdict.Finding(verdict.Verdict.UNKNOWN, "no_permission")
    return get(result.probe).judge(result, limits, baseline)


def get(name: str) -> ProbeType:
    """The probe called ``name``; KeyError naming the known ones otherwise."""
    found = registry()
    try:
        return found[name]
    except KeyError:
        known = ", ".join(sorted(found)) or "none"
        raise KeyError(f"unknown probe {name!r} (known: {known})") from None
