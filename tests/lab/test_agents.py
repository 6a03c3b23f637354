"""The lab's SNMP agents, polled by netmon's own collector over the simulated links.

Tô Hiệu has all three kinds of device in config/communes.yaml: a CPE router on the fiber primary link
(v2c), a UPS at its own address behind it (v2c, RFC 1628 values from the lab daemon) and a Teltonika
4G router on the backup link (v3 authPriv). Credentials are the ones `netmon lab up` generated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import stat
import time
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client.core import CollectorRegistry

from collectors import snmp
from collectors.snmp_session import close_engines
from exporters.prometheus import ResultCollector
from netmon.inventory import load
from netmon.lab import control
from netmon.runner import run_check
from probes.base import Check, Result
from tests.lab.fixtures import INVENTORY

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

SITE = "to-hieu"
#: Longest time snmpd may answer from its cached interface table after a link changes (seconds).
IF_CACHE = 20.0


@pytest.fixture(scope="module")
def devices() -> dict[str, Check]:
    return {c.id: c for c in load(INVENTORY).checks if c.site == SITE and c.probe == "snmp"}


@pytest.fixture(autouse=True)
async def _engines() -> AsyncIterator[None]:
    yield
    close_engines()


def by_ifname(result: Result, metric: str) -> dict[str, float]:
    return {dict(m.labels)["ifname"]: m.value for m in result.measurements if m.name == metric}


async def poll(check: Check) -> Result:
    result = await run_check(check)
    assert result.success and result.value("netmon_snmp_up") == 1.0, f"{check.id}: {result.error}"
    return result


async def test_every_device_of_a_site_answers(fresh_lab: control.Lab, devices: dict[str, Check]) -> None:
    assert set(devices) == {"cpe", "ups", "router-4g"}
    cpe, ups, lte = [await poll(devices[d]) for d in ("cpe", "ups", "router-4g")]
    info = dict(next(m.labels for m in cpe.measurements if m.name == "netmon_device_info"))
    assert info["sysname"] == "to-hieu.cpe" and "cpe" in info["sysdescr"]
    assert by_ifname(cpe, "netmon_interface_oper_up") == {"lo": 1.0, "primary": 1.0, "backup": 1.0}
    assert cpe.value("netmon_device_uptime_seconds") > 0
    assert 0 < (cpe.value("netmon_memory_used_ratio") or 0) < 1
    assert ups.value("netmon_ups_on_battery") == 0.0
    assert ups.value("netmon_ups_input_voltage_volts", line="1") == 221.0
    assert ups.value("netmon_ups_battery_charge_ratio") == 1.0
    assert lte.value("netmon_lte_rsrp_dbm", modem="1") == -95.0
    assert lte.value("netmon_lte_sinr_db", modem="1") == 12.0


def test_credentials_are_made_at_lab_start(fresh_lab: control.Lab) -> None:
    files = [*sorted(fresh_lab.snmp_secrets.glob("*-key")), fresh_lab.snmp_secrets / "community"]
    assert len(files) == 3
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_text().strip()) >= 20
    assert fresh_lab.status()["snmp_secrets"] == str(fresh_lab.snmp_secrets)


async def test_ups_on_battery_and_back(fresh_lab: control.Lab, devices: dict[str, Check]) -> None:
    fresh_lab.set(f"{SITE}/ups", on_battery=True)
    on_battery = await poll(devices["ups"])
    assert on_battery.value("netmon_ups_on_battery") == 1.0
    assert on_battery.value("netmon_ups_input_voltage_volts", line="1") == 0.0
    fresh_lab.set(f"{SITE}/ups", on_battery=False)
    assert (await poll(devices["ups"])).value("netmon_ups_on_battery") == 0.0


async def test_a_link_down_is_its_interface_down(fresh_lab: control.Lab, devices: dict[str, Check]) -> None:
    """The CPE is polled over the primary link and reports the backup link's interface lost."""
    fresh_lab.set(f"{SITE}/backup", down=True)
    changed = time.monotonic()
    result = await poll(devices["cpe"])
    while by_ifname(result, "netmon_interface_oper_up")["backup"] and time.monotonic() < changed + IF_CACHE:
        await asyncio.sleep(0.5)  # snmpd caches its interface table for a few seconds, as routers do
        result = await poll(devices["cpe"])
    print(f"\nbackup link down seen by the CPE's agent after {time.monotonic() - changed:.1f} s")
    assert by_ifname(result, "netmon_interface_oper_up") == {"lo": 1.0, "primary": 1.0, "backup": 0.0}
    assert by_ifname(result, "netmon_interface_admin_up")["backup"] == 1.0, "unplugged, not shut"
    lte = devices["router-4g"]  # it sits on that link; a short deadline, it will not answer
    quick = dataclasses.replace(lte, timeout=0.5, options=dataclasses.replace(lte.options, timeout=0.2,
                                                                                    retries=0))
    down = await run_check(quick)
    assert not down.success and down.value("netmon_snmp_up") == 0.0


async def poll_until(check: Check, seen: Callable[[Result], bool], what: str, timeout: float = 15.0) -> list[Result]:
    """Every poll of ``check`` until one satisfies ``seen`` (the lab acts on its own clock)."""
    polls = [await poll(check)]
    deadline = time.monotonic() + timeout
    while not seen(polls[-1]):
        assert time.monotonic() < deadline, f"{check.key}: {what} not seen within {timeout:g} s"
        await asyncio.sleep(0.2)
        polls.append(await poll(check))
    return polls


def uptime(result: Result) -> float:
    value = result.value("netmon_device_uptime_seconds")
    assert value is not None
    return value


async def test_reboot_counts(fresh_lab: control.Lab, devices: dict[str, Check]) -> None:
    exporter = ResultCollector(snmp.METRICS)
    before = await poll(devices["cpe"])
    fresh_lab.reboot(f"{SITE}/cpe")
    after = await poll_until(devices["cpe"], lambda r: uptime(r) >= 1.0, "1 s of uptime after the reboot")
    assert uptime(after[0]) < uptime(before)
    # A scenario's scheduled reboot, its time already come: the daemon acts on it within a second.
    fresh_lab.set(f"{SITE}/cpe", reboots=["0s"])
    scheduled = await poll_until(devices["cpe"], lambda r: r.value("netmon_device_reboots") == 1.0,
                                 "the scheduled reboot")
    for result in (before, *after, *scheduled):
        exporter.publish(result)
    registry = CollectorRegistry()
    registry.register(exporter)
    labels = {"site": SITE, "check": "cpe", "probe": "snmp", "target": "198.19.1.1", "link": "primary"}
    assert registry.get_sample_value("netmon_device_reboots_total", labels) == 2.0
    with pytest.raises(control.LabError, match="unknown device 'to-hieu/printer'"):
        fresh_lab.reboot(f"{SITE}/printer")
