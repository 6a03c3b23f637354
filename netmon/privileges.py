"""Run `netmon run` as an unprivileged user that keeps only CAP_NET_RAW.

ICMP and traceroute need raw sockets, so the prober needs root or CAP_NET_RAW — nothing else. Two ways
to get there (docs/security.md):

- started by an init system that grants the capability to a plain user (systemd ``User=netmon``,
  ``AmbientCapabilities=CAP_NET_RAW``): nothing to do here;
- started as root with ``--user netmon``: `drop_to` is called once the listening socket and the ICMP
  engine's raw socket are open. It switches uid/gid/groups to the user and keeps CAP_NET_RAW alone in
  the permitted and effective sets (IPv6 opens its raw socket later), and in the inheritable and
  ambient sets, as systemd's ``AmbientCapabilities`` does: the trace probe's worker is a program
  netmon starts, and without them it would start with no capability. A compromise of the process
  gains neither root nor any other capability. Linux only, through prctl/capset.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import grp
import logging
import os
import pwd

from probes.errors import PrivilegeError

log = logging.getLogger("netmon.privileges")

CAP_NET_RAW = 13
_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _set_capabilities(bits: int) -> None:
    """Make ``bits`` (capability numbers < 32) the whole permitted, effective and inheritable sets of
    this thread."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(bits, bits, bits), _CapData(0, 0, 0))
    if _libc().capset(ctypes.byref(header), data) != 0:
        raise PrivilegeError(f"capset failed: {os.strerror(ctypes.get_errno())}")


def drop_to(user: str) -> None:
    """Become ``user`` (name or uid) with only CAP_NET_RAW; raises `PrivilegeError` if that is impossible.

    glibc applies setuid to every thread, but keep-caps and capset only to this one: threads already
    running (the HTTP server) end up with no capability at all; threads started later, and programs
    this thread starts (trace's worker, through the ambient set), keep CAP_NET_RAW.
    """
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"--user {user}: no such user") from None
    if os.geteuid() != 0:
        if os.geteuid() == entry.pw_uid:
            return  # already that user: whatever capabilities we were given are all we have
        raise PrivilegeError(f"--user {user} needs netmon to be started as root")
    libc = _libc()
    if libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise PrivilegeError(f"prctl(PR_SET_KEEPCAPS) failed: {os.strerror(ctypes.get_errno())}")
    groups = [g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem]
    os.setgroups(groups)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    _set_capabilities(1 << CAP_NET_RAW)
    if libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) != 0:
        raise PrivilegeError(f"prctl(PR_CAP_AMBIENT_RAISE) failed: {os.strerror(ctypes.get_errno())}")
    libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
    log.info("running as %s (uid %d) with CAP_NET_RAW only", entry.pw_name, entry.pw_uid)


def capabilities(pid: int | str = "self") -> dict[str, int]:
    """CapEff/CapPrm/CapInh/CapBnd/CapAmb of a process, from /proc (for tests and `docs/security.md`)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cap"):
                name, value = line.split(":")
                out[name] = int(value, 16)
    return out
