"""The central side: `netmon run --agents FILE` accepts agents' batches over HTTPS.

Per batch, in this order: the bearer token must be a listed agent's (else 401, counted); the batch
and every result in it must be for that agent's own site (else 403, counted as foreign); results
whose sequence number was already taken are duplicates (a resent batch, or a replay) and are
acknowledged without being written again. The new ones are written to Prometheus by remote-write at
their own timestamps, with the running totals the agent counted (counters that continue across its
restarts, under `netmon run`'s names) — only then, in one SQLite transaction, are their sequence
numbers recorded and the batch acknowledged, so a failed write is retried by the agent rather than
lost.

The history wants each agent's results in the order they were measured, but delivery sends live
results ahead of the backlog. Results are therefore held in the ``pending`` table until every lower
sequence number has arrived (or the agent reports it dropped: below the batch's ``low``), and fed to
the history sink in sequence order. Prometheus takes them at once (out-of-order window).
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters import remote_write
from exporters.totals import Totals
from netmon import i18n
from netmon.agent import wire
from netmon.agent.config import AgentEntry, AgentsFile, token_hash
from netmon.agent.delivery import PATH
from netmon.httpserver import Handler, HttpListener
from netmon.webconfig import cert_error
from probes.base import MetricSpec, Result

log = logging.getLogger("netmon.agents")

#: The receiver's log lines, English and Vietnamese (`NETMON_LANG`): the provincial office reads them.
_TEXT = {
    "foreign": ("agent {agent} (site {site}) sent a batch for {other}: refused",
                "tác tử {agent} (điểm {site}) gửi một lô kết quả cho {other}: đã từ chối"),
    "history_only": ("{error}; the batch is kept in the history only",
                     "{error}; lô kết quả chỉ được giữ trong lịch sử"),
}

#: Largest compressed body accepted (a batch is at most ~64 kB of JSON before compression).
MAX_BODY = 4 * 1024 * 1024
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pending (
        agent TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (agent, seq))
        WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS cursor (agent TEXT PRIMARY KEY, next INTEGER NOT NULL)",
    # When the central side first expected each agent and last heard from it: kept across restarts so
    # an agent that never reported, or went silent before a restart, is still seen as silent.
    """CREATE TABLE IF NOT EXISTS contact (
        agent TEXT PRIMARY KEY, listed REAL NOT NULL, last REAL, held INTEGER)""",
)


@dataclass
class AgentCounts:
    site: str
    accepted: int = 0
    duplicate: int = 0
    bytes: int = 0
    dropped: int = 0
    #: Results in the agent's buffer at its last contact (as it reported).
    held: int = 0
    #: Unix time the central side first expected this agent (it was added to the agents file).
    listed: float = 0.0
    last_contact: float = 0.0


@dataclass
class ReceiverStats:
    agents: dict[str, AgentCounts]
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("unauthorized", "foreign", "malformed"), 0))
    remote_write_failures: int = 0


class Refused(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


class Inbox:
    """Deduplication, history ordering and the writes; one batch at a time (a lock)."""

    def __init__(self, agents: AgentsFile, state: Path, specs: Mapping[str, MetricSpec],
                 history: Callable[[Result], None] | None = None):
        self.by_hash = {a.token_sha256: a for a in agents.agents}
        self.remote_write = agents.remote_write
        self.specs = specs
        self.history = history
        self.stats = ReceiverStats({a.id: AgentCounts(a.site) for a in agents.agents})
        state.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(state), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.executemany("INSERT OR IGNORE INTO contact VALUES (?, ?, NULL, NULL)",
                             ((agent, time.time()) for agent in self.stats.agents))
        for agent, listed, last, held in self._db.execute("SELECT agent, listed, last, held FROM contact"):
            if agent in self.stats.agents:
                counts = self.stats.agents[agent]
                counts.listed, counts.last_contact, counts.held = listed, last or 0.0, held or 0
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30.0)

    def authenticate(self, header: str | None) -> AgentEntry:
        token = header[7:].strip() if header and header.startswith("Bearer ") else ""
        digest = token_hash(token)
        agent = next((a for h, a in self.by_hash.items() if hmac.compare_digest(h, digest)), None)
        if not token or agent is None:
            self.stats.rejected["unauthorized"] += 1
            raise Refused(401, "unauthorized", "unknown agent credential")
        return agent

    def receive(self, agent: AgentEntry, body: bytes) -> dict[str, int]:
        try:
            batch, results = wire.decode(body)
        except wire.BadBatch as exc:
            self.stats.rejected["malformed"] += 1
            raise Refused(400, "malformed", str(exc)) from None
        foreign = [r.site for _, r, _ in results if r.site != agent.site]
        if batch.agent != agent.id or batch.site != agent.site or foreign:
            self.stats.rejected["foreign"] += 1
            other = ", ".join(sorted({batch.site, *foreign} - {agent.site})) or batch.agent
            log.warning("%s", i18n.text(_TEXT, "foreign", i18n.lang(), agent=agent.id, site=agent.site,
                                        other=other))
            raise Refused(403, "foreign", f"agent {agent.id} may only write for site {agent.site}")
        with self._lock:
            return self._take(agent, batch, results, len(body))

    def _take(self, agent: AgentEntry, batch: wire.Batch, results: list[wire.Item],
              size: int) -> dict[str, int]:
        counts = self.stats.agents[agent.id]
        counts.bytes += size
        counts.dropped = max(counts.dropped, batch.dropped)
        counts.held = batch.held
        row = self._db.execute("SELECT next FROM cursor WHERE agent = ?", (agent.id,)).fetchone()
        cursor = batch.low if row is None else int(row[0])
        held = {s for (s,) in self._db.execute("SELECT seq FROM pending WHERE agent = ?", (agent.id,))}
        new: dict[int, tuple[Result, Totals | None]] = {}
        for seq, result, totals in results:
            if seq >= cursor and seq not in held and seq not in new:
                new[seq] = (result, totals)
        if new and self.remote_write:
            try:
                body = remote_write.encode(new.values(), self.specs)
                remote_write.push(self._http, self.remote_write, body)
            except remote_write.RemoteWriteError as exc:
                if exc.retry:
                    self.stats.remote_write_failures += 1
                    raise Refused(503, "remote_write", str(exc)) from None
                self.stats.remote_write_failures += 1
                log.error("%s", i18n.text(_TEXT, "history_only", i18n.lang(), error=exc))
        counts.last_contact = time.time()
        feed = self._commit(agent.id, cursor, batch.low, new, counts)
        counts.accepted += len(new)
        counts.duplicate += len(results) - len(new)
        if self.history is not None:
            for result in feed:
                self.history(result)
        return {"accepted": len(new), "duplicate": len(results) - len(new)}

    def _commit(self, agent: str, cursor: int, low: int, new: Mapping[int, tuple[Result, Totals | None]],
                counts: AgentCounts) -> list[Result]:
        """Record ``new``; return what the history may now take, in sequence order."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT INTO pending VALUES (?, ?, ?)",
                                 ((agent, seq, wire.dump(r)) for seq, (r, _) in new.items()))
            rows = self._db.execute("SELECT seq, body FROM pending WHERE agent = ? ORDER BY seq",
                                    (agent,)).fetchall()
            ready: list[tuple[int, str]] = []
            nxt = max(cursor, low)
            for seq, body in rows:
                if seq < nxt:  # delivered before the agent dropped what lay below it
                    ready.append((seq, body))
                elif seq == nxt:
                    ready.append((seq, body))
                    nxt += 1
                else:
                    break
            self._db.executemany("DELETE FROM pending WHERE agent = ? AND seq = ?",
                                 ((agent, seq) for seq, _ in ready))
            self._db.execute("INSERT INTO cursor VALUES (?, ?) ON CONFLICT (agent) DO UPDATE SET next = ?",
                             (agent, nxt, nxt))
            self._db.execute("UPDATE contact SET last = ?, held = ? WHERE agent = ?",
                             (counts.last_contact, counts.held, agent))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return [wire.load(json.loads(body)) for _, body in ready]

    def pending(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT agent, COUNT(*) FROM pending GROUP BY agent").fetchall())

    def close(self) -> None:
        self._http.close()
        self._db.close()


class ReceiverMetrics(Collector):
    """The central side's view of its agents, on `netmon run`'s /metrics."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    def collect(self) -> list[Metric]:
        stats = self.inbox.stats
        results = CounterMetricFamily("netmon_agent_results", "Results received from agents, by outcome.",
                                      labels=("agent", "site", "outcome"))
        contact = GaugeMetricFamily("netmon_agent_last_contact_timestamp_seconds",
                                    "Unix time of the agent's last accepted batch.", labels=("agent", "site"))
        listed = GaugeMetricFamily("netmon_agent_listed_timestamp_seconds",
                                   "Unix time the central side first expected the agent (added to the agents "
                                   "file): an agent never heard from is silent since then.",
                                   labels=("agent", "site"))
        held = GaugeMetricFamily("netmon_agent_buffered_results",
                                 "Results in the agent's buffer at its last contact (its backlog, as it "
                                 "reported).", labels=("agent", "site"))
        dropped = CounterMetricFamily("netmon_agent_buffer_dropped",
                                      "Results the agent's buffer dropped over its size cap (as reported).",
                                      labels=("agent", "site"))
        received = CounterMetricFamily("netmon_agent_received_bytes", "Compressed batch bytes received.",
                                       labels=("agent", "site"))
        pending = GaugeMetricFamily("netmon_agent_pending_results",
                                    "Results held until the lower sequence numbers arrive (history order).",
                                    labels=("agent", "site"))
        waiting = self.inbox.pending()
        for agent, c in stats.agents.items():
            results.add_metric([agent, c.site, "accepted"], c.accepted)
            results.add_metric([agent, c.site, "duplicate"], c.duplicate)
            listed.add_metric([agent, c.site], c.listed)
            if c.last_contact:
                contact.add_metric([agent, c.site], c.last_contact)
                held.add_metric([agent, c.site], c.held)
            dropped.add_metric([agent, c.site], c.dropped)
            received.add_metric([agent, c.site], c.bytes)
            pending.add_metric([agent, c.site], waiting.get(agent, 0))
        rejected = CounterMetricFamily("netmon_agent_batches_rejected", "Agent batches refused, by reason.",
                                       labels=("reason",))
        for reason, n in stats.rejected.items():
            rejected.add_metric([reason], n)
        failures = CounterMetricFamily("netmon_agent_remote_write_failures",
                                       "Remote writes of agent results that failed.",
                                       value=stats.remote_write_failures)
        return [results, contact, listed, held, dropped, received, pending, rejected, failures]


class Receiver(HttpListener):
    """The HTTPS listener in its own thread; each request is handled by `Inbox`."""

    def __init__(self, agents: AgentsFile, source: Path, inbox: Inbox):
        self.inbox = inbox
        context = None
        if agents.tls is not None:
            base = source.resolve().parent
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            try:
                context.load_cert_chain(base / agents.tls.cert_file, base / agents.tls.key_file)
            except OSError as exc:  # ssl.SSLError is one too
                raise cert_error(source, "tls", exc) from None
        super().__init__(agents.listen, _handler(inbox), "agents-http", context)


def _handler(inbox: Inbox) -> type:
    class AgentsHandler(Handler):
        def do_POST(self) -> None:
            if self.path != PATH:
                self._reply(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                inbox.stats.rejected["malformed"] += 1
                self._reply(413 if length > MAX_BODY else 411, {"error": "bad Content-Length"})
                return
            body = self.rfile.read(length)
            try:
                agent = inbox.authenticate(self.headers.get("Authorization"))
                self._reply(200, inbox.receive(agent, body))
            except Refused as exc:
                self._reply(exc.status, {"error": str(exc), "reason": exc.reason})

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return AgentsHandler
