"""Province overview: the screen on the wall of the provincial office — where is it red right now."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    SITE_FILTER,
    Query,
    dashboard,
    filter_variables,
    geomap,
    stat,
    table,
)

INFO = f'netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}}'
STATE = f"netmon:site_state:code * on (site) group_left (name, district, link_type, isp, lat, lon) {INFO}"


def _count(code: int) -> Query:
    return Query(f"count(netmon:site_state:code == {code} and on (site) {INFO}) or vector(0)", instant=True)


def build() -> dict[str, Any]:
    panels = [
        stat("Centers up", "Service centers whose primary link answers within its link type's limits.",
             _count(0), color="green"),
        stat("Centers degraded", "Up, but on the backup link or with loss/RTT above the link type's "
             "degraded limit. Check the site detail before citizens notice.", _count(1),
             thresholds=[(None, "green"), (1, "orange")]),
        stat("Centers down", "No link of the center answers. Call the commune and VNPT.", _count(2),
             thresholds=[(None, "green"), (1, "red")]),
        stat("Alerts firing", "Alerts firing in Prometheus now (all teams).",
             Query('count(ALERTS{alertstate="firing"}) or vector(0)', instant=True),
             thresholds=[(None, "green"), (1, "red")]),
        geomap("Service centers by state", "Each marker is a center at its commune's centroid: green up, "
               "orange degraded, red down. Hover for name, district, link type and ISP.",
               Query(STATE, instant=True, table=True)),
        table("Worst links now — packet loss", "Highest packet loss of any site link on its last burst.",
              Query(f"topk(10, netmon_icmp_packet_loss_ratio{{link!=\"\"}} * on (site) group_left (name, "
                    f"link_type, isp) {INFO})", instant=True, table=True),
              unit="percentunit", sort_by="Value",
              hide=("Time", "__name__", "job", "instance", "probe", "target")),
        table("Worst links now — RTT against the link type's limit", "Average RTT divided by the "
              "link type's degraded limit: above 1 the link is slower than its type should be (a VSAT "
              "link at 600 ms is 0.7, a fiber link at 600 ms is 12).",
              Query(f"topk(10, netmon_icmp_rtt_avg_seconds{{link!=\"\"}} / on (site, check) group_left () "
                    f'netmon_check_threshold{{threshold="rtt_degraded"}} * on (site) group_left (name, '
                    f"link_type, isp) {INFO})", instant=True, table=True),
              sort_by="Value", hide=("Time", "__name__", "job", "instance", "probe", "target")),
        table("Firing alerts", "What Alertmanager is being told now; silence or acknowledge there.",
              Query('ALERTS{alertstate="firing"}', instant=True, table=True), width=24,
              hide=("Time", "__name__", "job", "instance", "alertstate", "Value")),
    ]
    return dashboard("netmon-overview", "Sơn La — province overview",
                     "State of the 75 commune-level service centers' links right now.",
                     panels, filter_variables(), tags=("overview",), time_from="now-3h", refresh="30s")
