"""Equipment: every SNMP-managed device of the province, for VNPT technicians planning a visit."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import SITE_FILTER, Query, dashboard, filter_variables, table, timeseries

NAMES = f'on (site) group_left (name, district) netmon_site_info{{{SITE_FILTER}}}'
HIDE = ("Time", "__name__", "job", "instance", "probe", "link", "check")


def _per_device(metric: str) -> str:
    return f"{metric} * {NAMES}"


def build() -> dict[str, Any]:
    panels = [
        table("Devices answering SNMP", "1 if the device answered its last poll. 0 with the link up: "
              "wrong community/credentials or SNMP disabled on the device.",
              Query(_per_device("netmon_snmp_up"), instant=True, table=True),
              Query(_per_device("netmon_device_uptime_seconds"), instant=True, table=True),
              width=24, hide=HIDE),
        table("Enabled interfaces: operational state", "Every interface an operator enabled (admin up), "
              "0 first: a port that carries no link — a cable, a transceiver or the far end.",
              Query("netmon_interface_oper_up * on (site, check, ifname) group_left () "
                    f"(netmon_interface_admin_up == 1) * {NAMES}", instant=True, table=True), hide=HIDE),
        table("Reboots in the last 24 h", "A device rebooting without a power cut is failing.",
              Query(f"increase(netmon_device_reboots_total[1d]) * {NAMES}", instant=True, table=True),
              hide=HIDE, sort_by="Value"),
        timeseries("CPU load", "Above 0.9 for long, the router drops or delays traffic.",
                   Query(f"max by (site, target) (netmon_cpu_load_ratio{{}} * {NAMES})", "{{site}}"),
                   unit="percentunit"),
        timeseries("Memory used", "Steady growth until a reboot: a memory leak in the firmware.",
                   Query(f"max by (site, target) (netmon_memory_used_ratio * {NAMES})", "{{site}}"),
                   unit="percentunit"),
        timeseries("UPS battery charge", "Centers without grid power run on this; send someone before 0.",
                   Query(f"netmon_ups_battery_charge_ratio * {NAMES}", "{{name}}"), unit="percentunit"),
        timeseries("UPS on battery", "1 while the center has no mains power.",
                   Query(f"netmon_ups_on_battery * {NAMES}", "{{name}}")),
        timeseries("UPS runtime left", "Estimated time on battery before the equipment shuts down.",
                   Query(f"netmon_ups_battery_remaining_seconds * {NAMES}", "{{name}}"), unit="s"),
        timeseries("UPS input voltage", "Mains voltage; repeated sags below 180 V wear out the UPS.",
                   Query(f"netmon_ups_input_voltage_volts * {NAMES}", "{{name}}"), unit="volt"),
        timeseries("4G signal — RSRP", "Received power of the serving cell; below -110 dBm the link "
                   "drops. Evidence for an antenna or a new station.",
                   Query(f"netmon_lte_rsrp_dbm * {NAMES}", "{{name}}"), unit="dBm"),
        timeseries("4G signal — RSRQ and SINR", "Quality and interference of the serving cell.",
                   Query(f"netmon_lte_rsrq_db * {NAMES}", "RSRQ {{name}}"),
                   Query(f"netmon_lte_sinr_db * {NAMES}", "SINR {{name}}"), unit="dB"),
    ]
    return dashboard("netmon-equipment", "Sơn La — equipment",
                     "CPE routers, switches, 4G routers and UPS of every center, read over SNMP.",
                     panels, filter_variables(), tags=("equipment",))
