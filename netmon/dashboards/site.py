"""Site detail: one service center, for the technician on the phone with the commune.

Link quality comes first (a SmokePing-style band per link, the RTT distribution, loss, jitter and the
meeting-quality estimate), then the services the center depends on, then its equipment.
"""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    STATE_MAPPINGS,
    Panel,
    Query,
    band,
    dashboard,
    filter_variables,
    heatmap,
    site_variable,
    stat,
    table,
    timeseries,
)

SITE = 'site="$site"'
DOCUMENT_SYSTEM = 'check="qlvb-https"'


def _rtt_band(link: str) -> Panel:
    sel = f'{SITE}, link="{link}"'
    return band(f"RTT band — {link} link", f"Per burst on the {link} link: the shaded band spans the "
                "fastest and slowest echo, the line is the median. A widening band is a congested or "
                "unstable link even when the median looks fine.",
                f"min(netmon_icmp_rtt_min_seconds{{{sel}}})", f"max(netmon_icmp_rtt_median_seconds{{{sel}}})",
                f"max(netmon_icmp_rtt_max_seconds{{{sel}}})")


def _limit(threshold: str) -> Query:
    return Query(f'netmon_check_threshold{{{SITE}, threshold="{threshold}"}}', "limit {{link}}")


def _link_panels() -> list[Panel]:
    return [
        stat("State", "Up, degraded (on backup, or primary loss/RTT above the link type's limit) or down.",
             Query(f"netmon:site_state:code{{{SITE}}}", instant=True), mappings=STATE_MAPPINGS,
             thresholds=[(None, "green"), (1, "orange"), (2, "red")], width=4),
        table("Checks", "Every check of this center with the result of its last run (1 ok, 0 failed).",
              Query(f"netmon_probe_success{{{SITE}}}", instant=True, table=True), width=20, height=4,
              hide=("Time", "__name__", "job", "instance", "site")),
        _rtt_band("primary"),
        _rtt_band("backup"),
        heatmap("RTT distribution", "Every echo's RTT bucketed over time: two bands mean two paths "
                "(e.g. a 4G cell switching), a smear upward means queueing.",
                Query(f"sum by (le) (increase(netmon_icmp_rtt_seconds_bucket{{{SITE}}}[$__rate_interval]))",
                      "{{le}}", heatmap=True)),
        timeseries("Packet loss", "Share of echoes lost per burst, with the link type's degraded limit.",
                   Query(f"netmon_icmp_packet_loss_ratio{{{SITE}}}", "{{link}}"), _limit("loss_degraded"),
                   unit="percentunit", min=0, max=1),
        timeseries("Jitter", "Mean difference between consecutive RTTs; hurts calls and video first.",
                   Query(f"netmon_icmp_jitter_seconds{{{SITE}}}", "{{link}}"), _limit("jitter_degraded"),
                   unit="s"),
        timeseries("Meeting quality estimate (MOS)", "1 (unusable) to 4.5 (excellent), from RTT, jitter and "
                   "loss. Below 3.5 online meetings with the province will stutter.",
                   Query(f"netmon_icmp_mos{{{SITE}}}", "{{link}}"), min=1, max=4.5),
        timeseries("CPE TCP connect time", "Handshake time to the CPE's management port: the link plus "
                   "the router's own load.", Query(f"netmon_tcp_connect_seconds{{{SITE}}}", "{{check}}"),
                   unit="s"),
    ]


def _service_panels() -> list[Panel]:
    return [
        timeseries("Document system — HTTP phases", "Where the time of a request to the document "
                   "system goes (DNS, connect, TLS, first byte, transfer), probed from the data center.",
                   Query(f'netmon_http_duration_seconds{{{DOCUMENT_SYSTEM}, phase!="total"}}', "{{phase}}"),
                   unit="s", stack=True, bars=True),
        timeseries("Services — HTTP status", "Status code of each service's last answer.",
                   Query("netmon_http_status_code", "{{check}}")),
        table("Services — TLS certificate expiry", "Time left before each service's certificate expires; "
              "renew before 14 days or signing and the portal stop.",
              Query("netmon_tls_cert_expiry_timestamp_seconds - time()", instant=True, table=True),
              unit="dtdurations", hide=("Time", "job", "instance", "probe", "link")),
    ]


def _equipment_panels() -> list[Panel]:
    return [
        table("Interfaces", "Admin and operational state and speed of every interface of the center's "
              "devices. Admin up but oper down: a cable, a port, or the far end.",
              Query(f"netmon_interface_oper_up{{{SITE}}}", instant=True, table=True),
              Query(f"netmon_interface_admin_up{{{SITE}}}", instant=True, table=True),
              Query(f"netmon_interface_speed_bits_per_second{{{SITE}}}", instant=True, table=True),
              width=24, hide=("Time", "__name__", "job", "instance", "site", "probe")),
        timeseries("Traffic", "Bits per second in (positive) and out (negative) per interface. A link "
                   "full at its speed explains loss and RTT.",
                   Query(f"8 * rate(netmon_interface_in_octets_total{{{SITE}}}[$__rate_interval])",
                         "in {{ifname}}"),
                   Query(f"-8 * rate(netmon_interface_out_octets_total{{{SITE}}}[$__rate_interval])",
                         "out {{ifname}}"), unit="bps"),
        timeseries("Interface errors and discards", "Per second. Rising errors on a copper port: cable or "
                   "connector; discards: congestion.",
                   Query(f"rate(netmon_interface_in_errors_total{{{SITE}}}[$__rate_interval]) + "
                         f"rate(netmon_interface_out_errors_total{{{SITE}}}[$__rate_interval])",
                         "errors {{ifname}}"),
                   Query(f"rate(netmon_interface_in_discards_total{{{SITE}}}[$__rate_interval]) + "
                         f"rate(netmon_interface_out_discards_total{{{SITE}}}[$__rate_interval])",
                         "discards {{ifname}}"), unit="short"),
        timeseries("UPS", "On battery (1) means a power cut at the center, not a link cut; the charge "
                   "tells how long the center can keep working.",
                   Query(f"netmon_ups_on_battery{{{SITE}}}", "on battery"),
                   Query(f"netmon_ups_battery_charge_ratio{{{SITE}}}", "charge"), unit="percentunit"),
    ]


def build() -> dict[str, Any]:
    panels = [*_link_panels(), *_service_panels(), *_equipment_panels()]
    return dashboard("netmon-site", "Sơn La — service center detail",
                     "One center: link quality per link, the services it depends on, its equipment.",
                     panels, [*filter_variables(), site_variable()], tags=("site",))
