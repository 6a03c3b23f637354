"""Broken and silent devices cost only their own poll: deadlines; malformed, misaddressed, oversized
and flooding answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from collectors.snmp_session import close_engines
from netmon.runner import run_check
from netmon.scheduler import Scheduler
from probes.base import Result
from tests.collectors import responder
from tests.collectors.agents import COMMUNITY, Snmpd, snmpd
from tests.collectors.test_snmp import device


@pytest.fixture(autouse=True)
async def _community(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", COMMUNITY)
    yield
    close_engines()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    with snmpd(tmp_path_factory.mktemp("snmpd")) as a:
        yield a


@pytest.mark.parametrize(("mode", "reason"), [
    ("garbage", "timeout"),      # undecodable datagrams are dropped by pysnmp: the device never answered
    ("endless", "oversized"),    # a column that never ends stops at max_rows
    ("backwards", "malformed"),  # OIDs that do not increase would loop forever
    ("wrong-id", "timeout"),     # an answer to no request of ours is no answer
    ("oversized", "oversized"),  # one ~64 KB datagram with more rows than a GETBULK may carry
])
async def test_broken_device_errors_alone(agent: Snmpd, mode: responder.Mode, reason: str) -> None:
    broken, port = await responder.start(mode)
    try:
        bad = device(port, ("system", "if-mib"), id="broken", timeout=0.3, retries=1, check_timeout=2.0)
        if mode == "endless":  # the oversized answer must be caught by its size, not by this cap
            bad = replace(bad, options=replace(bad.options, max_rows=200))
        good = device(agent.port, ("system", "if-mib"), id="good")
        result, other = await asyncio.gather(run_check(bad), run_check(good))
    finally:
        assert broken.transport is not None
        broken.transport.close()
    assert broken.requests >= 1
    if mode == "oversized":  # refused at the first answer, not after walking 4,096 invented rows
        assert broken.requests == 1 and "varbinds to a GETBULK" in (result.error or "")
    assert (result.success, result.reason) == (False, reason), result.error
    assert [m.name for m in result.measurements] == ["netmon_snmp_up"]
    assert result.duration < bad.timeout
    assert other.success and other.duration < 1.0, other.error


async def test_flood_neither_answers_nor_crowds_out_other_devices(agent: Snmpd) -> None:
    """1,000 datagrams per request, none with our id (some with ids other polls use), on the socket
    every device shares: the healthy device asked while the flood waits there gets its first answer."""
    flood, port = await responder.start("flood")
    try:
        bad = asyncio.create_task(run_check(device(port, ("system", "if-mib"), id="flood", timeout=0.3,
                                                   retries=0, check_timeout=2.0)))
        await flood.flooded.wait()
        good = await run_check(device(agent.port, ("system", "if-mib"), id="good", timeout=2.0, retries=0))
        result = await bad
    finally:
        assert flood.transport is not None
        flood.transport.close()
    assert flood.sent == responder.FLOOD
    assert (result.success, result.reason) == (False, "timeout"), result.error
    assert result.duration < 2.0
    assert good.success, good.error  # no retry allowed: its answer was not dropped behind the flood


async def test_silent_device_fails_within_deadline_while_others_advance(agent: Snmpd) -> None:
    silent, port = await responder.start("silent")
    results: dict[str, list[Result]] = {"silent": [], "good-a": [], "good-b": []}
    enough = asyncio.Event()

    def sink(result: Result) -> None:
        results[result.check].append(result)
        if len(results["silent"]) >= 2 and min(len(v) for v in results.values()) >= 2 and \
                len(results["good-a"]) >= 3:
            enough.set()

    checks = [
        device(port, ("system", "if-mib"), id="silent", timeout=0.25, retries=2, check_timeout=0.9),
        device(agent.port, ("system", "if-mib"), id="good-a", check_timeout=0.9),
        device(agent.port, ("system",), id="good-b", check_timeout=0.9),
    ]
    checks = [replace(c, interval=1.0) for c in checks]
    scheduler = Scheduler([sink], max_concurrency=8)
    scheduler.apply(checks)
    scheduler.start()
    try:
        await asyncio.wait_for(enough.wait(), timeout=15)
        # One run on its own: the scheduler publishes a confirmed failure as spanning the failed run
        # and its immediate re-test (netmon.scheduler), so the deadline is checked on a single run.
        alone = await run_check(checks[0])
    finally:
        await scheduler.stop()
        assert silent.transport is not None
        silent.transport.close()
    assert silent.requests >= 3  # it was asked (first try + retries) and never answered
    assert (alone.success, alone.reason) == (False, "timeout") and alone.duration <= 0.9
    for r in results["silent"]:
        assert (r.success, r.reason) == (False, "timeout")
    for name in ("good-a", "good-b"):
        started = [r.started for r in results[name]]
        assert all(r.success for r in results[name]) and started == sorted(set(started))
