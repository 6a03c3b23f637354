"""Devices in the inventory become snmp checks, `netmon snmp SITE` shows them; profiles are valid data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collectors import snmp, snmp_profiles
from netmon import cli
from netmon.inventory import ConfigError, load
from tests.collectors.agents import SNMP_FIXTURES, free_udp_port, snmpsim
from tests.diagnose.test_vietnamese import foreign_words

BROKEN = {
    "unknown-profile": "35: sites[0].devices[1]: Value error, unknown SNMP profile 'ups' (known: "
                       "host-resources, if-mib, lte-teltonika, system, ups-mib)",
    "no-secret-ref": "34: sites[0].devices[0].snmp.2c: Value error, give exactly one of community_env or "
                     "community_file",
    "address-and-link": "35: sites[0].devices[1]: give either address or link",
    "retries-exceed-deadline": "41: sites[0].devices[1].timeout: 6s for one request and its retries does "
                               "not fit the 4.5s poll deadline",
    "device-id-is-check-id": "30: sites[0].devices[0].id: device id 'cpe-https' is also a check id of this site",
    "bad-auth-protocol": "48: sites[0].devices[2].snmp.3.auth_protocol: must be one of 'sha', 'sha224', "
                         "'sha256', 'sha384' or 'sha512', got 'md5'",
}


def test_devices_become_snmp_checks() -> None:
    inventory = load(SNMP_FIXTURES / "inventory-devices.yaml")
    devices = {c.id: c for c in inventory.checks if c.probe == "snmp"}
    assert set(devices) == {"cpe", "ups", "lte"}
    cpe, ups, lte = devices["cpe"], devices["ups"], devices["lte"]
    assert (cpe.target, cpe.link, cpe.timeout, cpe.interval) == ("127.0.2.1", "primary", 10.0, 30.0)
    assert (ups.target, ups.link, ups.options.port, ups.options.timeout, ups.options.retries) == \
        ("127.0.2.11", "", 1161, 1.0, 2)
    assert (lte.target, lte.link, lte.interval, lte.options.kind) == ("127.0.3.1", "backup", 60.0, "lte-router")
    assert isinstance(lte.options.snmp, snmp.SnmpV3) and lte.options.snmp.priv_protocol == "aes"
    assert inventory.thresholds.get(cpe.key) is None  # SNMP polls do not measure the link


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_device_config_names_file_line_and_field(name: str) -> None:
    path = SNMP_FIXTURES / f"broken-{name}.yaml"
    with pytest.raises(ConfigError) as exc:
        load(path)
    assert [str(i) for i in exc.value.issues] == [f"{path}:{BROKEN[name]}"]


@pytest.mark.parametrize("name", snmp_profiles.available())
def test_profile_metrics_are_declared_with_their_labels(name: str) -> None:
    profile = snmp_profiles.load(name)
    specs = {s.name: s for s in snmp.METRICS}
    for value in profile.scalars:
        assert specs[value.metric].labels == ()
    for table in profile.tables:
        labels = (*([table.index_label] if table.index_label else []), *table.labels)
        for value in table.values:
            assert set(specs[value.metric].labels) == (set() if value.aggregate else set(labels))
        for ratio in table.ratios:
            assert specs[ratio.metric].labels == ()
    if profile.info:
        assert set(profile.info) | {"kind"} == set(specs[snmp.INFO].labels)


def test_shipped_profiles() -> None:
    assert snmp_profiles.available() == ("host-resources", "if-mib", "lte-teltonika", "system", "ups-mib")
    with pytest.raises(snmp_profiles.ProfileError, match="unknown SNMP profile 'nope'"):
        snmp_profiles.load("nope")


def test_netmon_snmp_prints_device_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    recordings = [SNMP_FIXTURES / "ups-on-battery.snmprec", SNMP_FIXTURES / "lte-router.snmprec"]
    with snmpsim(tmp_path, recordings) as port:
        text = (SNMP_FIXTURES / "inventory-cli.yaml").read_text(encoding="utf-8")
        config = tmp_path / "inventory.yaml"
        config.write_text(text.replace("__SIM_PORT__", str(port)).replace("__DEAD_PORT__", str(free_udp_port())),
                          encoding="utf-8")
        monkeypatch.setenv("NETMON_TEST_UPS", "ups-on-battery")
        monkeypatch.setenv("NETMON_TEST_LTE", "lte-router")
        code = cli.main(["snmp", "chieng-mung", "--config", str(config)])
        table = capsys.readouterr().out
        assert cli.main(["snmp", "Chiềng Mung", "--config", str(config), "--json"]) == 2
        rows = {row["device"]: row for row in json.loads(capsys.readouterr().out)}
        monkeypatch.setenv("NETMON_LANG", "vi")
        assert cli.main(["snmp", "chieng-mung", "--config", str(config)]) == 2
        vietnamese = capsys.readouterr().out
    assert code == 2  # the switch does not answer
    assert table.splitlines()[0] == "netmon snmp chieng-mung — Chiềng Mung"
    assert table.splitlines()[1].split() == ["DEVICE", "KIND", "TARGET", "SNMP", "UPTIME", "INTERFACES",
                                             "POWER", "LTE", "NOTE"]
    assert rows["ups"]["power"] == "ON BATTERY 62% 41 min left"
    assert rows["ups"]["uptime"] == "1 d 0 h"  # 8,640,000 ticks
    assert rows["lte"]["lte"] == "RSRP -97 RSRQ -11 SINR 12"
    assert rows["lte"]["interfaces"] == "2/2 up"
    assert rows["switch"]["snmp"] == "DOWN (timeout)"
    # the same table in Vietnamese (issue #15): headers, states, power and notes; no English word left
    assert vietnamese.splitlines()[1].split()[:4] == ["THIẾT", "BỊ", "LOẠI", "ĐÍCH"]
    assert "CHẠY PIN 62% còn 41 phút" in vietnamese and "MẤT (thiết bị không trả lời SNMP)" in vietnamese
    allowed = {w.lower() for w in re.findall(r"[^\W_]+", text)} | {"rsrp", "rsrq", "sinr", "lte"}
    assert foreign_words(vietnamese, allowed) == [], vietnamese
