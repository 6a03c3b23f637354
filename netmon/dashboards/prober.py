"""Prober health: is netmon itself measuring, before anyone trusts a red map."""

from __future__ import annotations

from typing import Any

from netmon.dashboards.builder import Query, dashboard, stat, table, timeseries


def build() -> dict[str, Any]:
    lag = "sum by (le) (rate(netmon_scheduler_lag_seconds_bucket[$__rate_interval]))"
    panels = [
        stat("Scraped", "1 if Prometheus scraped netmon on its last attempt.",
             Query('min(up{job=~"netmon.*"})', instant=True), thresholds=[(None, "red"), (1, "green")]),
        stat("Checks scheduled", "Checks the scheduler holds; should match the inventory.",
             Query("sum(netmon_checks_scheduled)", instant=True)),
        stat("Last config reload", "0 means the last edit of communes.yaml was rejected: netmon still runs "
             "the previous inventory. Run `netmon validate` to see why.",
             Query("min(netmon_config_last_reload_successful)", instant=True),
             thresholds=[(None, "red"), (1, "green")]),
        stat("Data center canary", "The data center's own uplink check. If it fails, every red site may "
             "be the prober's problem, not the commune's.",
             Query('min(netmon_probe_success{check="canary-core"})', instant=True),
             thresholds=[(None, "red"), (1, "green")]),
        timeseries("Scheduler lag", "Delay between a check's planned and actual start. p99 above a few "
                   "seconds: too many checks for the concurrency limit or a blocked event loop.",
                   Query(f"histogram_quantile(0.5, {lag})", "p50"), Query(f"histogram_quantile(0.99, {lag})",
                                                                          "p99"), unit="s"),
        timeseries("Check runs and skips", "Runs per second, and runs skipped because the previous run of "
                   "the same check was still going (overruns: raise the interval or the timeout budget).",
                   Query("sum(rate(netmon_check_runs_total[$__rate_interval]))", "runs"),
                   Query("sum(rate(netmon_checks_skipped_total[$__rate_interval])) or vector(0)", "skipped"),
                   unit="ops"),
        timeseries("Failures by reason", "Failed runs per second by probe and reason (timeout, refused, "
                   "tls...). A sudden jump in one reason across many sites is one cause upstream.",
                   Query("sum by (probe, reason) (rate(netmon_probe_failures_total[$__rate_interval]))",
                         "{{probe}} {{reason}}"), unit="ops"),
        timeseries("Run duration by probe type", "Slowest last run per probe type; near the timeout means "
                   "results are about to turn into timeouts.",
                   Query("max by (probe) (netmon_probe_duration_seconds)", "{{probe}}"), unit="s"),
        table("Oldest results", "Seconds since each check last ran; far above its interval means the check "
              "is stuck or not scheduled.",
              Query("topk(10, time() - netmon_probe_last_run_timestamp_seconds)", instant=True, table=True),
              unit="s", sort_by="Value", width=24),
    ]
    return dashboard("netmon-prober", "netmon — prober health",
                     "The monitoring process itself: scrape, scheduler, reloads, failures.",
                     panels, [], tags=("prober",), refresh="30s")
