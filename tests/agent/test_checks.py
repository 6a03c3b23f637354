"""Which of an agent's checks count their observations into histograms (`netmon.agent.checks.histograms`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from netmon.agent.checks import histograms, inside_out
from netmon.inventory import load
from tests.support import ROOT

SITE = "pung-banh"  # VSAT primary link


def agent_histograms(tmp: Path, by_type: list[str], canary: bool | None = None) -> set[str]:
    spec = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text())
    spec["defaults"]["rtt_histogram"] = by_type
    spec["sites"] = [s for s in spec["sites"] if s["slug"] == SITE]
    if canary is not None:
        next(c for c in spec["datacenter"]["checks"] if c["id"] == "canary-core")["rtt_histogram"] = canary
    path = tmp / "inventory.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    inventory = load(path)
    return {key.split("/")[1] for key in histograms(inventory, SITE, inside_out(inventory, SITE))}


def test_the_centers_link_type_decides_unless_the_check_does(tmp_path: Path) -> None:
    assert agent_histograms(tmp_path, []) == set()
    # the agent's echoes cross the center's VSAT link: both of its ICMP checks (the echo to its hub has
    # the canary's options), nothing else
    assert agent_histograms(tmp_path, ["vsat"]) == {"agent-canary-core", "agent-hub"}
    assert agent_histograms(tmp_path, ["fiber"]) == set()
    assert agent_histograms(tmp_path, ["vsat"], canary=False) == set()
    assert agent_histograms(tmp_path, [], canary=True) == {"agent-canary-core", "agent-hub"}
