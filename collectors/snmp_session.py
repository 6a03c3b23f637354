"""The SNMP wire: credentials, transports and the multi-column GETBULK walk.

Transports. SNMPv2c goes through `collectors.snmp_v2c` (one shared UDP socket per event loop and
address family, a small BER codec: pyasn1 decoding was most of a poll's CPU). SNMPv3 goes through
pysnmp 7: an `SnmpEngine` is costly to build, so engines are shared per event loop and v3 user
(name, protocols, key fingerprint). pysnmp's configuration cache keys v3 users by user name only, so
two devices with one user name but different keys in a single engine would overwrite each other
mid-poll. We talk to pysnmp's single-run command generator directly and get raw varbinds: the hlapi's
MIB-aware wrapping of every varbind would cost more than the walk. `close_engines` closes the sockets
and engines of the running loop (call it on shutdown); those of loops closed without it are closed the
next time the collector runs.

Walking. One poll is a short loop of GETBULK requests: the first carries the profile's scalars as
non-repeaters (GETNEXT on ``oid`` minus its last arc answers ``oid`` itself) and every needed table
column as a repeater; each following request carries only the columns still inside their subtree,
from the last OID seen. A 25-interface router with the system scalars takes as few round trips as
the agent's message size allows (one to a few).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import socket
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import (
    ContextData,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
)
from pysnmp.hlapi.v3arch.asyncio import auth as _auth
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.proto import errind
from pysnmp.proto.rfc1902 import ObjectName

from collectors import snmp_v2c
from collectors.snmp_v2c import Value

AUTH_PROTOCOLS = {
    "sha": _auth.USM_AUTH_HMAC96_SHA,
    "sha224": _auth.USM_AUTH_HMAC128_SHA224,
    "sha256": _auth.USM_AUTH_HMAC192_SHA256,
    "sha384": _auth.USM_AUTH_HMAC256_SHA384,
    "sha512": _auth.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "aes": _auth.USM_PRIV_CFB128_AES,
    "aes192": _auth.USM_PRIV_CFB192_AES,
    "aes256": _auth.USM_PRIV_CFB256_AES,
}

#: Longest string kept from a device (labels such as sysDescr); longer values are cut, not rejected.
MAX_STRING = 256

_LCD = CommandGeneratorLcdConfigurator()
_CONTEXT = ContextData()
_NULL = univ.Null("")


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

    def engine_key(self) -> str:
        """Which shared v3 engine serves these credentials (a fingerprint, never the secret itself)."""
        digest = hashlib.sha256(f"{self.auth_key}\0{self.priv_key}".encode()).hexdigest()[:16]
        return f"v3:{self.user}:{self.auth_protocol}:{self.priv_protocol}:{digest}"

    def auth_data(self) -> UsmUserData:
        return UsmUserData(
            self.user or "",
            authKey=self.auth_key,
            privKey=self.priv_key,
            authProtocol=AUTH_PROTOCOLS[self.auth_protocol] if self.auth_protocol else None,
            privProtocol=PRIV_PROTOCOLS[self.priv_protocol] if self.priv_protocol else None,
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    timeout: float
    retries: int


@dataclass
class Fetched:
    """What one poll read: scalar OID → value, and column OID → {row index → value}."""

    scalars: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    varbinds: int = 0


class _LoopEngines:
    def __init__(self) -> None:
        self.engines: dict[str, SnmpEngine] = {}
        self.targets: dict[Endpoint, UdpTransportTarget] = {}
        self.v2c: dict[int, snmp_v2c.Client] = {}  # address family → shared socket


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopEngines] = weakref.WeakKeyDictionary()


def _close(state: _LoopEngines) -> None:
    for engine in state.engines.values():
        with contextlib.suppress(Exception):  # a dead loop's dispatcher may fail to close: nothing to save
            engine.close_dispatcher()
    for client in state.v2c.values():
        client.close()
    state.engines.clear()
    state.targets.clear()
    state.v2c.clear()


def _state() -> _LoopEngines:
    loop = asyncio.get_running_loop()
    state = _PER_LOOP.get(loop)
    if state is None:
        for old_loop in [lp for lp in _PER_LOOP if lp.is_closed()]:
            _close(_PER_LOOP.pop(old_loop))
        state = _PER_LOOP[loop] = _LoopEngines()
    return state


def close_engines() -> None:
    """Close the SNMP engines (and their UDP sockets) of the running event loop."""
    state = _PER_LOOP.pop(asyncio.get_running_loop(), None)
    if state is not None:
        _close(state)


async def _target(state: _LoopEngines, endpoint: Endpoint) -> UdpTransportTarget:
    target = state.targets.get(endpoint)
    if target is None:
        target = await UdpTransportTarget.create(
            (endpoint.host, endpoint.port), timeout=endpoint.timeout, retries=endpoint.retries
        )
        state.targets[endpoint] = target
    return target


def _failure(indication: errind.ErrorIndication) -> SnmpFailure:
    if isinstance(indication, errind.RequestTimedOut):  # pysnmp carries only v3 here
        return SnmpFailure("timeout", "no SNMPv3 response (after retries): device down, or a wrong privacy "
                           "key or protocol (agents drop what they cannot decrypt)")
    if isinstance(indication, errind.WrongDigest | errind.AuthenticationFailure | errind.AuthenticationError):
        return SnmpFailure("auth", "SNMPv3 authentication failed: wrong auth key or protocol")
    if isinstance(indication, errind.UnknownUserName | errind.UnknownSecurityName):
        return SnmpFailure("auth", "SNMPv3 user unknown to the device")
    if isinstance(indication, errind.DecryptionError):
        return SnmpFailure("auth", "SNMPv3 decryption failed: wrong privacy key or protocol")
    if isinstance(indication, errind.UnsupportedSecurityLevel):
        return SnmpFailure("auth", "SNMPv3 security level not accepted by the device")
    return SnmpFailure("error", f"SNMP error: {indication}")


async def _bulk_v3(
    engine: SnmpEngine,
    auth: UsmUserData,
    target: UdpTransportTarget,
    non_repeaters: int,
    max_repetitions: int,
    oids: Sequence[str],
) -> list[tuple[str, Value]]:
    addr_name, _params = _LCD.configure(engine, auth, target, _CONTEXT.contextName)
    future: asyncio.Future[list[tuple[str, Value]]] = asyncio.get_running_loop().create_future()

    def done(_engine: Any, _handle: Any, indication: Any, status: Any, index: Any, varbinds: Any,
             _ctx: Any) -> None:
        if future.cancelled():
            return
        if indication:
            future.set_exception(_failure(indication))
        elif status:
            message = f"SNMP error-status {int(status)} at varbind {int(index)}"
            future.set_exception(SnmpFailure("error", message))
        else:
            future.set_result([(str(oid), plain(value)) for oid, value in varbinds])

    cmdgen.BulkCommandGeneratorSingleRun().send_varbinds(
        engine, addr_name, _CONTEXT.contextEngineId, _CONTEXT.contextName, non_repeaters, max_repetitions,
        [(ObjectName(oid), _NULL) for oid in oids], done,
    )
    return await future


def plain(value: Any) -> Value:
    """A pysnmp value as int (all integer, counter, gauge and timetick types), str, or None (no such)."""
    if isinstance(value, univ.Null):  # noSuchObject, noSuchInstance, endOfMibView
        return None
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets()[:MAX_STRING]).decode("utf-8", "replace").rstrip("\0").strip()
    return str(value)[:MAX_STRING]


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
    bulk = await _v2c(endpoint, credentials) if credentials.community is not None else \
        await _v3(endpoint, credentials)
    out = Fetched(columns={c: {} for c in columns})
    cursor = {c: c for c in columns}  # column → last OID seen
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
            if _arcs(oid) <= _arcs(cursor[column]):
                raise SnmpFailure("malformed", f"device returned non-increasing OID {oid}")
            if not oid.startswith(column + "."):
                del cursor[column]  # walked past the column
                continue
            cursor[column] = oid
            cells = out.columns[column]
            cells[oid[len(column) + 1:]] = value
            if len(cells) > max_rows:
                raise SnmpFailure("oversized", f"more than {max_rows} rows in column {column}")
    return out


Bulk = Callable[[int, int, Sequence[str]], Awaitable[list[tuple[str, Value]]]]


async def _v3(endpoint: Endpoint, credentials: Credentials) -> Bulk:
    state = _state()
    key = credentials.engine_key()
    engine = state.engines.get(key)
    if engine is None:
        engine = state.engines[key] = SnmpEngine()
    target = await _target(state, endpoint)
    auth = credentials.auth_data()
    return functools.partial(_bulk_v3, engine, auth, target)


async def _v2c(endpoint: Endpoint, credentials: Credentials) -> Bulk:
    state = _state()
    host = endpoint.host
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, endpoint.port, type=socket.SOCK_DGRAM)
        if not infos:
            raise SnmpFailure("dns", f"cannot resolve {host}") from None
        family, host = infos[0][0], str(infos[0][4][0])
    client = state.v2c.get(family)
    if client is None:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        _transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: snmp_v2c.Client(sock), sock=sock)
        state.v2c[family] = client
    community = (credentials.community or "").encode()

    async def bulk(non_repeaters: int, max_repetitions: int, oids: Sequence[str]) -> list[tuple[str, Value]]:
        answer = await client.request((host, endpoint.port), community, non_repeaters, max_repetitions,
                                      oids, endpoint.timeout, endpoint.retries)
        if answer is None:
            raise SnmpFailure("timeout", "no SNMP response (after retries)")
        status, index, varbinds = answer
        if status:
            raise SnmpFailure("error", f"SNMP error-status {status} at varbind {index}")
        return [(oid, value[:MAX_STRING] if isinstance(value, str) else value) for oid, value in varbinds]

    return bulk


def _arcs(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))
