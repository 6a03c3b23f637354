"""`netmon run` end to end on loopback: real probes, real HTTP endpoints, real Prometheus, real reloads."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support import (
    ROOT,
    free_port,
    http_post,
    http_server,
    netmon_run,
    prometheus,
    tcp_listener,
    wait_until,
)

HEADER = """\
version: 1
defaults:
  interval: {interval}
  timeout: {timeout}
  link_types:
    fiber: {{rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5, jitter_degraded: 10ms, unreachable_after: 2m}}
datacenter:
  slug: trung-tam-du-lieu
  name: Trung tâm Dữ liệu tỉnh Sơn La
  address: 127.0.0.1
  location: {{lat: 21.3256, lon: 103.9188}}
  checks:
{dc_checks}
hubs:
  - {{id: hub-mai-son, name: Trạm tập trung VNPT Mai Sơn, district: Huyện Mai Sơn, address: 127.0.1.1}}
sites:
  - slug: chieng-mung
    name: Chiềng Mung
    kind: commune
    admin_code: "04123"
    district: Huyện Mai Sơn
    location: {{lat: 21.2666, lon: 104.038}}
    upstream: hub-mai-son
    links:
      - {{id: primary, type: fiber, isp: VNPT, since: 2025-09-15, cpe: 127.0.2.1}}
    checks:
{site_checks}
"""


def write_inventory(path: Path, dc_checks: list[str], site_checks: list[str],
                    interval: str = "2s", timeout: str = "1500ms") -> Path:
    path.write_text(HEADER.format(
        interval=interval, timeout=timeout,
        dc_checks="\n".join(f"    - {c}" for c in dc_checks) or "    []",
        site_checks="\n".join(f"      - {c}" for c in site_checks) or "      []",
    ), encoding="utf-8")
    return path


def _success_by_check(samples: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {labels["check"]: value for labels, value in samples}


@pytest.mark.privileged
def test_prometheus_scrapes_every_check_series(tmp_path: Path) -> None:
    with tcp_listener("127.0.2.1") as port, http_server(200) as url:
        config = write_inventory(tmp_path / "inv.yaml",
                                 [f"{{id: web, probe: http, target: '{url}'}}"],
                                 ["{id: icmp-primary, probe: icmp, link: primary, count: 3, spacing: 50ms, "
                                  "rtt_histogram: true}",
                                  "{id: icmp-lean, probe: icmp, link: primary, count: 3, spacing: 50ms}",
                                  f"{{id: cpe-tcp, probe: tcp, link: primary, port: {port}}}"])
        with netmon_run(config, tmp_path) as netmon, \
                prometheus(tmp_path, [netmon.url.removeprefix("http://")],
                           rule_files=[ROOT / "alerts" / "recording.rules.yml"]) as prom:
            wait_until(lambda: prom.query('up{job="netmon"} == 1'), 30, "Prometheus to scrape netmon")
            expected = {
                ("trung-tam-du-lieu", "web"): "netmon_http_status_code",
                ("chieng-mung", "icmp-primary"): "netmon_icmp_rtt_seconds_count",
                ("chieng-mung", "cpe-tcp"): "netmon_tcp_connect_seconds",
            }
            for (site, check), family in expected.items():
                selector = f'{{site="{site}",check="{check}"}}'
                wait_until(lambda s=selector, f=family: prom.query(f"{f}{s}"), 30, f"{family} of {check}")
                assert prom.query(f"netmon_probe_success{selector} == 1"), check
            info = prom.query('netmon_site_info{site="chieng-mung"}')
            assert info[0]["metric"]["name"] == "Chiềng Mung"
            assert info[0]["metric"]["upstream"] == "hub-mai-son"
            # the series diet: a check exports its per-echo histogram only when asked to, and the link
            # limits come once per link type, reached through the link's info by the recording rule
            lean = '{site="chieng-mung",check="icmp-lean"}'
            wait_until(lambda: prom.query(f"netmon_icmp_rtt_median_seconds{lean}"), 30, "icmp-lean's RTT")
            assert not prom.query(f"netmon_icmp_rtt_seconds_count{lean}")
            series = prom.query(f"count({lean})")
            assert 0 < float(series[0]["value"][1]) <= 15, series
            assert len(prom.query('netmon_link_threshold{threshold="rtt_degraded"}')) == 1  # fiber only
            wait_until(lambda: prom.query('netmon:link_threshold{site="chieng-mung",link="primary",'
                                          'link_type="fiber",threshold="rtt_degraded"} == 0.05'), 30,
                       "the fiber link's limit joined to chieng-mung's primary link")


def test_targets_that_never_answer_do_not_delay_the_others(tmp_path: Path) -> None:
    closed_port = free_port()  # bound once and released: connects are refused
    with tcp_listener("127.0.2.1") as open_port, http_server(hang=True) as hanging, http_server(200) as healthy:
        config = write_inventory(tmp_path / "inv.yaml",
                                 [f"{{id: hang, probe: http, target: '{hanging}'}}",
                                  f"{{id: web, probe: http, target: '{healthy}'}}"],
                                 [f"{{id: refused, probe: tcp, link: primary, port: {closed_port}}}",
                                  f"{{id: cpe-tcp, probe: tcp, link: primary, port: {open_port}}}"])
        with netmon_run(config, tmp_path) as netmon:
            first = wait_until(lambda: _last_runs(netmon) if len(_last_runs(netmon)) == 4 else None,
                               20, "all four checks to run once")

            def advanced() -> dict[str, float] | None:
                runs = _last_runs(netmon)
                ok = runs["web"] >= first["web"] + 4 and runs["cpe-tcp"] >= first["cpe-tcp"] + 4
                return runs if ok else None

            later = wait_until(advanced, 20, "the healthy checks to keep running (two more 2 s intervals)")
            assert later["hang"] > first["hang"], "the hanging check is retried on its own schedule"
            success = _success_by_check(netmon.samples("netmon_probe_success"))
            assert success == {"hang": 0.0, "web": 1.0, "refused": 0.0, "cpe-tcp": 1.0}
            reasons = {labels["check"]: labels["reason"] for labels, _ in
                       netmon.samples("netmon_probe_failures_total")}
            assert reasons == {"hang": "timeout", "refused": "refused"}


def _last_runs(netmon) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {labels["check"]: value for labels, value in
            netmon.samples("netmon_probe_last_run_timestamp_seconds")}


def test_reload_rejects_invalid_file_and_applies_valid_one(tmp_path: Path) -> None:
    with tcp_listener("127.0.2.1") as port:
        config = write_inventory(tmp_path / "inv.yaml", [],
                                 [f"{{id: a, probe: tcp, link: primary, port: {port}}}",
                                  f"{{id: b, probe: tcp, link: primary, port: {port}}}"])
        with netmon_run(config, tmp_path) as netmon:
            wait_until(lambda: set(_last_runs(netmon)) == {"a", "b"}, 20, "checks a and b")
            before = _last_runs(netmon)

            # An invalid file: SIGHUP is rejected, the old checks keep running.
            config.write_text(config.read_text().replace("upstream: hub-mai-son", "upstream: hub-nowhere"))
            netmon.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: netmon.samples("netmon_config_last_reload_successful")[0][1] == 0.0,
                       10, "the reload to be rejected")
            wait_until(lambda: _last_runs(netmon)["a"] > before["a"] + 2, 20, "check a to keep running")
            assert "unknown hub 'hub-nowhere'" in netmon.log.read_text()
            status, body = http_post(f"{netmon.url}/-/reload")
            assert status == 500 and "sites[0].upstream" in body

            # A valid file: b removed, c added, a untouched.
            write_inventory(config, [], [f"{{id: a, probe: tcp, link: primary, port: {port}}}",
                                         f"{{id: c, probe: tcp, link: primary, port: {port}}}"])
            status, body = http_post(f"{netmon.url}/-/reload")
            assert status == 200, body
            assert "1 added, 0 changed, 1 removed" in body
            wait_until(lambda: set(_last_runs(netmon)) == {"a", "c"}, 20, "c to appear and b to vanish")
            assert netmon.samples("netmon_config_last_reload_successful")[0][1] == 1.0
