"""Equipment: every SNMP-managed device of the province, for VNPT technicians planning a visit."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    SITE_FILTER,
    Query,
    dashboard,
    filter_variables,
    ok_mappings,
    power_mappings,
    say,
    state_timeline,
    table,
    timeseries,
)
from netmon.i18n import Lang

NAMES = f'on (site) group_left (name, district) netmon_site_info{{{SITE_FILTER}}}'
HIDE = ("Time", "__name__", "job", "instance", "probe", "link", "site")


def _per_device(metric: str) -> str:
    return f"{metric} * {NAMES}"


def build(lang: Lang) -> dict[str, Any]:
    t = say(lang)
    labels = {"name": t("Center", "Trung tâm"), "district": t("District (former)", "Huyện (cũ)"),
              "check": t("Device", "Thiết bị"), "target": t("Address", "Địa chỉ"),
              "ifname": t("Interface", "Cổng")}
    device = "{{name}} — {{check}}"
    reboots = t("Reboots", "Số lần khởi động lại")
    panels = [
        table(t("Devices answering SNMP", "Thiết bị trả lời SNMP"),
              t("Whether the device answered its last poll, and how long it has been up. Not answering "
                "with the "
                "link up: wrong community/credentials or SNMP disabled on the device.",
                "Thiết bị có trả lời lần hỏi gần nhất không, và đã chạy được bao lâu. Không trả lời khi "
                "đường "
                "truyền vẫn tốt: sai community/mật khẩu hoặc thiết bị tắt SNMP."),
              Query(_per_device("netmon_snmp_up"), instant=True, table=True, column=t("SNMP", "SNMP"),
                    mappings=tuple(ok_mappings(lang, ("answering", "trả lời"), ("silent", "im lặng")))),
              Query(_per_device("netmon_device_uptime_seconds"), instant=True, table=True,
                    column=t("Uptime", "Thời gian chạy"), unit="dtdurations"),
              width=24, hide=HIDE, labels=labels),
        table(t("Enabled interfaces: operational state", "Cổng đang bật: trạng thái hoạt động"),
              t("Every interface an operator enabled (admin up), down first: a port that carries no link — a "
                "cable, a transceiver or the far end.",
                "Mọi cổng đã bật quản trị, cổng xuống đứng đầu: cổng không có liên kết — dây, module quang "
                "hoặc đầu bên kia."),
              Query("netmon_interface_oper_up * on (site, check, ifname) group_left () "
                    f"(netmon_interface_admin_up == 1) * {NAMES}", instant=True, table=True,
                    column=t("Operational", "Hoạt động"),
                    mappings=tuple(ok_mappings(lang, ("up", "lên"), ("down", "xuống")))),
              hide=HIDE, labels=labels),
        table(t("Reboots in the last 24 h", "Khởi động lại trong 24 giờ qua"),
              t("A device rebooting without a power cut is failing.",
                "Thiết bị tự khởi động lại khi không mất điện là thiết bị đang hỏng."),
              Query(f"increase(netmon_device_reboots_total[1d]) * {NAMES}", instant=True, table=True,
                    column=reboots, unit="none"),
              hide=HIDE, sort_by=reboots, labels=labels),
        timeseries(t("CPU load", "Tải CPU"),
                   t("Above 0.9 for long, the router drops or delays traffic.",
                     "Trên 0,9 trong thời gian dài, thiết bị sẽ làm rơi hoặc trễ gói."),
                   Query(f"max by (site, name, check) (netmon_cpu_load_ratio * {NAMES})", device),
                   unit="percentunit"),
        timeseries(t("Memory used", "Bộ nhớ đã dùng"),
                   t("Steady growth until a reboot: a memory leak in the firmware.",
                     "Tăng đều cho tới khi khởi động lại: firmware rò rỉ bộ nhớ."),
                   Query(f"max by (site, name, check) (netmon_memory_used_ratio * {NAMES})", device),
                   unit="percentunit"),
        timeseries(t("UPS battery charge", "Dung lượng pin UPS"),
                   t("Centers without grid power run on this; send someone before 0.",
                     "Trung tâm mất điện lưới chạy bằng pin này; cử người tới trước khi về 0."),
                   Query(f"netmon_ups_battery_charge_ratio * {NAMES}", "{{name}}"), unit="percentunit",
                   min=0, max=1),
        state_timeline(t("UPS power source", "Nguồn điện UPS"),
                       t("On battery while the center has no mains power.",
                         "Chạy pin khi trung tâm mất điện lưới."),
                       Query(f"netmon_ups_on_battery * {NAMES}", "{{name}}"), power_mappings(lang)),
        timeseries(t("UPS runtime left", "Thời gian pin UPS còn lại"),
                   t("Estimated time on battery before the equipment shuts down.",
                     "Ước tính thời gian chạy pin trước khi thiết bị tắt."),
                   Query(f"netmon_ups_battery_remaining_seconds * {NAMES}", "{{name}}"), unit="s"),
        timeseries(t("UPS input voltage", "Điện áp vào UPS"),
                   t("Mains voltage; repeated sags below 180 V wear out the UPS.",
                     "Điện áp lưới; sụt dưới 180 V nhiều lần làm hỏng UPS."),
                   Query(f"netmon_ups_input_voltage_volts * {NAMES}", "{{name}}"), unit="volt"),
        timeseries(t("4G signal — RSRP", "Sóng 4G — RSRP"),
                   t("Received power of the serving cell; below -110 dBm the link drops. Evidence for an "
                     "antenna or a new station.",
                     "Công suất thu từ trạm phục vụ; dưới -110 dBm đường truyền sẽ rớt. Căn cứ để lắp anten "
                     "hoặc xin trạm mới."),
                   Query(f"netmon_lte_rsrp_dbm * {NAMES}", "{{name}}"), unit="dBm"),
        timeseries(t("4G signal — RSRQ and SINR", "Sóng 4G — RSRQ và SINR"),
                   t("Quality and interference of the serving cell.", "Chất lượng và nhiễu của trạm phục "
                                                                      "vụ."),
                   Query(f"netmon_lte_rsrq_db * {NAMES}", "RSRQ {{name}}"),
                   Query(f"netmon_lte_sinr_db * {NAMES}", "SINR {{name}}"), unit="dB"),
    ]
    return dashboard("netmon-equipment", t("Sơn La — equipment", "Sơn La — thiết bị"),
                     t("CPE routers, switches, 4G routers and UPS of every center, read over SNMP.",
                       "Router CPE, switch, router 4G và UPS của mọi trung tâm, đọc qua SNMP."),
                     panels, filter_variables(lang), lang, tags=("equipment",))
