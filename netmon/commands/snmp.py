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
from netmon import i18n
from netmon.diagnose import command, lookup
from netmon.i18n import Lang, text
from netmon.runner import run_check
from probes import base
from probes.base import Check, Result
from probes.wording import duration

#: RSRP below this (dBm) is a weak LTE signal (3GPP/operator rule of thumb: -100 fair, -110 poor).
WEAK_RSRP_DBM = -110.0
COLUMNS = ("device", "kind", "target", "snmp", "uptime", "interfaces", "cpu", "memory", "power", "lte",
           "note")
#: Column headers and the table's words, in English and Vietnamese.
WORDS: dict[str, tuple[str, str]] = {
    "device": ("DEVICE", "THIẾT BỊ"), "kind": ("KIND", "LOẠI"), "target": ("TARGET", "ĐÍCH"),
    "snmp": ("SNMP", "SNMP"), "uptime": ("UPTIME", "THỜI GIAN CHẠY"), "interfaces": ("INTERFACES", "CỔNG"),
    "cpu": ("CPU", "CPU"), "memory": ("MEMORY", "BỘ NHỚ"), "power": ("POWER", "NGUỒN"), "lte": ("LTE", "LTE"),
    "note": ("NOTE", "GHI CHÚ"),
    "up": ("up", "hoạt động"), "down": ("DOWN ({reason})", "MẤT ({reason})"),
    "rebooted": ("rebooted since last poll", "khởi động lại từ lần đọc trước"),
    "ifs_down": ("down: {names}", "mất: {names}"), "ifs_up": ("{up}/{all} up", "{up}/{all} hoạt động"),
    "weak_lte": ("weak LTE signal", "sóng LTE yếu"),
    "on_battery": ("ON BATTERY {detail}", "CHẠY PIN {detail}"), "mains": ("mains, battery {detail}",
                                                                        "điện lưới, pin {detail}"),
    "left": ("{minutes:.0f} min left", "còn {minutes:.0f} phút"),
    "none": ("{site}: no SNMP devices in the inventory", "{site}: kiểm kê không có thiết bị SNMP nào"),
}


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
    lang = i18n.lang()
    if not checks:
        print(text(WORDS, "none", lang, site=place.slug))
        return lookup.USAGE_EXIT
    results = asyncio.run(poll_all(checks))
    rows = health_rows(checks, results, lang)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(f"netmon snmp {place.slug} — {place.name}")
        print(health_table(rows, lang))
    return max(_severity(r, row) for r, row in zip(results, rows, strict=True))


async def poll_all(checks: Sequence[Check]) -> list[Result]:
    """Poll every device at once (each within its own deadline), then close the SNMP engines."""
    try:
        return list(await asyncio.gather(*(run_check(c) for c in checks)))
    finally:
        close_engines()


def _series(result: Result, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(m.labels), m.value) for m in result.measurements if m.name == name]


def health_rows(checks: Sequence[Check], results: Sequence[Result],
                lang: Lang = "en") -> list[dict[str, str]]:
    """One row of short, human strings per device in ``lang``; empty strings where the device has no such
    data."""
    def say(key: str, **values: object) -> str:
        return text(WORDS, key, lang, **values)

    rows = []
    for check, r in zip(checks, results, strict=True):
        row = dict.fromkeys(COLUMNS, "")
        row |= {"device": r.check, "kind": str(getattr(check.options, "kind", "")), "target": r.target}
        if not r.success:
            reason = (lang == "vi" and r.reason and base.get(r.probe).reason(r.reason, lang)) or r.reason
            note = "" if lang == "vi" else r.error or ""  # the library's words are English
            rows.append(row | {"snmp": say("down", reason=reason), "note": note})
            continue
        row["snmp"] = say("up")
        notes = []
        if (uptime := r.value("netmon_device_uptime_seconds")) is not None:
            row["uptime"] = duration(uptime, lang)
        if r.value("netmon_device_reboots"):
            notes.append(say("rebooted"))
        oper = {labels["ifname"]: v for labels, v in _series(r, "netmon_interface_oper_up")}
        admin = {labels["ifname"]: v for labels, v in _series(r, "netmon_interface_admin_up")}
        if oper:
            enabled = [name for name, v in admin.items() if v]
            down = [name for name in enabled if not oper.get(name)]
            row["interfaces"] = say("ifs_up", up=sum(1 for v in oper.values() if v), all=len(oper))
            if down:
                notes.append(say("ifs_down", names=", ".join(down)))
        if (cpu := r.value("netmon_cpu_load_ratio")) is not None:
            row["cpu"] = f"{cpu:.0%}"
        if (memory := r.value("netmon_memory_used_ratio")) is not None:
            row["memory"] = f"{memory:.0%}"
        row["power"] = _power(r, lang)
        row["lte"] = _lte(r)
        if (rsrp := r.value("netmon_lte_rsrp_dbm")) is not None and rsrp < WEAK_RSRP_DBM:
            notes.append(say("weak_lte"))
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows


def _power(r: Result, lang: Lang) -> str:
    battery = r.value("netmon_ups_on_battery")
    if battery is None:
        return ""
    charge, left = r.value("netmon_ups_battery_charge_ratio"), r.value("netmon_ups_battery_remaining_seconds")
    left_text = text(WORDS, "left", lang, minutes=left / 60) if left is not None else ""
    detail = " ".join(x for x in (f"{charge:.0%}" if charge is not None else "", left_text) if x)
    return text(WORDS, "on_battery" if battery else "mains", lang, detail=detail).strip()


def _lte(r: Result) -> str:
    values = (("RSRP", "netmon_lte_rsrp_dbm"), ("RSRQ", "netmon_lte_rsrq_db"), ("SINR", "netmon_lte_sinr_db"))
    return " ".join(f"{label} {v:g}" for label, name in values if (v := r.value(name)) is not None)


def _severity(r: Result, row: dict[str, str]) -> int:
    if not r.success:
        return 2
    return 1 if row["note"] or r.value("netmon_ups_on_battery") else 0


def health_table(rows: Sequence[dict[str, str]], lang: Lang = "en") -> str:
    """Aligned plain-text table of `health_rows`; columns that are empty for every device are left out."""
    shown = [c for c in COLUMNS if any(row[c] for row in rows)]
    heads = {c: text(WORDS, c, lang) for c in shown}
    widths = {c: max(len(heads[c]), *(len(row[c]) for row in rows)) for c in shown}
    lines = ["  ".join(heads[c].ljust(widths[c]) for c in shown).rstrip()]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in shown).rstrip() for row in rows]
    return "\n".join(lines)
