"""The SNMP wire: credentials, transports and the multi-column GETBULK walk.

Transports. One shared UDP socket per event loop and address family (`collectors.snmp_v2c.Client`)
carries every poll: SNMPv2c through a small BER codec (`collectors.snmp_v2c`: pyasn1 decoding was
most of a poll's CPU), SNMPv3 through the same codec in a USM envelope (`collectors.snmp_v3`: pysnmp
cost ~7 ms of CPU per poll and its own small socket buffer dropped answers at 50 polls in flight).
`close_engines` closes the sockets of the running loop (call it on shutdown); those of loops closed
without it are closed the next time the collector runs.

Walking. One poll is a short loop of GETBULK requests: the first carries the profile's scalars as
non-repeaters (GETNEXT on ``oid`` minus its last arc answers ``oid`` itself) and every needed table
column as a repeater; each following request carries only the columns still inside their subtree,
from the last OID seen. A 25-interface router with the system scalars takes as few round trips as
the agent's message size allows (one to a few).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import socket
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors import snmp_v2c, snmp_v3
from collectors.snmp_v2c import Value

AUTH_PROTOCOLS = tuple(snmp_v3.AUTH)
PRIV_PROTOCOLS = tuple(snmp_v3.PRIV)

#: Longest string kept from a device (labels such as sysDescr); longer values are cut, not rejected.
MAX_STRING = 256

class SnmpFailure(Exception):
    """One poll failed; ``reason`` is a stable category, the message never carries a secret."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    """Resolved secrets for one device. ``repr`` never shows them."""

    community: str | None = field(default=None, repr=False)
    user: str | None = None
    auth_protocol: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_key: str | None = field(default=None, repr=False)

    def v3_user(self) -> snmp_v3.User:
        return snmp_v3.User(self.user or "", self.auth_protocol or "sha", self.auth_key or "",
                            self.priv_protocol, self.priv_key)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A device and how long to wait for it: ``timeout``/``retries`` per request, and no request past
    ``until`` (event-loop time: the poll's deadline), so the last one is cut to what the poll has left."""

    host: str
    port: int
    timeout: float
    retries: int
    until: float = math.inf


@dataclass
class Fetched:
    """What one poll read: scalar OID → value, and column OID → {row index → value}."""

    scalars: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    varbinds: int = 0


class _LoopEngines:
    def __init__(self) -> None:
        self.clients: dict[int, snmp_v2c.Client] = {}  # address family → shared socket


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopEngines] = weakref.WeakKeyDictionary()


def _close(state: _LoopEngines) -> None:
    for client in state.clients.values():
        client.close()
    state.clients.clear()


def _state() -> _LoopEngines:
    loop = asyncio.get_running_loop()
    state = _PER_LOOP.get(loop)
    if state is None:
        for old_loop in [lp for lp in _PER_LOOP if lp.is_closed()]:
            _close(_PER_LOOP.pop(old_loop))
        state = _PER_LOOP[loop] = _LoopEngines()
    return state


def close_engines() -> None:
    """Close the SNMP sockets of the running event loop."""
    state = _PER_LOOP.pop(asyncio.get_running_loop(), None)
    if state is not None:
        _close(state)


async def walk(
    credentials: Credentials,
    endpoint: Endpoint,
    scalars: Sequence[str],
    columns: Sequence[str],
    max_repetitions: int,
    max_rows: int,
) -> Fetched:
    """Read ``scalars`` and every row of ``columns`` from one device; raises `SnmpFailure`.

    A device answering with non-increasing OIDs is ``malformed``; one with more than ``max_rows``
    rows in a column, or with more varbinds than the request allows, is ``oversized`` — all stop the
    poll, so a broken agent cannot hold it forever nor pass off rows nobody asked for.
    """
    bulk = await _bulk(endpoint, credentials)
    out = Fetched(columns={c: {} for c in columns})
    cursor = {c: c for c in columns}  # column → last OID seen
    last = {c: _arcs(c) for c in columns}  # ... and its arcs, for the increasing-OID check
    pending = list(scalars)
    while pending or cursor:
        request = [s.rpartition(".")[0] for s in pending] + list(cursor.values())
        varbinds = await bulk(len(pending), max_repetitions, request)
        allowed = len(pending) + max_repetitions * len(cursor)  # RFC 3416 § 4.2.3
        if len(varbinds) > allowed:
            raise SnmpFailure("oversized", f"device answered {len(varbinds)} varbinds to a GETBULK "
                              f"allowing {allowed}")
        out.requests += 1
        out.varbinds += len(varbinds)
        for asked, want, (oid, value) in zip(request, pending, varbinds, strict=False):
            if value is None:  # endOfMibView: nothing at or after this scalar
                continue
            if _arcs(oid) <= _arcs(asked):
                raise SnmpFailure("malformed", f"device answered {oid} to a GETNEXT on {asked}")
            if oid == want:
                out.scalars[want] = value
        repeating = list(cursor)
        rows = varbinds[len(pending):]
        pending = []
        if not repeating:
            break
        if not rows:
            raise SnmpFailure("malformed", "GETBULK response without table rows")
        for i, (oid, value) in enumerate(rows):
            column = repeating[i % len(repeating)]
            if column not in cursor:
                continue
            if value is None:  # endOfMibView
                del cursor[column]
                continue
            arcs = _arcs(oid)
            if arcs <= last[column]:
                raise SnmpFailure("malformed", f"device returned non-increasing OID {oid}")
            if not oid.startswith(column + "."):
                del cursor[column]  # walked past the column
                continue
            cursor[column], last[column] = oid, arcs
            cells = out.columns[column]
            cells[oid[len(column) + 1:]] = value
            if len(cells) > max_rows:
                raise SnmpFailure("oversized", f"more than {max_rows} rows in column {column}")
    return out


Bulk = Callable[[int, int, Sequence[str]], Awaitable[list[tuple[str, Value]]]]


async def _bulk(endpoint: Endpoint, credentials: Credentials) -> Bulk:
    state = _state()
    host = endpoint.host
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, endpoint.port, type=socket.SOCK_DGRAM)
        if not infos:
            raise SnmpFailure("dns", f"cannot resolve {host}") from None
        family, host = infos[0][0], str(infos[0][4][0])
    client = state.clients.get(family)
    if client is None:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        _transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: snmp_v2c.Client(sock), sock=sock)
        state.clients[family] = client
    address = (host, endpoint.port)
    community = None if credentials.community is None else credentials.community.encode()
    user = credentials.v3_user() if community is None else None

    async def bulk(non_repeaters: int, max_repetitions: int, oids: Sequence[str]) -> list[tuple[str, Value]]:
        if community is not None:
            answer = await client.request(address, community, non_repeaters, max_repetitions, oids,
                                          endpoint.timeout, endpoint.retries, endpoint.until)
        else:
            assert user is not None
            try:
                answer = await snmp_v3.bulk(client, address, user, non_repeaters, max_repetitions, oids,
                                            endpoint.timeout, endpoint.retries, endpoint.until)
            except snmp_v3.Refused as refused:
                reason, message = _REFUSED.get(refused.kind, (
                    "error", f"SNMPv3 request refused by the device ({refused.kind})"))
                raise SnmpFailure(reason, message) from None
        if answer is None:
            waited = ("before the poll's deadline" if asyncio.get_running_loop().time() >= endpoint.until
                      else "after retries")
            raise SnmpFailure("timeout", f"no SNMP response ({waited})" if community is not None else
                              f"no SNMPv3 response ({waited}): device down, or a wrong privacy key or "
                              "protocol (agents drop what they cannot decrypt)")
        status, index, varbinds = answer
        if status:
            raise SnmpFailure("error", f"SNMP error-status {status} at varbind {index}")
        return [(oid, value[:MAX_STRING] if isinstance(value, str) else value) for oid, value in varbinds]

    return bulk


#: Why an agent refused a v3 request (`snmp_v3.Refused.kind`) → (reason, message).
_REFUSED = {
    "wrong-digest": ("auth", "SNMPv3 authentication failed: wrong auth key or protocol"),
    "unknown-user": ("auth", "SNMPv3 user unknown to the device"),
    "decryption-error": ("auth", "SNMPv3 decryption failed: wrong privacy key or protocol"),
    "unsupported-level": ("auth", "SNMPv3 security level not accepted by the device"),
}


@functools.lru_cache(maxsize=16_384)
def _arcs(oid: str) -> tuple[int, ...]:
    """Numeric arcs, to compare OIDs; cached for the reason `snmp_v2c._decode_oid` is."""
    return tuple(map(int, oid.split(".")))
