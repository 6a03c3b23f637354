"""The ntp probe against a real chronyd on loopback, its clock shifted by a known amount with libfaketime.

chronyd runs with ``-x`` (never touches the system clock) and ``local stratum 8`` (serves its own clock);
libfaketime (preloaded) shifts only that process's clock, so the offset the probe must find is the one
injected.
The shifts are ±2.5 s: with a small shift chronyd stamps arrivals by the kernel's true clock (see
`test_timestamps_from_two_clocks_are_refused_not_measured`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from netmon.inventory.loader import resolve
from netmon.inventory.source import parse
from probes import base, ntp
from probes.verdict import Verdict
from tests.probes.icmp_fixtures import unroutable
from tests.support import free_port, wait_until


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    packet, _ = ntp.request(0.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(packet, ("127.0.0.1", port))
        return len(s.recv(512)) >= 48


def _still_answers(port: int) -> bool:
    try:
        return _answers(port)
    except OSError:  # the timeout, or the port unreachable: nobody is serving there any more
        return False


@contextmanager
def chronyd(tmp: Path, shift: str | None = None, local: bool = True) -> Iterator[int]:
    """A chronyd serving its own clock on a loopback port, shifted by ``shift`` (e.g. ``+2.5s``);
    without ``local`` it has no source at all and answers as unsynchronised."""
    binary = shutil.which("chronyd") or "/usr/sbin/chronyd"
    if not Path(binary).exists():
        pytest.fail("chronyd is missing: run scripts/bootstrap.sh (Debian package chrony)")
    port = _udp_port()
    tmp.mkdir(exist_ok=True)
    conf = tmp / "chrony.conf"
    conf.write_text(f"port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\n{'local stratum 8' if local else ''}\n"
                    f"cmdport 0\npidfile {tmp}/chronyd.pid\ndriftfile {tmp}/drift\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/bin"}
    if shift is not None:
        # libfaketime preloaded into chronyd itself (not the `faketime` wrapper, which would be the
        # process we stop while chronyd lives on).
        library = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)
        if library is None:
            pytest.fail("libfaketime is missing: run scripts/bootstrap.sh (Debian package libfaketime)")
        env |= {"LD_PRELOAD": str(library), "FAKETIME": shift, "FAKETIME_NO_CACHE": "1"}
    proc = subprocess.Popen([binary, "-x", "-d", "-f", str(conf), "-u", "root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_until(lambda: proc.poll() is None and _answers(port), 10, "chronyd to answer")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        assert not _still_answers(port), "chronyd still answers after it was stopped"


def _check(port: int, timeout: float = 2.0, **options: float) -> base.Check:
    return base.Check(site="test", id="ntp", probe="ntp", target="127.0.0.1",
                      options=base.options(ntp.NtpOptions, {"port": port, **options}), timeout=timeout)


def test_finds_the_offset_the_lab_injected(tmp_path: Path) -> None:
    with chronyd(tmp_path, shift="+2.5s") as port:
        result = asyncio.run(ntp.run(_check(port)))
    assert result.success, result.error
    offset, delay = result.value(ntp.OFFSET), result.value(ntp.DELAY)
    assert offset is not None and delay is not None
    # An SNTP offset is exact up to half the round trip (path asymmetry) plus the clocks' reading
    # resolution; faketime's own shift is exact.
    assert abs(offset - 2.5) <= delay / 2 + 0.002, (offset, delay)
    assert result.value(ntp.STRATUM) == 8  # chronyd's `local stratum 8`
    finding = base.judge(result)
    assert (finding.verdict, finding.cause, finding.limit) == (Verdict.DEGRADED, "clock_offset", 1.0)
    assert base.get("ntp").summary(result, "vi") == f"lệch +{offset:.2f} s"


def test_a_source_behind_us_has_a_negative_offset_and_an_honest_clock_is_ok(tmp_path: Path) -> None:
    with chronyd(tmp_path / "behind", shift="-2.5s") as port:
        behind = asyncio.run(ntp.run(_check(port, max_offset=3.0)))
    with chronyd(tmp_path / "honest") as port:
        honest = asyncio.run(ntp.run(_check(port)))
    assert behind.success and honest.success, (behind.error, honest.error)
    assert abs(behind.value(ntp.OFFSET) + 2.5) <= behind.value(ntp.DELAY) / 2 + 0.002  # type: ignore[operator]
    assert abs(honest.value(ntp.OFFSET)) <= honest.value(ntp.DELAY) / 2 + 0.002  # type: ignore[arg-type, operator]
    assert base.judge(behind).verdict is Verdict.OK  # within its max_offset of 3 s
    assert base.judge(honest).verdict is Verdict.OK


def test_timestamps_from_two_clocks_are_refused_not_measured(tmp_path: Path) -> None:
    # Shifted by only 0.3 s, chronyd stamps our request's arrival with the kernel's (true) clock and
    # its answer with its own (shifted) one: half the shift would read as the offset, and the round
    # trip comes out negative. That answer must not become a measurement.
    with chronyd(tmp_path, shift="+0.3s") as port:
        result = asyncio.run(ntp.run(_check(port)))
    assert (result.success, result.reason) == (False, "bad_response"), result.value(ntp.OFFSET)
    assert "inconsistent timestamps" in (result.error or "")


def test_an_unsynchronised_source_has_no_time_to_give(tmp_path: Path) -> None:
    with chronyd(tmp_path, local=False) as port:
        result = asyncio.run(ntp.run(_check(port)))
    assert (result.success, result.reason) == (False, "unsynchronised"), result.error
    assert base.judge(result).verdict is Verdict.DOWN


def test_silence_is_a_timeout_reported_within_the_check_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        result, elapsed = asyncio.run(_timed(_check(silent.getsockname()[1], timeout=0.5)))
    assert (result.success, result.reason) == (False, "timeout")
    assert 0.5 <= elapsed < 0.5 + 0.2  # reported by the probe, before the runner's backstop


def test_a_closed_port_is_unreachable() -> None:
    result = asyncio.run(ntp.run(_check(free_port())))  # nothing bound: ICMP port unreachable
    assert (result.success, result.reason) == (False, "unreachable"), result.error


@pytest.mark.privileged
@pytest.mark.usefixtures("blackhole_lab_range")
def test_a_blackholed_server_is_unreachable_not_a_crash() -> None:
    """Connecting the UDP socket looks the route up: a blackhole refuses it there (EINVAL), before the
    exchange — that escaped the probe and read as a probe error."""
    with unroutable() as address:
        result = asyncio.run(ntp.run(dataclasses.replace(_check(123), target=address)))
    assert (result.success, result.reason) == (False, "unreachable")
    assert result.error == f"{address}: this machine's routing table discards packets to this address (blackhole route)"


def test_a_stale_or_garbage_datagram_is_ignored_then_a_real_answer_counts() -> None:
    async def scenario() -> base.Result:
        loop = asyncio.get_running_loop()
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        server.setblocking(False)
        task = asyncio.create_task(ntp.run(_check(server.getsockname()[1])))
        data, peer = await loop.sock_recvfrom(server, 512)
        await loop.sock_sendto(server, b"\x24garbage", peer)  # too short: not an answer to us
        stale, _ = ntp.request(1.0)
        await loop.sock_sendto(server, bytes([0x24]) + stale[1:], peer)  # server mode, wrong origin
        now = ntp._to_ntp(time.time())
        answer = ntp._PACKET.pack(0x24, 2, 0, 0, 0, 0, b"GPS\0", now, int.from_bytes(data[40:48], "big"),
                                  now, now)
        await loop.sock_sendto(server, answer, peer)
        try:
            return await task
        finally:
            server.close()

    result = asyncio.run(scenario())
    assert result.success, result.error
    assert result.value(ntp.STRATUM) == 2
    assert abs(result.value(ntp.OFFSET)) < 0.05  # type: ignore[arg-type]


def test_the_inventory_accepts_an_ntp_check_like_any_other(tmp_path: Path) -> None:
    """Nothing outside probes/ntp.py names the probe: the loader validates its options by registry."""
    text = (Path(__file__).parents[1] / "fixtures" / "inventory" / "valid.yaml").read_text()
    text = text.replace("      - {id: icmp, probe: icmp}\n",
                        "      - {id: icmp, probe: icmp}\n      - {id: gio, probe: ntp, max_offset: 500ms}\n", 1)
    inventory = resolve(parse(text, "inline.yaml"))
    check = next(c for c in inventory.checks if c.id == "gio")
    assert isinstance(check.options, ntp.NtpOptions) and check.options.max_offset == 0.5
    assert base.get("ntp").run_bytes(check) == 152


async def _timed(check: base.Check) -> tuple[base.Result, float]:
    loop = asyncio.get_running_loop()
    begin = loop.time()
    result = await ntp.run(check)
    return result, loop.time() - begin
