"""`netmon snmp SITE`: poll every SNMP device of one site now and print a device-health table.

This tells a technician, in one screen, a dead router from a link fault from a power cut: is each box
answering, did it reboot, are its interfaces up, is the UPS on battery and for how long, how good is
the 4G signal. `health_rows` and `health_table` are the reusable part (the CLI issue shows them too).
Exit: 0 all healthy, 1 something to look at (on battery, an enabled interface down, weak signal),
2 a device not answering, 3 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence

from collectors.snmp_session import close_engines
from netmon.diagnose import command, lookup
from netmon.runner import run_check
from probes.base import Check, Result

#: RSRP below this (dBm) is a weak LTE signal (3GPP/operator rule of thumb: -100 fair, -110 poor).
WEAK_RSRP_DBM = -110.0
COLUMNS = ("device", "kind", "target", "snmp", "uptime", "interfaces", "cpu", "memory", "power", "lte",
           "note")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snmp", help="equipment health of one site now: one row per SNMP device",
                       description="SITE is a slug, a Vietnamese name with or without diacritics or an "
                                   "admin code. Exit: 0 healthy, 1 warning, 2 a device down, 3 usage error.")
    p.add_argument("site", metavar="SITE")
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        inventory = command.load_inventory(args.config)
    except command.ConfigError as exc:
        return command.config_failed(args.config, exc)
    assert inventory is not None
    place = lookup.find(inventory.spec, args.site)
    checks = [c for c in inventory.checks if c.site == place.slug and c.probe == "snmp"]
    if not checks:
        print(f"{place.slug}: no SNMP devices in the inventory")
        return lookup.USAGE_EXIT
    results = asyncio.run(poll_all(checks))
    rows = health_rows(checks, results)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(f"netmon snmp {place.slug} — {place.name}")
        print(health_table(rows))
    return max(_severity(row) for row in rows)


async def poll_all(checks: Sequence[Check]) -> list[Result]:
    """Poll every device at once (each within its own deadline), then close the SNMP engines."""
    try:
        return list(await asyncio.gather(*(run_check(c) for c in checks)))
    finally:
        close_engines()


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _series(result: Result, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(m.labels), m.value) for m in result.measurements if m.name == name]


def health_rows(checks: Sequence[Check], results: Sequence[Result]) -> list[dict[str, str]]:
    """One row of short, human strings per device; empty strings where the device has no such data."""
    rows = []
    for check, r in zip(checks, results, strict=True):
        row = dict.fromkeys(COLUMNS, "")
        row |= {"device": r.check, "kind": str(getattr(check.options, "kind", "")), "target": r.target}
        if not r.success:
            rows.append(row | {"snmp": f"DOWN ({r.reason})", "note": r.error or ""})
            continue
        row["snmp"] = "up"
        notes = []
        if (uptime := r.value("netmon_device_uptime_seconds")) is not None:
            row["uptime"] = _duration(uptime)
        if r.value("netmon_device_reboots"):
            notes.append("rebooted since last poll")
        oper = {labels["ifname"]: v for labels, v in _series(r, "netmon_interface_oper_up")}
        admin = {labels["ifname"]: v for labels, v in _series(r, "netmon_interface_admin_up")}
        if oper:
            enabled = [name for name, v in admin.items() if v]
            down = [name for name in enabled if not oper.get(name)]
            row["interfaces"] = f"{sum(1 for v in oper.values() if v)}/{len(oper)} up"
            if down:
                notes.append("down: " + ", ".join(down))
        if (cpu := r.value("netmon_cpu_load_ratio")) is not None:
            row["cpu"] = f"{cpu:.0%}"
        if (memory := r.value("netmon_memory_used_ratio")) is not None:
            row["memory"] = f"{memory:.0%}"
        row["power"] = _power(r)
        row["lte"] = _lte(r)
        if (rsrp := r.value("netmon_lte_rsrp_dbm")) is not None and rsrp < WEAK_RSRP_DBM:
            notes.append("weak LTE signal")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows


def _power(r: Result) -> str:
    battery = r.value("netmon_ups_on_battery")
    if battery is None:
        return ""
    charge, left = r.value("netmon_ups_battery_charge_ratio"), r.value("netmon_ups_battery_remaining_seconds")
    detail = " ".join(x for x in (f"{charge:.0%}" if charge is not None else "",
                                  f"{left / 60:.0f} min left" if left is not None else "") if x)
    return f"ON BATTERY {detail}".strip() if battery else f"mains, battery {detail}".strip()


def _lte(r: Result) -> str:
    values = (("RSRP", "netmon_lte_rsrp_dbm"), ("RSRQ", "netmon_lte_rsrq_db"), ("SINR", "netmon_lte_sinr_db"))
    return " ".join(f"{label} {v:g}" for label, name in values if (v := r.value(name)) is not None)


def _severity(row: dict[str, str]) -> int:
    if row["snmp"] != "up":
        return 2
    return 1 if row["note"] or row["power"].startswith("ON BATTERY") else 0


def health_table(rows: Sequence[dict[str, str]]) -> str:
    """Aligned plain-text table of `health_rows`; columns that are empty for every device are left out."""
    shown = [c for c in COLUMNS if any(row[c] for row in rows)]
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in shown}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in shown).rstrip()]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in shown).rstrip() for row in rows]
    return "\n".join(lines)
