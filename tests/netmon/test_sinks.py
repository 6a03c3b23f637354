"""The service owns its sinks' lifecycle: facts on start and on every reload, close once, after the last result."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from exporters.sink import InventoryFacts
from netmon.service import Daemon
from probes.base import Result
from tests.netmon.test_service import write_inventory
from tests.support import free_port, tcp_listener


class Recorder:
    """A sink that keeps everything it is handed, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.published = asyncio.Event()

    def publish(self, result: Result) -> None:
        self.events.append(("publish", result.key))
        self.published.set()

    def on_inventory(self, facts: InventoryFacts) -> None:
        self.events.append(("facts", facts))

    def close(self) -> None:
        self.events.append(("close", None))

    def facts(self) -> list[InventoryFacts]:
        return [f for kind, f in self.events if kind == "facts"]  # type: ignore[misc]


WEB = "{{id: web, probe: tcp, target: '127.0.0.1:{port}'}}"
ICMP = "{id: icmp-primary, probe: icmp, link: primary, count: 2}"


async def _daemon_run(tmp_path: Path, reload_with: list[str] | None = None) -> Recorder:
    """Start a daemon on a one-check inventory, await its first result, optionally reload with
    ``reload_with`` added, stop it; the recording sink saw all of it."""
    recorder = Recorder()
    with tcp_listener() as port:
        config = write_inventory(tmp_path / "inv.yaml", [], [WEB.format(port=port)])
        daemon = Daemon(config, f"127.0.0.1:{free_port()}", sinks=[recorder])
        running = asyncio.create_task(daemon.run())
        await asyncio.wait_for(recorder.published.wait(), 10)
        if reload_with is not None:
            write_inventory(config, [], [WEB.format(port=port), *reload_with])
            ok, message = await daemon.reload()
            assert ok, message
        daemon.stop()
        await asyncio.wait_for(running, 10)
    return recorder


async def test_sinks_get_facts_on_start_and_reload_and_close_last(tmp_path: Path) -> None:
    recorder = await _daemon_run(tmp_path, reload_with=[ICMP])
    first, second = recorder.facts()
    assert first.owned == {"chieng-mung/web"}
    assert second.owned == {"chieng-mung/web", "chieng-mung/icmp-primary"}
    assert second.thresholds["fiber"]["rtt_degraded"] == 0.05  # once per link type, not per check
    assert {(lk["site"], lk["link"], lk["link_type"]) for lk in second.links} == {("chieng-mung", "primary", "fiber")}
    assert {s["site"] for s in second.sites} >= {"chieng-mung", "hub-mai-son"}
    assert second.topology.upstream["chieng-mung"] == "hub-mai-son"
    assert second.topology.intervals["chieng-mung/icmp-primary"] == 2.0
    assert recorder.events[-1] == ("close", None)
    assert [kind for kind, _ in recorder.events].count("close") == 1


async def test_a_reload_drops_the_reboot_state_of_removed_devices(tmp_path: Path) -> None:
    from collectors import snmp

    snmp._LAST_UPTIME["chieng-mung/old-router"] = 1234.0  # polled under the previous inventory
    await _daemon_run(tmp_path)
    assert "chieng-mung/old-router" not in snmp._LAST_UPTIME


async def test_the_sinks_per_check_state_leaves_the_collectors_sight_once_every_check_ran(
        tmp_path: Path) -> None:
    """Full collections at 50,000 checks walked every check's sink state for nothing (issue 16): once
    each check has published a result, its state is frozen with the inventory (out of every
    generation `gc.get_objects` lists), not left for full collections to walk."""
    recorder = Recorder()
    with tcp_listener() as port:
        config = write_inventory(tmp_path / "inv.yaml", [], [WEB.format(port=port)], interval="1s",
                                 timeout="500ms")
        daemon = Daemon(config, f"127.0.0.1:{free_port()}", sinks=[recorder])
        running = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(recorder.published.wait(), 10)
            state = daemon.collector._checks["chieng-mung/web"]
            assert gc.is_tracked(state)
            frozen = gc.get_freeze_count()
            async with asyncio.timeout(10):
                while gc.get_freeze_count() <= frozen:
                    await asyncio.sleep(0.05)
            assert not any(o is state for o in gc.get_objects())
        finally:
            daemon.stop()
            await asyncio.wait_for(running, 10)


async def test_a_reload_answers_in_the_services_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /-/reload's answer and its log line are read by the operator who edited the inventory: in
    ``NETMON_LANG``, the rejected file's own error (file:line) kept, the running inventory kept."""
    with tcp_listener() as port:
        config = write_inventory(tmp_path / "inv.yaml", [], [WEB.format(port=port)])
        daemon = Daemon(config, f"127.0.0.1:{free_port()}", sinks=[recorder := Recorder()])
        running = asyncio.create_task(daemon.run())
        await asyncio.wait_for(recorder.published.wait(), 10)
        try:
            monkeypatch.setenv("NETMON_LANG", "vi")
            write_inventory(config, [], [WEB.format(port=port), ICMP])
            assert await daemon.reload() == (True, f"đã nạp lại {config}: thêm 1, đổi 0, bỏ 0")
            config.write_text(config.read_text(encoding="utf-8") + "bogus: [\n", encoding="utf-8")
            ok, message = await daemon.reload()
            assert not ok and message.startswith("không nạp lại: cấu hình có lỗi, vẫn giữ danh mục đang chạy:\n")
            assert f"{config}:" in message and "reload rejected" not in message, message
            monkeypatch.setenv("NETMON_LANG", "en")
            ok, message = await daemon.reload()
            assert not ok and message.startswith("reload rejected, keeping the running inventory:\n"), message
        finally:
            daemon.stop()
            await asyncio.wait_for(running, 10)
