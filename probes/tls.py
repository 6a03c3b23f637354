"""TLS helpers for probes: client contexts and the peer certificate's expiry.

Expiry is read from the certificate's DER bytes, not from ``getpeercert()``'s dict,
because the dict is empty whenever verification is off — and an operator wants to know that a
certificate expires next week precisely on the services whose verification they had to switch off.
When verification itself fails (an expired or untrusted certificate), `fetch_certificate` makes one
extra non-verifying handshake so the expiry can still be reported next to the failure.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import functools
import ssl
import time
from pathlib import Path


def client_context(verify: bool, ca_file: Path | None = None) -> ssl.SSLContext:
    """A client context, cached: loading a CA store costs milliseconds and thousands of checks share few.

    With ``verify`` the system trust store is used, or only ``ca_file`` when given (the lab's own CA,
    or a provincial CA the system does not know). The cache follows the file's modification time, so
    a renewed CA (a lab brought up again) is trusted without a restart.
    """
    stamp = ca_file.stat().st_mtime_ns if verify and ca_file is not None else 0
    return _context(verify, ca_file, stamp)


@functools.lru_cache(maxsize=64)
def _context(verify: bool, ca_file: Path | None, stamp: int) -> ssl.SSLContext:
    if not verify:
        return _unverified()
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The peer's leaf certificate in DER form, whether or not it was verified."""
    if ssl_object is None:
        return None
    return ssl_object.getpeercert(binary_form=True)


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, first content byte, end) of the DER element starting at ``at``."""
    if at + 2 > len(der):
        raise ValueError("certificate truncated")
    tag, length, start = der[at], der[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or start + size > len(der):
            raise ValueError("bad DER length")
        length, start = int.from_bytes(der[start:start + size], "big"), start + size
    if start + length > len(der):
        raise ValueError("certificate truncated")
    return tag, start, start + length


def not_after(der: bytes) -> float:
    """The certificate's notAfter as unix seconds; ValueError if ``der`` is not a certificate.

    Read from the DER itself (RFC 5280 § 4.1: Certificate → tbsCertificate → [version], serialNumber,
    signature, issuer, validity → notAfter) rather than through `cryptography`: that library is ~8 MB
    resident, a sixth of an edge agent's 50 MB, and this one field is all a probe reads from a
    certificate. tests/probes/test_tls_der.py checks it against `cryptography` itself.
    """
    tag, tbs, _ = _element(der, 0)
    tag, at, _ = _element(der, tbs)
    if tag != 0x30:
        raise ValueError("not an X.509 certificate")
    if der[at] == 0xA0:  # explicit [0] version
        at = _element(der, at)[2]
    for _ in range(3):  # serialNumber, signature, issuer
        at = _element(der, at)[2]
    tag, validity, _ = _element(der, at)
    if tag != 0x30:
        raise ValueError("no validity in certificate")
    after = _element(der, _element(der, validity)[2])
    text = der[after[1]:after[2]].decode("ascii")
    if after[0] == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 are 19xx (RFC 5280 § 4.1.2.5.1)
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif after[0] != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError("bad notAfter time")
    return float(calendar.timegm(time.strptime(text, "%Y%m%d%H%M%SZ")))


async def fetch_certificate(host: str, port: int, timeout: float) -> bytes | None:
    """The certificate ``host:port`` presents, fetched without verifying it; None if it cannot be had.

    Used only after a verifying handshake failed, so the certificate's expiry can still be reported.
    """
    if timeout <= 0:
        return None
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=_unverified(), server_hostname=host)
            return peer_certificate(writer.get_extra_info("ssl_object"))
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(max(timeout, 0.1)):
                    await writer.wait_closed()
