"""SNMP agents of the simulated province: one Debian snmpd per inventory device, in its site's namespace.

Why snmpd rather than a simulator: the agent reads the namespace's real interfaces, so a link taken
down is ifOperStatus down, and restarting the process is a reboot (sysUpTime starts again) — what
netmon must see on a real router. What snmpd cannot know (a UPS's output source, an LTE modem's
signal) comes from a ``pass`` script reading a small data file that the daemon rewrites.

Credentials are made at lab start (`Secrets`): a random community and v3 keys in 0600 files under the
state dir's ``snmp/``, which the inventory names as ``community_file`` / ``*_key_file``. Every agent
answers v2c with that community and v3 as user ``netmon`` (authPriv SHA/AES).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from netmon.inventory import Inventory
from netmon.lab.child import Child
from netmon.lab.netns import LabError
from netmon.lab.topology import Plan, in_lab

log = logging.getLogger("netmon.lab.agents")
V3_USER = "netmon"
#: snmpd prints this line once its ports are bound and its modules loaded: the readiness signal.
READY_LINE = b"NET-SNMP version"
START_TIMEOUT = 20.0
SECRET_FILES = {"community": "community", "auth_key": "auth-key", "priv_key": "priv-key"}

UPS_MIB = ".1.3.6.1.2.1.33"
TELTONIKA_MIB = ".1.3.6.1.4.1.48690"
#: One modem's signal (TELTONIKA-MIB modemTable mSINR, mRSRP, mRSRQ: DisplayString, as RutOS has them).
LTE_VALUES = ((".1.3.6.1.4.1.48690.2.2.1.19.1", "string", "12"),
              (".1.3.6.1.4.1.48690.2.2.1.20.1", "string", "-95"),
              (".1.3.6.1.4.1.48690.2.2.1.21.1", "string", "-10"))

#: snmpd `pass` protocol: called as ``pass.sh DATA -g|-n OID``; prints OID, type and value, or nothing.
#: DATA holds "OID TYPE VALUE" lines in OID order; awk compares OIDs numerically, arc by arc.
PASS_SCRIPT = r"""#!/bin/sh
exec awk -v op="$2" -v want="$3" '
function cmp(a, b,   x, y, n, m, i) {
  n = split(a, x, "."); m = split(b, y, ".")
  for (i = 2; i <= n && i <= m; i++) { if (x[i] + 0 != y[i] + 0) return x[i] + 0 < y[i] + 0 ? -1 : 1 }
  return n == m ? 0 : (n < m ? -1 : 1)
}
{ c = cmp($1, want) }
(op == "-g" && c == 0) || (op == "-n" && c > 0) { oid = $1; type = $2; $1 = ""; $2 = ""; sub(/^ +/, "")
  print oid; print type; print; exit }
' "$1"
"""


def ups_values(on_battery: bool) -> tuple[tuple[str, str, str], ...]:
    """RFC 1628 values of a small UPS: mains at 221 V and full, or on battery with the input gone."""
    return ((f"{UPS_MIB}.1.2.3.0", "integer", "38" if on_battery else "95"),  # upsEstimatedMinutesRemaining
            (f"{UPS_MIB}.1.2.4.0", "integer", "87" if on_battery else "100"),  # upsEstimatedChargeRemaining
            (f"{UPS_MIB}.1.3.3.1.3.1", "integer", "0" if on_battery else "221"),  # upsInputVoltage, line 1
            (f"{UPS_MIB}.1.4.1.0", "integer", "5" if on_battery else "3"))  # upsOutputSource battery/normal


@dataclass(frozen=True)
class Secrets:
    community: str
    auth_key: str
    priv_key: str

    @classmethod
    def create(cls, directory: Path) -> Secrets:
        """Random credentials, each written to a 0600 file in ``directory`` (named by `SECRET_FILES`)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = cls(*(secrets.token_urlsafe(18) for _ in SECRET_FILES))
        for field, name in SECRET_FILES.items():
            path = directory / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(getattr(made, field) + "\n")
        return made


@dataclass(frozen=True)
class AgentPlan:
    key: str  # SITE/DEVICE
    kind: str
    namespace: str
    address: str
    port: int
    location: str
    #: The site's own interfaces (``lo`` and its links'): the ifTable lists only these. The encryptor's
    #: tunnel interface shares the namespace but is a box of its own, not the CPE's port — listed, its
    #: failure would be InterfaceDown, a VNPT alert, for the cipher unit's fault.
    interfaces: tuple[str, ...] = ("lo",)


def plan_agents(inventory: Inventory, plan: Plan) -> tuple[AgentPlan, ...]:
    """One agent per inventory device in the lab's range, at the address and port netmon polls."""
    out = []
    for site in inventory.spec.sites:
        cpes = {link.id: link.cpe for link in site.links}
        for d in site.devices:
            address = d.address or cpes[str(d.link)]
            if not in_lab(address):
                continue
            port = int((d.model_extra or {}).get("port", 161))
            key = f"{site.slug}/{d.id}"
            interfaces = ("lo", *(lk.site_if for lk in plan.links if lk.site == site.slug))
            out.append(AgentPlan(key, d.kind, plan.sites[site.slug], address, port, site.name, interfaces))
    return tuple(out)


class Agent(Child):
    """One snmpd process; `reboot` restarts it, `set_battery` switches a UPS's data file."""

    def __init__(self, spec: AgentPlan, creds: Secrets, directory: Path, pass_script: Path) -> None:
        super().__init__()
        self.spec = spec
        self.directory = directory
        self.data = directory / "data"
        self.on_battery = False
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = [f"agentaddress udp:{spec.address}:{spec.port}",
                 f"rocommunity {creds.community}",
                 f"createUser {V3_USER} SHA {creds.auth_key} AES {creds.priv_key}",
                 f"rouser {V3_USER} priv",
                 f"sysName {spec.key.replace('/', '.')}",
                 f"sysDescr netmon lab simulated {spec.kind} (Debian snmpd)",
                 f"sysLocation {spec.location}",
                 f"include_ifmib_iface_prefix {' '.join(spec.interfaces)}",
                 "dontLogTCPWrappersConnects yes"]
        subtree = {"ups": UPS_MIB, "lte-router": TELTONIKA_MIB}.get(spec.kind)
        if subtree:
            lines.append(f"pass {subtree} /bin/sh {pass_script} {self.data}")
        self.conf = directory / "agent.conf"  # not snmpd.conf: snmpd writes its persistent state by that name
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.conf.chmod(0o600)
        self._write_data()

    @property
    def pidfile(self) -> Path:
        return self.directory / "snmpd.pid"

    def _write_data(self) -> None:
        kind = self.spec.kind
        values = ups_values(self.on_battery) if kind == "ups" else LTE_VALUES if kind == "lte-router" else ()
        tmp = self.data.with_suffix(".tmp")
        tmp.write_text("".join(f"{oid} {type_} {value}\n" for oid, type_, value in values))
        tmp.replace(self.data)  # the pass script never reads half a file

    def set_battery(self, on_battery: bool) -> None:
        if on_battery != self.on_battery:
            self.on_battery = on_battery
            self._write_data()
            log.info("%s %s", self.spec.key, "on battery" if on_battery else "back on mains")

    async def start(self) -> None:
        env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(self.directory / "persist")}
        said = await self.spawn(self.spec.namespace, ["snmpd", "-f", "-Lo", "-C", "-c", str(self.conf),
                                                      "-p", str(self.pidfile)],
                                READY_LINE, START_TIMEOUT, self._log, env)
        if said is not None:
            raise LabError("snmpd", device=self.spec.key, address=self.spec.address, said="; ".join(said))

    def _log(self, line: bytes) -> None:
        """snmpd's later messages go to the daemon log."""
        log.info("%s snmpd: %s", self.spec.key, line.decode(errors="replace").strip())

    async def reboot(self) -> None:
        log.info("%s reboots", self.spec.key)
        await self.stop()
        await self.start()


class Agents(dict[str, Agent]):
    """Every agent of the lab by ``SITE/DEVICE``; started and stopped together."""

    def __init__(self, specs: tuple[AgentPlan, ...], state: Path) -> None:
        creds = Secrets.create(state / "snmp")
        script = state / "snmp" / "pass.sh"
        script.write_text(PASS_SCRIPT)
        super().__init__({s.key: Agent(s, creds, state / "agents" / s.key.replace("/", "_"), script)
                          for s in specs})

    async def start(self) -> None:
        results = await asyncio.gather(*(a.start() for a in self.values()), return_exceptions=True)
        if errors := [r for r in results if isinstance(r, BaseException)]:
            await self.stop()
            raise errors[0]

    async def stop(self) -> None:
        await asyncio.gather(*(a.stop() for a in self.values()))


def reap(state: Path) -> None:
    """Kill agents a crashed daemon left behind, found by their pid files (checked to be our snmpd)."""
    for pidfile in (state / "agents").glob("*/snmpd.pid"):
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"snmpd" in cmdline and str(pidfile.parent).encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
