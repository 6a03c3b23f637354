"""`probes.tls.not_after` reads notAfter from the DER itself; here it is checked against `cryptography`
(what it replaced) on certificates that exercise every branch: UTCTime and GeneralizedTime, a 19xx
UTCTime, long-form lengths (a 4096-bit key, a long issuer), EC keys, and broken input."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from probes.tls import not_after

UTC = dt.UTC


def certificate(expires: dt.datetime, key: object, units: int = 1) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netmon test CA"),
                      *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Trung tâm Dữ liệu tỉnh Sơn La {i}")
                        for i in range(units))])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key())  # type: ignore[attr-defined]
               .serial_number(x509.random_serial_number())
               .not_valid_before(min(expires, dt.datetime(1990, 1, 1, tzinfo=UTC)))
               .not_valid_after(expires))
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)  # type: ignore[arg-type]


RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CASES = [
    (dt.datetime(2026, 12, 8, 7, 30, 5, tzinfo=UTC), RSA, "utc time, 20xx"),
    (dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), RSA, "utc time, 19xx"),
    (dt.datetime(2050, 1, 1, tzinfo=UTC), RSA, "generalized time from 2050"),
    (dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), ec.generate_private_key(ec.SECP256R1()), "ec key"),
    (dt.datetime(2031, 6, 1, tzinfo=UTC), rsa.generate_private_key(public_exponent=65537, key_size=4096),
     "4096-bit key"),
]


@pytest.mark.parametrize(("expires", "key", "case"), CASES, ids=[c[2] for c in CASES])
def test_same_as_cryptography(expires: dt.datetime, key: object, case: str) -> None:
    der = certificate(expires, key)
    assert not_after(der) == x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    assert not_after(der) == expires.timestamp()


def test_long_issuer_uses_long_form_lengths() -> None:
    der = certificate(dt.datetime(2027, 3, 4, tzinfo=UTC), RSA, units=12)
    assert not_after(der) == dt.datetime(2027, 3, 4, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x30\x82\xff\xff" + b"\x00" * 10, b"\x02\x01\x05",
                                  certificate(dt.datetime(2030, 1, 1, tzinfo=UTC), RSA)[:200]])
def test_not_a_certificate_is_a_value_error(junk: bytes) -> None:
    with pytest.raises(ValueError):
        not_after(junk)
