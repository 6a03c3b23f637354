"""Site detail: one service center, for the technician on the phone with the commune.

Link quality comes first (a SmokePing-style band per link, the RTT distribution, loss, jitter and the
meeting-quality estimate), then what the center's edge agent saw from inside (when it has one), then
the services the center depends on, then its equipment.
"""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import (
    Panel,
    Query,
    band,
    dashboard,
    filter_variables,
    heatmap,
    mapping,
    ok_mappings,
    power_mappings,
    say,
    site_variable,
    stat,
    state_mappings,
    state_timeline,
    table,
    timeseries,
)
from netmon.i18n import Lang

SITE = 'site="$site"'
DOCUMENT_SYSTEM = 'check="qlvb-https"'


def _rtt_band(link: str, lang: Lang) -> Panel:
    t = say(lang)
    sel = f'{SITE}, link="{link}"'
    shown = t(link, {"primary": "chính", "backup": "dự phòng"}.get(link, link))
    return band(t(f"RTT band — {link} link", f"Dải RTT — đường {shown}"),
                t(f"Per burst on the {link} link: the shaded band spans the fastest and slowest echo, the "
                   "line "
                  "is the median. A widening band is a congested or unstable link even when the median looks "
                  "fine.",
                  f"Mỗi lượt đo trên đường {shown}: dải tô màu từ gói nhanh nhất tới chậm nhất, đường kẻ là "
                  "trung vị. Dải rộng ra là đường truyền nghẽn hoặc chập chờn dù trung vị trông vẫn ổn."),
                f"min(netmon_icmp_rtt_min_seconds{{{sel}}})", f"max(netmon_icmp_rtt_median_seconds{{{sel}}})",
                f"max(netmon_icmp_rtt_max_seconds{{{sel}}})",
                legends=(t("min", "nhỏ nhất"), t("median", "trung vị"), t("max", "lớn nhất")))


#: The secure channel's state beside its line: 1 up, 0 down while the line answers (the encryptor's
#: fault, SecureChannelDown), 2 down with the line (the line's fault). The check id is the inventory's
#: SECURE_CHECK; the channel rides the primary line.
SECURE_STATE = (f'clamp_max(max(netmon_probe_success{{{SITE}, check="secure-channel"}}) '
                f"+ 2 * (max(netmon:site_primary_up{{{SITE}}}) == bool 0), 2)")


def _secure_mappings(lang: Lang) -> list[dict[str, Any]]:
    t = say(lang)
    return mapping((1, t("up", "tốt"), "green"),
                   (0, t("down, line up", "mất, đường truyền tốt"), "red"),
                   (2, t("down with the line", "mất theo đường truyền"), "orange"))


def _limit(threshold: str, lang: Lang) -> Query:
    return Query(f'netmon:link_threshold{{{SITE}, threshold="{threshold}"}}', say(lang)("limit", "ngưỡng")
                 + " {{link}}")


def _link_panels(lang: Lang) -> list[Panel]:
    t = say(lang)
    return [
        stat(t("State", "Trạng thái"),
             t("Up, degraded (on backup, or primary loss/RTT above the link type's limit) or down.",
               "Hoạt động, suy giảm (chạy dự phòng, hoặc mất gói/RTT đường chính vượt ngưỡng) hay mất kết "
               "nối."),
             Query(f"netmon:site_state:code{{{SITE}}}", instant=True), mappings=state_mappings(lang),
             thresholds=[(None, "green"), (1, "orange"), (2, "red")], width=4),
        stat(t("Secure channel", "Kênh bảo mật"),
             t("The encrypted tunnel of the center's encryptor to the data center, probed through the tunnel "
               "beside its line: down while the line is up is the encryptor's fault (the cipher unit's), "
               "down with the line is the line's.",
               "Đường hầm mã hóa từ thiết bị mã hóa của trung tâm về trung tâm dữ liệu, đo xuyên qua đường "
               "hầm bên cạnh đường truyền: mất trong khi đường truyền tốt là lỗi thiết bị mã hóa (đơn vị cơ "
               "yếu xử lý), mất cùng đường truyền là do đường truyền."),
             Query(SECURE_STATE, instant=True), mappings=_secure_mappings(lang),
             thresholds=[(None, "red"), (1, "green"), (2, "orange")], width=4),
        table(t("Checks", "Các phép kiểm tra"),
              t("Every check of this center with the result of its last run.",
                "Mọi phép kiểm tra của trung tâm và kết quả lần chạy gần nhất."),
              Query(f"netmon_probe_success{{{SITE}}}", instant=True, table=True,
                    column=t("Last run", "Lần gần nhất"), mappings=tuple(ok_mappings(lang))),
              width=16, height=4, hide=("Time", "__name__", "job", "instance", "site"),
              labels={"check": t("Check", "Kiểm tra"), "probe": t("Probe", "Loại"),
                      "target": t("Target", "Đích"), "link": t("Link", "Đường truyền")}),
        state_timeline(t("Secure channel over time", "Kênh bảo mật theo thời gian"),
                       t("When the encrypted tunnel was up, down beside a live line, or down with the line.",
                         "Thời điểm đường hầm mã hóa tốt, mất trong khi đường truyền tốt, hoặc mất theo "
                         "đường truyền."),
                       Query(SECURE_STATE, t("secure channel", "kênh bảo mật")), _secure_mappings(lang),
                       width=24, height=4),
        _rtt_band("primary", lang),
        _rtt_band("backup", lang),
        heatmap(t("RTT distribution", "Phân bố RTT"),
                t("Every echo's RTT bucketed over time: two bands mean two paths (e.g. a 4G cell switching), "
                  "a smear upward means queueing. Only for checks that export the per-echo histogram "
                  "(rtt_histogram in communes.yaml; the RTT band above is always there).",
                  "RTT của từng gói theo thời gian: hai dải là hai đường đi (ví dụ trạm 4G chuyển cell), "
                  "vệt kéo lên là hàng đợi. Chỉ có với phép kiểm tra bật biểu đồ RTT từng gói "
                  "(rtt_histogram trong communes.yaml; dải RTT ở trên luôn có)."),
                Query(f"sum by (le) (increase(netmon_icmp_rtt_seconds_bucket{{{SITE}}}[$__rate_interval]))",
                      "{{le}}", heatmap=True)),
        timeseries(t("Packet loss", "Mất gói"),
                   t("Share of echoes lost per burst, with the link type's degraded limit.",
                     "Tỉ lệ gói mất mỗi lượt đo, kèm ngưỡng suy giảm của loại đường truyền."),
                   Query(f"netmon_icmp_packet_loss_ratio{{{SITE}}}", "{{link}}"),
                   _limit("loss_degraded", lang),
                   unit="percentunit", min=0, max=1),
        timeseries(t("Jitter", "Độ biến thiên trễ (jitter)"),
                   t("Mean difference between consecutive RTTs; hurts calls and video first.",
                     "Chênh lệch trung bình giữa các RTT liên tiếp; ảnh hưởng gọi thoại và hình trước tiên."),
                   Query(f"netmon_icmp_jitter_seconds{{{SITE}}}", "{{link}}"),
                   _limit("jitter_degraded", lang),
                   unit="s"),
        timeseries(t("Meeting quality estimate (MOS)", "Ước tính chất lượng họp (MOS)"),
                   t("1 (unusable) to 4.5 (excellent), from RTT, jitter and loss. Below 3.5 online "
                     "meetings with "
                     "the province will stutter.",
                     "Từ 1 (không dùng được) đến 4,5 (rất tốt), tính từ RTT, jitter và mất gói. Dưới 3,5 họp "
                     "trực tuyến với tỉnh sẽ bị giật."),
                   Query(f"netmon_icmp_mos{{{SITE}}}", "{{link}}"), min=1, max=4.5),
        timeseries(t("CPE TCP connect time", "Thời gian bắt tay TCP tới CPE"),
                   t("Handshake time to the CPE's management port: the link plus the router's own load.",
                     "Thời gian bắt tay tới cổng quản trị của CPE: đường truyền cộng tải của chính thiết "
                     "bị."),
                   Query(f"netmon_tcp_connect_seconds{{{SITE}}}", "{{check}}"), unit="s"),
    ]


def _service_panels(lang: Lang) -> list[Panel]:
    t = say(lang)
    return [
        timeseries(t("Document system — HTTP phases", "Hệ thống quản lý văn bản — các pha HTTP"),
                   t("Where the time of a request to the document system goes (DNS, connect, TLS, first "
                     "byte, "
                     "transfer), probed from the data center.",
                     "Thời gian một yêu cầu tới hệ thống văn bản dành cho đâu (DNS, kết nối, TLS, byte đầu, "
                     "truyền), đo từ trung tâm dữ liệu."),
                   Query(f'netmon_http_duration_seconds{{{DOCUMENT_SYSTEM}, phase!="total"}}', "{{phase}}"),
                   unit="s", stack=True, bars=True),
        timeseries(t("Services — HTTP status", "Dịch vụ — mã trạng thái HTTP"),
                   t("Status code of each service's last answer.", "Mã trạng thái lần trả lời gần nhất."),
                   Query("netmon_http_status_code", "{{check}}"), decimals=0),
        table(t("Services — TLS certificate expiry", "Dịch vụ — hạn chứng chỉ TLS"),
              t("Time left before each service's certificate expires; renew before 14 days or signing and "
                "the "
                "portal stop.",
                "Thời gian còn lại trước khi chứng chỉ hết hạn; gia hạn trước 14 ngày, nếu không ký số và "
                "cổng dịch vụ công sẽ ngừng."),
              Query("netmon_tls_cert_expiry_timestamp_seconds - time()", instant=True, table=True,
                    column=t("Expires in", "Hết hạn sau"), unit="dtdurations"),
              hide=("Time", "job", "instance", "probe", "link"),
              labels={"site": t("Site", "Mã trung tâm"), "check": t("Check", "Kiểm tra"),
                      "target": t("Target", "Đích")}),
    ]


def _equipment_panels(lang: Lang) -> list[Panel]:
    t = say(lang)
    return [
        table(t("Interfaces", "Giao diện mạng"),
              t("Admin and operational state and speed of every interface of the center's devices. Admin up "
                "but oper down: a cable, a port, or the far end.",
                "Trạng thái quản trị, trạng thái hoạt động và tốc độ của mọi cổng. Bật quản trị nhưng không "
                "hoạt động: dây, cổng hoặc đầu bên kia."),
              Query(f"netmon_interface_oper_up{{{SITE}}}", instant=True, table=True,
                    column=t("Operational", "Hoạt động"),
                    mappings=tuple(ok_mappings(lang, ("up", "lên"), ("down", "xuống")))),
              Query(f"netmon_interface_admin_up{{{SITE}}}", instant=True, table=True,
                    column=t("Admin", "Quản trị"),
                    mappings=tuple(mapping((1, t("enabled", "bật"), "green"),
                                           (0, t("disabled", "tắt"), "text")))),
              Query(f"netmon_interface_speed_bits_per_second{{{SITE}}}", instant=True, table=True,
                    column=t("Speed", "Tốc độ"), unit="bps"),
              width=24, hide=("Time", "__name__", "job", "instance", "site", "probe"),
              labels={"check": t("Device", "Thiết bị"), "ifname": t("Interface", "Cổng"),
                      "target": t("Address", "Địa chỉ")}),
        timeseries(t("Traffic", "Lưu lượng"),
                   t("Bits per second in (positive) and out (negative) per interface. A link full at its "
                     "speed "
                     "explains loss and RTT.",
                     "Bit/giây vào (dương) và ra (âm) mỗi cổng. Đường truyền đầy băng thông giải thích "
                     "mất gói "
                     "và RTT."),
                   Query(f"8 * rate(netmon_interface_in_octets_total{{{SITE}}}[$__rate_interval])",
                         t("in", "vào") + " {{ifname}}"),
                   Query(f"-8 * rate(netmon_interface_out_octets_total{{{SITE}}}[$__rate_interval])",
                         t("out", "ra") + " {{ifname}}"), unit="bps"),
        timeseries(t("Interface errors and discards", "Lỗi và gói bị hủy trên cổng"),
                   t("Per second. Rising errors on a copper port: cable or connector; discards: congestion.",
                     "Mỗi giây. Lỗi tăng trên cổng đồng: dây hoặc đầu nối; gói bị hủy: nghẽn."),
                   Query(f"rate(netmon_interface_in_errors_total{{{SITE}}}[$__rate_interval]) + "
                         f"rate(netmon_interface_out_errors_total{{{SITE}}}[$__rate_interval])",
                         t("errors", "lỗi") + " {{ifname}}"),
                   Query(f"rate(netmon_interface_in_discards_total{{{SITE}}}[$__rate_interval]) + "
                         f"rate(netmon_interface_out_discards_total{{{SITE}}}[$__rate_interval])",
                         t("discards", "hủy") + " {{ifname}}"), unit="short"),
        state_timeline(t("UPS power source", "Nguồn điện UPS"),
                       t("On battery means a power cut at the center, not a link cut.",
                         "Chạy pin nghĩa là trung tâm mất điện lưới, không phải đứt đường truyền."),
                       Query(f"netmon_ups_on_battery{{{SITE}}}", "{{check}}"), power_mappings(lang)),
        timeseries(t("UPS battery charge", "Dung lượng pin UPS"),
                   t("How long the center can keep working on battery; send someone before it reaches 0.",
                     "Trung tâm còn làm việc được bao lâu bằng pin; cử người tới trước khi về 0."),
                   Query(f"netmon_ups_battery_charge_ratio{{{SITE}}}", "{{check}}"), unit="percentunit",
                   min=0, max=1),
    ]


#: The edge agent's own series (netmon/agent/checks.py gives every agent check this link).
AGENT = f'{SITE}, link="agent"'
DATACENTER = 'and on (site) netmon_site_info{kind="datacenter"}'
#: Probes whose duration is a service's answer time (an echo burst's or an SNMP walk's is not).
SERVICE_PROBES = 'probe=~"http|dns|tcp"'


def _agent_panels(lang: Lang) -> list[Panel]:
    """What the center's own edge agent saw: its checks (back-filled after a cut), and its delivery."""
    t = say(lang)
    return [
        stat(t("Edge agent — last contact", "Tác tử tại trung tâm — lần liên lạc cuối"),
             t("Time since the center's edge agent last delivered to the province. Minutes while the link "
               "is down are expected (it keeps measuring and buffers); minutes while the link is up mean "
               "the agent box is off or stuck (AgentSilent).",
               "Thời gian từ lần cuối tác tử tại trung tâm gửi được số liệu về tỉnh. Vài phút khi đường "
               "truyền mất là bình thường (tác tử vẫn đo và lưu đệm); khi đường truyền vẫn tốt thì máy tác "
               "tử đã tắt hoặc bị treo (AgentSilent)."),
             Query(f"time() - max(netmon_agent_last_contact_timestamp_seconds{{{SITE}}})", instant=True),
             unit="s", thresholds=[(None, "green"), (120, "orange"), (300, "red")], width=6),
        timeseries(t("Edge agent — buffered and delivered", "Tác tử — số đo lưu đệm và đã gửi"),
                   t("Results waiting in the agent's buffer (as it reported with its last batch) and results "
                     "the province accepted. A backlog that grows during a cut and drains after it is the "
                     "agent doing its job; one that never drains is a byte budget too small for the link.",
                     "Số đo đang chờ trong bộ đệm của tác tử (theo lần gửi gần nhất) và số đo tỉnh đã nhận. "
                     "Tồn đọng tăng khi mất kết nối rồi giảm sau đó là bình thường; không bao giờ giảm là "
                     "hạn mức dung lượng quá nhỏ so với đường truyền."),
                   Query(f"max(netmon_agent_buffered_results{{{SITE}}})", t("buffered", "lưu đệm")),
                   Query(f'sum(increase(netmon_agent_results_total{{{SITE}, outcome="accepted"}}'
                         "[$__rate_interval]))", t("delivered", "đã gửi")),
                   width=18, min=0),
        state_timeline(t("Edge agent — its checks, measured inside the center",
                         "Tác tử — các phép kiểm tra đo từ bên trong trung tâm"),
                       t("Each check the agent runs from the center, at the time it was measured: during a "
                         "cut they arrive late but land in place, so this shows what the staff could reach "
                         "while the province could not see them.",
                         "Từng phép kiểm tra tác tử chạy từ trung tâm, đúng thời điểm đo: khi mất kết nối số "
                         "liệu về muộn nhưng vẫn đặt đúng chỗ, nên thấy được cán bộ xã dùng được gì trong "
                         "lúc tỉnh không nhìn thấy trung tâm."),
                       Query(f"netmon_probe_success{{{AGENT}}}", "{{check}}"), ok_mappings(lang), width=12),
        timeseries(t("Services from both sides", "Dịch vụ nhìn từ hai phía"),
                   t("Answer time of each service from the data center and from inside this center (the "
                     "agent). Slower only from the center: the commune's path or a block on the way; slower "
                     "from both: the service itself. `netmon agent compare SITE` judges it.",
                     "Thời gian trả lời của từng dịch vụ khi đo từ trung tâm dữ liệu và từ bên trong trung "
                     "tâm xã (tác tử). Chỉ chậm khi đo từ xã: đường truyền của xã hoặc bị chặn giữa đường; "
                     "chậm cả hai phía: do chính dịch vụ. `netmon agent compare SITE` đưa ra kết luận."),
                   Query(f"netmon_probe_duration_seconds{{{SERVICE_PROBES}}} {DATACENTER}",
                         t("data center", "trung tâm dữ liệu") + " {{check}}"),
                   Query(f"netmon_probe_duration_seconds{{{AGENT}, {SERVICE_PROBES}}}",
                         t("center", "trung tâm xã") + " {{check}}"), unit="s", width=12),
    ]


def build(lang: Lang) -> dict[str, Any]:
    t = say(lang)
    panels = [*_link_panels(lang), *_agent_panels(lang), *_service_panels(lang), *_equipment_panels(lang)]
    return dashboard("netmon-site", t("Sơn La — service center detail", "Sơn La — chi tiết trung tâm"),
                     t("One center: link quality per link, the services it depends on, its equipment.",
                       "Một trung tâm: chất lượng từng đường truyền, các dịch vụ nó cần, thiết bị của nó."),
                     panels, [*filter_variables(lang), site_variable(lang)], lang, tags=("site",))
