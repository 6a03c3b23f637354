"""SNMPv3 (USM) on the fast path: byte for byte against pysnmp's USM, and against a real Debian snmpd.

pysnmp is the reference implementation here: keys, digests and ciphertexts ours produces must be the
ones pysnmp computes from the same inputs; every security combination must be accepted by net-snmp's
snmpd and read the same values as net-snmp's own ``snmpget``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pysnmp.entity.engine  # noqa: F401  (first: pysnmp's USM modules import each other in a cycle)
import pytest
from pyasn1.codec.ber import decoder
from pyasn1.type import univ
from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
from pysnmp.proto.secmod.eso.priv import aes192, aes256
from pysnmp.proto.secmod.rfc3414 import localkey
from pysnmp.proto.secmod.rfc3414.auth import hmacsha
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
from pysnmp.proto.secmod.rfc3826.priv import aes
from pysnmp.proto.secmod.rfc7860.auth import hmacsha2

from collectors import snmp, snmp_v3
from collectors.snmp_session import close_engines
from collectors.snmp_v2c import encode_bulk_pdu
from netmon.runner import run_check
from probes import base
from probes.base import Check
from tests.collectors.agents import COMMUNITY, Snmpd, free_udp_port, net_snmp

_AUTH_SERVICES = {
    "sha": hmacsha.HmacSha(),
    "sha224": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA224_SERVICE_ID),
    "sha256": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA256_SERVICE_ID),
    "sha384": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SAH384_SERVICE_ID),
    "sha512": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA512_SERVICE_ID),
}
_PRIV_SERVICES = {"aes": aes.Aes(), "aes192": aes192.AesBlumenthal192(), "aes256": aes256.AesBlumenthal256()}
_AUTH_SERVICE_IDS = {"sha": hmacsha.HmacSha.SERVICE_ID, "sha224": hmacsha2.HmacSha2.SHA224_SERVICE_ID,
                     "sha256": hmacsha2.HmacSha2.SHA256_SERVICE_ID, "sha384": hmacsha2.HmacSha2.SAH384_SERVICE_ID,
                     "sha512": hmacsha2.HmacSha2.SHA512_SERVICE_ID}
#: Our protocol names → net-snmp's (`snmpget -a/-x`, snmpd's createUser).
_NET_SNMP = {"sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512",
             "aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}
ENGINE_ID = bytes.fromhex("80001f8880a1b2c3d4e5f60718293a4b")
PYSNMP_ENGINE_ID = univ.OctetString(ENGINE_ID)
#: (user, auth, priv): one snmpd user per combination the options allow.
USERS = [("u-sha-aes", "sha", "aes"), ("u-sha224-aes192", "sha224", "aes192"),
         ("u-sha256-aes256", "sha256", "aes256"), ("u-sha384-aes", "sha384", "aes"),
         ("u-sha512-aes256", "sha512", "aes256"), ("u-sha-none", "sha", None), ("u-sha1-aes256", "sha", "aes256")]
AUTH_KEY, PRIV_KEY = "auth-v3-secret-0451", "priv-v3-secret-7719"


@pytest.mark.parametrize("auth", sorted(snmp_v3.AUTH))
@pytest.mark.parametrize("priv", sorted(snmp_v3.PRIV))
def test_keys_equal_pysnmp(auth: str, priv: str) -> None:
    service = _AUTH_SERVICES[auth]
    expected = service.localize_key(service.hash_passphrase(AUTH_KEY), PYSNMP_ENGINE_ID)
    assert snmp_v3.localized_key(AUTH_KEY, auth, ENGINE_ID) == bytes(expected)
    cipher = _PRIV_SERVICES[priv]
    hashed = cipher.hash_passphrase(_AUTH_SERVICE_IDS[auth], PRIV_KEY)
    expected_priv = cipher.localize_key(_AUTH_SERVICE_IDS[auth], hashed, PYSNMP_ENGINE_ID)
    assert snmp_v3.privacy_key(PRIV_KEY, auth, priv, ENGINE_ID) == bytes(expected_priv)[:snmp_v3.PRIV[priv]]


def test_master_key_is_rfc3414_a3_vector() -> None:
    """RFC 3414 A.3.2: "maplesyrup" localised to 000000000000000000000002 with SHA."""
    assert snmp_v3.localized_key("maplesyrup", "sha", bytes.fromhex("000000000000000000000002")).hex() == \
        "6695febc9288e36282235fc7151f128497b38f3f"
    assert bytes(localkey.hash_passphrase_sha("maplesyrup")) == snmp_v3._master_key("maplesyrup", "sha")


@pytest.mark.parametrize(("auth", "priv"), [("sha", "aes"), ("sha256", "aes256"), ("sha512", "aes192"),
                                            ("sha384", None)])
def test_pysnmp_authenticates_and_decrypts_our_request(auth: str, priv: str | None) -> None:
    user = snmp_v3.User("netmon", auth, AUTH_KEY, priv, PRIV_KEY if priv else None)
    engine = snmp_v3.Engine(ENGINE_ID, 7, 123456, seen=time.monotonic())
    oids = ["1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2.2.1.10"]
    pdu = encode_bulk_pdu(4242, 1, 30, oids)
    message = snmp_v3.encode_request(user, engine, 4242, pdu, salt=b"\x01\x02\x03\x04\x05\x06\x07\x08")

    decoded, rest = decoder.decode(message, asn1Spec=SNMPv3Message())
    assert not rest
    header = decoded["msgGlobalData"]
    assert (int(header["msgID"]), bytes(header["msgFlags"]), int(header["msgSecurityModel"])) == \
        (4242, bytes([0x07 if priv else 0x05]), 3)
    usm, _ = decoder.decode(bytes(decoded["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    boots, now = int(usm["msgAuthoritativeEngineBoots"]), int(usm["msgAuthoritativeEngineTime"])
    assert (bytes(usm["msgAuthoritativeEngineId"]), bytes(usm["msgUserName"]), boots) == (ENGINE_ID, b"netmon", 7)
    service = _AUTH_SERVICES[auth]
    auth_key = service.localize_key(service.hash_passphrase(AUTH_KEY), PYSNMP_ENGINE_ID)
    # pysnmp recomputes the HMAC over our bytes and raises if it differs from the one we sent
    service.authenticate_incoming_message(auth_key, usm["msgAuthenticationParameters"], message)
    data = decoded["msgData"]
    if priv:
        cipher = _PRIV_SERVICES[priv]
        key = cipher.localize_key(_AUTH_SERVICE_IDS[auth], cipher.hash_passphrase(_AUTH_SERVICE_IDS[auth],
                                                                                   PRIV_KEY), PYSNMP_ENGINE_ID)
        plain = cipher.decrypt_data(key, (boots, now, usm["msgPrivacyParameters"]), data["encryptedPDU"])
        scoped, _ = decoder.decode(bytes(plain), asn1Spec=ScopedPDU())
    else:
        scoped = data["plaintext"]
    bulk = scoped["data"].getComponent()
    assert bytes(scoped["contextEngineId"]) == ENGINE_ID
    assert (int(bulk["request-id"]), int(bulk["non-repeaters"]), int(bulk["max-repetitions"])) == (4242, 1, 30)
    assert [str(vb["name"]) for vb in bulk["variable-bindings"]] == oids


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    """Debian snmpd with one v3 user per security combination (and a v2c community for readiness)."""
    tmp = tmp_path_factory.mktemp("snmpd-v3")
    port = free_udp_port()
    conf = tmp / "snmpd.conf"
    lines = [f"agentaddress udp:127.0.0.1:{port}", f"rocommunity {COMMUNITY} 127.0.0.1", f"persistentDir {tmp}"]
    for name, auth, priv in USERS:
        lines.append(f"createUser {name} {_NET_SNMP[auth]} {AUTH_KEY}"
                     + (f" {_NET_SNMP[priv]} {PRIV_KEY}" if priv else ""))
        lines.append(f"rouser {name} {'priv' if priv else 'auth'}")
    conf.write_text("\n".join(lines) + "\n")
    snmpd = Snmpd(port, conf, tmp / "snmpd.pid", tmp / "snmpd.log")
    snmpd.start()
    try:
        yield snmpd
    finally:
        snmpd.stop()


@pytest.fixture(autouse=True)
async def _secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NETMON_TEST_AUTH", AUTH_KEY)
    monkeypatch.setenv("NETMON_TEST_PRIV", PRIV_KEY)
    yield
    close_engines()


def device(port: int, user: str, auth: str, priv: str | None, *, id: str = "dev", timeout: float = 1.0,
           profiles: tuple[str, ...] = ("system",)) -> Check:
    v3 = {"version": "3", "user": user, "auth_protocol": auth, "auth_key_env": "NETMON_TEST_AUTH",
          "priv_protocol": priv}
    if priv:
        v3["priv_key_env"] = "NETMON_TEST_PRIV"
    options = base.options(snmp.SnmpOptions, {"profiles": profiles, "snmp": v3, "port": port, "timeout": timeout,
                                              "retries": 1})
    return Check(site="chieng-mung", id=id, probe="snmp", target="127.0.0.1", options=options,
                 timeout=timeout * 2 + 1, interval=30.0)


def _net_snmp_args(user: str, auth: str, priv: str | None) -> list[str]:
    args = ["-v3", "-u", user, "-a", _NET_SNMP[auth], "-A", AUTH_KEY]
    if priv:
        return [*args, "-l", "authPriv", "-x", _NET_SNMP[priv], "-X", PRIV_KEY]
    return [*args, "-l", "authNoPriv"]


@pytest.mark.parametrize(("user", "auth", "priv"), USERS)
async def test_every_combination_reads_what_snmpget_reads(agent: Snmpd, user: str, auth: str,
                                                          priv: str | None) -> None:
    result = await run_check(device(agent.port, user, auth, priv, profiles=("system", "host-resources")))
    assert result.success, result.error
    expected = net_snmp("snmpget", agent.port, "1.3.6.1.2.1.1.5.0", *_net_snmp_args(user, auth, priv))
    info = dict(next(m.labels for m in result.measurements if m.name == "netmon_device_info"))
    assert info["sysname"] == expected["1.3.6.1.2.1.1.5.0"]
    assert result.value("netmon_memory_used_ratio") is not None


async def test_fifty_polls_in_flight_never_time_out(agent: Snmpd) -> None:
    """500 authPriv polls, 50 in flight, to one healthy snmpd: pysnmp timed out 9-19 of them (its
    socket's 208 KiB buffer overflowed while its CPU-bound USM kept the loop busy)."""
    checks = [device(agent.port, "u-sha-aes", "sha", "aes", id=f"d{i}", profiles=("system", "if-mib", "host-resources"))
              for i in range(500)]
    queue = list(checks)
    failures: list[str] = []

    async def worker() -> None:
        while queue:
            result = await run_check(queue.pop())
            if not result.success:
                failures.append(f"{result.reason}: {result.error}")

    await asyncio.gather(*(worker() for _ in range(50)))
    assert failures == []


async def test_agent_restart_is_a_reboot_not_a_failure(agent: Snmpd) -> None:
    """A restarted agent counts one more boot and restarts its clock: our next request is outside its
    time window, the agent says so in an authenticated report, and the request is sent again."""
    check = device(agent.port, "u-sha-aes", "sha", "aes", id="reboot-me")
    first = await run_check(check)
    assert first.success, first.error
    agent.restart()
    second = await run_check(check)
    assert second.success, second.error
    assert second.value("netmon_device_reboots") == 1.0


@pytest.mark.parametrize(("user", "env", "words"), [
    ("nobody", None, "user unknown"),
    ("u-sha-aes", "NETMON_TEST_AUTH", "authentication failed"),
    ("u-sha-aes", "NETMON_TEST_PRIV", "timeout wrong privacy key"),
])
async def test_refusals_name_their_cause_and_no_secret(agent: Snmpd, monkeypatch: pytest.MonkeyPatch, user: str,
                                                       env: str | None, words: str) -> None:
    wrong = "wrong-secret-31337"
    if env:
        monkeypatch.setenv(env, wrong)
    check = device(agent.port, user, "sha", "aes", id="bad", timeout=0.5)
    result = await run_check(check)
    assert not result.success
    assert all(word in f"{result.reason} {result.error}" for word in words.split())
    for text in (repr(result), repr(check), str(check.options), result.error or ""):
        assert wrong not in text and AUTH_KEY not in text and PRIV_KEY not in text


def test_user_repr_hides_the_passphrases() -> None:
    text = repr(snmp_v3.User("netmon", "sha", AUTH_KEY, "aes", PRIV_KEY))
    assert AUTH_KEY not in text and PRIV_KEY not in text

