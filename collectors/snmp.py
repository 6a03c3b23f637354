"""SNMP collector: reads a device's own view of its health (interfaces, uptime, CPU, UPS, LTE radio).

Registered like a probe (``probe: snmp``); one check is one device, so a slow or silent device only
ever costs its own run. What to read comes from profiles (`collectors.snmp_profiles`), how it is read
from `collectors.snmp_session`.

Every run emits ``netmon_snmp_up`` — 1, or 0 with the failure reason in the Result — and, on failure,
nothing else: a dead device never exports stale values. Every request's wait is cut to the time the
check has left (`Check.remaining`, a little inside it), so that even a device that eats all its retries
ends as ``snmp_up 0`` with reason ``timeout`` rather than being cut off by the runner without any SNMP
series.

Reboot detection keeps state between runs: `_LAST_UPTIME` maps a check key to the sysUpTime seen at
the previous successful poll. An uptime lower than that is a reboot (``netmon_device_reboots``
increments). The state is per process and starts empty, so the first poll after a netmon restart
cannot see a reboot; sysUpTime wrapping after 497 days also counts as one. A reload drops the
devices it removed (`retain`).

Secrets are read from the environment or a file at every poll (so rotation needs no reload); options
hold only the references, and error messages name the reference, never the value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

from collectors import snmp_profiles
from collectors.snmp_profiles import Profile, Table
from collectors.snmp_session import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    Credentials,
    Endpoint,
    SnmpFailure,
    close_engines,
    walk,
)
from probes.base import Check, Duration, Kind, Measurement, MetricSpec, ProbeOptions, Result, register
from probes.power import UPS_ON_BATTERY
from probes.schema import Rules
from probes.verdict import Baseline, Finding, Limits, Verdict, judge_plainly
from probes.wording import Lang, Wording, say

UP = "netmon_snmp_up"
UPTIME = "netmon_device_uptime_seconds"
REBOOTS = "netmon_device_reboots"
INFO = "netmon_device_info"
_IF = ("ifname", "ifalias")
UPS_CHARGE = "netmon_ups_battery_charge_ratio"
UPS_REMAINING = "netmon_ups_battery_remaining_seconds"

METRICS = (
    MetricSpec(UP, Kind.GAUGE, "1 if the last SNMP poll of the device answered, else 0."),
    MetricSpec(UPTIME, Kind.GAUGE, "Device uptime (sysUpTime), seconds."),
    MetricSpec(REBOOTS, Kind.INCREMENT, "Reboots seen as sysUpTime going backwards between polls."),
    MetricSpec(INFO, Kind.INFO, "Device identity as it reports it; always 1.",
               ("kind", "sysname", "sysdescr")),
    MetricSpec("netmon_interface_oper_up", Kind.GAUGE, "1 if ifOperStatus is up(1).", _IF),
    MetricSpec("netmon_interface_admin_up", Kind.GAUGE, "1 if ifAdminStatus is up(1).", _IF),
    MetricSpec("netmon_interface_speed_bits_per_second", Kind.GAUGE, "ifHighSpeed, bits/s.", _IF),
    MetricSpec("netmon_interface_in_octets", Kind.COUNTER, "ifHCInOctets as the device counts it.", _IF),
    MetricSpec("netmon_interface_out_octets", Kind.COUNTER, "ifHCOutOctets as the device counts it.", _IF),
    MetricSpec("netmon_interface_in_errors", Kind.COUNTER, "ifInErrors.", _IF),
    MetricSpec("netmon_interface_out_errors", Kind.COUNTER, "ifOutErrors.", _IF),
    MetricSpec("netmon_interface_in_discards", Kind.COUNTER, "ifInDiscards.", _IF),
    MetricSpec("netmon_interface_out_discards", Kind.COUNTER, "ifOutDiscards.", _IF),
    MetricSpec("netmon_cpu_load_ratio", Kind.GAUGE, "Mean hrProcessorLoad over processors, 0-1."),
    MetricSpec("netmon_memory_used_ratio", Kind.GAUGE, "Used share of RAM (hrStorageRam), 0-1."),
    MetricSpec(UPS_ON_BATTERY, Kind.GAUGE, "1 if upsOutputSource is battery(5)."),
    MetricSpec(UPS_CHARGE, Kind.GAUGE, "upsEstimatedChargeRemaining, 0-1."),
    MetricSpec(UPS_REMAINING, Kind.GAUGE,
               "upsEstimatedMinutesRemaining, in seconds."),
    MetricSpec("netmon_ups_input_voltage_volts", Kind.GAUGE, "upsInputVoltage per input line, volts.",
               ("line",)),
    MetricSpec("netmon_lte_rsrp_dbm", Kind.GAUGE, "LTE reference signal received power, dBm.", ("modem",)),
    MetricSpec("netmon_lte_rsrq_db", Kind.GAUGE, "LTE reference signal received quality, dB.", ("modem",)),
    MetricSpec("netmon_lte_sinr_db", Kind.GAUGE, "LTE signal to interference and noise ratio, dB.",
               ("modem",)),
)

#: Check key → sysUpTime (seconds) at the previous successful poll; see the module docstring.
_LAST_UPTIME: dict[str, float] = {}

#: Share of the time left that the poll's requests may use (they are cut to it); the rest leaves room
#: to build the failed Result before the runner's backstop.
_DEADLINE_SHARE = 0.95


def _secret_ref(env: str | None, file: str | None, what: str) -> None:
    if (env is None) == (file is None):
        raise ValueError(f"give exactly one of {what}_env or {what}_file")


@dataclasses.dataclass(frozen=True, slots=True)
class SnmpV2c(ProbeOptions):
    version: Literal["2c"]
    community_env: str | None = None
    community_file: str | None = None

    def __post_init__(self) -> None:
        _secret_ref(self.community_env, self.community_file, "community")


@dataclasses.dataclass(frozen=True, slots=True)
class SnmpV3(ProbeOptions):
    """SNMPv3 USM: authPriv when a privacy protocol is given, authNoPriv otherwise.

    Protocol names are net-snmp's (``snmpget -a SHA-256 -x AES-256`` is ``sha256``/``aes256``):
    ``aes192``/``aes256`` extend the key as net-snmp does by default (Blumenthal's draft), not
    Cisco's "AES-192-C" variant."""

    version: Literal["3"]
    user: Annotated[str, Rules(min_length=1)]
    auth_protocol: Literal[tuple(AUTH_PROTOCOLS)] = "sha"  # type: ignore[valid-type]
    auth_key_env: str | None = None
    auth_key_file: str | None = None
    priv_protocol: Literal[tuple(PRIV_PROTOCOLS)] | None = "aes"  # type: ignore[valid-type]
    priv_key_env: str | None = None
    priv_key_file: str | None = None

    def __post_init__(self) -> None:
        _secret_ref(self.auth_key_env, self.auth_key_file, "auth_key")
        if self.priv_protocol is not None:
            _secret_ref(self.priv_key_env, self.priv_key_file, "priv_key")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SnmpOptions(ProbeOptions):
    """One device. ``timeout``/``retries`` are per SNMP request (size them for VSAT/4G round trips)."""

    kind: Literal["cpe", "switch", "ups", "lte-router"] = "cpe"
    profiles: Annotated[tuple[str, ...], Rules(min_length=1)]
    snmp: Annotated[SnmpV2c | SnmpV3, Rules(discriminator="version")]
    port: Annotated[int, Rules(ge=1, le=65535)] = 161
    timeout: Annotated[Duration, Rules(gt=0)] = 2.0
    retries: Annotated[int, Rules(ge=0, le=5)] = 1
    max_repetitions: Annotated[int, Rules(ge=1, le=200)] = 30
    max_rows: Annotated[int, Rules(ge=1)] = 4096

    def __post_init__(self) -> None:
        for name in self.profiles:
            try:
                snmp_profiles.load(name)
            except snmp_profiles.ProfileError as exc:  # pydantic reports ValueError with the field path
                raise ValueError(str(exc)) from None

    def minimum_timeout(self) -> float:
        """One request with all its retries must fit in the check timeout."""
        return self.timeout * (self.retries + 1)


def _read_secret(env: str | None, file: str | None) -> str | None:
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise SnmpFailure("credentials", f"environment variable {env} is not set")
        return value
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SnmpFailure("credentials", f"cannot read secret file {file}: {exc.strerror}") from None
    return None


def credentials(options: SnmpOptions) -> Credentials:
    """Resolve the options' secret references now; raises `SnmpFailure` naming a missing reference."""
    c = options.snmp
    if isinstance(c, SnmpV2c):
        return Credentials(community=_read_secret(c.community_env, c.community_file))
    return Credentials(
        user=c.user,
        auth_protocol=c.auth_protocol,
        auth_key=_read_secret(c.auth_key_env, c.auth_key_file),
        priv_protocol=c.priv_protocol,
        priv_key=_read_secret(c.priv_key_env, c.priv_key_file) if c.priv_protocol else None,
    )


def _number(raw: object) -> float | None:
    if isinstance(raw, int):
        return float(raw)
    if isinstance(raw, str):  # vendors such as Teltonika publish signal levels as DisplayString
        try:
            return float(raw.split()[0]) if raw.strip() else None
        except ValueError:
            return None
    return None


Labels = tuple[tuple[str, str], ...]


def _rows(table: Table, columns: dict[str, dict[str, object]]) -> list[tuple[str, Labels]]:
    """(row index, labels) for every row kept by ``where``, over the union of the table's columns.

    The first label identifies the row (``ifname``): without a value it is the row index, and a value
    two rows share gets the index appended (``port#7``), so no two rows ever export the same series.
    Other labels are empty when the device lacks them.
    """
    indexes: dict[str, None] = {}
    for oid in table.columns():
        indexes.update(dict.fromkeys(columns.get(oid, {})))
    rows: list[tuple[str, list[tuple[str, str]]]] = []
    for index in indexes:
        if table.where and str(columns.get(table.where.oid, {}).get(index)) != table.where.equals:
            continue
        labels = [(name, next((str(v) for oid in oids if (v := columns.get(oid, {}).get(index))), ""))
                  for name, oids in table.labels.items()]
        if labels and not labels[0][1]:
            labels[0] = (labels[0][0], index)
        rows.append((index, labels))
    shared = Counter(labels[0][1] for _, labels in rows if labels)
    out = []
    for index, labels in rows:
        if labels and shared[labels[0][1]] > 1:
            labels[0] = (labels[0][0], f"{labels[0][1]}#{index}")
        if table.index_label:
            labels.insert(0, (table.index_label, index))
        out.append((index, tuple(labels)))
    return out


def measure(profile: Profile, scalars: dict[str, object], columns: dict[str, dict[str, object]],
            kind: str) -> list[Measurement]:
    """Turn one profile's slice of a poll into measurements; values the device lacks are left out."""
    out: list[Measurement] = []
    for v in profile.scalars:
        number = _number(scalars.get(v.oid))
        if number is not None:
            out.append(Measurement(v.metric, _convert(number, v.scale, v.equals)))
    if profile.info:
        labels = {name: str(scalars.get(oid) or "") for name, oid in profile.info.items()}
        out.append(Measurement(INFO, 1.0, (("kind", kind), *sorted(labels.items()))))
    for table in profile.tables:
        rows = _rows(table, columns)
        for v in table.values:
            cells = [(labels, _number(columns.get(v.oid, {}).get(index))) for index, labels in rows]
            found = [(labels, _convert(n, v.scale, v.equals)) for labels, n in cells if n is not None]
            if v.aggregate and found:
                values = [value for _, value in found]
                folded = {"mean": sum(values) / len(values), "sum": sum(values), "max": max(values)}
                out.append(Measurement(v.metric, folded[v.aggregate]))
            elif not v.aggregate:
                out += [Measurement(v.metric, value, labels) for labels, value in found]
        for r in table.ratios:
            num = den = 0.0
            for index, _labels in rows:
                unit = _number(columns.get(r.unit, {}).get(index)) if r.unit else 1.0
                n, d = (_number(columns.get(o, {}).get(index)) for o in (r.numerator, r.denominator))
                if unit is not None and n is not None and d is not None:
                    num, den = num + n * unit, den + d * unit
            if den > 0:
                out.append(Measurement(r.metric, num / den))
    return out


def _convert(number: float, scale: float, equals: int | None) -> float:
    if equals is not None:
        return 1.0 if number == equals else 0.0
    return number * scale


def _reboots(key: str, measurements: list[Measurement]) -> list[Measurement]:
    uptime = next((m.value for m in measurements if m.name == UPTIME), None)
    if uptime is None:
        return []
    previous = _LAST_UPTIME.get(key)
    _LAST_UPTIME[key] = uptime
    return [Measurement(REBOOTS, 1.0 if previous is not None and uptime < previous else 0.0)]


async def poll(check: Check, until: float) -> tuple[list[Measurement], dict[str, int]]:
    """Read every profile of ``check``'s device once, no request waiting past ``until`` (event-loop
    time); raises `SnmpFailure`."""
    options = check.options
    assert isinstance(options, SnmpOptions)
    profiles = [snmp_profiles.load(name) for name in options.profiles]
    scalars = tuple(dict.fromkeys(oid for p in profiles for oid in p.scalar_oids()))
    columns = tuple(dict.fromkeys(oid for p in profiles for t in p.tables for oid in t.columns()))
    endpoint = Endpoint(check.target, options.port, options.timeout, options.retries, until)
    fetched = await walk(credentials(options), endpoint, scalars, columns, options.max_repetitions,
                         options.max_rows)
    if scalars and not fetched.scalars and not any(fetched.columns.values()):
        raise SnmpFailure("empty", "device answered but has none of the profiles' objects")
    measurements = [m for p in profiles for m in measure(p, fetched.scalars, fetched.columns, options.kind)]
    return measurements, {"requests": fetched.requests, "varbinds": fetched.varbinds}


REASONS: dict[str, Wording] = {
    "timeout": ("no SNMP answer", "thiết bị không trả lời SNMP"),
    "credentials": ("credentials missing", "thiếu thông tin đăng nhập SNMP"),
    "auth": ("SNMPv3 authentication failed", "xác thực SNMPv3 thất bại"),
    "empty": ("no known objects", "thiết bị không có đối tượng cần đọc"),
    "malformed": ("malformed answer", "trả lời SNMP hỏng"),
    "oversized": ("answer too large", "trả lời SNMP quá lớn"),
}
#: A poll's requests and answers, generously: a few GETBULKs of interface tables.
RUN_BYTES = 4_000
_ON_BATTERY: Wording = ("ON BATTERY {charge:.0f} %, ~{minutes:.0f} min",
                        "CHẠY PIN {charge:.0f} %, ~{minutes:.0f} phút")
_MAINS: Wording = ("mains, battery {charge:.0f} %", "điện lưới, pin {charge:.0f} %")


def judge(result: Result, limits: Limits | None, baseline: Baseline | None) -> Finding:
    """A failed poll is down with its reason; a UPS on battery is degraded whatever the links say now:
    mains power is gone and the center runs on borrowed minutes (the figure: seconds left)."""
    if result.success and result.value(UPS_ON_BATTERY) == 1.0:
        return Finding(Verdict.DEGRADED, "on_battery", result.value(UPS_REMAINING))
    return judge_plainly(result)


def summary(result: Result, lang: Lang) -> str | None:
    """A UPS's power source and charge; other devices show the poll's duration."""
    on_battery = result.value(UPS_ON_BATTERY)
    if not result.success or on_battery is None:
        return None
    charge, left = (result.value(UPS_CHARGE) or 0.0) * 100, (result.value(UPS_REMAINING) or 0.0) / 60
    return say(_ON_BATTERY if on_battery else _MAINS, lang, charge=charge, minutes=left)


def retain(keys: Collection[str]) -> None:
    """Forget the uptimes of devices no longer polled (a reload removed them)."""
    for key in [k for k in _LAST_UPTIME if k not in keys]:
        del _LAST_UPTIME[key]


@register("snmp", SnmpOptions, METRICS, close=close_engines, reasons=REASONS, judge=judge, summary=summary,
          run_bytes=lambda check: RUN_BYTES, retain=retain)
async def run(check: Check) -> Result:
    """Poll one device; see the module docstring for the failure and reboot semantics."""
    started = time.time()
    remaining = check.remaining()
    until = asyncio.get_running_loop().time() + remaining * _DEADLINE_SHARE
    try:
        async with asyncio.timeout(remaining):  # what requests do not bound themselves: name resolution
            measurements, stats = await poll(check, until)
    except SnmpFailure as exc:
        return check.fail(exc.reason, str(exc), started, [Measurement(UP, 0.0)])
    except TimeoutError:
        return check.fail("timeout", f"poll unfinished after its {check.timeout:g}s deadline", started,
                          [Measurement(UP, 0.0)])
    measurements += _reboots(check.key, measurements)
    return check.ok(started, [Measurement(UP, 1.0), *measurements], **stats)
