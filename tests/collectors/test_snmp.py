"""The snmp collector against real agents: Debian snmpd (v2c and v3) and snmpsim recordings.

Values are compared with what net-snmp's own ``snmpget``/``snmpwalk`` read from the same agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.core import CollectorRegistry

from collectors import snmp
from collectors.snmp_session import close_engines
from exporters.prometheus import ResultCollector
from netmon.runner import run_check
from probes import base
from probes.base import Check, Result
from tests.collectors.agents import (
    COMMUNITY,
    SNMP_FIXTURES,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    Snmpd,
    net_snmp,
    snmpd,
    snmpsim,
)

V2C = {"version": "2c", "community_env": "NETMON_TEST_COMMUNITY"}
V3 = {"version": "3", "user": V3_USER, "auth_protocol": "sha", "auth_key_env": "NETMON_TEST_AUTH",
      "priv_protocol": "aes", "priv_key_env": "NETMON_TEST_PRIV"}
IF = "1.3.6.1.2.1.31.1.1.1.1"
OPER, ADMIN = "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.7"


@pytest.fixture(autouse=True)
async def _secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", COMMUNITY)
    monkeypatch.setenv("NETMON_TEST_AUTH", V3_AUTH)
    monkeypatch.setenv("NETMON_TEST_PRIV", V3_PRIV)
    yield
    close_engines()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    with snmpd(tmp_path_factory.mktemp("snmpd")) as a:
        yield a


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    recordings = sorted(SNMP_FIXTURES.glob("*.snmprec"))
    with snmpsim(tmp_path_factory.mktemp("snmpsim"), recordings) as port:
        yield port


def device(port: int, profiles: tuple[str, ...], auth: dict[str, str] | None = None, *, id: str = "dev",
           kind: str = "cpe", timeout: float = 1.0, retries: int = 1, check_timeout: float = 5.0) -> Check:
    options = base.options(snmp.SnmpOptions, {"kind": kind, "profiles": profiles, "snmp": auth or V2C,
                                              "port": port, "timeout": timeout, "retries": retries})
    return Check(site="chieng-mung", id=id, probe="snmp", target="127.0.0.1", options=options,
                 timeout=check_timeout, interval=30.0)


def by_ifname(result: Result, metric: str) -> dict[str, float]:
    return {dict(m.labels)["ifname"]: m.value for m in result.measurements if m.name == metric}


async def test_v2c_snmpd_values_equal_net_snmp(agent: Snmpd) -> None:
    before = net_snmp("snmpwalk", agent.port, "1.3.6.1.2.1.31.1.1.1.6")
    up_before = float(net_snmp("snmpget", agent.port, "1.3.6.1.2.1.1.3.0")["1.3.6.1.2.1.1.3.0"]) / 100
    result = await run_check(device(agent.port, ("system", "if-mib", "host-resources")))
    after = net_snmp("snmpwalk", agent.port, "1.3.6.1.2.1.31.1.1.1.6")
    system = net_snmp("snmpwalk", agent.port, "1.3.6.1.2.1.1")
    assert result.success, result.error
    assert result.value("netmon_snmp_up") == 1.0
    up_after = float(system["1.3.6.1.2.1.1.3.0"]) / 100
    assert up_before <= result.value("netmon_device_uptime_seconds") <= up_after
    info = dict(next(m.labels for m in result.measurements if m.name == "netmon_device_info"))
    assert info == {"kind": "cpe", "sysname": system["1.3.6.1.2.1.1.5.0"],
                    "sysdescr": system["1.3.6.1.2.1.1.1.0"]}
    names = net_snmp("snmpwalk", agent.port, IF)
    index = {name: oid.rsplit(".", 1)[1] for oid, name in names.items()}
    oper = net_snmp("snmpwalk", agent.port, OPER)
    admin = net_snmp("snmpwalk", agent.port, ADMIN)
    speed = net_snmp("snmpwalk", agent.port, "1.3.6.1.2.1.31.1.1.1.15")
    assert set(by_ifname(result, "netmon_interface_oper_up")) == set(index)
    for name, i in index.items():
        assert by_ifname(result, "netmon_interface_oper_up")[name] == (oper[f"{OPER}.{i}"] == "1")
        assert by_ifname(result, "netmon_interface_admin_up")[name] == (admin[f"{ADMIN}.{i}"] == "1")
        assert by_ifname(result, "netmon_interface_speed_bits_per_second")[name] == \
            float(speed[f"1.3.6.1.2.1.31.1.1.1.15.{i}"]) * 1e6
        octets = by_ifname(result, "netmon_interface_in_octets")[name]
        key = f"1.3.6.1.2.1.31.1.1.1.6.{i}"
        assert int(before[key]) <= octets <= int(after[key])  # counters move: bracket our read
    memory = result.value("netmon_memory_used_ratio")
    assert memory is not None and 0 < memory < 1


async def test_v3_authpriv_sha_aes(agent: Snmpd) -> None:
    result = await run_check(device(agent.port, ("system",), V3))
    assert result.success, result.error
    expected = net_snmp("snmpget", agent.port, "1.3.6.1.2.1.1.5.0", "-v3", "-l", "authPriv", "-u", V3_USER,
                        "-a", "SHA", "-A", V3_AUTH, "-x", "AES", "-X", V3_PRIV)
    info = dict(next(m.labels for m in result.measurements if m.name == "netmon_device_info"))
    assert info["sysname"] == expected["1.3.6.1.2.1.1.5.0"]


@pytest.mark.parametrize(("env", "value", "words"), [
    ("NETMON_TEST_AUTH", "not-the-auth-key-123", "authentication failed"),
    ("NETMON_TEST_PRIV", "not-the-priv-key-456", "timeout wrong privacy key"),
])
async def test_v3_wrong_credentials_are_a_clear_per_device_error(
    agent: Snmpd, monkeypatch: pytest.MonkeyPatch, env: str, value: str, words: str
) -> None:
    monkeypatch.setenv(env, value)
    bad = device(agent.port, ("system",), V3, id="bad", timeout=0.5, retries=0, check_timeout=2.0)
    good = device(agent.port, ("system",), id="good")
    result, other = await run_check(bad), await run_check(good)
    assert not result.success and other.success
    assert [(m.name, m.value) for m in result.measurements] == [("netmon_snmp_up", 0.0)]
    assert all(word in f"{result.reason} {result.error}" for word in words.split())
    for text in (repr(result), repr(bad), str(bad.options)):
        assert value not in text and V3_AUTH not in text and V3_PRIV not in text


async def test_missing_secret_names_the_reference_only(agent: Snmpd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETMON_TEST_COMMUNITY")
    result = await run_check(device(agent.port, ("system",)))
    assert result.reason == "credentials"
    assert result.error == "environment variable NETMON_TEST_COMMUNITY is not set"


async def test_community_from_file(agent: Snmpd, tmp_path: Path) -> None:
    secret = tmp_path / "community"
    secret.write_text(COMMUNITY + "\n")
    auth = {"version": "2c", "community_file": str(secret)}
    result = await run_check(device(agent.port, ("system",), auth))
    assert result.success, result.error


async def test_restarting_snmpd_is_seen_as_a_reboot(agent: Snmpd) -> None:
    check = device(agent.port, ("system",), id="reboot-me")
    exporter = ResultCollector(snmp.METRICS)
    first = await run_check(check)
    second = await run_check(check)
    assert first.value("netmon_device_reboots") == 0.0 and second.value("netmon_device_reboots") == 0.0
    agent.restart()
    third = await run_check(check)
    assert third.value("netmon_device_reboots") == 1.0
    assert third.value("netmon_device_uptime_seconds") < second.value("netmon_device_uptime_seconds")
    for r in (first, second, third):
        exporter.publish(r)
    registry = CollectorRegistry()
    registry.register(exporter)
    labels = {"site": "chieng-mung", "check": "reboot-me", "probe": "snmp", "target": "127.0.0.1", "link": ""}
    assert registry.get_sample_value("netmon_device_reboots_total", labels) == 1.0


async def test_ups_and_lte_recordings_equal_snmpget(sim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for env, community in (("UPS1", "ups-on-battery"), ("UPS2", "ups-online"), ("LTE", "lte-router")):
        monkeypatch.setenv(env, community)  # one snmpsim community per simulated device
    battery = await run_check(device(sim, ("system", "ups-mib"), {"version": "2c", "community_env": "UPS1"},
                                     kind="ups"))
    online = await run_check(device(sim, ("ups-mib",), {"version": "2c", "community_env": "UPS2"}))
    lte = await run_check(device(sim, ("system", "if-mib", "host-resources", "lte-teltonika"),
                                 {"version": "2c", "community_env": "LTE"}, kind="lte-router"))
    auth = ("-v2c", "-c", "ups-on-battery")
    ups = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.33", *auth)
    assert battery.success, battery.error
    assert battery.value("netmon_ups_on_battery") == float(ups["1.3.6.1.2.1.33.1.4.1.0"] == "5") == 1.0
    assert battery.value("netmon_ups_battery_charge_ratio") == int(ups["1.3.6.1.2.1.33.1.2.4.0"]) / 100
    assert battery.value("netmon_ups_battery_remaining_seconds") == int(ups["1.3.6.1.2.1.33.1.2.3.0"]) * 60
    line1 = float(ups["1.3.6.1.2.1.33.1.3.3.1.3.1"])
    assert battery.value("netmon_ups_input_voltage_volts", line="1") == line1
    volts = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.33.1.3.3.1.3", "-v2c", "-c", "ups-online")
    assert online.value("netmon_ups_on_battery") == 0.0
    assert {dict(m.labels)["line"]: m.value for m in online.measurements if m.name.endswith("_volts")} == \
        {oid.rsplit(".", 1)[1]: float(v) for oid, v in volts.items()}

    auth = ("-v2c", "-c", "lte-router")
    modem = net_snmp("snmpwalk", sim, "1.3.6.1.4.1.48690.2.2.1", *auth)
    assert lte.success, lte.error
    assert lte.value("netmon_lte_sinr_db", modem="1") == float(modem["1.3.6.1.4.1.48690.2.2.1.19.1"])
    assert lte.value("netmon_lte_rsrp_dbm", modem="1") == float(modem["1.3.6.1.4.1.48690.2.2.1.20.1"])
    assert lte.value("netmon_lte_rsrq_db", modem="1") == float(modem["1.3.6.1.4.1.48690.2.2.1.21.1"])
    loads = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.25.3.3.1.2", *auth)
    mean = sum(int(v) for v in loads.values()) / len(loads) / 100
    assert lte.value("netmon_cpu_load_ratio") == pytest.approx(mean)
    storage = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.25.2.3.1", *auth)
    assert lte.value("netmon_memory_used_ratio") == \
        int(storage["1.3.6.1.2.1.25.2.3.1.6.1"]) / int(storage["1.3.6.1.2.1.25.2.3.1.5.1"])  # RAM row only
    hc = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.31.1.1.1.6", *auth)
    assert lte.value("netmon_interface_in_octets", ifname="wwan0", ifalias="Viettel 4G") == \
        float(hc["1.3.6.1.2.1.31.1.1.1.6.2"])
    info = dict(next(m.labels for m in lte.measurements if m.name == "netmon_device_info"))
    assert info["kind"] == "lte-router" and info["sysname"] == "lte-muong-la"


async def test_failed_poll_exports_snmp_up_zero_and_nothing_stale(
    sim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "lte-router")
    check = device(sim, ("if-mib",), timeout=0.3, retries=0, check_timeout=1.0)
    exporter = ResultCollector(snmp.METRICS)
    registry = CollectorRegistry()
    registry.register(exporter)
    labels = {"site": "chieng-mung", "check": "dev", "probe": "snmp", "target": "127.0.0.1", "link": ""}
    exporter.publish(await run_check(check))
    wwan = {**labels, "ifname": "wwan0", "ifalias": "Viettel 4G"}
    assert registry.get_sample_value("netmon_interface_in_octets_total", wwan) == 5555555555
    assert registry.get_sample_value("netmon_snmp_up", labels) == 1.0
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "no-such-device")  # snmpsim stays silent
    failed = await run_check(check)
    exporter.publish(failed)
    assert failed.reason == "timeout"
    assert registry.get_sample_value("netmon_snmp_up", labels) == 0.0
    assert registry.get_sample_value("netmon_interface_in_octets_total", wwan) is None


async def test_interfaces_without_ifxtable_are_named_by_ifdescr_and_kept_apart(
    sim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "switch-no-ifxtable")
    result = await run_check(device(sim, ("if-mib",), kind="switch"))
    descr = net_snmp("snmpwalk", sim, "1.3.6.1.2.1.2.2.1.2", "-v2c", "-c", "switch-no-ifxtable")
    assert sorted(descr.values()) == ["port", "port", "uplink"]
    assert by_ifname(result, "netmon_interface_oper_up") == {"port#1": 1.0, "port#2": 0.0, "uplink": 1.0}
    assert by_ifname(result, "netmon_interface_in_errors") == {"port#1": 0.0, "port#2": 7.0, "uplink": 1.0}
    assert result.value("netmon_interface_in_octets") is None  # no HC counters: left out, not 0


def test_one_event_loop_per_command(agent: Snmpd) -> None:
    """`netmon probe` runs a loop per command; the next loop's first poll closes the last one's socket."""
    check = device(agent.port, ("system",), id="per-command")
    for _ in range(3):
        result = asyncio.run(run_check(check))
        assert result.success, result.error
