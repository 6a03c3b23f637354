"""`netmon agent run` validates its config and the inventory in a child process and runs without pydantic
(issue #18: RSS ≤ 50 MB; pydantic and the parsed province were ~20 MB of it, bench/agent_memory.py).
Checked in real processes: what the agent holds equals what the loader resolves, nothing of pydantic or
the inventory is loaded, and every config error still reads as `netmon validate` words it."""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netmon.agent.config import new_credential
from netmon.agent.runner import resolve
from tests.support import ROOT, free_port

#: Run in a fresh interpreter: the agent as `netmon agent run` builds it, then everything a run imports
#: (every probe and collector, the SNMP profiles its devices poll with, an SNMPv3 authPriv request as a
#: 4G router answering it costs); prints what was loaded and the agent's checks. `cryptography` for that
#: AES was the agent's 50-51 MiB on the lab (44.0 without: bench/README.md, Edge agent memory).
AGENT = """
import pickle, sys
from netmon.agent.runner import Agent
from collectors import snmp_profiles, snmp_v3
from probes import base
agent = Agent(sys.argv[1])
base.registry()
for check in agent.checks:
    for name in getattr(check.options, "profiles", ()):
        snmp_profiles.load(name)
user = snmp_v3.User("netmon", "sha", "auth-passphrase", "aes", "priv-passphrase")
snmp_v3.encode_request(user, snmp_v3.Engine(b"engine", 1, 1, 0.0), 1, b"")
loaded = sorted(m for m in sys.modules if m.startswith(("pydantic", "netmon.inventory", "cryptography")))
sys.stdout.buffer.write(pickle.dumps((loaded, agent.checks, agent.config)))
"""


def config(tmp: Path, **changes: object) -> Path:
    new_credential(token := tmp / f"token-{len(list(tmp.iterdir()))}")
    values = {"site": "to-hieu", "inventory": str(ROOT / "config" / "communes.yaml"),
              "central": f"http://127.0.0.1:{free_port()}", "credential_file": str(token),
              "buffer": str(tmp / "buffer.db"), "interval": "3s"} | changes
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


def test_the_running_agent_holds_its_checks_without_pydantic(tmp_path: Path) -> None:
    path = config(tmp_path)
    done = subprocess.run([sys.executable, "-c", AGENT, str(path)], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    loaded, checks, cfg = pickle.loads(done.stdout)
    assert loaded == [], "the agent process must not load pydantic, the inventory nor cryptography"
    expected = resolve(path)  # here, in-process (pytest has pydantic loaded already)
    assert checks == list(expected.checks) and cfg == expected.config
    assert {c.probe for c in checks} >= {"icmp", "http", "dns", "snmp"}, "every kind of check crossed over"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"site": "nowhere"}, ["netmon: site 'nowhere' is not in {inventory} (e.g. to-hieu, chieng-an, chieng-coi, "
                           "chieng-sinh, moc-son, ...)"]),
    ({"central": "ftp://x", "buffer_max_bytes": 0, "live_window": "80", "intervall": "3s"},
     ["netmon: {config}:3: central: Value error, must be a URL such as https://netmon.sonla.gov.vn:9814",
      "{config}:7: buffer_max_bytes: Input should be greater than 0",
      "{config}:8: live_window: Value error, '80' needs a unit: 80ms or 80s",
      "{config}:9: intervall: unknown key"]),
    ({"credential_file": "/nonexistent/token"},
     ["netmon: /nonexistent/token: cannot read the agent credential: No such file or directory"]),
])
def test_errors_found_by_the_validating_child_read_as_before(tmp_path: Path, changes: dict[str, object],
                                                             expected: list[str]) -> None:
    path = config(tmp_path, **changes)
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "agent", "run", "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    inventory = ROOT / "config" / "communes.yaml"
    assert done.returncode == 1
    assert done.stderr.splitlines() == [line.format(config=path, inventory=inventory) for line in expected]


def test_the_agents_start_up_errors_in_vietnamese(tmp_path: Path) -> None:
    """What a technician installing an agent reads: the credential and site errors were English only."""
    shared = tmp_path / "shared-token"
    shared.write_text("x" * 40 + "\n")
    shared.chmod(0o644)
    for changes, said in (
        ({"credential_file": "/nonexistent/token"}, "/nonexistent/token: không đọc được mã xác thực của tác tử: không có tệp này"),
        ({"credential_file": str(shared)}, f"{shared}: người khác đọc được mã xác thực của tác tử; chmod 600"),
        ({"site": "nowhere"}, "không có điểm 'nowhere' trong"),
    ):
        path = config(tmp_path, **changes)
        done = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", "vi", "agent", "run", "--config",
                               str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and said in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("taken", [True, False])
def test_a_metrics_address_it_cannot_listen_on_is_one_line(tmp_path: Path, taken: bool) -> None:
    """The agent's own /metrics (`listen:`) on a busy port ended in an OSError traceback, a malformed one in
    a ValueError traceback; both now read as `netmon run --listen` says them. Stops before any check runs."""
    with socket.create_server(("127.0.0.1", 0)) as busy:
        listen = f"127.0.0.1:{busy.getsockname()[1]}" if taken else "127.0.0.1:99999"
        done = subprocess.run([sys.executable, "-m", "netmon.cli", "agent", "run", "--config",
                               str(config(tmp_path, listen=listen))], cwd=tmp_path, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
    said = (f"netmon: cannot listen on {listen}: Address already in use — another netmon" if taken else
            f"netmon: listen address '{listen}' must look like 127.0.0.1:9813 (a port from 0 to 65535)")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith(said), done.stderr

