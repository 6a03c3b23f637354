"""scripts/install-agent.sh into a staging root: the files the agent needs, a credential that is the
central entry's hash, a unit systemd accepts, and a second run that keeps the credential."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netmon.agent.config import AgentConfig, read_token, token_hash
from netmon.inventory.loader import load_model
from tests.hardening.peers import self_signed
from tests.support import ROOT

SCRIPT = ROOT / "scripts" / "install-agent.sh"


def install(root: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMON_AGENT_ROOT": str(root), "NETMON_AGENT_VENV": str(Path(sys.executable).parents[1])}
    return subprocess.run([str(SCRIPT), "to-hieu", "https://198.18.0.2:9814", str(ca)], env=env,
                          capture_output=True, text=True, check=True)


def test_one_command_installs_a_valid_agent(tmp_path: Path) -> None:
    ca, _ = self_signed(tmp_path)
    root = tmp_path / "root"
    first = install(root, ca)
    etc = root / "etc" / "netmon"
    config = load_model(etc / "agent.yaml", AgentConfig)
    assert (config.site, config.central) == ("to-hieu", "https://198.18.0.2:9814")
    token = etc / "agent.token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    entry = yaml.safe_load(first.stdout.splitlines()[-1])[0]
    assert entry == {"id": "to-hieu", "site": "to-hieu", "token_sha256": token_hash(read_token(token))}
    assert read_token(token) not in first.stdout + first.stderr, "the token itself is never printed"

    again = install(root, ca)
    assert "token_sha256" not in again.stdout, "a second run keeps the existing credential"
    assert token_hash(read_token(token)) == entry["token_sha256"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_is_valid_for_systemd() -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(ROOT / "deploy" / "netmon-agent.service")],
                            capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "/opt/netmon-agent/venv/bin/netmon is not executable" not in line]
    assert problems == []


def test_agents_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    from netmon.agent.config import load_agents
    from netmon.inventory import ConfigError

    bad = tmp_path / "agents.yaml"
    digest = "a" * 64
    bad.write_text(f"listen: 127.0.0.1:9814\ncolour: red\nagents:\n"
                   f"  - {{id: to-hieu, site: to-hieu, token_sha256: {digest}}}\n"
                   f"  - {{id: atlantis, site: atlantis, token_sha256: {'b' * 64}}}\n"
                   f"  - {{id: to-hieu, site: to-hieu, token_sha256: short}}\n")
    with pytest.raises(ConfigError) as caught:
        load_agents(bad, {"to-hieu"})
    assert [str(i) for i in caught.value.issues] == [  # schema and whole-file rules in one pass
        f"{bad}:2: colour: unknown key",
        f"{bad}:5: agents[1].site: unknown site 'atlantis' (not in the inventory)",
        f"{bad}:6: agents[2]: duplicate of agents[0] (to-hieu)",
        f"{bad}:6: agents[2].token_sha256: String should match pattern '^[0-9a-f]{{64}}$'",
    ]
    bad.write_text(f"agents:\n  - {{id: to-hieu, site: to-hieu, token_sha256: {digest}}}\n"
                   f"  - {{id: atlantis, site: atlantis, token_sha256: {'b' * 64}}}\n"
                   f"  - {{id: to-hieu, site: to-hieu, token_sha256: {'c' * 64}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_agents(bad, {"to-hieu"})
    assert [str(i) for i in caught.value.issues] == [
        f"{bad}:3: agents[1].site: unknown site 'atlantis' (not in the inventory)",
        f"{bad}:4: agents[2]: duplicate of agents[0] (to-hieu)",
    ]
