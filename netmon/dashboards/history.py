"""Coverage and availability history: where to invest, from months of data, for provincial planners."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    SITE_FILTER,
    Query,
    bargauge,
    dashboard,
    filter_variables,
    say,
    table,
    timeseries,
)
from netmon.i18n import Lang

INFO = f'netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}}'
NAMED = f"on (site) group_left (name, district, link_type, isp) {INFO}"
HIDE = ("Time", "__name__", "job", "instance", "kind", "lat", "lon", "upstream", "site")


def _ratio(window: str, by: str = "", column: str = "") -> Query:
    expr = f"netmon:site_availability:ratio_{window} * {NAMED}"
    if by:
        expr = f"avg by ({by}) ({expr})"
    return Query(expr, "{{" + (by or "name") + "}}", instant=True, table=not by, column=column,
                 unit="percentunit" if column else "")


def build(lang: Lang) -> dict[str, Any]:
    t = say(lang)
    labels = {"name": t("Center", "Trung tâm"), "district": t("District (former)", "Huyện (cũ)"),
              "link_type": t("Link type", "Loại đường truyền"), "isp": t("ISP", "Nhà mạng")}
    days = t("{} days", "{} ngày")
    outages = t("Outages", "Số lần mất kết nối")
    in_service = t("Availability in service hours", "Độ sẵn sàng trong giờ phục vụ")
    budget = t("Error budget used (primary link)", "Quỹ gián đoạn đã dùng (đường chính)")
    panels = [
        table(t("Availability per center", "Độ sẵn sàng từng trung tâm"),
              t("Share of time each center was reachable over 30, 90 and 365 days. Sort by 365 days to find "
                "where a better link pays off most.",
                "Tỉ lệ thời gian trung tâm kết nối được trong 30, 90 và 365 ngày. Sắp theo 365 ngày để thấy "
                "nơi nâng cấp đường truyền đáng giá nhất."),
              _ratio("30d", column=days.format(30)), _ratio("90d", column=days.format(90)),
              _ratio("365d", column=days.format(365)), width=24, height=10, hide=HIDE, labels=labels),
        table(t("Service hours: availability and error budget (30 d)",
                "Giờ phục vụ: độ sẵn sàng và quỹ gián đoạn (30 ngày)"),
              t("Only the centers' service period counts: office hours without Vietnamese public holidays, "
                "the calendar the reports use (accounting.service_period). Budget used: the primary link's "
                "downtime in those hours over what its contract allows; from 50 % the reports warn, past "
                "100 % the contract is breached. A live estimate: planners' reclassifications and causes "
                "count only in `netmon report contract`.",
                "Chỉ tính giờ phục vụ của trung tâm: giờ hành chính trừ ngày nghỉ lễ, cùng lịch với báo cáo "
                "(accounting.service_period). Quỹ đã dùng: thời gian mất kết nối của đường chính trong giờ "
                "đó so với mức hợp đồng cho phép; từ 50 % báo cáo cảnh báo, quá 100 % là vi phạm hợp đồng. "
                "Số liệu ước tính trực tiếp: phân loại lại và nguyên nhân chỉ được tính trong "
                "`netmon report contract`."),
              Query(f"netmon:site_service_availability:ratio_30d * {NAMED}", instant=True, table=True,
                    column=in_service, unit="percentunit"),
              Query(f"netmon:site_error_budget_used:ratio_30d * {NAMED}", instant=True, table=True,
                    column=budget, unit="percentunit"),
              width=24, height=10, hide=HIDE, labels=labels, sort_by=budget),
        bargauge(t("Availability by district (30 d)", "Độ sẵn sàng theo huyện (30 ngày)"),
                 t("Average over the district's centers.", "Trung bình các trung tâm trong huyện."),
                 _ratio("30d", "district")),
        bargauge(t("Availability by link type (30 d)", "Độ sẵn sàng theo loại đường truyền (30 ngày)"),
                 t("Fiber against 4G, microwave and VSAT: the case for upgrading a link type.",
                   "Cáp quang so với 4G, vi ba và VSAT: căn cứ nâng cấp loại đường truyền."),
                 _ratio("30d", "link_type")),
        bargauge(t("Availability by ISP (30 d)", "Độ sẵn sàng theo nhà mạng (30 ngày)"),
                 t("The same centers' availability per provider, for contract reviews.",
                   "Độ sẵn sàng theo từng nhà mạng, dùng khi rà soát hợp đồng."), _ratio("30d", "isp")),
        table(t("Outages in the last 30 days", "Số lần mất kết nối trong 30 ngày"),
              t("Times each center went from up to down.", "Số lần trung tâm chuyển từ kết nối sang mất "
                                                           "kết nối."),
              Query(f"netmon:site_outages:count_30d * {NAMED}", instant=True, table=True, column=outages,
                    unit="none"),
              sort_by=outages, hide=HIDE, labels=labels),
        timeseries(t("Daily availability by link type", "Độ sẵn sàng theo ngày, theo loại đường truyền"),
                   t("Rolling 1-day availability; a step up after a link's upgrade date shows whether the "
                     "upgrade helped.",
                     "Độ sẵn sàng cuốn chiếu 1 ngày; bước tăng sau ngày nâng cấp cho thấy nâng cấp có "
                     "hiệu quả."),
                   Query(f"avg by (link_type) (netmon:site_availability:ratio_1d * on (site) group_left "
                         f"(link_type) {INFO})", "{{link_type}}"), unit="percentunit", max=1),
    ]
    return dashboard("netmon-history",
                     t("Sơn La — coverage and availability history", "Sơn La — lịch sử độ sẵn sàng"),
                     t("Availability per center, district, link type and ISP over 30/90/365 days.",
                       "Độ sẵn sàng theo trung tâm, huyện, loại đường truyền và nhà mạng trong 30/90/365 "
                       "ngày."),
                     panels, filter_variables(lang), lang, tags=("history", "planning"), time_from="now-90d",
                     refresh="")
