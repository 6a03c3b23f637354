"""SNMPv3 with the user-based security model (USM): GETBULK with HMAC-SHA and AES on pycryptodomex.

Why not pysnmp any more: at 50 polls in flight against one healthy Debian snmpd, 2-4 % of v3 polls
timed out (17 % in a heavier run): pysnmp's own UDP socket keeps the kernel's 208 KiB default receive
buffer, and while the event loop spent ~7 ms of CPU per poll in pysnmp and pyasn1 the answers queued
there overflowed it (`/proc/net/udp` counted the drops on pysnmp's socket) — healthy equipment was
reported down. Here a v3 request is the v2c codec's GETBULK PDU (`collectors.snmp_v2c`) in a USM
envelope, sent on the same shared socket with its 8 MiB buffer; the crypto is one HMAC and one AES
pass per message. `tests/collectors/test_snmp_v3.py` checks keys, digests and ciphertexts byte for
byte against pysnmp's USM and every poll against a real snmpd.

What is implemented (RFC 3414, 3826, 7860; the AES-192/256 key extension is Blumenthal's draft, as
net-snmp and pysnmp do it): authNoPriv and authPriv; HMAC-SHA-1/224/256/384/512; AES-128/192/256 in
CFB mode; engine discovery and the time window (a report of an unknown engine or of a time outside
the window updates what we know and the request is sent again, once each). Authentication keys are
derived from the passphrases once per (passphrase, protocol) and localised once per engine; neither
a passphrase nor a key ever reaches a message, a label or a log.

An answer that fails its digest is treated as no answer (the try waits out its timeout), as an agent
does with a request it cannot authenticate. Unauthenticated reports are believed only to name why
a request was refused (wrong digest, unknown user, ...): they never carry values.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from Cryptodome.Cipher._mode_cfb import CfbMode

from collectors.snmp_v2c import (
    Client,
    DecodeError,
    Value,
    decode_pdu,
    encode_bulk_pdu,
    encode_int,
    next_id,
    read_tlv,
    tlv,
)

#: auth protocol → (hash, length of the truncated HMAC carried in msgAuthenticationParameters).
AUTH: dict[str, tuple[Callable[..., hashlib._Hash], int]] = {
    "sha": (hashlib.sha1, 12),
    "sha224": (hashlib.sha224, 16),
    "sha256": (hashlib.sha256, 24),
    "sha384": (hashlib.sha384, 32),
    "sha512": (hashlib.sha512, 48),
}
#: priv protocol → AES key length in bytes.
PRIV: dict[str, int] = {"aes": 16, "aes192": 24, "aes256": 32}

#: msgMaxSize we announce: the largest UDP payload over IPv4.
MAX_SIZE = 65507
_REPORTS = {  # usmStats* counters an agent names in a Report-PDU (RFC 3414 § 5)
    "1.3.6.1.6.3.15.1.1.1.0": "unsupported-level",
    "1.3.6.1.6.3.15.1.1.2.0": "not-in-time-window",
    "1.3.6.1.6.3.15.1.1.3.0": "unknown-user",
    "1.3.6.1.6.3.15.1.1.4.0": "unknown-engine",
    "1.3.6.1.6.3.15.1.1.5.0": "wrong-digest",
    "1.3.6.1.6.3.15.1.1.6.0": "decryption-error",
}
_SALT = itertools.count(random.getrandbits(64))


@dataclass(frozen=True, slots=True)
class User:
    """A v3 user as configured; ``repr`` never shows the passphrases."""

    name: str
    auth_protocol: str
    auth_passphrase: str = field(repr=False)
    priv_protocol: str | None = None
    priv_passphrase: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class Engine:
    """What we know of one agent's authoritative engine: its id and its clock at ``seen``."""

    engine_id: bytes
    boots: int
    time: int
    seen: float

    def clock(self) -> tuple[int, int]:
        return self.boots, self.time + int(time.monotonic() - self.seen)


class Refused(Exception):
    """The agent answered with a Report-PDU; ``kind`` is one of `_REPORTS`' values."""

    def __init__(self, kind: str, engine: Engine | None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.engine = engine


@functools.lru_cache(maxsize=1024)
def _master_key(passphrase: str, auth_protocol: str) -> bytes:
    """RFC 3414 A.2: the hash of the passphrase repeated to 1 MiB (the costly step: cached)."""
    data = passphrase.encode()
    if not data:
        raise ValueError("empty SNMPv3 passphrase")
    repeated = data * (1048576 // len(data) + 1)
    return AUTH[auth_protocol][0](repeated[:1048576]).digest()


@functools.lru_cache(maxsize=4096)
def localized_key(passphrase: str, auth_protocol: str, engine_id: bytes) -> bytes:
    """RFC 3414 A.2: the passphrase's key localised to one engine."""
    hash_ = AUTH[auth_protocol][0]
    master = _master_key(passphrase, auth_protocol)
    return hash_(master + engine_id + master).digest()


@functools.lru_cache(maxsize=4096)
def privacy_key(passphrase: str, auth_protocol: str, priv_protocol: str, engine_id: bytes) -> bytes:
    """The AES key: the localised key, extended by hashing (Blumenthal) when the hash is too short."""
    hash_ = AUTH[auth_protocol][0]
    key = localized_key(passphrase, auth_protocol, engine_id)
    size = PRIV[priv_protocol]
    while len(key) < size:
        key += hash_(key).digest()
    return key[:size]


def _aes(key: bytes, boots: int, engine_time: int, salt: bytes) -> CfbMode:
    # Imported here, only authPriv devices need it. pycryptodomex, not `cryptography`: the same AES-CFB128
    # for ~2 MB resident instead of ~11 MB — an edge agent polling its 4G router over authPriv went from
    # 41.5 to 52.9 MiB with `cryptography` (bench/agent_memory.py, issue #18: 50 MB in all).
    from Cryptodome.Cipher import AES

    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt  # RFC 3826 § 3.1.2.1
    return AES.new(key, AES.MODE_CFB, iv=iv, segment_size=128)


def encode_request(user: User | None, engine: Engine | None, message_id: int, pdu: bytes,
                   salt: bytes | None = None) -> bytes:
    """A v3 message carrying ``pdu``. Without ``user``/``engine``: the unauthenticated discovery probe.

    ``salt`` (8 bytes) is drawn from a process-wide counter unless given (tests pin it)."""
    if user is None or engine is None:
        flags, engine_id, boots, now, name = 0x04, b"", 0, 0, b""
    else:
        flags = 0x07 if user.priv_protocol else 0x05
        engine_id, name = engine.engine_id, user.name.encode()
        boots, now = engine.clock()
    scoped = tlv(0x30, tlv(0x04, engine_id) + tlv(0x04, b"") + pdu)
    mac_size = AUTH[user.auth_protocol][1] if flags & 0x01 and user else 0
    priv = b""
    if flags & 0x02 and user and user.priv_protocol and user.priv_passphrase is not None:
        priv = salt if salt is not None else (next(_SALT) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        key = privacy_key(user.priv_passphrase, user.auth_protocol, user.priv_protocol, engine_id)
        data = tlv(0x04, _aes(key, boots, now, priv).encrypt(scoped))
    else:
        data = scoped
    security = tlv(0x30, tlv(0x04, engine_id) + encode_int(0x02, boots) + encode_int(0x02, now)
                   + tlv(0x04, name) + tlv(0x04, bytes(mac_size)) + tlv(0x04, priv))
    header = tlv(0x30, encode_int(0x02, message_id) + encode_int(0x02, MAX_SIZE) + tlv(0x04, bytes((flags,)))
                 + encode_int(0x02, 3))
    message = tlv(0x30, encode_int(0x02, 3) + header + tlv(0x04, security) + data)
    if user is not None and mac_size:
        at = len(message) - len(data) - len(tlv(0x04, priv)) - mac_size
        hash_ = AUTH[user.auth_protocol][0]
        mac = hmac.new(localized_key(user.auth_passphrase, user.auth_protocol, engine_id), message,
                       hash_).digest()[:mac_size]
        message = message[:at] + mac + message[at + mac_size:]
    return message


def decode_answer(data: bytes, user: User | None) -> tuple[int, int, list[tuple[str, Value]]]:
    """(error status, error index, varbinds) of an authenticated Response-PDU.

    Raises `Refused` for a Report-PDU (with the engine it describes) and `DecodeError` for anything
    that is not an answer we can trust: bad framing, a failed digest, a response we cannot decrypt.
    """
    tag, pos, _end = read_tlv(data, 0)
    if tag != 0x30:
        raise DecodeError("not a SEQUENCE")
    tag, start, pos = read_tlv(data, pos)
    if data[start:pos] != b"\x03":
        raise DecodeError("not SNMPv3")
    _tag, inner, pos = read_tlv(data, pos)  # msgGlobalData
    for _ in range(2):  # msgID (matched by the socket), msgMaxSize
        _tag, _start, inner = read_tlv(data, inner)
    _tag, start, inner = read_tlv(data, inner)
    flags = data[start] if inner > start else 0
    _tag, inner, pos = read_tlv(data, pos)  # msgSecurityParameters: an OCTET STRING holding a SEQUENCE
    _tag, inner, _end = read_tlv(data, inner)
    fields = []
    for _ in range(6):
        _tag, start, inner = read_tlv(data, inner)
        fields.append((start, inner))
    engine_id = data[fields[0][0]:fields[0][1]]
    boots, now = (int.from_bytes(data[s:e], "big") for s, e in fields[1:3])
    mac_start, mac_end = fields[4]
    salt = data[fields[5][0]:fields[5][1]]
    engine = Engine(engine_id, boots, now, time.monotonic())
    authentic = False
    if flags & 0x01:
        if user is None:
            raise DecodeError("authenticated answer to a discovery probe")
        hash_, size = AUTH[user.auth_protocol]
        if mac_end - mac_start != size or data[fields[3][0]:fields[3][1]] != user.name.encode():
            raise DecodeError("answer for another user or protocol")
        zeroed = data[:mac_start] + bytes(size) + data[mac_end:]
        key = localized_key(user.auth_passphrase, user.auth_protocol, engine_id)
        if not hmac.compare_digest(hmac.new(key, zeroed, hash_).digest()[:size], data[mac_start:mac_end]):
            raise DecodeError("wrong digest")
        authentic = True
    if flags & 0x02:
        if not authentic or user is None or not user.priv_protocol or user.priv_passphrase is None:
            raise DecodeError("encrypted answer we cannot decrypt")
        tag, start, pos = read_tlv(data, pos)
        if tag != 0x04 or len(salt) != 8:
            raise DecodeError("bad encrypted PDU")
        key = privacy_key(user.priv_passphrase, user.auth_protocol, user.priv_protocol, engine_id)
        data, pos = _aes(key, boots, now, salt).decrypt(data[start:pos]), 0
    _tag, pos, _end = read_tlv(data, pos)  # ScopedPDU
    for _ in range(2):  # contextEngineID, contextName
        _tag, _start, pos = read_tlv(data, pos)
    tag, _rid, status, index, varbinds = decode_pdu(data, pos)
    if tag == 0xA8:
        kind = _REPORTS.get(varbinds[0][0], "report") if varbinds else "report"
        raise Refused(kind, engine if authentic or kind == "unknown-engine" else None)
    if tag != 0xA2 or not authentic:
        raise DecodeError("not an authenticated Response-PDU")
    return status, index, varbinds


#: Address → the agent's engine as last learnt (discovery, or a time-window report).
_ENGINES: dict[tuple[str, int], Engine] = {}


async def bulk(client: Client, address: tuple[str, int], user: User, non_repeaters: int,
               max_repetitions: int, oids: Sequence[str], timeout: float, retries: int,
               until: float = math.inf) -> tuple[int, int, list[tuple[str, Value]]] | None:
    """One authenticated GETBULK: (error status, error index, varbinds), or None after every try timed
    out, engine discovery included, none past ``until`` (`Client.exchange`). Raises `Refused` when the
    agent refuses it for a reason that retrying cannot fix."""
    def decode(data: bytes) -> tuple[int, int, list[tuple[str, Value]]]:
        return decode_answer(data, user)

    recovered: set[str] = set()
    while True:
        engine = _ENGINES.get(address)
        if engine is None:
            probe = encode_request(None, None, message_id := next_id(), tlv(0xA0, encode_int(0x02, 0) * 3
                                                                             + tlv(0x30, b"")))
            try:
                await client.exchange(address, message_id, probe, timeout, retries, decode, until)
            except Refused as refused:
                if refused.kind != "unknown-engine" or refused.engine is None:
                    raise
                _ENGINES[address] = refused.engine
                continue
            return None
        message_id = next_id()
        pdu = encode_bulk_pdu(message_id, non_repeaters, max_repetitions, oids)
        try:
            return await client.exchange(address, message_id, encode_request(user, engine, message_id, pdu),
                                         timeout, retries, decode, until)
        except Refused as refused:
            if refused.kind in recovered or refused.kind not in ("not-in-time-window", "unknown-engine"):
                raise
            recovered.add(refused.kind)
            if refused.kind == "unknown-engine":  # the device was replaced or its engine id changed
                _ENGINES.pop(address, None)
            elif refused.engine is not None:
                _ENGINES[address] = refused.engine
