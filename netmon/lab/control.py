"""Bring the simulated province up and down, and talk to its daemon: the API behind `netmon lab`,
`netmon demo` and the test fixture.

State lives in one directory (default ``/run/netmon-lab``, or ``$NETMON_LAB_STATE``): the daemon's
PID, its log, the control socket, the lab CA (``ca.pem``) and the SNMP agents' credentials
(``snmp/``) and configurations (``agents/``). `down` needs none of it to clean up
the network — namespaces and interfaces are found by the ``nml-`` prefix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmon.i18n import lang, text
from netmon.inventory import load as load_inventory
from netmon.inventory import wording
from netmon.lab import agents, netns, scenario, topology, tunnels
from netmon.lab.netns import MESSAGES, LabError
from probes.errors import NetmonError

STATE_DIR = Path(os.environ.get("NETMON_LAB_STATE", "/run/netmon-lab"))
READY_TIMEOUT = 60.0
#: Daemons this process started, kept so `down` can reap them (and Popen never warns about them).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def said(error: str) -> str:
    """A daemon's refusal in the user's language. The daemon has no user, so it writes English:
    ``TARGET: field: message; field: message`` for values the scenario's schema rejects, or one
    message; each message is a config message (`netmon.inventory.wording`)."""
    if lang() != "vi":
        return error
    target, sep, rest = error.partition(": ")
    fields = [re.match(r"^([\w.]+): (.+)$", part, re.DOTALL) for part in rest.split("; ")] if sep else []
    if fields and all(fields):
        return f"{target}: " + "; ".join(f"{m[1]}: {wording.vietnamese(m[2])}" for m in fields if m)
    return wording.vietnamese(error)


class Refused(LabError):
    """The daemon refused a request (`lab set`, `lab reboot`): its English words, in the user's language."""

    def __init__(self, error: str) -> None:
        NetmonError.__init__(self, said(error))  # worded by `said`, not from a key


@dataclass(frozen=True)
class Lab:
    """A running lab, as seen from a client."""

    state: Path
    pid: int

    @property
    def ca_file(self) -> Path:
        return self.state / "ca.pem"

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            try:
                sock.connect(str(self.state / "control.sock"))
            except OSError as exc:
                raise LabError("no_answer", reason=exc.strerror) from None
            sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            reply: dict[str, Any] = json.loads(sock.makefile("rb").readline())
        if not reply.get("ok"):
            raise Refused(str(reply.get("error")))
        return reply

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def flow(self, address: str, port: int | None = None) -> dict[str, Any]:
        """What the delay path did to the packets to or from ``address`` (and ``port``, either side): its
        last releases of them (``released``: arrival, delay, time held, lateness, whether slept through)
        and those it holds now (``waiting``) — one flow's truth, apart from every other held packet."""
        return self.request("flow", address=address, port=port)

    def set(self, target: str, **values: Any) -> dict[str, Any]:
        """Change a running scenario, e.g. ``lab.set("chieng-mung", loss=0.2)``; effective at return."""
        return self.request("set", target=target, values=values)

    def reboot(self, device: str) -> dict[str, Any]:
        """Restart a device's SNMP agent (``SITE/DEVICE``): a reboot, sysUpTime starts again."""
        return self.request("reboot", target=device)

    @property
    def snmp_secrets(self) -> Path:
        """The directory of the lab's SNMP credential files (community, auth-key, priv-key; 0600)."""
        return self.state / "snmp"

    def reset(self) -> dict[str, Any]:
        """Drop every change made with `set`: back to the scenario as loaded."""
        return self.request("reset")


def _pid(state: Path) -> int | None:
    try:
        pid = int((state / "daemon.pid").read_text())
    except PermissionError:
        # The state (CA key, SNMP credentials, control socket) is root's alone: say so, rather than
        # "no lab is up" while one is.
        raise LabError("root_only", state=state) from None
    except (OSError, ValueError):
        return None
    return pid if netns.pid_alive(pid) else None


@contextlib.contextmanager
def _exclusive(state: Path) -> Iterator[None]:
    """One `up`/`down` at a time on this machine: the namespaces and their prefix are machine-wide."""
    with open(f"{state}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def current(state: Path = STATE_DIR) -> Lab | None:
    pid = _pid(state)
    return Lab(state, pid) if pid else None


def up(inventory: str | Path, scenario_name: str | Path, state: Path = STATE_DIR) -> tuple[Lab, float]:
    """Validate, build the topology, start the daemon; returns the lab and the seconds it took.

    Everything made is removed again if any step fails.
    """
    netns.require_privileges()
    with _exclusive(state):
        return _up(inventory, scenario_name, state)


def _up(inventory: str | Path, scenario_name: str | Path, state: Path) -> tuple[Lab, float]:
    running = current(state)
    if running:
        raise LabError("already_up", pid=running.pid)
    inv = load_inventory(inventory)
    scenario_path = scenario.resolve_path(scenario_name)
    scenario.load(scenario_path, inv)  # fail on a bad scenario before touching the network
    plan = topology.plan(inv)
    started = time.monotonic()
    topology.up(plan)
    try:
        lab = _start_daemon(Path(inventory), scenario_path, state)
    except BaseException:
        _down(state)
        raise
    return lab, time.monotonic() - started


def _start_daemon(inventory: Path, scenario_path: Path, state: Path) -> Lab:
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(mode=0o700, parents=True)
    read_end, write_end = os.pipe()
    with open(state / "daemon.log", "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "netmon.lab.daemon", "--inventory", str(inventory.resolve()),
             "--scenario", str(scenario_path.resolve()), "--state", str(state), "--ready-fd", str(write_end)],
            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches netmon, which then stops the daemon
        )
    os.close(write_end)
    _CHILDREN[child.pid] = child
    (state / "daemon.pid").write_text(f"{child.pid}\n")
    try:
        ready, _, _ = select.select([read_end], [], [], READY_TIMEOUT)
        message = os.read(read_end, 4096).decode(errors="replace").strip() if ready else ""
    finally:
        os.close(read_end)
    if message != "ready":
        tail = (state / "daemon.log").read_text(errors="replace")[-2000:]
        raise LabError("not_started", log=tail,
                       reason=message or text(MESSAGES, "exited" if ready else "timed_out", lang(),
                                                      seconds=READY_TIMEOUT))
    return Lab(state, child.pid)


def _stop(pid: int, timeout: float = 10.0) -> None:
    child = _CHILDREN.pop(pid, None)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return
    fd = os.pidfd_open(pid)  # not our child: wait for its exit on a pidfd, no polling
    try:
        if not select.select([fd], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def down(state: Path = STATE_DIR) -> float:
    """Stop the daemon and remove every namespace/interface with the lab prefix; returns seconds."""
    netns.require_privileges()
    with _exclusive(state):
        return _down(state)


def _down(state: Path) -> float:
    started = time.monotonic()
    pid = _pid(state)
    if pid:
        _stop(pid)
    agents.reap(state)  # a crashed daemon's snmpd processes; a clean stop leaves none
    tunnels.reap(state)  # and its encryptors
    netns.remove_all()
    shutil.rmtree(state, ignore_errors=True)
    return time.monotonic() - started
