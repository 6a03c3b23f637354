"""Province overview: the screen on the wall of the provincial office — where is it red right now."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    SITE_FILTER,
    MapLayer,
    Panel,
    Query,
    dashboard,
    filter_variables,
    geomap,
    mapping,
    ok_mappings,
    say,
    stat,
    state_mappings,
    table,
)
from netmon.i18n import Lang

INFO = f'netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}}'
STATE = f"netmon:site_state:code * on (site) group_left (name, district, link_type, isp, lat, lon) {INFO}"
#: A hub or the data center is up while any of its own checks succeeds (1) and down when all fail (0).
NODE_UP = ("max by (site) (netmon_probe_success) * on (site) group_left (name, lat, lon) "
           'netmon_site_info{{kind="{kind}"}}')


def _count(code: int) -> Query:
    return Query(f"count(netmon:site_state:code == {code} and on (site) {INFO}) or vector(0)", instant=True)


def _map(lang: Lang) -> Panel:
    t = say(lang)
    up_down = mapping((1, t("up", "hoạt động"), "green"), (0, t("down", "mất kết nối"), "red"))
    return geomap(
        t("Service centers, hubs and the data center", "Trung tâm, trạm tập trung và trung tâm dữ liệu"),
        t("Each small marker is a center at its commune's centroid: green up, orange degraded, red down. "
          "Squares are VNPT hubs (a red hub takes every center behind it), the star is the data center. "
          "Outlines are approximate, drawn offline from the units' centroids. Hover for names.",
          "Mỗi chấm nhỏ là một trung tâm đặt tại tâm xã: xanh hoạt động, cam suy giảm, đỏ mất kết nối. "
          "Ô vuông là trạm tập trung VNPT (trạm đỏ kéo theo mọi trung tâm phía sau), ngôi sao là trung tâm "
          "dữ liệu. Ranh giới là gần đúng, vẽ ngoại tuyến từ tâm các xã. Di chuột để xem tên."),
        [MapLayer(t("Service centers", "Trung tâm"), Query(STATE, instant=True, table=True),
                  state_mappings(lang), [(None, "green"), (1, "orange"), (2, "red")]),
         MapLayer(t("VNPT hubs", "Trạm tập trung VNPT"),
                  Query(NODE_UP.format(kind="hub"), instant=True, table=True), up_down,
                  [(None, "red"), (1, "green")], size=11, symbol="img/icons/marker/square.svg"),
         MapLayer(t("Data center", "Trung tâm dữ liệu"),
                  Query(NODE_UP.format(kind="datacenter"), instant=True, table=True), up_down,
                  [(None, "red"), (1, "green")], size=16, symbol="img/icons/marker/star.svg")],
        lang)


def build(lang: Lang) -> dict[str, Any]:
    t = say(lang)
    names = {"name": t("Center", "Trung tâm"), "link_type": t("Link type", "Loại đường truyền"),
             "isp": t("ISP", "Nhà mạng"), "link": t("Link", "Đường truyền"), "check": t("Check", "Kiểm tra"),
             "site": t("Site", "Mã trung tâm"), "district": t("District (former)", "Huyện (cũ)")}
    loss = t("Packet loss", "Mất gói")
    ratio = t("RTT ÷ limit", "RTT ÷ ngưỡng")
    panels = [
        stat(t("Centers up", "Trung tâm hoạt động"),
             t("Service centers whose primary link answers within its link type's limits.",
               "Trung tâm có đường truyền chính trả lời trong ngưỡng của loại đường truyền."),
             _count(0), color="green"),
        stat(t("Centers degraded", "Trung tâm suy giảm"),
             t("Up, but on the backup link or with loss/RTT above the link type's degraded limit. Check the "
               "site detail before citizens notice.",
               "Còn kết nối nhưng đang chạy đường dự phòng hoặc mất gói/RTT vượt ngưỡng suy giảm. Xem chi "
               "tiết trung tâm trước khi người dân bị ảnh hưởng."), _count(1),
             thresholds=[(None, "green"), (1, "orange")]),
        stat(t("Centers down", "Trung tâm mất kết nối"),
             t("No link of the center answers. Call the commune and VNPT.",
               "Không đường truyền nào của trung tâm trả lời. Gọi xã và VNPT."), _count(2),
             thresholds=[(None, "green"), (1, "red")]),
        stat(t("Alerts firing", "Cảnh báo đang phát"),
             t("Alerts firing in Prometheus now (all teams).", "Cảnh báo đang phát trong Prometheus (mọi "
                                                               "nhóm)."),
             Query('count(ALERTS{alertstate="firing"}) or vector(0)', instant=True),
             thresholds=[(None, "green"), (1, "red")]),
        _map(lang),
        table(t("Worst links now — packet loss", "Đường truyền tệ nhất — mất gói"),
              t("Highest packet loss of any site link on its last burst.",
                "Tỉ lệ mất gói cao nhất của các đường truyền trong lượt đo gần nhất."),
              Query(f"topk(10, netmon_icmp_packet_loss_ratio{{link!=\"\"}} * on (site) group_left (name, "
                    f"link_type, isp) {INFO})", instant=True, table=True, column=loss, unit="percentunit"),
              sort_by=loss, labels=names,
              hide=("Time", "__name__", "job", "instance", "probe", "target")),
        table(t("Worst links now — RTT against the link type's limit",
                "Đường truyền tệ nhất — RTT so với ngưỡng"),
              t("Average RTT divided by the link type's degraded limit: above 1 the link is slower than its "
                "type should be (a VSAT link at 600 ms is 0.7, a fiber link at 600 ms is 12).",
                "RTT trung bình chia cho ngưỡng suy giảm của loại đường truyền: trên 1 là chậm hơn mức của "
                "loại đó (VSAT 600 ms là 0,7; cáp quang 600 ms là 12)."),
              Query(f"topk(10, netmon_icmp_rtt_avg_seconds{{link!=\"\"}} / on (site, link) group_left () "
                    f'netmon:link_threshold{{threshold="rtt_degraded"}} * on (site) group_left (name, '
                    f"link_type, isp) {INFO})", instant=True, table=True, column=ratio),
              sort_by=ratio, labels=names, hide=("Time", "__name__", "job", "instance", "probe", "target")),
        stat(t("Next meeting", "Cuộc họp tiếp theo"),
             t("Start of the next provincial online meeting in the calendar (communes.yaml `meetings`).",
               "Giờ bắt đầu cuộc họp trực tuyến tiếp theo của tỉnh trong lịch (mục `meetings` của "
               "communes.yaml)."),
             Query("min(netmon_meeting_next_start_timestamp_seconds) * 1000", instant=True),
             unit="dateTimeFromNow", color="blue", width=6),
        stat(t("Ready for the meeting", "Sẵn sàng cho cuộc họp"),
             t("Centers found ready at the last readiness check (T-60, T-15): link loss, jitter and call "
               "quality, the meeting system, UPS on mains, backup link.",
               "Số trung tâm sẵn sàng ở lần kiểm tra gần nhất (T-60, T-15): mất gói, jitter và chất lượng "
               "gọi, hệ thống họp, UPS chạy điện lưới, đường dự phòng."),
             Query(f"sum(netmon_meeting_ready * on (site) group_left () {INFO})", instant=True),
             color="green", width=6),
        table(t("Not ready for the meeting", "Chưa sẵn sàng cho cuộc họp"),
              t("Centers that failed the last readiness check; the summary sent to the provincial office "
                "says why for each.",
                "Các trung tâm chưa đạt ở lần kiểm tra gần nhất; bản tóm tắt gửi Văn phòng tỉnh nêu lý do "
                "từng nơi."),
              Query(f"(netmon_meeting_ready == 0) * on (site) group_left (name, district) {INFO}",
                    instant=True, table=True, column=t("Ready", "Sẵn sàng"),
                    mappings=tuple(ok_mappings(lang, ("ready", "sẵn sàng"), ("not ready", "chưa sẵn sàng")))),
              width=12, height=6, labels=names, hide=("Time", "__name__", "job", "instance", "site")),
        table(t("Firing alerts", "Cảnh báo đang phát"),
              t("What Alertmanager is being told now; silence or acknowledge there.",
                "Những gì đang gửi tới Alertmanager; tắt tiếng hoặc xác nhận ở đó."),
              Query('ALERTS{alertstate="firing"}', instant=True, table=True), width=24,
              labels={"alertname": t("Alert", "Cảnh báo"), "severity": t("Severity", "Mức độ"),
                      "team": t("Team", "Nhóm"), **names},
              hide=("Time", "__name__", "job", "instance", "alertstate", "Value")),
    ]
    return dashboard("netmon-overview", t("Sơn La — province overview", "Sơn La — toàn tỉnh"),
                     t("State of the 75 commune-level service centers' links right now.",
                       "Tình trạng đường truyền của 75 trung tâm cấp xã ngay lúc này."),
                     panels, filter_variables(lang), lang, tags=("overview",), time_from="now-3h",
                     refresh="30s")
