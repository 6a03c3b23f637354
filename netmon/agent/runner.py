"""`netmon agent run`: schedule the inside-out checks, commit each Result, deliver the buffer.

The scheduler is the service's own (`netmon.scheduler`), so an agent's checks behave exactly like the
center's; its one sink commits to the buffer and wakes the delivery. Nothing is sent that was not
committed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import logging
import signal
import ssl
import time
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.snmp_session import close_engines
from netmon.agent.buffer import Buffer
from netmon.agent.checks import inside_out
from netmon.agent.config import AgentConfig, load_model, read_token
from netmon.agent.delivery import Budget, Delivery
from netmon.inventory import load
from netmon.scheduler import Scheduler
from probes.base import Check, Result

log = logging.getLogger("netmon.agent")
#: On SIGTERM, seconds the agent keeps delivering before it exits.
DRAIN_SECONDS = 10.0


def scaled(checks: list[Check], interval: float | None) -> list[Check]:
    if interval is None:
        return checks
    return [dataclasses.replace(c, interval=interval,
                                timeout=max(min(c.timeout, interval * 0.9), c.options.minimum_timeout()))
            for c in checks]


def release_startup_memory() -> None:
    """Give back what loading the whole province's inventory took: the agent keeps its ten checks.

    A collection frees the parsed inventory; glibc keeps freed arenas unless asked (malloc_trim), and
    freezing what is left keeps later full collections from walking it.
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
        self.config_path = Path(config_path)
        cfg = self.config = load_model(self.config_path, AgentConfig)
        inventory = load(cfg.path(self.config_path, cfg.inventory))
        self.checks = scaled(inside_out(inventory, cfg.site), cfg.interval)
        token = read_token(cfg.path(self.config_path, cfg.credential_file))
        site = next(s for s in inventory.spec.sites if s.slug == cfg.site)
        primary = next((lk for lk in site.links if lk.role == "primary"), site.links[0])
        budget = cfg.budget_bytes_per_day or primary.budget_bytes_per_day
        self.buffer = Buffer(cfg.path(self.config_path, cfg.buffer), cfg.buffer_max_bytes)
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

            from netmon.httpserver import parse_listen

            registry = CollectorRegistry()
            registry.register(AgentMetrics(self))
            host, port = parse_listen(self.config.listen)
            start_http_server(port, host, registry)
        self.scheduler.start()
        self.scheduler.apply(self.checks)
        release_startup_memory()
        sender = asyncio.create_task(self.delivery.run())
        log.info("netmon agent %s at %s: %d checks, buffer %s holds %d results, sending to %s",
                 self.config.agent_id, self.config.site, len(self.checks), self.buffer.path,
                 self.buffer.held, self.config.central)
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
            log.info("netmon agent stopped: %d results delivered in %d batches (%d already there), %d bytes, "
                     "%d failed attempts; buffer holds %d, dropped %d in all", s.delivered, s.batches,
                     s.duplicates, s.bytes, s.failures, self.buffer.held, self.buffer.dropped)
            self.buffer.close()
