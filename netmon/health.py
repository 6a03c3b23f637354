"""The prober's own health as metrics: scheduler lag, skipped checks, config reload state, asyncio tasks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.history import HistoryStatus
from netmon.scheduler import SchedulerStats


@dataclass
class ReloadState:
    """Outcome of the last config (re)load, as Prometheus's own reload metrics report theirs."""

    successful: bool = True
    last_success: float = field(default_factory=time.time)
    checks: int = 0


class HealthCollector(Collector):
    def __init__(self, stats: SchedulerStats, reload: ReloadState):
        self._stats = stats
        self._reload = reload
        self._loop: asyncio.AbstractEventLoop | None = None
        self._history: HistoryStatus | None = None

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Export the number of live tasks on ``loop``: a leak (e.g. per reload) shows as a rising line."""
        self._loop = loop

    def watch_history(self, status: HistoryStatus) -> None:
        """Export the history store's state: planners lose data silently unless someone is told."""
        self._history = status

    def problems(self) -> list[str]:
        """What an operator should know, for /-/healthy (which still answers 200: probing goes on)."""
        found = []
        if self._history is not None and self._history.problem:
            found.append(f"history: {self._history.problem}")
        return found

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        lag = self._stats.lag
        hist = HistogramMetricFamily("netmon_scheduler_lag_seconds",
                                     "Delay between a check's scheduled and actual start.")
        hist.add_metric([], lag.buckets(), lag.total)
        yield hist
        skipped = CounterMetricFamily("netmon_checks_skipped",
                                      "Runs skipped because the previous run of the check was still going.",
                                      labels=("key",))
        for key, count in sorted(self._stats.skipped.items()):
            skipped.add_metric([key], count)
        yield skipped
        runs = CounterMetricFamily("netmon_check_runs", "Check runs completed by the scheduler.")
        runs.add_metric([], self._stats.runs)
        yield runs
        retests = CounterMetricFamily("netmon_check_confirmations",
                                      "Immediate re-tests after a check's first failed run.")
        retests.add_metric([], self._stats.confirmations)
        yield retests
        yield GaugeMetricFamily("netmon_scheduler_seconds_since_last_run",
                                "Seconds (monotonic) since a check run last completed, or since start: "
                                "far above the longest interval means checks are not running.",
                                value=time.monotonic() - self._stats.last_run)
        yield GaugeMetricFamily("netmon_checks_scheduled", "Checks currently scheduled.",
                                value=self._reload.checks)
        yield GaugeMetricFamily("netmon_config_last_reload_successful",
                                "1 if the last inventory (re)load succeeded.",
                                value=1.0 if self._reload.successful else 0.0)
        yield GaugeMetricFamily("netmon_config_last_reload_success_timestamp_seconds",
                                "Unix time of the last successful inventory load.",
                                value=self._reload.last_success)
        if self._history is not None:
            yield from _history_metrics(self._history)
        if self._loop is not None:
            # all_tasks copies the loop's task set with retries, so reading it from the HTTP thread is safe
            yield GaugeMetricFamily("netmon_asyncio_tasks", "Unfinished asyncio tasks on the probing loop.",
                                    value=len(asyncio.all_tasks(self._loop)))


def _history_metrics(status: HistoryStatus) -> Iterator[Metric]:
    yield GaugeMetricFamily("netmon_history_up",
                            "1 if the history store is open and its last write succeeded (see /-/healthy).",
                            value=0.0 if status.problem else 1.0)
    yield GaugeMetricFamily("netmon_history_pending_results",
                            "Results measured but not yet committed to the history store.",
                            value=status.pending)
    yield GaugeMetricFamily("netmon_history_last_commit_timestamp_seconds",
                            "Unix time of the last commit to the history store.", value=status.last_commit)
    for name, doc, value in (
        ("netmon_history_committed_results", "Results committed to the history store.", status.committed),
        ("netmon_history_dropped_results", "Results left out of the history store to bound memory.",
         status.dropped),
        ("netmon_history_write_errors", "Failed commits to the history store (retried).",
         status.write_errors),
        ("netmon_history_reopened", "Times the store file was found deleted or replaced and reopened.",
         status.reopened),
    ):
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], value)
        yield counter
