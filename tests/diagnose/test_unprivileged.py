"""Without ICMP permission a technician is told "cannot measure" and the one-line fix, never that a hub
or link is down (issue #15, case 3): `netmon probe` and `netmon run` as an unprivileged user.

The commands run as ``nobody`` (no CAP_NET_RAW; ``net.ipv4.ping_group_range`` is off here) through
`setpriv`, in the readable-interpreter mount namespace of tests/hardening/test_privileges.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.diagnose.conftest import TEMPLATE
from tests.hardening.test_privileges import READABLE_PYTHON
from tests.support import ROOT, http_server, tcp_listener

pytestmark = pytest.mark.privileged

AS_NOBODY = ("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--inh-caps=-all")


def ping_sockets_allowed_for_nobody() -> bool:
    low, high = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    return int(low) <= 65534 <= int(high)


@pytest.fixture
def province() -> Iterator[Path]:
    """The loopback province with every peer alive, in a directory ``nobody`` can read."""
    if os.geteuid() != 0 or ping_sockets_allowed_for_nobody():
        pytest.skip("needs root to switch to nobody, and nobody without ping sockets")
    shared = Path(tempfile.mkdtemp(prefix="nmt-unpriv-"))
    shared.chmod(0o755)
    with http_server(200) as url, tcp_listener("127.0.2.1") as port:
        path = shared / "province.yaml"
        path.write_text(TEMPLATE.read_text().replace("{qlvb_url}", url).replace("{tcp_port}", str(port)))
        path.chmod(0o644)
        yield path


def as_nobody(*argv: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": "/tmp", "NETMON_LANG": "en", **extra}
    python = str(ROOT / ".venv" / "bin" / "python")
    return subprocess.run([*READABLE_PYTHON, *AS_NOBODY, python, "-m", "netmon.cli", *argv], cwd="/",
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_probe_without_icmp_permission_cannot_measure_and_blames_no_hub(province: Path) -> None:
    done = as_nobody("probe", "chieng-mung", "--config", str(province), "--json")
    assert "Traceback" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    verdicts = {c["id"]: (c["verdict"], c["cause"]) for c in doc["checks"]}
    assert verdicts == {"qlvb-http": ("ok", None), "icmp": ("unknown", "no_permission"),
                        "icmp-primary": ("unknown", "no_permission"), "cpe-tcp": ("ok", None),
                        "icmp-backup": ("unknown", "no_permission")}
    assert (done.returncode, doc["verdict"]) == (4, "unknown")
    assert doc["diagnosis"]["causes"][0] == "cannot_measure"
    assert doc["diagnosis"]["text"].startswith(
        "cannot measure icmp: no permission — run as root, or `sudo setcap cap_net_raw+ep")
    assert "hub_down" not in doc["diagnosis"]["causes"] and "link_down" not in doc["diagnosis"]["causes"]
    assert doc["traces"] == []


def test_probe_without_icmp_permission_in_vietnamese(province: Path) -> None:
    done = as_nobody("--lang", "vi", "probe", "chieng-mung", "--config", str(province))
    assert done.returncode == 4 and not done.stderr, done.stderr
    assert "không có quyền đo" in done.stdout and "không rõ" in done.stdout
    assert "không đo được icmp: thiếu quyền — chạy bằng root" in " ".join(done.stdout.split())


def test_run_without_icmp_permission_says_so_once_at_start(province: Path) -> None:
    done = as_nobody("run", "--config", str(province), "--listen", "127.0.0.1:0", "--no-history",
                     timeout=30)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "ICMP" in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "cannot open an ICMP socket" in lines[0] and "setcap cap_net_raw+ep" in lines[0]


def test_lab_commands_without_root_say_so_not_that_no_lab_is_up(tmp_path: Path) -> None:
    """A lab's state directory is root's (CA key, SNMP credentials): as a user, `netmon lab status`
    said "no lab is up" while one was (issue #15, case 14). A stand-in state dir with a live pid."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    state = tmp_path / "lab-state"
    state.mkdir(mode=0o700)
    (state / "daemon.pid").write_text(str(os.getpid()))
    for argv in (["lab", "status"], ["lab", "set", "chieng-mung", "loss=0.1"], ["lab", "reboot", "to-hieu/cpe"]):
        done = as_nobody(*argv, NETMON_LAB_STATE=str(state))
        assert "no lab is up" not in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert f"the lab's state in {state} is readable by root only: run this as root" in done.stderr
        assert done.returncode == 1
