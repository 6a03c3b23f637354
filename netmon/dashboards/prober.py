"""Prober health: is netmon itself measuring, before anyone trusts a red map."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import Query, dashboard, mapping, ok_mappings, say, stat, table, timeseries
from netmon.i18n import Lang


def build(lang: Lang) -> dict[str, Any]:
    t = say(lang)
    lag = "sum by (le) (rate(netmon_scheduler_lag_seconds_bucket[$__rate_interval]))"
    age = t("Seconds since last run", "Số giây từ lần chạy trước")
    panels = [
        stat(t("Scraped", "Prometheus thu thập"),
             t("Whether Prometheus scraped netmon on its last attempt.",
               "Prometheus có thu thập được số liệu netmon ở lần gần nhất không."),
             Query('min(up{job=~"netmon.*"})', instant=True), thresholds=[(None, "red"), (1, "green")],
             mappings=ok_mappings(lang, ("scraped", "có"), ("not scraped", "không"))),
        stat(t("Checks scheduled", "Số phép kiểm tra đã lập lịch"),
             t("Checks the scheduler holds; should match the inventory.",
               "Số phép kiểm tra bộ lập lịch đang giữ; phải khớp danh mục."),
             Query("sum(netmon_checks_scheduled)", instant=True)),
        stat(t("Last config reload", "Lần nạp cấu hình gần nhất"),
             t("Rejected means the last edit of communes.yaml was refused: netmon still runs the previous "
               "inventory. Run `netmon validate` to see why.",
               "Bị từ chối nghĩa là lần sửa communes.yaml gần nhất không hợp lệ: netmon vẫn chạy danh mục "
               "cũ. "
               "Chạy `netmon validate` để xem lý do."),
             Query("min(netmon_config_last_reload_successful)", instant=True),
             thresholds=[(None, "red"), (1, "green")],
             mappings=ok_mappings(lang, ("accepted", "thành công"), ("rejected", "bị từ chối"))),
        stat(t("Data center canary", "Kiểm tra đường ra của trung tâm dữ liệu"),
             t("The data center's own uplink check. If it fails, every red site may be the prober's problem, "
               "not the commune's.",
               "Kiểm tra đường ra của chính trung tâm dữ liệu. Nếu lỗi, mọi trung tâm đỏ có thể là lỗi của "
               "máy đo chứ không phải của xã."),
             Query('min(netmon_probe_success{check="canary-core"})', instant=True),
             thresholds=[(None, "red"), (1, "green")],
             mappings=mapping((1, t("up", "hoạt động"), "green"), (0, t("down", "mất kết nối"), "red"))),
        timeseries(t("Scheduler lag", "Độ trễ bộ lập lịch"),
                   t("Delay between a check's planned and actual start. p99 above a few seconds: too many "
                     "checks "
                     "for the concurrency limit or a blocked event loop.",
                     "Chênh lệch giữa giờ dự kiến và giờ thực chạy. p99 trên vài giây: quá nhiều phép "
                     "kiểm tra "
                     "so với giới hạn song song hoặc vòng lặp sự kiện bị chặn."),
                   Query(f"histogram_quantile(0.5, {lag})", "p50"),
                   Query(f"histogram_quantile(0.99, {lag})", "p99"), unit="s"),
        timeseries(t("Check runs and skips", "Số lượt chạy và bỏ qua"),
                   t("Runs per second, and runs skipped because the previous run of the same check was still "
                     "going (overruns: raise the interval or the timeout budget).",
                     "Lượt chạy mỗi giây, và lượt bị bỏ qua vì lượt trước của cùng phép kiểm tra chưa xong "
                     "(quá giờ: tăng chu kỳ hoặc thời gian chờ)."),
                   Query("sum(rate(netmon_check_runs_total[$__rate_interval]))", t("runs", "lượt chạy")),
                   Query("sum(rate(netmon_checks_skipped_total[$__rate_interval])) or vector(0)",
                         t("skipped", "bỏ qua")), unit="ops"),
        timeseries(t("Failures by reason", "Lỗi theo nguyên nhân"),
                   t("Failed runs per second by probe and reason (timeout, refused, tls...). A sudden "
                     "jump in one "
                     "reason across many sites is one cause upstream.",
                     "Lượt lỗi mỗi giây theo loại và nguyên nhân (hết giờ, bị từ chối, tls...). Một nguyên "
                     "nhân tăng đột ngột ở nhiều nơi là một sự cố phía trên."),
                   Query("sum by (probe, reason) (rate(netmon_probe_failures_total[$__rate_interval]))",
                         "{{probe}} {{reason}}"), unit="ops"),
        timeseries(t("Run duration by probe type", "Thời gian chạy theo loại"),
                   t("Slowest last run per probe type; near the timeout means results are about to turn into "
                     "timeouts.",
                     "Lượt chạy chậm nhất theo loại; sát thời gian chờ nghĩa là sắp chuyển thành lỗi hết "
                     "giờ."),
                   Query("max by (probe) (netmon_probe_duration_seconds)", "{{probe}}"), unit="s"),
        table(t("Oldest results", "Kết quả cũ nhất"),
              t("Time since each check last ran; far above its interval means the check is stuck or not "
                "scheduled.",
                "Thời gian từ lần chạy gần nhất; vượt xa chu kỳ nghĩa là phép kiểm tra bị treo hoặc không "
                "được lập lịch."),
              Query("topk(10, time() - netmon_probe_last_run_timestamp_seconds)", instant=True, table=True,
                    column=age, unit="s"),
              sort_by=age, width=24,
              labels={"site": t("Site", "Mã trung tâm"), "check": t("Check", "Kiểm tra"),
                      "probe": t("Probe", "Loại"), "target": t("Target", "Đích"),
                      "link": t("Link", "Đường truyền")}),
    ]
    return dashboard("netmon-prober", t("netmon — prober health", "netmon — tình trạng máy đo"),
                     t("The monitoring process itself: scrape, scheduler, reloads, failures.",
                       "Chính tiến trình giám sát: thu thập, lập lịch, nạp cấu hình, lỗi."),
                     [*panels], [], lang, tags=("prober",), refresh="30s")
