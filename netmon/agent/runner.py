"""`netmon agent run`: schedule the inside-out checks, commit each Result, deliver the buffer.

The scheduler is the service's own (`netmon.scheduler`), so an agent's checks behave exactly like the
center's; its one sink commits to the buffer and wakes the delivery. Nothing is sent that was not
committed first.

The agent's config and the inventory are validated by their own models, with the errors `netmon
validate` gives, in a short-lived child process (`resolve`, `in_child`): pydantic and the parsed
province are ~20 MB the agent's box (50 MB in all) would otherwise keep for as long as it runs. The
child hands back plain values — the config, the checks with their options and SNMP profiles, all
dataclasses — and the agent runs without ever importing pydantic or the inventory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import logging
import os
import pickle
import signal
import ssl
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors import snmp_profiles
from collectors.snmp import SnmpOptions
from collectors.snmp_session import close_engines
from netmon import i18n
from netmon.agent.buffer import Buffer
from netmon.agent.checks import histograms, inside_out
from netmon.agent.config import AgentConfig, read_token
from netmon.agent.delivery import Budget, Delivery
from netmon.scheduler import Scheduler
from probes.base import Check, Result
from probes.errors import NetmonError

log = logging.getLogger("netmon.agent")

#: The agent's start and stop lines, English and Vietnamese (`NETMON_LANG`): a center's technician reads them.
_TEXT = {
    "started": ("netmon agent {agent} at {site}: {checks} checks, buffer {buffer} holds {held} results, "
                "sending to {central}",
                "tác tử netmon {agent} tại {site}: {checks} phép kiểm tra, bộ đệm {buffer} đang giữ {held} "
                "kết quả, gửi tới {central}"),
    "stopped": ("netmon agent stopped: {delivered} results delivered in {batches} batches "
                "({duplicates} already there), {bytes} bytes, {failures} failed attempts; "
                "buffer holds {held}, dropped {dropped} in all",
                "tác tử netmon đã dừng: đã gửi {delivered} kết quả trong {batches} lô ({duplicates} đã có từ "
                "trước), {bytes} byte, {failures} lần gửi thất bại; bộ đệm đang giữ {held}, tổng cộng đã bỏ "
                "{dropped}"),
}

#: On SIGTERM, seconds the agent keeps delivering before it exits.
DRAIN_SECONDS = 10.0


def scaled(checks: list[Check], interval: float | None) -> list[Check]:
    if interval is None:
        return checks
    return [dataclasses.replace(c, interval=interval,
                                timeout=max(min(c.timeout, interval * 0.9), c.options.minimum_timeout()))
            for c in checks]


@dataclasses.dataclass(frozen=True, slots=True)
class Resolved:
    """What the agent runs with, from its config file and the inventory: plain values only."""

    config: AgentConfig
    checks: tuple[Check, ...]
    #: The credential file's token (read by the child, handed over through a pipe, never in ``ps``).
    token: str = dataclasses.field(repr=False)
    #: Bytes a day delivery may use: the config's, else the site's primary link's (None: no limit).
    budget_bytes_per_day: int | None
    #: The SNMP profiles the checks poll with, validated.
    profiles: tuple[snmp_profiles.Profile, ...]
    #: Keys of the checks whose observations are counted into histograms.
    histograms: frozenset[str]


def resolve(config_path: Path) -> Resolved:
    """Validate the agent's config and the inventory it names; derive the agent's checks."""
    from netmon.inventory import load
    from netmon.inventory.loader import load_model

    cfg = load_model(config_path, AgentConfig)
    inventory = load(cfg.path(config_path, cfg.inventory))
    checks = scaled(inside_out(inventory, cfg.site), cfg.interval)
    token = read_token(cfg.path(config_path, cfg.credential_file))
    site = next(s for s in inventory.spec.sites if s.slug == cfg.site)
    names = dict.fromkeys(n for c in checks if isinstance(c.options, SnmpOptions) for n in c.options.profiles)
    return Resolved(cfg, tuple(checks), token, cfg.budget_bytes_per_day or site.primary.budget_bytes_per_day,
                    tuple(snmp_profiles.load(n) for n in names), histograms(inventory, cfg.site, checks))


T = TypeVar("T")


def in_child(work: Callable[[], T]) -> T:
    """``work()`` run in a forked child process; its value, or its exception raised here.

    What the child imports and allocates leaves with it. When pydantic is already loaded (a test, or a
    process that validated something else first) there is nothing to save and ``work`` runs here.
    """
    if "pydantic" in sys.modules:
        return work()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        try:
            try:
                payload = pickle.dumps((True, work()))
            except Exception as exc:  # handed to the parent, which raises it
                if not isinstance(exc, NetmonError):
                    exc.add_note(f"in the agent's validating child process:\n{traceback.format_exc()}")
                try:
                    payload = pickle.dumps((False, exc))
                    pickle.loads(payload)  # an exception whose __init__ differs from its args does not load
                except Exception:  # raised as what the CLI prints of it: its message
                    stand_in = NetmonError(str(exc)) if isinstance(exc, NetmonError) else RuntimeError(
                        "".join(traceback.format_exception(exc)))
                    payload = pickle.dumps((False, stand_in))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"the agent's validating child process ended without an answer (status {status})")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def release_startup_memory() -> None:
    """Give back what starting took: the agent keeps its ten checks.

    glibc keeps freed arenas unless asked (malloc_trim), and freezing what is left keeps later full
    collections from walking it.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    gc.freeze()


class AgentMetrics(Collector):
    """The agent's own health on its optional /metrics: buffer and delivery."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def collect(self) -> list[Metric]:
        b, s = self.agent.buffer, self.agent.delivery.stats
        gauges = (("netmon_agent_buffer_results", "Results held in the buffer, not acknowledged.", b.held),
                  ("netmon_agent_buffer_bytes", "Bytes of results held in the buffer.", b.bytes),
                  ("netmon_agent_last_delivery_timestamp_seconds", "Last acknowledged batch.",
                   s.last_success))
        counters = (("netmon_agent_buffer_dropped", "Results dropped by the buffer's size cap.", b.dropped),
                    ("netmon_agent_delivered_results", "Results the central side accepted.", s.delivered),
                    ("netmon_agent_sent_bytes", "HTTP bytes sent and received for delivery.", s.bytes),
                    ("netmon_agent_delivery_failures", "Batches that failed and were retried.", s.failures))
        out: list[Metric] = [GaugeMetricFamily(n, h, value=v) for n, h, v in gauges]
        out += [CounterMetricFamily(n, h, value=v) for n, h, v in counters]
        return out


class Agent:
    def __init__(self, config_path: str | Path):
        self.config_path = path = Path(config_path)
        resolved = in_child(lambda: resolve(path))
        snmp_profiles.adopt(resolved.profiles)
        cfg = self.config = resolved.config
        self.checks = list(resolved.checks)
        budget, token = resolved.budget_bytes_per_day, resolved.token
        self.buffer = Buffer(cfg.path(self.config_path, cfg.buffer), cfg.buffer_max_bytes,
                             resolved.histograms)
        verify: ssl.SSLContext | bool = True
        if cfg.ca_file:
            verify = ssl.create_default_context(cafile=cfg.path(self.config_path, cfg.ca_file))
        self.delivery = Delivery(self.buffer, cfg.central, token, cfg.agent_id, cfg.site,
                                 Budget(budget, 2 * cfg.batch_max_bytes), cfg.live_window,
                                 cfg.batch_max_bytes, verify)
        self.scheduler = Scheduler([self.commit])
        self._stop = asyncio.Event()

    def commit(self, result: Result) -> None:
        self.buffer.append(result)
        self.delivery.wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        if self.config.listen:
            # Only then: the HTTP server stack is a few MB of a box that has 50 MB in all.
            from prometheus_client import CollectorRegistry, start_http_server

            from netmon.httpserver import ListenError, parse_listen

            registry = CollectorRegistry()
            registry.register(AgentMetrics(self))
            host, port = parse_listen(self.config.listen)
            try:
                start_http_server(port, host, registry)
            except OSError as exc:  # a busy port: one line, as `netmon run` says it
                raise ListenError(self.config.listen, exc) from None
        self.scheduler.start()
        self.scheduler.apply(self.checks)
        release_startup_memory()
        sender = asyncio.create_task(self.delivery.run())
        log.info("%s", i18n.text(_TEXT, "started", i18n.lang(), agent=self.config.agent_id,
                                 site=self.config.site, checks=len(self.checks), buffer=self.buffer.path,
                                 held=self.buffer.held, central=self.config.central))
        try:
            await self._stop.wait()
        finally:
            await self.scheduler.stop()
            close_engines()
            # A clean stop gives the last results a moment to leave; whatever stays is sent next start.
            deadline = time.monotonic() + DRAIN_SECONDS
            while self.buffer.held and not sender.done() and time.monotonic() < deadline:
                self.delivery.wake.set()
                await asyncio.sleep(0.1)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            s = self.delivery.stats
            log.info("%s", i18n.text(_TEXT, "stopped", i18n.lang(), delivered=s.delivered, batches=s.batches,
                                     duplicates=s.duplicates, bytes=s.bytes, failures=s.failures,
                                     held=self.buffer.held, dropped=self.buffer.dropped))
            self.buffer.close()
