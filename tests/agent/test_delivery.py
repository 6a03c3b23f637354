"""Agent → central → Prometheus on loopback, with the real Debian Prometheus (remote-write receiver).

The central side runs the real `Inbox` and HTTPS `Receiver`; the agent side the real `Buffer` and
`Delivery`. The "cut" is the central endpoint being down: the agent keeps committing, then delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import string
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exporters import remote_write
from exporters.prometheus import ResultCollector
from netmon.agent import runner as agent_runner
from netmon.agent import wire
from netmon.agent.buffer import Buffer
from netmon.agent.config import AgentEntry, AgentsFile, TlsFiles, token_hash
from netmon.agent.delivery import PATH, Budget, Delivery
from netmon.agent.receiver import Inbox, Receiver, ReceiverMetrics
from netmon.httpserver import ListenError
from probes import base, icmp
from probes.base import Measurement, Result
from probes.errors import NetmonError
from tests.hardening.peers import self_signed
from tests.support import free_port, prometheus, wait_until

TOKEN, OTHER = "token-muong-lan-0123456789", "token-chieng-an-0123456789"


def specs() -> dict[str, base.MetricSpec]:
    return {s.name: s for p in base.registry().values() for s in p.metrics}


def measured(i: int, t0: float, site: str = "muong-lan") -> Result:
    return Result(site, "agent-qlvb-https", "http", "https://198.18.0.10/", "agent", i % 4 != 0,
                  t0 + 2 * i, 0.1 + i / 1000, None if i % 4 else "timeout")


@contextlib.contextmanager
def central(tmp: Path, write_url: str | None, history: list[Result]) -> Iterator[tuple[str, Inbox, Path]]:
    cert, key = self_signed(tmp)
    agents = AgentsFile(listen=f"127.0.0.1:{free_port()}", tls=TlsFiles(cert_file=str(cert), key_file=str(key)),
                        remote_write=write_url, state=str(tmp / "agents.db"),
                        agents=[AgentEntry(id="muong-lan", site="muong-lan", token_sha256=token_hash(TOKEN)),
                                AgentEntry(id="chieng-an", site="chieng-an", token_sha256=token_hash(OTHER))])
    inbox = Inbox(agents, tmp / "agents.db", specs(), history.append)
    receiver = Receiver(agents, tmp / "agents.yaml", inbox)
    receiver.start()
    try:
        yield f"https://127.0.0.1:{receiver.port}", inbox, cert
    finally:
        receiver.stop()
        inbox.close()


def test_remote_write_puts_samples_at_their_own_timestamps(tmp_path: Path) -> None:
    t0 = time.time() - 3 * 3600  # older than the head block: the out-of-order window takes it
    results = [measured(i, t0) for i in range(30)]
    with prometheus(tmp_path, [], remote_write=True) as prom, httpx.Client() as client:
        # newest first, then the older ones: out of order on purpose
        remote_write.push(client, f"{prom.url}/api/v1/write", remote_write.encode([(r, None) for r in results[15:]], specs()))
        remote_write.push(client, f"{prom.url}/api/v1/write", remote_write.encode([(r, None) for r in results[:15]], specs()))
        rows = prom.query_range('netmon_probe_success{site="muong-lan"}', t0 - 1, t0 + 70, 1)
        assert len(rows) == 1
        got = {round(float(t)): float(v) for t, v in rows[0]["values"]}
        # a range query repeats a sample for up to 5 min: check the raw samples instead
        raw = prom.query(f'netmon_probe_success{{site="muong-lan"}}[2h] @ {t0 + 100}')
        stamps = [float(t) for t, _ in raw[0]["values"]]
        assert stamps == [round(r.started, 3) for r in results]
        assert [float(v) for _, v in raw[0]["values"]] == [float(r.success) for r in results]
        assert got[round(t0 + 8)] == 0.0


def test_cut_then_delivery_no_duplicate_no_loss(tmp_path: Path) -> None:
    history: list[Result] = []
    with prometheus(tmp_path, [], remote_write=True) as prom:
        t0 = time.time() - 600
        buffer = Buffer(tmp_path / "agent.db", 10**9)
        for i in range(200):  # measured during a cut, committed, nothing sent
            buffer.append(measured(i, t0))
        buffer._db.execute("UPDATE results SET committed = committed - 600")  # they are backlog now
        with central(tmp_path, f"{prom.url}/api/v1/write", history) as (url, inbox, ca):
            delivery = Delivery(buffer, url, TOKEN, "muong-lan", "muong-lan", Budget(None, 0), 60.0, 8000,
                                ssl.create_default_context(cafile=ca))

            async def deliver() -> None:
                task = asyncio.create_task(delivery.run())
                for i in range(200, 210):  # live results while the backlog drains
                    buffer.append(measured(i, t0))
                    delivery.wake.set()
                    await asyncio.sleep(0.05)
                while buffer.held:
                    await asyncio.sleep(0.05)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

            asyncio.run(deliver())
            assert delivery.stats.delivered == 210 and delivery.stats.duplicates == 0
            # a resent batch (its acknowledgement lost) and a replay are taken as duplicates only
            batch = wire.encode(wire.Batch("muong-lan", "muong-lan", 1, 0, 1,
                                           ((5, wire.dump(measured(5, t0))),)))
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client:
                reply = client.post(url + PATH, content=batch, headers=headers)
                assert reply.status_code == 200 and reply.json() == {"accepted": 0, "duplicate": 1}
                # another agent's credential may not write for this site
                reply = client.post(url + PATH, content=batch, headers={"Authorization": f"Bearer {OTHER}"})
                assert reply.status_code == 403
                reply = client.post(url + PATH, content=batch, headers={"Authorization": "Bearer nope"})
                assert reply.status_code == 401
                reply = client.post(url + PATH, content=b"junk", headers=headers)
                assert reply.status_code == 400
            assert inbox.stats.rejected == {"unauthorized": 1, "foreign": 1, "malformed": 1}
            assert inbox.stats.agents["muong-lan"].duplicate == 1
        # the history got every result once, in measurement order, although live ones arrived first
        assert [r.started for r in history] == [measured(i, t0).started for i in range(210)]
        raw = prom.query(f'count_over_time(netmon_probe_success{{site="muong-lan"}}[20m] @ {t0 + 600})')
        assert float(raw[0]["value"][1]) == 210


@pytest.mark.parametrize("per_day", [2_000_000])
def test_backlog_stays_within_the_byte_budget(tmp_path: Path, per_day: int) -> None:
    history: list[Result] = []
    buffer = Buffer(tmp_path / "agent.db", 10**9)
    for i in range(3000):
        buffer.append(measured(i, time.time() - 7000))
    buffer._db.execute("UPDATE results SET committed = committed - 7000")
    with central(tmp_path, None, history) as (url, _inbox, ca):
        budget = Budget(per_day, 16_000)
        delivery = Delivery(buffer, url, TOKEN, "muong-lan", "muong-lan", budget, 60.0, 8000,
                            ssl.create_default_context(cafile=ca))

        async def for_a_while() -> float:
            started = time.monotonic()
            task = asyncio.create_task(delivery.run())
            await asyncio.sleep(4.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return time.monotonic() - started

        elapsed = asyncio.run(for_a_while())
    allowed = budget.capacity + elapsed * per_day / 86400
    assert 0 < delivery.stats.bytes <= allowed, (delivery.stats.bytes, allowed)
    assert buffer.held > 0, "the budget held the backlog back"
    assert len(history) == delivery.stats.delivered
    assert buffer.meta("sent_bytes") == delivery.stats.bytes
    # a restarted agent resumes the bucket where it was, it does not get a full one
    restarted = Delivery(buffer, "https://127.0.0.1:1", TOKEN, "muong-lan", "muong-lan", Budget(per_day, 16_000),
                         60.0, 8000)
    assert restarted.budget.wait(8000) > 0 and restarted.budget.tokens < 0.5 * restarted.budget.capacity


def test_a_busy_agents_port_is_one_line_naming_it(tmp_path: Path) -> None:
    """Like /metrics' --listen: a taken port is a ListenError naming the address, not an OSError traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        agents = AgentsFile(listen=listen, state=str(tmp_path / "agents.db"), agents=[
            AgentEntry(id="muong-lan", site="muong-lan", token_sha256=token_hash(TOKEN))])
        inbox = Inbox(agents, tmp_path / "agents.db", specs(), [].append)
        try:
            with pytest.raises(ListenError, match=listen):
                Receiver(agents, tmp_path / "agents.yaml", inbox)
        finally:
            inbox.close()


def test_agents_endpoint_listens_on_ipv6_loopback(tmp_path: Path) -> None:
    """The server wiring is /metrics' own (`HttpListener`): an IPv6 listen address works for both
    (the agents' copy bound an IPv4 socket whatever the host: '[::1]:PORT' was refused)."""
    agents = AgentsFile(listen="[::1]:0", state=str(tmp_path / "agents.db"), agents=[
        AgentEntry(id="muong-lan", site="muong-lan", token_sha256=token_hash(TOKEN))])
    inbox = Inbox(agents, tmp_path / "agents.db", specs(), [].append)
    receiver = Receiver(agents, tmp_path / "agents.yaml", inbox)
    receiver.start()
    try:
        answer = httpx.post(f"http://[::1]:{receiver.port}{PATH}", content=b"{}", timeout=10)
    finally:
        receiver.stop()
        inbox.close()
    assert answer.status_code == 401, answer.text


def test_a_client_that_fails_the_tls_handshake_is_a_debug_line_not_a_traceback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    """An agent (or a scanner) that speaks plain HTTP to the HTTPS endpoint costs one debug line, as on
    /metrics; the agents' own server printed socketserver's traceback on stderr for each."""
    caplog.set_level("DEBUG", logger="netmon.http")
    cert, key = self_signed(tmp_path)
    agents = AgentsFile(listen="127.0.0.1:0", tls=TlsFiles(cert_file=str(cert), key_file=str(key)),
                        state=str(tmp_path / "agents.db"),
                        agents=[AgentEntry(id="muong-lan", site="muong-lan", token_sha256=token_hash(TOKEN))])
    inbox = Inbox(agents, tmp_path / "agents.db", specs(), [].append)
    receiver = Receiver(agents, tmp_path / "agents.yaml", inbox)
    receiver.start()
    try:
        with socket.create_connection(("127.0.0.1", receiver.port)) as plain:
            plain.sendall(b"POST /v1/results HTTP/1.1\r\nHost: x\r\n\r\n")
            plain.recv(1024)  # the server's TLS alert, or the close
        wait_until(lambda: any("failed" in r.getMessage() for r in caplog.records), 10, "the debug line")
    finally:
        receiver.stop()
        inbox.close()
    assert "Traceback" not in capfd.readouterr().err


#: What the agent's log says when delivery fails: the OS's reason under httpx's "All connection attempts
#: failed", and the central side's refusal (its answer quoted), in the agent's language (was English
#: whatever --lang said).
REFUSAL = 'HTTP 401 {"error": "unknown agent credential", "reason": "unauthorized"}'
WARNINGS = {
    "en": ("delivery to {url} failed: Connection refused", "central {url} refused a batch: "),
    "vi": ("gửi kết quả tới {url} thất bại: kết nối bị từ chối", "trung tâm {url} từ chối một lô kết quả: "),
}


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_delivery_warnings_speak_the_agents_language(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    monkeypatch.setenv("NETMON_LANG", lang)
    caplog.set_level("WARNING", logger="netmon.agent")
    buffer = Buffer(tmp_path / "agent.db", 10**9)
    buffer.append(measured(1, time.time()))

    def first_warning(url: str, verify: ssl.SSLContext | bool) -> str:
        caplog.clear()
        delivery = Delivery(buffer, url, "not-a-known-token", "muong-lan", "muong-lan", Budget(None, 0), 60.0,
                            8000, verify)

        async def until_warned() -> None:
            task = asyncio.create_task(delivery.run())
            while not caplog.records:
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(asyncio.wait_for(until_warned(), 20))
        return caplog.records[0].getMessage()

    closed = f"http://127.0.0.1:{free_port()}"
    assert first_warning(closed, False) == WARNINGS[lang][0].format(url=closed + PATH)
    with central(tmp_path, None, []) as (url, _, ca):
        said = first_warning(url, ssl.create_default_context(cafile=ca))
    assert said == WARNINGS[lang][1].format(url=url + PATH) + REFUSAL


def _gauges(inbox: Inbox, name: str) -> dict[str, float]:
    family = next(f for f in ReceiverMetrics(inbox).collect() if f.name == name)
    return {s.labels["agent"]: s.value for s in family.samples}


def test_silence_is_known_for_agents_never_heard_and_across_restarts(tmp_path: Path) -> None:
    """AgentSilent needs a start for every listed agent's silence: when the central side first expected
    it (kept across restarts, not reset by them) and its last contact (also kept)."""
    before = time.time()
    with central(tmp_path, None, []) as (url, inbox, ca):
        listed = _gauges(inbox, "netmon_agent_listed_timestamp_seconds")
        assert set(listed) == {"muong-lan", "chieng-an"} and all(before <= t <= time.time() for t in listed.values())
        assert _gauges(inbox, "netmon_agent_last_contact_timestamp_seconds") == {}, "never heard: no contact"
        batch = wire.encode(wire.Batch("muong-lan", "muong-lan", 1, 0, 7, ((1, wire.dump(measured(1, before))),)))
        with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client:
            reply = client.post(url + PATH, content=batch, headers={"Authorization": f"Bearer {TOKEN}"})
            assert reply.status_code == 200
        contact = _gauges(inbox, "netmon_agent_last_contact_timestamp_seconds")
        assert set(contact) == {"muong-lan"}
        assert _gauges(inbox, "netmon_agent_buffered_results") == {"muong-lan": 7}, "the backlog it reported"
    with central(tmp_path, None, []) as (_url, inbox, _ca):  # the central side restarted
        assert _gauges(inbox, "netmon_agent_listed_timestamp_seconds") == listed, "not reset by a restart"
        assert _gauges(inbox, "netmon_agent_last_contact_timestamp_seconds") == contact
        assert _gauges(inbox, "netmon_agent_buffered_results") == {"muong-lan": 7}


AGENT_CANARY = "muong-lan/agent-canary-core"


def burst(i: int, t0: float) -> Result:
    """An agent's ICMP run: 5 echoes, 5, 4 or 3 answered (each RTT observed), every 7th run failed."""
    rtts = [0.6 + 0.013 * ((3 * i + k) % 9) for k in range(5 - i % 3)]
    failed = i % 7 == 3
    return Result("muong-lan", "agent-canary-core", "icmp", "198.18.0.1", "agent", not failed, t0 + 2 * i,
                  0.9, "timeout" if failed else None, measurements=(
                      Measurement(icmp.SENT, 5), Measurement(icmp.RECEIVED, len(rtts)),
                      *(Measurement(icmp.RTT, r) for r in rtts)))


def test_running_totals_continue_across_a_restart_as_netmon_run_counts_them(tmp_path: Path) -> None:
    """Counters and histograms of an agent's checks reach Prometheus as `netmon run` exports them:
    same names, labels and values (its own exporter, fed the same results, is the reference), counted
    on across an agent restart (no reset: `increase()` is exact, `resets()` 0), although the backlog
    arrives after live results, and a replayed batch writes nothing twice."""
    t0 = float(int(time.time()) - 1200)
    results = [burst(i, t0) for i in range(60)]
    buffer = Buffer(tmp_path / "agent.db", 10**9, histograms={AGENT_CANARY})
    for r in results[:30]:
        buffer.append(r)
    buffer.close()  # the agent stops; the next one opens the same buffer
    buffer = Buffer(tmp_path / "agent.db", 10**9, histograms={AGENT_CANARY})
    for r in results[30:]:
        buffer.append(r)
    buffer._db.execute("UPDATE results SET committed = committed - 600 WHERE seq <= 50")  # the backlog
    replay = buffer.take(0.0, 10**9)[9]
    with prometheus(tmp_path, [], remote_write=True) as prom, \
            central(tmp_path, f"{prom.url}/api/v1/write", []) as (url, _inbox, ca):
        delivery = Delivery(buffer, url, TOKEN, "muong-lan", "muong-lan", Budget(None, 0), 60.0, 3000,
                            ssl.create_default_context(cafile=ca))

        async def deliver() -> None:
            task = asyncio.create_task(delivery.run())
            while buffer.held:
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(deliver())
        assert delivery.stats.batches > 2, "live results first, the backlog in several batches behind"
        batch = wire.encode(wire.Batch("muong-lan", "muong-lan", 1, 0, 1, (replay,)))
        with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client:
            reply = client.post(url + PATH, content=batch, headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.json() == {"accepted": 0, "duplicate": 1}

        end = t0 + 2 * 59
        agent = '{check="agent-canary-core"}'
        sent = prom.query(f"netmon_icmp_packets_sent_total{agent}[1h] @ {end}")
        assert [float(v) for _, v in sent[0]["values"]] == [5.0 * (i + 1) for i in range(60)], \
            "one sample per result, counted on across the restart"
        # the window [t0, end] holds the first and last samples: no extrapolation, so exact
        assert float(prom.query(f"increase(netmon_icmp_packets_sent_total{agent}[118s] @ {end})")[0]["value"][1]) \
            == 5.0 * 59
        received = sum(len(r.measurements) - 2 for r in results[1:])
        assert float(prom.query(f"increase(netmon_icmp_packets_received_total{agent}[118s] @ {end})")[0]
                     ["value"][1]) == received
        counters = ('{__name__=~"netmon_probe_failures_total|netmon_icmp_packets_.+_total|netmon_icmp_rtt_seconds_.+",'
                    'check="agent-canary-core"}')
        assert float(prom.query(f"resets(netmon_icmp_packets_sent_total{agent}[1h] @ {end})")[0]["value"][1]) == 0
        for series in prom.query(f"{counters}[1h] @ {end}"):
            values = [float(v) for _, v in series["values"]]
            assert values == sorted(values), f"{series['metric']} went backwards: {values}"

        # the reference: `netmon run`'s exporter fed the same results
        exporter = ResultCollector(specs().values())
        exporter.set_histograms({AGENT_CANARY})
        for r in results:
            exporter.publish(r)
        spanning = {"netmon_probe_failures", icmp.SENT, icmp.RECEIVED, icmp.RTT}
        identity = {"site", "check", "probe", "target", "link"}
        want = {(s.name, frozenset((k, v) for k, v in s.labels.items() if k not in identity)): s.value
                for family in exporter.collect() if family.name in spanning for s in family.samples}
        written = prom.query(f"{counters} @ {end}")
        got = {(s["metric"]["__name__"], frozenset((k, v) for k, v in s["metric"].items()
                                                   if k not in identity | {"__name__"})): float(s["value"][1])
               for s in written}
        assert len(want) == 2 + 1 + 18 + 2 and got == want


@pytest.mark.parametrize(("lang", "said"), [("vi", ": tls: không nạp được chứng chỉ/khóa: [Errno 2] không có tệp này"),
                                            ("en", ": tls: cannot load certificate/key: [Errno 2] No such file or directory")])
def test_a_missing_agents_certificate_is_one_line_in_the_users_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str, said: str) -> None:
    """``tls.cert_file`` of the agents file missing was a FileNotFoundError traceback of `netmon run --agents`
    ("[Errno 2] No such file or directory", English only); now the web-config's message, naming the file."""
    monkeypatch.setenv("NETMON_LANG", lang)
    agents = AgentsFile(listen="127.0.0.1:0", state=str(tmp_path / "agents.db"), tls=TlsFiles(
        cert_file="missing.crt", key_file="missing.key"), agents=[
        AgentEntry(id="muong-lan", site="muong-lan", token_sha256=token_hash(TOKEN))])
    inbox = Inbox(agents, tmp_path / "agents.db", specs(), [].append)
    try:
        with pytest.raises(NetmonError) as caught:
            Receiver(agents, tmp_path / "agents.yaml", inbox)
        assert str(caught.value) == f"{tmp_path / 'agents.yaml'}{said}", caught.value
    finally:
        inbox.close()


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "agent chieng-an (site chieng-an) sent a batch for muong-lan: refused"),
    ("vi", "tác tử chieng-an (điểm chieng-an) gửi một lô kết quả cho muong-lan: đã từ chối"),
])
def test_the_central_sides_refusal_of_another_sites_batch_speaks_its_language(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, lang: str,
        said: str) -> None:
    """The provincial office reads the receiver's log: its warning was English whatever NETMON_LANG said."""
    monkeypatch.setenv("NETMON_LANG", lang)
    caplog.set_level("WARNING", logger="netmon.agents")
    batch = wire.encode(wire.Batch("muong-lan", "muong-lan", 1, 0, 1, ((1, wire.dump(measured(1, time.time()))),)))
    with central(tmp_path, None, []) as (url, _, ca), httpx.Client(verify=ssl.create_default_context(cafile=ca)) as c:
        reply = c.post(url + PATH, content=batch, headers={"Authorization": f"Bearer {OTHER}"})
    assert reply.status_code == 403
    assert [r.getMessage() for r in caplog.records if r.name == "netmon.agents"] == [said]


def test_the_agents_start_and_stop_lines_say_the_same_figures_in_both_languages() -> None:
    """A figure missing from one language's line is a KeyError at the agent's start or stop, in that language."""
    for key, wordings in agent_runner._TEXT.items():
        en, vi = ({name for _, name, _, _ in string.Formatter().parse(w) if name} for w in wordings)
        assert en == vi and en, key
