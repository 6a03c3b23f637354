"""`netmon run`: the long-running service that wires inventory, scheduler, exporter and HTTP.

Start-up fails fast on a bad inventory. After that, nothing already good is lost: a reload (SIGHUP
or POST /-/reload) with an invalid file logs every error, sets
``netmon_config_last_reload_successful 0`` and keeps the running checks untouched.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from exporters.prometheus import Restricted, ResultCollector, TextRegistry
from exporters.sink import Sink
from netmon import i18n
from netmon.facts import derive
from netmon.health import HealthCollector, ReloadState
from netmon.httpserver import MetricsServer
from netmon.inventory import ConfigError, Inventory
from netmon.inventory.isolated import load_compact
from netmon.placeholders import warn_if_unrouted
from netmon.report.metrics import AccountingCollector
from netmon.runner import GRACE_SECONDS
from netmon.scheduler import Scheduler
from netmon.sharding import Shard
from netmon.webconfig import WebConfig
from probes import base

log = logging.getLogger("netmon.service")

#: What a reload answers its caller (POST /-/reload) and writes to the service log: the operator who
#: edited the inventory reads it, in the service's language (``NETMON_LANG``).
_TEXT = {
    "rejected": ("reload rejected, keeping the running inventory:\n{detail}",
                 "không nạp lại: cấu hình có lỗi, vẫn giữ danh mục đang chạy:\n{detail}"),
    "reloaded": ("reloaded {config}: {added} added, {changed} changed, {removed} removed",
                 "đã nạp lại {config}: thêm {added}, đổi {changed}, bỏ {removed}"),
}

#: Young-generation threshold raised from CPython's 700 (and the older generations' from 10, 10):
#: every burst in flight holds a task, a coroutine, futures and timer handles, so with thousands in
#: flight the default promoted them into the old generation and set off full collections that walk
#: every live burst. Sweeping 20,000 ICMP checks × 3 echoes through the scheduler, 8 full
#: collections cost 0.82 s of the sweep's 4.5 s of CPU; with these thresholds there were none and the
#: sweep took 3.4-3.9 s (bench/README.md, ICMP sweep, scheduler path).
GC_THRESHOLDS = (10_000, 10, 10)


class Feed(Protocol):
    def stop(self) -> None: ...


class Daemon:
    """The daemon (not to be confused with a monitored `netmon.inventory.model.Service`): owns the
    scheduler, the HTTP server and the sinks' lifecycle.

    The sinks (the Prometheus exposition always, the history store when asked for) get every result,
    the facts of every installed inventory (`netmon.facts.derive`, at start and on each reload) and
    are closed once at stop, after the scheduler and any feed (`attach_feed`) have stopped, so no
    result arrives at a closed sink.
    """

    def __init__(self, config: str | Path, listen: str = "127.0.0.1:9813",
                 sinks: Iterable[Sink] = (), max_concurrency: int = 256, shard: Shard | None = None,
                 web: WebConfig | None = None, enable_reload: bool | None = None, user: str | None = None,
                 hangup_stops: bool = False):
        self.config = Path(config)
        #: SIGHUP means "reload" to a daemon, but "your terminal is gone" to an interactive run (the demo).
        self.hangup_stops = hangup_stops
        self.shard = shard
        self.listen = listen
        self.web = web
        self.enable_reload = enable_reload
        self.user = user
        self.inventory = load_compact(self.config)
        self.collector = ResultCollector(s for p in base.registry().values() for s in p.metrics)
        self.sinks: tuple[Sink, ...] = (self.collector, *sinks)
        self.scheduler = Scheduler([s.publish for s in self.sinks], max_concurrency)
        self.reload_state = ReloadState(checks=len(self.inventory.checks))
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self.health = HealthCollector(self.scheduler.stats, self.reload_state)
        # The prober's own series, on the fast text path (`metrics_text`) each collector's own text where
        # it keeps one (the accounting's per-link contracts), else rendered generically.
        self.own_registry = TextRegistry()
        self.own_registry.register(self.health)
        self.accounting = AccountingCollector()  # service period and contracts, for the recording rules
        self.own_registry.register(self.accounting)
        ProcessCollector(registry=self.own_registry)  # process_resident_memory_bytes, process_open_fds
        self.registry.register(self.own_registry)
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._queued_reload: asyncio.Future[tuple[bool, str]] | None = None
        self._reload_tasks: set[asyncio.Task[None]] = set()
        self._config_worker = ThreadPoolExecutor(1, thread_name_prefix="netmon-config")
        self.server: MetricsServer | None = None
        self._feeds: list[Feed] = []

    def attach_feed(self, feed: Feed) -> None:
        """A source of results besides the scheduler (the edge agents' receiver) that publishes into
        the sinks: it is stopped with the scheduler, before the sinks close."""
        self._feeds.append(feed)

    def _install(self, inventory: Inventory) -> tuple[int, int, int]:
        self.inventory = inventory
        checks = self.shard.select(inventory.checks) if self.shard else list(inventory.checks)
        changes = self.scheduler.apply(checks)
        facts = derive(inventory, time.time(), owned=[c.key for c in checks],
                       publish_sites=self.shard is None or self.shard.index == 1)
        for sink in self.sinks:
            sink.on_inventory(facts)
        self.accounting.on_inventory(inventory, publish_links=self.shard is None or self.shard.index == 1)
        for probe in base.registry().values():  # state a probe keeps per check (e.g. SNMP uptimes)
            if probe.retain is not None:
                probe.retain(facts.owned)
        self.reload_state.checks = len(checks)
        # Every check's state in the sinks (the exporter's, the history store's, the board's) is made at
        # its first result and lives as long as the check: freeze it once every check has published one
        # (its first run starts within an interval; a first failure's re-test may publish later, and its
        # state stays in sight), so full collections stop walking it. At 50,000 checks they walked it
        # every ~40 s, 0.3-0.5 s each, and freed nothing (bench/README.md, Scale). No collection first:
        # it would be one such stall, and the only garbage it could find is cycles in flight then,
        # which stay (none were seen).
        settle = max((check.interval + check.timeout for check in checks), default=0.0) + GRACE_SECONDS
        asyncio.get_running_loop().call_later(settle, gc.freeze)
        return changes

    async def reload(self) -> tuple[bool, str]:
        """Re-read the config file; keep the running inventory if it is invalid.

        Reloads run one at a time, and the newest request wins: a request arriving while a reload runs
        joins the one queued behind it (every request until that one starts shares it), which reads the
        file only when it starts. A slow reload of a big file once finished after a later quick one and
        left 10,812 checks running from a file that held 1. Loading has its own thread: reloads shared
        the default pool with TCP/HTTP name resolution, and a config that never delivered data
        starved the probes.
        """
        queued = self._queued_reload
        if queued is None:
            queued = self._queued_reload = asyncio.get_running_loop().create_future()
            self._reload_tasks.add(task := asyncio.create_task(self._reload_when_free(queued)))
            task.add_done_callback(self._reload_tasks.discard)
        return await asyncio.shield(queued)

    async def _reload_when_free(self, outcome: asyncio.Future[tuple[bool, str]]) -> None:
        async with self._reload_lock:
            self._queued_reload = None  # from now on a new request needs a fresh read of the file
            try:
                outcome.set_result(await self._reload_now())
            except BaseException as exc:  # every waiter hears of it; cancellation goes on
                outcome.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

    async def _reload_now(self) -> tuple[bool, str]:
        loop = asyncio.get_running_loop()
        try:
            inventory = await loop.run_in_executor(self._config_worker, load_compact, self.config)
        except Exception as exc:  # a ConfigError, or a loader bug: either way, keep running
            detail = str(exc)
            if not isinstance(exc, ConfigError):
                log.exception("reload: the loader failed on %s", self.config)
                detail = f"{self.config}: {type(exc).__name__}: {exc}"
            self.reload_state.successful = False
            message = i18n.text(_TEXT, "rejected", i18n.lang(), detail=detail)
            log.error("%s", message)
            return False, message
        added, changed, removed = self._install(inventory)
        self.reload_state.successful = True
        self.reload_state.last_success = time.time()
        message = i18n.text(_TEXT, "reloaded", i18n.lang(), config=self.config, added=added, changed=changed,
                            removed=removed)
        log.info(message)
        return True, message

    def metrics_text(self, names: Collection[str] | None = None) -> list[bytes]:
        """/metrics in text format 0.0.4: the per-check series from the exporter's cache, then ours;
        only the families with a sample named in ``names`` when it is given (``name[]``)."""
        own = self.own_registry.render_text() if not names else [
            generate_latest(Restricted(self.own_registry, names))]
        return [*self.collector.render_text(names), *own]

    def stop(self) -> None:
        self._stop.set()

    def _probes_in_use(self) -> list[base.ProbeType]:
        return [base.get(name) for name in sorted({c.probe for c in self.inventory.checks})]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # Shared engines first (ICMP's socket): without the permission start-up stops here with one line
        # naming the fix, instead of every ICMP check failing on every run; --user needs them open.
        for probe in base.registry().values() if self.user else self._probes_in_use():
            if probe.open is not None:
                probe.open()
        self.health.watch_loop(loop)
        self.server = MetricsServer(self.listen, self.registry, self.reload, loop, self.web,
                                    self.enable_reload, text=self.metrics_text, problems=self.health.problems)
        self.server.start()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        if self.hangup_stops:
            loop.add_signal_handler(signal.SIGHUP, self.stop)
        else:
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        warn_if_unrouted(self.inventory.checks)
        self.scheduler.start()
        self._install(self.inventory)
        if self.user:
            # Listening socket and the ICMP engine's raw socket are open (no job has run yet: they
            # start when this coroutine first awaits): keep only CAP_NET_RAW.
            from netmon.privileges import drop_to

            drop_to(self.user)
        # The inventory and the scheduler's state live as long as the process: move them out of the
        # collector's sight, so full collections (frequent with thousands of bursts in flight) stay cheap.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        counts = self.inventory.counts()
        log.info("netmon running: %d of %d checks (shard %s) on %d sites; metrics on %s://%s/metrics",
                 self.reload_state.checks, counts["checks"], self.shard or "1/1", counts["sites"],
                 "https" if self.web and self.web.tls else "http", self.listen)
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.scheduler.stop()
            for feed in self._feeds:
                await asyncio.to_thread(feed.stop)
            for sink in self.sinks:
                try:
                    await asyncio.to_thread(sink.close)
                except Exception:  # one sink failing to flush must not keep the others open
                    log.exception("closing sink %r failed", sink)
            for probe in base.registry().values():  # e.g. the SNMP engines' UDP sockets of this loop
                if probe.close is not None:
                    probe.close()
            self.server.stop()
            # A read still stuck (a hung file system) must not hold the exit: the thread is left behind.
            self._config_worker.shutdown(wait=False, cancel_futures=True)
            log.info("netmon stopped")
