"""`netmon run --user`: after opening its sockets the service runs as a plain user with CAP_NET_RAW only,
and still probes ICMP (raw socket) and TCP."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from netmon.privileges import CAP_NET_RAW, capabilities
from tests.hardening.peers import netmon_secure
from tests.netmon.test_service import write_inventory
from tests.support import tcp_listener, wait_until

pytestmark = pytest.mark.privileged


#: This machine's Python lives under /root (mode 700), which a dropped user cannot traverse; a real
#: deployment installs into a readable prefix. Emulate that in a private mount namespace: /root becomes
#: a 755 tmpfs holding only the interpreter (bind-mounted back), for the netmon process alone.
READABLE_PYTHON = ("unshare", "--mount", "--propagation", "private", "sh", "-ec",
                   'src=$(mktemp -d); mount --bind /root/.pyenv "$src"; mount -t tmpfs -o mode=755 none /root; '
                   'mkdir /root/.pyenv; mount --bind "$src" /root/.pyenv; exec "$@"', "readable-python")


def test_drops_to_user_with_only_cap_net_raw_and_keeps_probing(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="nmt-hard-"))  # readable by nobody, unlike pytest's tmp dirs
    shared.chmod(0o755)
    with tcp_listener("127.0.2.1") as port:
        config = write_inventory(shared / "inv.yaml", [],
                                 ["{id: icmp-primary, probe: icmp, link: primary, count: 2, spacing: 50ms}",
                                  f"{{id: cpe-tcp, probe: tcp, link: primary, port: {port}}}",
                                  # a worker process (probes.trace_worker): CAP_NET_RAW must survive its exec
                                  "{id: trace-primary, probe: trace, link: primary, max_hops: 2, count: 1, "
                                  "packet_timeout: 200ms}"])
        config.chmod(0o644)
        with netmon_secure(config, tmp_path, None, "--user", "nobody", wrapper=READABLE_PYTHON) as netmon:
            def all_ok() -> bool:
                success = {labels["check"]: v for labels, v in netmon.samples("netmon_probe_success")}
                return success == {"icmp-primary": 1.0, "cpe-tcp": 1.0, "trace-primary": 1.0}
            wait_until(all_ok, 20, "ICMP, TCP and trace checks to succeed as nobody")
            status = Path(f"/proc/{netmon.proc.pid}/status").read_text()
            uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
            gids = next(line for line in status.splitlines() if line.startswith("Gid:")).split()[1:]
            assert {int(u) for u in uids} == {nobody.pw_uid}, "real, effective, saved and fs uid"
            assert {int(g) for g in gids} == {nobody.pw_gid}
            caps = capabilities(netmon.proc.pid)
            assert caps["CapEff"] == caps["CapPrm"] == 1 << CAP_NET_RAW
            assert caps["CapInh"] == caps["CapAmb"] == 1 << CAP_NET_RAW  # for programs it starts
            # the HTTP server thread (started before the drop) holds no capability at all
            for task in os.listdir(f"/proc/{netmon.proc.pid}/task"):
                assert capabilities(f"{netmon.proc.pid}/task/{task}")["CapEff"] in (0, 1 << CAP_NET_RAW)
            # a reload re-reads the config as nobody
            with netmon.client(auth=None) as client:
                response = client.post("/-/reload")
            assert response.status_code == 200, response.text
    shutil.rmtree(shared)


def test_history_files_belong_to_the_user_and_are_not_world_readable(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="nmt-hard-"))
    shared.chmod(0o755)
    store = shared / "var" / "history.db"
    with tcp_listener("127.0.2.1") as port:
        config = write_inventory(shared / "inv.yaml", [], [f"{{id: cpe-tcp, probe: tcp, link: primary, port: {port}}}"],
                                 interval="1s", timeout="500ms")
        config.chmod(0o644)
        with netmon_secure(config, tmp_path, None, "--user", "nobody", "--history", str(store),
                           "--history-rollup-every", "1s",  # commits within seconds, not the default minute
                           wrapper=READABLE_PYTHON) as netmon:
            def committed() -> float:
                return netmon.samples("netmon_history_committed_results_total")[0][1]
            first = wait_until(committed, 20, "a first commit")
            wait_until(lambda: committed() > first, 20, "a commit as nobody")
            up = netmon.samples("netmon_history_up")[0][1]
    assert up == 1
    for path in (store.parent, *store.parent.iterdir()):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid), path
        assert info.st_mode & 0o007 == 0, (path, oct(info.st_mode))
    shutil.rmtree(shared)


def test_unknown_user_fails_at_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support import ROOT

    config = write_inventory(tmp_path / "inv.yaml", [], ["{id: icmp-primary, probe: icmp, link: primary, count: 2, spacing: 50ms}"])
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "run", "--config", str(config), "--no-history",
                           "--listen", "127.0.0.1:0", "--user", "no-such-user-4711"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "--user no-such-user-4711: no such user" in done.stderr
