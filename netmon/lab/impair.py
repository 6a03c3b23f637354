"""Impairments without netem: what each link does to packets, and the kernel rules that make it so.

Every probe packet from the root namespace is forwarded by ``nml-dc``, so all impairments are applied
there, by destination (a hub address, or a CPE behind it; a CPE's effective values compose its
hub's and its link's). ``nml-dc`` also holds the services, DNS and the core gateway that a center's
own traffic reaches (an edge agent): that traffic crosses its link too, as the data center's probes
do — its loss on the output hook (the answers ``nml-dc`` sends), its delay on the input hook (the
requests it receives; see below why not the answers). Each method and what it covers:

- **loss** — an nftables forward chain, ``ip daddr X numgen random mod 1000000 < p·10⁶ drop``: every
  protocol, packets toward the target only, so a round trip is lost with probability ``loss``.
- **delay / jitter** — an iptables ``NFQUEUE`` rule per delayed destination (nft's own ``queue`` is not
  built into this kernel) and one real-time userspace process (`netmon.lab.holder`) that releases each
  packet after ``delay ± U(jitter)``: every protocol (ICMP, TCP handshakes, HTTP, DNS), toward the
  target only, so it adds exactly ``delay`` to every round trip. Jittered packets may be reordered.
  A center's traffic to ``nml-dc`` itself is held on the way in (``-s``), not its answers on the way
  out: a packet ``nml-dc``'s own socket sent is still charged to that socket while it is held, and
  TCP small queues let a socket have only ~2 packets below it — every further packet of an answer
  (the HTTPS reply behind the TLS session tickets) waited one more full delay, which no real link
  does (a 600 ms VSAT center: 2.4 s for an HTTPS request instead of 1.8 s).
- **secure_down** — the site's encryptor fails: its tunnel interface goes down (`netmon.lab.tunnels`).
- **down / flap / outage** — the far end of the veth is set down (the hub's uplink for a hub, the hub's
  port for a site link): the near end sees NO-CARRIER and packets die there, like a cut cable; the
  routes the kernel flushes are put back when the link comes up.
- **service status, latency, certificate expiry, DNS rcode** — in the lab daemon's own servers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from netmon.lab import holder, netns
from netmon.lab.scenario import LinkBehaviour, ScenarioFile
from netmon.lab.topology import DC_NS, HubPlan, LinkPlan, Plan


@dataclass(frozen=True)
class PathEffect:
    """What the path to one destination address does to a packet."""

    delay: float
    jitter: float
    loss: float


class Impairments:
    """Scenario + runtime overrides → the behaviour of every link and hub, and the rules for it."""

    def __init__(self, plan: Plan, scenario: ScenarioFile) -> None:
        self.plan = plan
        self.scenario = scenario
        #: Canonical target (hub id or ``site/link``) → fields changed by `netmon lab set`.
        self.overrides: dict[str, dict[str, Any]] = {}
        self._entries = {self.canonical(t): b.model_dump(exclude_unset=True)
                         for t, b in scenario.links.items()}

    def canonical(self, target: str) -> str:
        """``SITE`` → its primary ``site/link``; hub ids and ``site/link`` stay; unknown names raise."""
        if any(h.id == target for h in self.plan.hubs):
            return target
        if target in self.plan.sites:
            return self.plan.primary(target).key
        if any(lk.key == target for lk in self.plan.links):
            return target
        raise KeyError(f"unknown site, site/link or hub {target!r}")

    def change(self, target: str, changes: dict[str, Any]) -> LinkBehaviour:
        """Validate and record runtime changes; returns the target's new behaviour."""
        key = self.canonical(target)
        given = LinkBehaviour.model_validate(changes).model_dump(exclude_unset=True)
        merged = {**self.overrides.get(key, {}), **given}
        behaviour = self._base(key).merged(merged)
        self.overrides[key] = merged
        return behaviour

    def reset(self) -> None:
        self.overrides.clear()

    def _base(self, key: str) -> LinkBehaviour:
        link = next((lk for lk in self.plan.links if lk.key == key), None)
        base = self.scenario.link_types.get(link.type, LinkBehaviour()) if link else LinkBehaviour()  # type: ignore[call-overload]
        return base.merged(self._entries.get(key, {}))

    def behaviour(self, key: str) -> LinkBehaviour:
        return self._base(key).merged(self.overrides.get(key, {}))

    def effects(self) -> dict[str, PathEffect]:
        """Destination address → effect, only for destinations that are impaired at all."""
        out = {}
        hubs = {h.id: self.behaviour(h.id) for h in self.plan.hubs}
        for h in self.plan.hubs:
            out[h.address] = _effect(hubs[h.id])
        for lk in self.plan.links:
            effect = _effect(hubs[lk.hub.id], self.behaviour(lk.key))
            out.update(dict.fromkeys(lk.addresses, effect))  # a UPS behind the link shares its path
        return {a: e for a, e in out.items() if e.delay or e.jitter or e.loss}

    def down(self, t: float) -> tuple[set[str], set[str]]:
        """(hub ids, link keys) that are down ``t`` seconds after the scenario started."""
        hubs = {h.id for h in self.plan.hubs if self.behaviour(h.id).is_down(t)}
        links = {lk.key for lk in self.plan.links if self.behaviour(lk.key).is_down(t)}
        return hubs, links

    def secure_down(self) -> set[str]:
        """Sites whose encryptor has failed (``secure_down`` on the link their tunnel rides)."""
        return {t.site for t in self.plan.tunnels if self.behaviour(t.link.key).secure_down}


def _effect(*layers: LinkBehaviour) -> PathEffect:
    survive = 1.0
    for b in layers:
        survive *= 1.0 - b.loss
    return PathEffect(sum(b.delay for b in layers), sum(b.jitter for b in layers), 1.0 - survive)


def nft_rules(effects: dict[str, PathEffect]) -> str:
    """The loss rules for ``nml-dc``, as one ``nft -f`` transaction that keeps the table and its chains.

    The chains are declared (a no-op once they exist) and flushed, never deleted: deleting a chain
    unregisters its hook, and the kernel then drops every packet held in any NFQUEUE of the namespace
    (``nf_queue_nf_hook_drop``) — each `lab set` lost the delayed echoes in flight to sites it never
    touched (94 of 300 to a 0 %-loss fiber site during 209 sets elsewhere; tests/lab/test_lab.py). The
    transaction swaps the rule set at once: an address whose rule is unchanged sees no gap."""
    drops = [f"ip daddr {a} numgen random mod 1000000 < {round(e.loss * 1_000_000)} counter drop"
             for a, e in sorted(effects.items()) if e.loss > 0]
    chains = (("impair", "forward"), ("impair_local", "output"))
    return "\n".join([
        "table ip nml {",
        *(f"  chain {name} {{ type filter hook {hook} priority -10; policy accept; }}"
          for name, hook in chains),
        "}",
        *(f"flush chain ip nml {name}" for name, _ in chains),
        *(f"add rule ip nml {name} {drop}" for name, _ in chains for drop in drops), ""])


def iptables_rules(effects: dict[str, PathEffect]) -> str:
    """NFQUEUE rules for delayed addresses (``--queue-bypass``: no holder means no delay, not loss):
    traffic through ``nml-dc`` toward them, and their traffic to ``nml-dc`` itself (module docstring).

    For ``iptables-restore --noflush``: the two chains are flushed and refilled in one transaction;
    a full restore recreates the table, whose hooks going away drop every queued packet (`nft_rules`)."""
    rules = [f"-A {chain} -{side} {a}/32 -j NFQUEUE --queue-num {holder.QUEUE_NUM} --queue-bypass"
             for chain, side in (("FORWARD", "d"), ("INPUT", "s"))
             for a, e in sorted(effects.items()) if e.delay > 0 or e.jitter > 0]
    return "\n".join(["*filter", "-F FORWARD", "-F INPUT", *rules, "COMMIT", ""])


def apply_rules(effects: dict[str, PathEffect]) -> None:
    netns.exec_in(DC_NS, ["nft", "-f", "-"], stdin=nft_rules(effects))
    netns.exec_in(DC_NS, ["iptables-restore", "--noflush"], stdin=iptables_rules(effects))


def set_hub(plan: Plan, hub: HubPlan, down: bool) -> None:
    lines = ["link set uplink down"] if down else plan.hub_up_lines(hub)
    netns.ip_batch(lines, hub.ns)


def set_link(plan: Plan, link: LinkPlan, down: bool) -> None:
    lines = [f"link set {link.ifname} down"] if down else plan.link_up_lines(link)
    netns.ip_batch(lines, link.hub.ns)


class DelayHolder:
    """The daemon's handle on the delay holder process (`netmon.lab.holder`, and why it is one).

    The holder's stderr goes to the daemon's log; its counters come back with every request.
    """

    def __init__(self, proc: asyncio.subprocess.Process, counters: dict[str, Any]) -> None:
        self.proc = proc
        self.counters = counters
        self._turn = asyncio.Lock()  # one request and its answer at a time

    @classmethod
    async def start(cls) -> DelayHolder:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "netmon.lab.holder", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        ready = await proc.stdout.readline()
        if not ready:
            raise RuntimeError(f"the delay holder exited ({await proc.wait()}); its error is in this log")
        return cls(proc, json.loads(ready))

    async def update(self, effects: dict[str, PathEffect]) -> None:
        await self._ask({"delays": {a: [e.delay, e.jitter] for a, e in effects.items()
                                    if e.delay > 0 or e.jitter > 0}})

    async def refresh_counters(self) -> None:
        await self._ask({})

    async def flow(self, address: str, port: int | None) -> dict[str, Any]:
        """One flow's packets, released and held (`netmon.lab.holder.Holder.flow`), picked here."""
        released, waiting = await self._ask({"flow": {"address": address, "port": port}})
        return {"kept": holder.KEPT, "released": holder.shown(released, address, port),
                "waiting": holder.shown(waiting, address, port, late=False)}

    async def _ask(self, request: dict[str, Any]) -> list[bytes]:
        """Send ``request``; keep the counters the holder answers with, return what follows them (a flow's
        records)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._turn:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            await self.proc.stdin.drain()
            answer = await self.proc.stdout.readline()
            if not answer:
                raise RuntimeError(f"the delay holder exited ({await self.proc.wait()}); see the daemon log")
            self.counters = json.loads(answer)
            return [await self.proc.stdout.readexactly(size) for size in self.counters.pop("flow", ())]

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the holder ends when its control pipe does
        await self.proc.wait()
