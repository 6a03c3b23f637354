"""Coverage and availability history: where to invest, from months of data, for provincial planners."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    SITE_FILTER,
    Query,
    bargauge,
    dashboard,
    filter_variables,
    table,
    timeseries,
)

INFO = f'netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}}'
NAMED = f"on (site) group_left (name, district, link_type, isp) {INFO}"
HIDE = ("Time", "__name__", "job", "instance", "kind", "lat", "lon", "upstream")


def _ratio(window: str, by: str = "") -> Query:
    expr = f"netmon:site_availability:ratio_{window} * {NAMED}"
    if by:
        expr = f"avg by ({by}) ({expr})"
    return Query(expr, "{{" + (by or "name") + "}}", instant=True, table=not by)


def build() -> dict[str, Any]:
    panels = [
        table("Availability per center", "Share of time each center was reachable over 30, 90 and 365 "
              "days (columns Value #A, #B, #C). Sort by 365 d to find where a better link pays off most.",
              _ratio("30d"), _ratio("90d"), _ratio("365d"), width=24, height=10, unit="percentunit",
              hide=(*HIDE, "site")),
        bargauge("Availability by district (30 d)", "Average over the district's centers.",
                 _ratio("30d", "district")),
        bargauge("Availability by link type (30 d)", "Fiber against 4G, microwave and VSAT: the case for "
                 "upgrading a link type.", _ratio("30d", "link_type")),
        bargauge("Availability by ISP (30 d)", "The same centers' availability per provider, for contract "
                 "reviews.", _ratio("30d", "isp")),
        table("Outages in the last 30 days", "Times each center went from up to down.",
              Query(f"netmon:site_outages:count_30d * {NAMED}", instant=True, table=True),
              sort_by="Value", hide=HIDE),
        timeseries("Daily availability by link type", "Rolling 1-day availability; a step up after a link's "
                   "upgrade date shows whether the upgrade helped.",
                   Query(f"avg by (link_type) (netmon:site_availability:ratio_1d * on (site) group_left "
                         f"(link_type) {INFO})", "{{link_type}}"), unit="percentunit", max=1),
    ]
    return dashboard("netmon-history", "Sơn La — coverage and availability history",
                     "Availability per center, district, link type and ISP over 30/90/365 days.",
                     panels, filter_variables(), tags=("history", "planning"), time_from="now-90d",
                     refresh="")
