"""The http probe against real loopback HTTP and HTTPS servers (see `tests.probes.peers.HttpPeer`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from probes import base, http
from probes.base import Check, Result
from tests.probes import peers


def _check(url: str, timeout: float = 3.0, **options: Any) -> Check:
    return Check(site="test", id="web", probe="http", target=url,
                 options=base.options(http.HttpOptions, options), timeout=timeout)


def _phase(result: Result, phase: str) -> float | None:
    return result.value(http.DURATION, phase=phase)


@pytest.fixture
async def peer() -> AsyncIterator[peers.HttpPeer]:
    async with peers.HttpPeer() as server:
        yield server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, peers.Issued]:
    """A test CA, a valid leaf expiring in 30 days and one that expired yesterday."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = peers.make_ca(directory)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    valid = peers.make_leaf(directory, ca, ca_key, now + dt.timedelta(days=30), name="valid")
    expired = peers.make_leaf(directory, ca, ca_key, now - dt.timedelta(days=1), name="expired")
    return {"ca": ca, "valid": valid, "expired": expired}


async def test_ok_reports_every_phase(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/body/hello")))
    assert result.success, result.error
    assert result.value(http.STATUS_CODE) == 200
    assert result.value(http.RESPONSE_BYTES) == len("hello")
    assert result.value(http.REDIRECTS) == 0
    phases = {p: _phase(result, p) for p in http.PHASES}
    assert all(v is not None for v in phases.values()), phases
    assert phases["tls"] == 0.0  # plain HTTP: no handshake, a real zero
    for name in ("dns", "connect", "first_byte", "transfer"):
        assert 0 <= phases[name] < 0.2, (name, phases)  # type: ignore[operator]
    parts = sum(phases[p] for p in ("dns", "connect", "tls", "first_byte", "transfer"))  # type: ignore[misc]
    assert phases["total"] == pytest.approx(parts) and parts < 1.0
    assert result.value(http.CERT_EXPIRY) is None


async def test_connect_phase_is_the_handshake_not_the_busy_probers_delay(peer: peers.HttpPeer) -> None:
    """The connect phase is the handshake's own time (see test_tcp's twin). The hold delays the request,
    which is the prober's time: not in the total either (the phases' sum), only in the run's duration."""
    with peers.busy_loop(peer.listener, 0.2) as busy:
        result = await http.run(_check(peer.url("/")))
    assert busy.fired and result.success, result.error
    connect, total = _phase(result, "connect"), _phase(result, "total")
    assert connect is not None and 0 < connect < 0.01, connect
    assert total is not None and total < 0.2 <= result.duration, (total, result.duration)


async def test_name_target_times_dns(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/", host="localhost")))
    assert result.success, result.error
    dns = _phase(result, "dns")
    assert dns is not None and dns > 0


async def test_unexpected_status_still_reports_status_and_phases(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/status/503")))
    assert (result.success, result.reason) == (False, "http_status")
    assert result.value(http.STATUS_CODE) == 503
    assert "503" in (result.error or "")
    assert _phase(result, "first_byte") is not None and _phase(result, "total") is not None


async def test_expected_status_accepts_exact_codes_and_classes(peer: peers.HttpPeer) -> None:
    assert (await http.run(_check(peer.url("/status/503"), expected_status=[503]))).success
    assert (await http.run(_check(peer.url("/status/404"), expected_status=["4xx"]))).success
    assert not (await http.run(_check(peer.url("/status/200"), expected_status=[204, "3xx"]))).success


async def test_head_reads_no_body(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/body/hello"), method="HEAD"))
    assert result.success, result.error
    assert result.value(http.RESPONSE_BYTES) == 0


async def test_body_match(peer: peers.HttpPeer) -> None:
    hit = await http.run(_check(peer.url("/body/status-ok-v2"), body_match=r"ok-v\d"))
    miss = await http.run(_check(peer.url("/body/maintenance"), body_match=r"ok-v\d"))
    assert hit.success, hit.error
    assert (miss.success, miss.reason) == (False, "body_mismatch")


async def test_path_is_asked_on_the_target_and_the_label_keeps_the_service_url(peer: peers.HttpPeer) -> None:
    base = peer.url("/")
    check = _check(base, path="/body/api-health-ok", body_match=r"api-health-ok")
    result = await http.run(check)
    assert result.success, result.error
    assert result.target == base
    miss = await http.run(_check(base, path="/body/down", body_match=r"api-health-ok"))
    assert not miss.success


def test_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="path"):
        base.options(http.HttpOptions, {"path": "api/health"})


async def test_server_delay_shows_in_first_byte(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/delay/0.3")))
    assert result.success, result.error
    first_byte = _phase(result, "first_byte")
    assert first_byte is not None and 0.3 <= first_byte < 0.5
    assert (_phase(result, "connect") or 0) < 0.1


async def test_silent_server_times_out_within_timeout(peer: peers.HttpPeer) -> None:
    begin = time.perf_counter()
    result = await http.run(_check(peer.url("/hang"), timeout=0.5))
    elapsed = time.perf_counter() - begin
    assert (result.success, result.reason) == (False, "timeout")
    assert 0.5 <= elapsed < 0.7
    assert _phase(result, "connect") is not None  # it got that far, and says so


async def test_huge_body_is_not_read_past_the_limit(peer: peers.HttpPeer) -> None:
    """A 1 GB body with the default 1 MiB limit: fails too_large after reading about 1 MiB."""
    result = await http.run(_check(peer.url("/big/1000000000"), timeout=5.0))
    assert (result.success, result.reason) == (False, "too_large")
    read = result.value(http.RESPONSE_BYTES)
    assert read is not None and 1 << 20 < read <= (1 << 20) + 65536
    await asyncio.wait_for(peer.big_done.wait(), 2)  # the server saw the client go away
    assert peer.big_bytes_sent < 64 << 20
    assert result.duration < 2


async def test_body_within_limit_is_read_fully(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/big/300000"), max_body_bytes=300000))
    assert result.success, result.error
    assert result.value(http.RESPONSE_BYTES) == 300000


async def test_redirects_are_followed_and_counted(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/redirect/3")))
    assert result.success, result.error
    assert result.value(http.REDIRECTS) == 3
    assert result.value(http.STATUS_CODE) == 200


async def test_redirect_loop_fails(peer: peers.HttpPeer) -> None:
    result = await http.run(_check(peer.url("/loop")))
    assert (result.success, result.reason) == (False, "too_many_redirects")
    unfollowed = await http.run(_check(peer.url("/loop"), follow_redirects=False))
    assert unfollowed.success and unfollowed.value(http.STATUS_CODE) == 302


async def test_refused_connection() -> None:
    port = await peers.unused_port()
    result = await http.run(_check(f"http://127.0.0.1:{port}/"))
    assert (result.success, result.reason) == (False, "refused")
    assert result.value(http.STATUS_CODE) is None


async def test_unknown_name_is_dns_failure() -> None:
    result = await http.run(_check("http://no-such-host.invalid/"))
    assert (result.success, result.reason) == (False, "dns")


async def test_https_with_lab_ca(pki: dict[str, peers.Issued]) -> None:
    async with peers.HttpPeer(pki["valid"].server_context()) as server:
        result = await http.run(_check(server.url("/", host="localhost"), ca_file=str(pki["ca"].cert_file)))
    assert result.success, result.error
    tls_seconds = _phase(result, "tls")
    assert tls_seconds is not None and 0 < tls_seconds < 0.5
    assert result.value(http.CERT_EXPIRY) == pki["valid"].cert.not_valid_after_utc.timestamp()


async def test_https_untrusted_without_ca_file(pki: dict[str, peers.Issued]) -> None:
    async with peers.HttpPeer(pki["valid"].server_context()) as server:
        result = await http.run(_check(server.url("/", host="localhost")))
        unverified = await http.run(_check(server.url("/"), verify_tls=False))
    assert (result.success, result.reason) == (False, "cert_untrusted")  # a certificate problem, not "tls"
    assert result.error == "certificate: unable to get local issuer certificate"
    assert unverified.success, unverified.error
    assert unverified.value(http.CERT_EXPIRY) == pki["valid"].cert.not_valid_after_utc.timestamp()


async def test_expired_certificate_fails_tls_but_reports_expiry(pki: dict[str, peers.Issued]) -> None:
    async with peers.HttpPeer(pki["expired"].server_context()) as server:
        result = await http.run(_check(server.url("/", host="localhost"), ca_file=str(pki["ca"].cert_file)))
    assert (result.success, result.reason) == (False, "cert_expired")
    assert "expired" in (result.error or "")
    expiry = result.value(http.CERT_EXPIRY)
    assert expiry == pki["expired"].cert.not_valid_after_utc.timestamp()
    assert expiry < time.time()


def test_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="body_match needs method GET"):
        base.options(http.HttpOptions, {"method": "HEAD", "body_match": "x"})
    with pytest.raises(ValidationError):
        base.options(http.HttpOptions, {"expected_status": ["6xx"]})
    with pytest.raises(ValidationError):
        base.options(http.HttpOptions, {"expected_status": [99]})
    with pytest.raises(ValidationError):
        base.options(http.HttpOptions, {"body_match": "("})
    with pytest.raises(ValidationError, match="ca_file has no effect"):
        base.options(http.HttpOptions, {"ca_file": __file__, "verify_tls": False})
    assert http.HttpOptions().status_ok(302) and not http.HttpOptions().status_ok(404)


async def test_missing_trust_anchor_is_a_certificate_failure_naming_it(tmp_path: Path) -> None:
    """The lab's CA exists only while a lab is up: its absence is that service's certificate problem,
    named, not a load error of the whole inventory nor a crash."""
    missing = tmp_path / "ca.pem"
    result = await http.run(_check("https://127.0.0.1:9/", ca_file=str(missing)))
    assert (result.success, result.reason) == (False, "cert_untrusted")
    assert result.error == f"trust anchor {missing} not found (ca_file)"


async def test_an_unreadable_trust_anchor_is_a_certificate_failure_naming_it_not_a_crash(tmp_path: Path) -> None:
    """A path the OS refuses to look at (a non-root user's `netmon probe` while the lab's root-only
    directory holds the CA; here a name too long, which root meets too) is that service's certificate
    problem with the OS's reason — it was an OSError out of the probe, logged as a traceback per check."""
    unreadable = tmp_path / ("x" * 300) / "ca.pem"
    result = await http.run(_check("https://127.0.0.1:9/", ca_file=str(unreadable)))
    assert (result.success, result.reason) == (False, "cert_untrusted")
    assert result.error == f"cannot read trust anchor {unreadable} (ca_file): File name too long"


async def test_non_http_target_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        await http.run(_check("ftp://127.0.0.1/"))


@pytest.mark.privileged
@pytest.mark.usefixtures("blackhole_lab_range")
async def test_silent_host_times_out_in_connect() -> None:
    with peers.silent_host() as address:
        begin = time.perf_counter()
        result = await http.run(_check(f"http://{address}/", timeout=0.5))
        elapsed = time.perf_counter() - begin
    assert (result.success, result.reason) == (False, "timeout")
    assert 0.5 <= elapsed < 0.7
    assert _phase(result, "dns") is not None and _phase(result, "connect") is None
