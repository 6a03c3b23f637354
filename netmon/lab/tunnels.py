"""The secure channels of the simulated province: one encrypted WireGuard tunnel per site to the data center.

Why userspace WireGuard: this kernel offers neither the WireGuard module (``ip link add type wireguard``:
"Unknown device type") nor ESP/AH transforms (``ip xfrm state add … proto esp``: "Requested type not
found"). Debian's ``wireguard-go`` runs the same protocol (Noise IK, ChaCha20-Poly1305) over
``/dev/net/tun``, one process per interface: the data center's encryptor (``nml-sec``, one peer per
site) and each site's. Measured here: 75 processes start in ~7 s under a load average of 30, hold
~360 MB RSS together and use ~1 % of one core while idle.

Keys are made at start (X25519, never written to disk) and handed to each process over its control
socket (the ``wg`` UAPI), so no secret is ever on a command line. A site's secure channel goes down the
way a failed encryptor does: its tunnel interface is set down, wireguard-go closes its socket, and the
line beside it keeps answering.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from netmon.i18n import lang, text
from netmon.lab import netns
from netmon.lab.child import Child
from netmon.lab.netns import MESSAGES, LabError
from netmon.lab.topology import SEC_ADDRESS, SEC_NS, TUNNEL_RANGE, Plan, TunnelPlan

log = logging.getLogger("netmon.lab.tunnels")
PORT = 51820
SOCKET_DIR = Path("/var/run/wireguard")
#: wireguard-go (verbose) prints this once its control socket accepts configuration.
READY_LINE = b"UAPI listener started"
START_TIMEOUT = 30.0
#: Debian's wireguard-go refuses to run on a kernel that could load the module unless told otherwise.
ENV = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1", "LOG_LEVEL": "verbose"}


@dataclass(frozen=True)
class Keys:
    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> Keys:
        key = X25519PrivateKey.generate()
        return cls(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
                   key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public).decode()


class Encryptor(Child):
    """One wireguard-go process and its interface in a namespace."""

    def __init__(self, namespace: str, ifname: str) -> None:
        super().__init__()
        self.namespace = namespace
        self.ifname = ifname
        self.keys = Keys.generate()

    async def start(self) -> None:
        said = await self.spawn(self.namespace, ["wireguard-go", "-f", self.ifname], READY_LINE,
                                START_TIMEOUT, self._log, {**os.environ, **ENV})
        if said is not None:
            raise LabError("wireguard", ifname=self.ifname, namespace=self.namespace,
                           said="; ".join(said[-3:]) or text(MESSAGES, "silent", lang()))

    def _log(self, line: bytes) -> None:
        """Only wireguard-go's errors are worth the daemon's log."""
        if line.startswith(b"ERROR"):
            log.warning("%s: %s", self.ifname, line.decode(errors="replace").strip())

    def configure(self, lines: list[str]) -> None:
        """Send one ``set`` to the interface's control socket (the UAPI `wg` speaks)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(SOCKET_DIR / f"{self.ifname}.sock"))
            sock.sendall(("set=1\n" + "".join(f"{x}\n" for x in lines) + "\n").encode())
            reply = sock.makefile("rb").readline().strip()
        if reply != b"errno=0":
            raise LabError("wireguard_config", ifname=self.ifname, said=reply.decode(errors="replace"))



class Tunnels:
    """The data center's encryptor and every site's, wired as the plan says; started and stopped together."""

    def __init__(self, plan: Plan, state: Path) -> None:
        self.plan = plan
        self.pids = state / "tunnels"
        self.hub = Encryptor(SEC_NS, SEC_NS)
        self.sites = {t.site: Encryptor(t.site_ns, t.ifname) for t in plan.tunnels}

    @property
    def dc_lan(self) -> str:
        """The data center's LAN (the prober's /24): what a site's encryptor sends into its tunnel."""
        return str(ipaddress.ip_network(f"{self.plan.gateway}/24", strict=False))

    async def start(self) -> None:
        if not self.plan.tunnels:
            return
        everyone = [self.hub, *self.sites.values()]
        results = await asyncio.gather(*(e.start() for e in everyone), return_exceptions=True)
        self.pids.mkdir(mode=0o700, exist_ok=True)
        for e in everyone:  # `lab down` after a crashed daemon finds them here
            if e.proc is not None:
                (self.pids / f"{e.ifname}.pid").write_text(f"{e.proc.pid}\n")
        if errors := [r for r in results if isinstance(r, BaseException)]:
            await self.stop()
            raise errors[0]
        try:
            await asyncio.to_thread(self._wire)
        except BaseException:
            await self.stop()
            raise

    def _wire(self) -> None:
        dc_lan = self.dc_lan
        peers = []
        for t in self.plan.tunnels:
            site = self.sites[t.site]
            peers += [f"public_key={site.keys.public.hex()}", f"endpoint={t.link.cpe}:{PORT}",
                      f"allowed_ip={t.address}/32"]
            site.configure([f"private_key={site.keys.private.hex()}", f"listen_port={PORT}",
                            f"public_key={self.hub.keys.public.hex()}", f"endpoint={SEC_ADDRESS}:{PORT}",
                            f"allowed_ip={dc_lan}"])
            netns.ip_batch([f"addr add {t.address}/32 dev {t.ifname}", f"link set {t.ifname} up",
                            f"route add {dc_lan} dev {t.ifname} table {t.table}",
                            f"rule add from {t.address} lookup {t.table}"], t.site_ns)
        self.hub.configure([f"private_key={self.hub.keys.private.hex()}", f"listen_port={PORT}", *peers])
        netns.ip_batch([f"link set {SEC_NS} up", f"route add {TUNNEL_RANGE} dev {SEC_NS}"], SEC_NS)

    def set(self, tunnel: TunnelPlan, down: bool) -> None:
        """A failed encryptor (interface down: wireguard-go closes its socket) or a working one again."""
        lines = [f"link set {tunnel.ifname} down"] if down else [
            f"link set {tunnel.ifname} up",
            f"route replace {self.dc_lan} dev {tunnel.ifname} table {tunnel.table}"]
        netns.ip_batch(lines, tunnel.site_ns)

    async def stop(self) -> None:
        await asyncio.gather(*(e.stop() for e in (self.hub, *self.sites.values())))


def reap(state: Path) -> None:
    """Kill encryptors a crashed daemon left behind, found by their pid files (checked to be ours)."""
    for pidfile in (state / "tunnels").glob("*.pid"):
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"wireguard-go" in cmdline and pidfile.stem.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
