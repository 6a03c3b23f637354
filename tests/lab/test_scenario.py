"""Scenario files and the address plan: validated like the inventory, names only, 198.18.0.0/15 only."""

from __future__ import annotations

import ipaddress
import itertools
import re
from pathlib import Path

import pytest

from netmon.inventory import ConfigError, Inventory, load
from netmon.lab import netns, scenario, topology
from netmon.lab.impair import Impairments, iptables_rules, nft_rules
from netmon.lab.scenario import Flap, LinkBehaviour, Outage
from probes.errors import PrivilegeError
from tests.support import ROOT

INVENTORY = ROOT / "config" / "communes.yaml"
PRESETS = sorted((ROOT / "netmon" / "scenarios").glob("*.yaml"))
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")
ALLOWED = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("127.0.0.0/8"))


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load(INVENTORY)


def test_presets_ship_and_load(inventory: Inventory) -> None:
    assert {p.stem for p in PRESETS} >= {"calm", "province-day", "storm"}
    for path in PRESETS:
        assert scenario.load(path.stem, inventory).version == 1


@pytest.mark.parametrize("path", [INVENTORY, *PRESETS], ids=lambda p: p.name)
def test_only_lab_and_loopback_addresses(path: Path) -> None:
    found = IPV4.findall(path.read_text())
    outside = [a for a in found if not any(ipaddress.ip_address(a) in net for net in ALLOWED)]
    assert outside == []
    if path == INVENTORY:
        assert found, "the inventory should hold placeholder addresses"


def test_plan_uses_only_lab_addresses(inventory: Inventory) -> None:
    plan = topology.plan(inventory)
    assert all(ipaddress.ip_address(a) in ALLOWED[0] for a in plan.addresses())
    assert len(plan.sites) == 75 and len(plan.hubs) == 12
    assert len(set(plan.namespaces)) == len(plan.namespaces) == 89  # dc, 12 hubs, 75 sites, the encryptor
    assert all(ns.startswith(netns.PREFIX) for ns in plan.namespaces)
    # one tunnel per site, each interface named uniquely (wireguard-go's control socket is named after it)
    assert len({t.ifname for t in plan.tunnels}) == len(plan.tunnels) == 75
    assert all(len(t.ifname) <= 15 and t.link.role == "primary" for t in plan.tunnels)


def test_bad_scenario_reports_file_line_and_path(tmp_path: Path, inventory: Inventory) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nlinks:\n  chieng-mung: {loss: 1.5}\n  atlantis: {delay: 5ms}\n"
                   "  ta-xua: {delay: 5 parsecs}\nservices:\n  qlvb: {colour: red}\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(bad, inventory)
    messages = [str(i) for i in caught.value.issues]
    assert f"{bad}:3: links.chieng-mung.loss: Input should be less than or equal to 1" in messages
    assert any(m.startswith(f"{bad}:5: links.ta-xua.delay: ") for m in messages)
    assert f"{bad}:7: services.qlvb.colour: unknown key" in messages


def test_unknown_targets_are_named(tmp_path: Path, inventory: Inventory) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("version: 1\nlinks:\n  atlantis: {delay: 5ms}\nservices:\n  mail: {status: 500}\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(bad, inventory)
    assert [str(i) for i in caught.value.issues] == [
        f"{bad}:3: links.atlantis: unknown site, site/link or hub 'atlantis'",
        f"{bad}:5: services.mail: unknown service 'mail' "
        "(inventory services: bao-cao, chu-ky-so, dich-vu-cong, dieu-hanh-dang, hop-truc-tuyen, mot-cua, qlvb)",
    ]


def test_slow_from_names_a_site(tmp_path: Path, inventory: Inventory) -> None:
    bad = tmp_path / "slow.yaml"
    bad.write_text("version: 1\nservices:\n  qlvb:\n    slow_from: {muong-lan: 1s, atlantis: 2s}\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(bad, inventory)
    assert [str(i) for i in caught.value.issues] == [f"{bad}:4: services.qlvb.slow_from.atlantis: unknown site 'atlantis'"]


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="no such scenario"):
        scenario.resolve_path("hurricane")


def test_schedules() -> None:
    flap = Flap(every=60, down_for=20)
    assert [flap.is_down(t) for t in (0, 39.9, 40, 59.9, 60, 100)] == [False, False, True, True, False, True]
    assert LinkBehaviour.model_validate({"flap": "10s"}).flap == Flap(every=10)
    outage = Outage(start=120, end=420)
    assert [outage.is_down(t) for t in (119, 120, 419, 420)] == [False, True, True, False]


def test_layers_compose(inventory: Inventory) -> None:
    """Type default < scenario entry < `lab set`; a CPE behind an impaired hub gets both."""
    spec = scenario.load("province-day", inventory)
    imp = Impairments(topology.plan(inventory), spec)
    assert imp.behaviour("xim-vang/primary") == LinkBehaviour(delay=0.045, jitter=0.08, loss=0.1)
    imp.change("hub-bac-yen", {"loss": "0.5", "delay": "100ms"})
    effect = imp.effects()["198.19.6.2"]  # xim-vang, behind hub-bac-yen
    assert effect.delay == pytest.approx(0.145)
    assert effect.loss == pytest.approx(1 - 0.5 * 0.9)
    assert "ip daddr 198.19.6.2 numgen random mod 1000000 < 550000 counter drop" in nft_rules(imp.effects())
    assert "-A FORWARD -d 198.18.6.1/32 -j NFQUEUE" in iptables_rules(imp.effects())
    # the center's own traffic to nml-dc (an edge agent) is held on its way in (not its answers: the
    # answering socket would be held back by TCP small queues)
    assert "-A INPUT -s 198.18.6.1/32 -j NFQUEUE" in iptables_rules(imp.effects())
    assert "-A OUTPUT" not in iptables_rules(imp.effects())
    assert nft_rules(imp.effects()).count("ip daddr 198.19.6.2 numgen random") == 2
    imp.change("long-he", {"down": "true"})
    assert imp.down(0.0) == (set(), {"long-he/primary"})
    with pytest.raises(KeyError):
        imp.change("atlantis", {"loss": 0.1})
    imp.reset()
    assert imp.down(0.0) == (set(), set())


def test_needs_root_says_how_to_run_the_same_command_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("MAKELEVEL", raising=False)
    monkeypatch.setattr(netns.sys, "argv", [".venv/bin/netmon", "lab", "up", "--scenario", "storm"])
    with pytest.raises(PrivilegeError, match=r"needs root .*`sudo .venv/bin/netmon lab up --scenario storm`$"):
        netns.require_privileges()
    monkeypatch.setenv("NETMON_LANG", "vi")
    with pytest.raises(PrivilegeError, match=r"^tỉnh mô phỏng cần quyền root .*hãy chạy lại với sudo"):
        netns.require_privileges()
    monkeypatch.setattr(netns.sys, "argv", [".venv/bin/netmon", "demo"])
    monkeypatch.setenv("MAKELEVEL", "1")  # `make demo`: re-running make is what works (it bootstraps too)
    with pytest.raises(PrivilegeError, match=r"`sudo make demo`$"):
        netns.require_privileges()


def test_device_actions_are_validated(tmp_path: Path, inventory: Inventory) -> None:
    bad = tmp_path / "devices.yaml"
    bad.write_text("version: 1\ndevices:\n  to-hieu/ups: {on_battery: true, reboots: [90s]}\n"
                   "  to-hieu/cpe: {on_battery: true}\n  atlantis/ups: {on_battery: true}\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(bad, inventory)
    assert [str(i) for i in caught.value.issues] == [
        f"{bad}:4: devices.to-hieu/cpe.on_battery: to-hieu/cpe is a cpe, only a ups runs on battery",
        f"{bad}:5: devices.atlantis/ups: unknown device 'atlantis/ups' (expected SITE/DEVICE of the inventory)",
    ]
    bad.write_text("version: 1\ndevices:\n  to-hieu/cpe: {reboots: [soon], flap: 1m}\n")
    with pytest.raises(ConfigError) as caught:
        scenario.load(bad, inventory)
    messages = [str(i) for i in caught.value.issues]
    assert any(m.startswith(f"{bad}:3: devices.to-hieu/cpe.reboots[0]: ") for m in messages), messages
    assert f"{bad}:3: devices.to-hieu/cpe.flap: unknown key" in messages


def test_ups_addresses_share_their_link(inventory: Inventory) -> None:
    """A UPS has its own address behind the primary link: routed, impaired and cut with it."""
    plan = topology.plan(inventory)
    link = plan.primary("to-hieu")
    assert link.site_if == "primary" and link.addresses == ("198.19.1.1", "198.19.201.1")
    imp = Impairments(plan, scenario.load("calm", inventory))
    assert imp.effects()["198.19.201.1"] == imp.effects()["198.19.1.1"]
    assert "route replace 198.19.201.1/32 dev l0" in plan.link_up_lines(link)


def test_a_duration_typed_as_text_needs_its_unit() -> None:
    """`netmon lab set chieng-mung delay=80` was silently 80 seconds (issue #15, case 14)."""
    with pytest.raises(ValueError, match="'80' needs a unit: 80ms or 80s"):
        LinkBehaviour.model_validate({"delay": "80"})
    assert LinkBehaviour.model_validate({"delay": "80ms"}).delay == pytest.approx(0.08)
    assert LinkBehaviour.model_validate({"delay": 2}).delay == 2.0  # a YAML number is seconds, as documented


#: LinkUnstable's bar (alerts/netmon.rules.yml): this many echo-check state changes in 15 min.
UNSTABLE_CHANGES, UNSTABLE_WINDOW = 6, 900.0
#: What one run sees of the lab's clock, seconds around its start: the lab applies a flap's edges on a
#: 1 s tick (up to ~1.5 s late), and a burst, with its re-test at once, listens for ~3 s. A run whose
#: span holds an edge may read either state.
RUN_SEES = (-1.5, 3.0)


def _seen(flap: Flap, t: float) -> bool | None:
    """The state a run at ``t`` reports for certain (True: down), or None where an edge makes it either."""
    states = {flap.is_down(t + RUN_SEES[0] + i * 0.25) for i in range(int((RUN_SEES[1] - RUN_SEES[0]) * 4) + 1)}
    return states.pop() if len(states) == 1 else None


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_flaps_are_visible_at_the_check_interval(path: Path, inventory: Inventory) -> None:
    """A check run every ``interval`` samples a flap at the phases ``interval`` steps through; when the
    flap's period is the interval (or a divisor of it) that is one phase, run after run: the link reads
    never down or always down, depending on where the lab's clock met the scheduler's — the storm's
    `long-he: {flap: 30s}` at 30 s checks was invisible or a 15-minute "outage". A down no longer than
    the step between phases, or phases on its edges, fails the same way some of the time (the storm's
    muong-bam, 10 s of every 40 s: LinkUnstable in one lab run, PacketLossHigh from half-lost bursts in
    the next). Fixed phases are what the cut alert's timing rests on (a failed run exactly
    `unreachable_after` later, docs/runbook.md#timing), so a preset's flap must be one a 30 s monitor can
    see: from every phase of the lab's clock, the runs it certainly sees change at least LinkUnstable's
    count in its window, and no span of runs that may read down reaches the link type's
    `unreachable_after` (its downs are shorter)."""
    spec = scenario.load(path.stem, inventory)
    sites = {s.slug: s for s in inventory.spec.sites}
    defaults = inventory.spec.defaults
    for target, behaviour in spec.links.items():
        if behaviour.flap is None:
            continue
        site = sites[target.split("/")[0]]
        link_type = next(lk.type for lk in site.links if "/" not in target or lk.id == target.split("/")[1])
        unreachable_after = defaults.link_types[link_type].unreachable_after
        for interval in {c.interval or defaults.interval for c in site.checks if c.probe == "icmp"}:
            for phase in (i * 0.25 for i in range(int(behaviour.flap.every * 4))):
                times = [phase + k * interval for k in range(int(UNSTABLE_WINDOW / interval))]
                seen = [_seen(behaviour.flap, t) for t in times]
                certain = [s for s in seen if s is not None]
                changes = sum(a != b for a, b in itertools.pairwise(certain))
                failed_for, since = 0.0, None  # the longest span of runs that may read down
                for t, s in zip(times, seen, strict=True):
                    since = (t if since is None else since) if s is not False else None
                    failed_for = max(failed_for, t - since) if since is not None else failed_for
                assert changes >= UNSTABLE_CHANGES, f"{path.stem}: {target} at phase {phase} s: {changes} changes"
                assert failed_for < unreachable_after, f"{path.stem}: {target} at phase {phase} s: down {failed_for} s"
