"""Sending the buffer to the central side: live first, backlog behind, within a byte budget.

One batch is in flight at a time. Each round takes from the buffer the live results (committed within
``live_window``) and fills the rest of the batch with the oldest backlog, so after a cut the newest
view reaches the province at once and the outage's record follows in order. A batch is removed from
the buffer only when the central side has acknowledged it; a lost acknowledgement means the batch is
sent again and the central side recognises its sequence numbers (nothing duplicated, nothing lost).

The budget is a token bucket over the bytes of each request and its reply (HTTP bodies and headers;
TLS and TCP/IP framing are not counted): ``bytes_per_day / 86400`` bytes a second, holding at most a
quarter-hour's worth, so a metered VSAT or 4G center never spends more than its daily share on
catching up. The bucket's level and the bytes sent are kept in the buffer's file, so a restart (or a
crash loop) does not refill the bucket. Failures back off exponentially (1 s doubling to 60 s, with
jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass

import httpx

from netmon import i18n, oswording
from netmon.agent import wire
from netmon.agent.buffer import Buffer

log = logging.getLogger("netmon.agent")

#: The technician at the center reads these in the agent's log (journalctl), in --lang / NETMON_LANG.
_TEXT = {
    "failed": ("delivery to {url} failed: {why}", "gửi kết quả tới {url} thất bại: {why}"),
    "refused": ("central {url} refused a batch: HTTP {status} {body}",
                "trung tâm {url} từ chối một lô kết quả: HTTP {status} {body}"),
}

PATH = "/agent/v1/results"
BACKOFF_MIN, BACKOFF_MAX = 1.0, 60.0
#: Live results wait this long for company, so a round of checks travels as one request.
LINGER = 1.0


class Budget:
    """Token bucket over bytes; ``None`` per day means unmetered."""

    def __init__(self, bytes_per_day: int | None, burst: int):
        self.rate = None if bytes_per_day is None else bytes_per_day / 86400.0
        self.capacity = 0.0 if bytes_per_day is None else max(float(burst), bytes_per_day / 96.0)
        self.tokens = self.capacity
        self._at = time.time()

    def restore(self, tokens: float, at: float) -> None:
        """Resume from a saved level (wall clock: it must span restarts; a step is capped by capacity)."""
        self.tokens, self._at = min(tokens, self.capacity), min(at, time.time())

    def state(self) -> tuple[float, float]:
        self._refill()
        return self.tokens, self._at

    def _refill(self) -> None:
        now = time.time()
        if self.rate is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def wait(self, cost: int) -> float:
        """Seconds until ``cost`` bytes may be spent (0 when they may be now)."""
        if self.rate is None:
            return 0.0
        self._refill()
        return 0.0 if self.tokens >= cost else (cost - self.tokens) / self.rate

    def spend(self, cost: int) -> None:
        self._refill()
        if self.rate is not None:
            self.tokens -= cost


@dataclass
class DeliveryStats:
    batches: int = 0
    delivered: int = 0
    #: Results the central side already had (a batch resent after its acknowledgement was lost).
    duplicates: int = 0
    failures: int = 0
    bytes: int = 0
    last_success: float = 0.0


def _header_bytes(headers: httpx.Headers) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.raw)


class Delivery:
    def __init__(self, buffer: Buffer, url: str, token: str, agent: str, site: str, budget: Budget,
                 live_window: float, batch_max_bytes: int, verify: ssl.SSLContext | bool = True):
        self.buffer = buffer
        self.url = url + PATH
        self.agent = agent
        self.site = site
        self.budget = budget
        self.live_window = live_window
        self.batch_max_bytes = batch_max_bytes
        self.stats = DeliveryStats()
        self.wake = asyncio.Event()
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                         "Content-Encoding": "deflate", "User-Agent": "netmon-agent"}
        self._client = httpx.AsyncClient(verify=verify, timeout=30.0)
        self._backoff = BACKOFF_MIN
        if buffer.meta("budget_at_ms"):
            budget.restore(float(buffer.meta("budget_tokens")), buffer.meta("budget_at_ms") / 1000)

    async def run(self) -> None:
        """Deliver until cancelled."""
        try:
            while True:
                rows = self.buffer.take(time.time() - self.live_window, self.batch_max_bytes)
                if not rows:
                    self.wake.clear()
                    await self._sleep_or_wake(30.0)
                    await asyncio.sleep(LINGER)
                    continue
                body = wire.encode(wire.Batch(self.agent, self.site, self.buffer.low, self.buffer.dropped,
                                              self.buffer.held, tuple(rows)))
                estimate = len(body) + 600
                delay = self.budget.wait(estimate)
                if delay > 0:
                    await asyncio.sleep(min(delay, 60.0))
                    continue
                if await self._send(body):
                    self.buffer.ack(seq for seq, _ in rows)
                    self._backoff = BACKOFF_MIN
                else:
                    self.stats.failures += 1
                    await asyncio.sleep(self._backoff * random.uniform(0.5, 1.0))
                    self._backoff = min(BACKOFF_MAX, self._backoff * 2)
        finally:
            await self._client.aclose()

    async def _sleep_or_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)

    def _spent(self, cost: int) -> None:
        self.budget.spend(cost)
        self.stats.bytes += cost
        tokens, at = self.budget.state()
        self.buffer.set_meta(sent_bytes=self.buffer.meta("sent_bytes") + cost, budget_tokens=int(tokens),
                             budget_at_ms=int(at * 1000))

    async def _send(self, body: bytes) -> bool:
        request = self._client.build_request("POST", self.url, content=body, headers=self._headers)
        cost = len(body) + len(self.url) + _header_bytes(request.headers)
        try:
            reply = await self._client.send(request)
        except httpx.HTTPError as exc:
            self._spent(cost)  # what left before the failure is spent all the same
            language = i18n.lang()
            why = oswording.reason(oswording.cause(exc), language)
            log.warning("%s", i18n.text(_TEXT, "failed", language, url=self.url, why=why))
            return False
        cost += len(reply.content) + _header_bytes(reply.headers) + 17
        self._spent(cost)
        if reply.status_code != 200:
            log.warning("%s", i18n.text(_TEXT, "refused", i18n.lang(), url=self.url, status=reply.status_code,
                                        body=reply.text.strip()[:200]))
            return False
        answer = json.loads(reply.content)
        self.stats.batches += 1
        self.stats.delivered += int(answer.get("accepted", 0))
        self.stats.duplicates += int(answer.get("duplicate", 0))
        self.stats.last_success = time.time()
        return True
