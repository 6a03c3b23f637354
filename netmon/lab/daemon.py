"""The lab daemon: one process holding every simulated server, the delay path and the schedules.

Started by `netmon.lab.control.up` after the topology exists; it tells its parent it is ready (or why
it failed) through an inherited pipe, then serves a JSON-lines control socket in the state dir
(``status``, ``flow``, ``set``, ``reset``, ``reboot``) until SIGTERM. Link schedules (flaps, outages) and
device reboots are evaluated once per second against the time the lab came up. Each inventory device
gets an snmpd in its site's namespace (`netmon.lab.agents`), stopped with the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from netmon.inventory import load as load_inventory
from netmon.inventory.loader import PYDANTIC_MESSAGES
from netmon.lab import agents, holder, impair, scenario, services, topology, tunnels
from netmon.lab.events import EventLog
from netmon.lab.scenario import DeviceBehaviour, DnsBehaviour, ServiceBehaviour

log = logging.getLogger("netmon.lab.daemon")
TICK = 1.0


class Daemon:
    def __init__(self, inventory: str, scenario_path: str, state: Path) -> None:
        inv = load_inventory(inventory)
        self.plan = topology.plan(inv)
        self.scenario_path = scenario_path
        self.scenario = scenario.load(scenario_path, inv)
        self.state = state
        self.impairments = impair.Impairments(self.plan, self.scenario)
        self.agents = agents.Agents(agents.plan_agents(inv, self.plan), state)
        self.tunnels = tunnels.Tunnels(self.plan, state)
        self.secure_down: set[str] = set()
        self.device_kinds = scenario.device_kinds(inv)
        self.service_overrides: dict[str, dict[str, Any]] = {}
        self.device_overrides: dict[str, dict[str, Any]] = {}
        self.reboots_done: dict[str, int] = {}
        self.started = time.monotonic()
        self.down: tuple[set[str], set[str]] = (set(), set())
        self.effects: dict[str, impair.PathEffect] | None = None
        self.http: dict[str, services.HttpService] = {}
        self.control: asyncio.Server | None = None
        self.schedule: asyncio.Task[None] | None = None
        self.holder: impair.DelayHolder | None = None
        self.stopping = asyncio.Event()
        self.events = EventLog(state)
        self.battery: dict[str, bool] = {}
        #: One refresh at a time: the tick and control requests overlap, and two refreshes in flight would
        #: apply their rules from threads in any order (the kernel left at an older state than reported).
        self.refreshing = asyncio.Lock()

    # -- behaviour lookups used by the servers on every request --
    def service(self, service_id: str) -> ServiceBehaviour:
        base = self.scenario.services.get(service_id, ServiceBehaviour())
        return base.merged(self.service_overrides.get(service_id, {}))

    def dns(self) -> DnsBehaviour:
        return self.scenario.dns.merged(self.service_overrides.get("dns", {}))

    def device(self, key: str) -> DeviceBehaviour:
        return self.scenario.devices.get(key, DeviceBehaviour()).merged(self.device_overrides.get(key, {}))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.holder = await impair.DelayHolder.start()
        ca = services.LabCA(self.state)
        sites = {a: link.site for link in self.plan.links for a in link.addresses}
        for sid, (address, port, tls) in self.plan.services.items():
            server = services.HttpService(sid, address, port, ca if tls else None,
                                          lambda sid=sid: self.service(sid), sites)  # type: ignore[misc]
            await server.start(topology.DC_NS)
            self.http[sid] = server
        records = {sid: address for sid, (address, _, _) in self.plan.services.items()}
        for address in self.plan.dns:
            await services.DnsService(records, self.dns).start(topology.DC_NS, address)
        for link in self.plan.links:
            await services.cpe_listener(link.site_ns, link.cpe)
        await self.agents.start()
        await self.tunnels.start()
        self.events.write("start", scenario=str(self.scenario_path))
        await self.refresh()
        self.control = await asyncio.start_unix_server(self._control, path=str(self.state / "control.sock"))
        self.schedule = loop.create_task(self._schedule())

    async def refresh(self) -> None:
        """Bring kernel rules, the delay table and link states in line with the current behaviour."""
        async with self.refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        effects = self.impairments.effects()
        if effects != self.effects:
            assert self.holder is not None
            await self.holder.update(effects)
            await asyncio.to_thread(impair.apply_rules, effects)
            for address in sorted(set(effects) | set(self.effects or {})):
                ratio = effects[address].loss if address in effects else 0.0
                if ratio != (self.effects[address].loss if self.effects and address in self.effects else 0.0):
                    self.events.write("loss", target=address, ratio=ratio)
            self.effects = effects
        hubs, links = self.impairments.down(time.monotonic() - self.started)
        old_hubs, old_links = self.down
        for hub in self.plan.hubs:
            if (hub.id in hubs) != (hub.id in old_hubs):
                log.info("hub %s %s", hub.id, "down" if hub.id in hubs else "up")
                await asyncio.to_thread(impair.set_hub, self.plan, hub, hub.id in hubs)
                self.events.write("hub", target=hub.id, down=hub.id in hubs)
        for link in self.plan.links:
            if (link.key in links) != (link.key in old_links):
                log.info("link %s %s", link.key, "down" if link.key in links else "up")
                await asyncio.to_thread(impair.set_link, self.plan, link, link.key in links)
                self.events.write("link", target=link.key, down=link.key in links)
        self.down = (hubs, links)
        secure_down = self.impairments.secure_down()
        for t in self.plan.tunnels:
            if (t.site in secure_down) != (t.site in self.secure_down):
                log.info("secure channel %s %s", t.site, "down" if t.site in secure_down else "up")
                await asyncio.to_thread(self.tunnels.set, t, t.site in secure_down)
                self.events.write("secure", target=t.site, down=t.site in secure_down)
        self.secure_down = secure_down
        await self._devices(time.monotonic() - self.started)

    async def _devices(self, t: float) -> None:
        """Each UPS's power source as its behaviour says; a reboot when a scheduled time has passed."""
        due = []
        for key, agent in self.agents.items():
            b = self.device(key)
            agent.set_battery(b.on_battery)
            if self.battery.get(key, False) != b.on_battery:
                self.events.write("battery", target=key, on=b.on_battery)
            self.battery[key] = b.on_battery
            passed = sum(1 for at in b.reboots if at <= t)
            if passed > self.reboots_done.get(key, 0):
                due.append(agent.reboot())
                self.events.write("reboot", target=key)
            self.reboots_done[key] = passed
        await asyncio.gather(*due)

    async def _schedule(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(TICK)  # the schedule's clock: flaps and outages have 1 s resolution
            try:
                await self.refresh()
            except Exception:
                log.exception("applying the schedule failed; retrying next tick")

    # -- control socket --
    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline())
            reply = await self.handle(request)
        except Exception as exc:  # a bad request gets an answer, never kills the daemon
            reply = {"ok": False, "error": str(exc)}
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()
        writer.close()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return {"ok": True, **await self.status()}
        if op == "flow":
            return {"ok": True, **await self.flow(str(request["address"]), request.get("port"))}
        if op in ("reset", "set", "reboot"):
            self.events.write(op, **{k: v for k, v in request.items() if k != "op"})
        if op == "reset":
            self.impairments.reset()
            self.service_overrides.clear()
            self.device_overrides.clear()
        elif op == "reboot":
            target = str(request["target"])
            if target not in self.agents:
                return {"ok": False, "error": f"unknown device {target!r} (expected SITE/DEVICE)"}
            await self.agents[target].reboot()
        elif op == "set":
            target, values = str(request["target"]), dict(request["values"])
            try:
                self._set(target, values)
            except (ValidationError, KeyError) as exc:
                return {"ok": False, "error": _explain(target, exc)}
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}
        for server in self.http.values():
            server.refresh_certificate()
        await self.refresh()
        return {"ok": True, **await self.status()}

    def _set(self, target: str, values: dict[str, Any]) -> None:
        if target == "dns":
            DnsBehaviour.model_validate(values)
        elif target in self.plan.services:
            ServiceBehaviour.model_validate(values)
        elif target in self.device_kinds:
            behaviour = self.device(target).merged(values)
            if problem := scenario.check_device(target, behaviour, self.device_kinds):
                raise KeyError(problem)
            self.device_overrides[target] = {**self.device_overrides.get(target, {}), **values}
            return
        else:
            self.impairments.change(target, values)
            return
        self.service_overrides[target] = {**self.service_overrides.get(target, {}), **values}

    async def status(self) -> dict[str, Any]:
        if self.holder is not None:
            await self.holder.refresh_counters()
        hubs, links = self.down
        return {
            "pid": os.getpid(), "scenario": self.scenario_path, "uptime": time.monotonic() - self.started,
            "down": sorted(hubs) + sorted(links),
            "secure_down": sorted(self.secure_down),
            "impaired": {a: vars(e) for a, e in (self.effects or {}).items()},
            "overrides": {**self.impairments.overrides, **self.service_overrides, **self.device_overrides},
            "services": {sid: self.service(sid).model_dump() for sid in self.plan.services},
            "dns": self.dns().model_dump(),
            # the delay path's own truth: packets it held, how many it released late and the worst by how much
            "delay_path": self.holder.counters if self.holder else asdict(holder.Counters()),
            "ca_file": str(self.state / "ca.pem"),
            "devices": {key: {"address": f"{a.spec.address}:{a.spec.port}", "kind": a.spec.kind,
                              "on_battery": a.on_battery, "pid": a.proc.pid if a.proc else None}
                        for key, a in self.agents.items()},
            "snmp_secrets": str(self.state / "snmp"),
        }

    async def flow(self, address: str, port: int | None) -> dict[str, Any]:
        """What the delay path did to the packets to or from ``address`` (and ``port``): the last ones it
        released and those it holds now (`holder.Holder.flow`); nothing without a holder."""
        if not isinstance(port, int | None) or not 0 < (port or 1) < 65536:
            raise ValueError(f"not a port: {port!r}")
        ipaddress.IPv4Address(address)  # a ValueError that names it
        if self.holder is None:
            return {"kept": 0, "released": [], "waiting": []}
        return await self.holder.flow(address, port)


def _explain(target: str, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: "
                 f"{PYDANTIC_MESSAGES.get(e['type'], e['msg'])}" for e in exc.errors()]
        return f"{target}: " + "; ".join(parts)
    return str(exc.args[0]) if exc.args else str(exc)


async def _main(args: argparse.Namespace) -> None:
    daemon = Daemon(args.inventory, args.scenario, Path(args.state))
    try:
        await daemon.start()
    except BaseException:
        await daemon.agents.stop()
        await daemon.tunnels.stop()
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    os.write(args.ready_fd, b"ready\n")
    os.close(args.ready_fd)
    await daemon.stopping.wait()
    await daemon.agents.stop()
    await daemon.tunnels.stop()
    daemon.events.close()
    if daemon.holder is not None:
        await daemon.holder.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m netmon.lab.daemon")
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main(args))
    except BaseException as exc:
        log.exception("lab daemon failed")
        with contextlib.suppress(OSError):  # already reported ready: the log has the traceback
            os.write(args.ready_fd, f"error: {exc}\n".encode())
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
