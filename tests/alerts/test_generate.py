"""`netmon alerts generate`: the committed files follow the inventory; maintenance windows render right."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from netmon import alerting
from netmon.inventory import ConfigError, load
from netmon.inventory.model import MaintenanceWindow
from tests.alerts import province
from tests.support import ROOT, require_binary


def netmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_committed_files_match_the_inventory() -> None:
    inventory = load(ROOT / "config" / "communes.yaml")
    assert list(alerting.stale(inventory, ROOT / "alerts")) == [], "run `netmon alerts generate` and commit"
    assert netmon("alerts", "generate", "--check").returncode == 0


def test_check_fails_on_stale_files_until_generated(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    shutil.copy(ROOT / "alerts" / "alertmanager.base.yml", alerts)
    config = province.write(tmp_path / "inventory.yaml", 9)
    args = ("alerts", "generate", "--config", str(config), "--alerts-dir", str(alerts))
    stale = netmon(*args, "--check")
    assert stale.returncode == 1 and "out of date" in stale.stderr
    in_vietnamese = netmon("--lang", "vi", *args, "--check")
    assert in_vietnamese.returncode == 1 and "chưa khớp" in in_vietnamese.stderr
    assert "out of date" not in in_vietnamese.stderr
    written = netmon(*args, "--lang", "vi")
    assert written.returncode == 0 and written.stdout.startswith("đã ghi ")
    assert netmon(*args, "--check").returncode == 0
    province.write(config, 9, unreachable_after="3m")
    assert netmon(*args, "--check").returncode == 1


def test_unreachable_delay_follows_each_link_type() -> None:
    inventory = load(ROOT / "config" / "communes.yaml")
    rules = alerting.availability_rules(inventory)["groups"][0]["rules"]
    limits = inventory.spec.defaults.link_types
    site_rules = [r for r in rules if r.get("alert") == "SiteUnreachable"]
    # counted from each check's first failed run (netmon:site_down_seconds), not by a `for:` from first sight
    # (to the scheduler's slot: runs scheduled that far apart start a few ms late or early)
    for rule in site_rules:
        assert "for" not in rule
        proven = limits[rule["labels"]["link_type"]].unreachable_after - alerting.RUN_SLACK
        assert f"netmon:site_down_seconds >= {proven:g})" in rule["expr"]
    assert {"fiber", "vsat"} <= {r["labels"]["link_type"] for r in site_rules}
    # the hub is counted like a center, at the shortest delay: a shorter hub outage never pages either
    hub = next(r for r in rules if r.get("alert") == "HubUnreachable")
    shortest = min(limits[r["labels"]["link_type"]].unreachable_after for r in site_rules)
    assert "for" not in hub and f"netmon:hub_down_seconds >= {shortest - alerting.RUN_SLACK:g})" in hub["expr"]


@pytest.mark.parametrize(("seconds", "text"), [(120, "2m"), (90, "90s"), (3600, "1h"), (0.5, "500ms"), (3, "3s")])
def test_prom_duration(seconds: float, text: str) -> None:
    assert alerting.prom_duration(seconds) == text


def test_one_off_window_spanning_midnight_becomes_two_days() -> None:
    window = MaintenanceWindow(reason="thay cáp quang", start=datetime(2026, 12, 1, 22), end=datetime(2026, 12, 2, 4))
    assert alerting.time_intervals(window) == [
        {"years": ["2026"], "months": ["12"], "days_of_month": ["1"],
         "times": [{"start_time": "22:00", "end_time": "24:00"}], "location": "Asia/Ho_Chi_Minh"},
        {"years": ["2026"], "months": ["12"], "days_of_month": ["2"],
         "times": [{"start_time": "00:00", "end_time": "04:00"}], "location": "Asia/Ho_Chi_Minh"},
    ]


def test_window_with_offset_is_converted_to_local_time() -> None:
    window = MaintenanceWindow(reason="x", start=datetime(2026, 12, 1, 1, tzinfo=UTC),
                               end=datetime(2026, 12, 1, 2, tzinfo=UTC))
    (entry,) = alerting.time_intervals(window)
    assert entry["times"] == [{"start_time": "08:00", "end_time": "09:00"}]


def test_recurring_window() -> None:
    window = MaintenanceWindow(reason="bảo trì định kỳ", weekdays=["sunday"], time="22:00-24:00")
    assert alerting.time_intervals(window) == [{"weekdays": ["sunday"], "location": "Asia/Ho_Chi_Minh",
                                                "times": [{"start_time": "22:00", "end_time": "24:00"}]}]


@pytest.mark.parametrize("window", [
    {"reason": "x"},
    {"reason": "x", "start": "2026-12-01T22:00"},
    {"reason": "x", "start": "2026-12-01T22:00", "end": "2026-12-01T21:00"},
    {"reason": "x", "weekdays": ["sunday"], "time": "23:00-22:00"},
    {"reason": "x", "weekdays": ["sunday"], "time": "22:00-24:00", "start": "2026-12-01T22:00"},
])
def test_invalid_windows_are_config_errors(tmp_path: Path, window: dict[str, str]) -> None:
    config = province.write(tmp_path / "inventory.yaml", 9, maintenance={"ta-xua": [window]})
    with pytest.raises(ConfigError) as exc:
        load(config)
    assert "sites[1].maintenance[0]" in str(exc.value)


def test_maintenance_routes_mute_site_and_everything_behind_a_hub(tmp_path: Path) -> None:
    week = {"reason": "x", "weekdays": ["sunday"], "time": "22:00-24:00"}
    once = {"reason": "y", "start": "2026-12-01T22:00", "end": "2026-12-02T04:00"}
    inventory = load(province.write(tmp_path / "inventory.yaml", 9,
                                    maintenance={"hub-b": [week], "muong-bu": [once]}))
    base = yaml.safe_load((ROOT / "alerts" / "alertmanager.base.yml").read_text())
    config = alerting.alertmanager_config(inventory, base)
    assert [t["name"] for t in config["time_intervals"]] == ["maintenance-hub-b", "maintenance-muong-bu"]
    for team in config["route"]["routes"]:
        assert team["routes"][:2] == [
            # the site's own route (first match wins) carries its hub's windows too
            {"matchers": ['site="muong-bu"'], "mute_time_intervals": ["maintenance-muong-bu", "maintenance-hub-b"]},
            {"matchers": ['hub="hub-b"'], "mute_time_intervals": ["maintenance-hub-b"]},
        ]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run([require_binary("amtool"), "check-config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_no_windows_leaves_the_base_alone(tmp_path: Path) -> None:
    inventory = load(province.write(tmp_path / "inventory.yaml", 9))
    base = yaml.safe_load((ROOT / "alerts" / "alertmanager.base.yml").read_text())
    assert alerting.alertmanager_config(inventory, base) == base


def test_window_mixing_local_and_offset_times() -> None:
    window = MaintenanceWindow(reason="x", start=datetime(2026, 12, 1, 10), end=datetime(2026, 12, 1, 4, tzinfo=UTC))
    (entry,) = alerting.time_intervals(window)
    assert entry["times"] == [{"start_time": "10:00", "end_time": "11:00"}]


@pytest.mark.parametrize(("base", "said"), [
    ("route: [\n", "alertmanager.base.yml:2: (yaml): YAML không hợp lệ"),
    ("global: {}\n", "alertmanager.base.yml:1: route: cấu hình Alertmanager cần một ánh xạ route:"),
])
def test_a_broken_alertmanager_base_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, base: str, said: str) -> None:
    """The operator's alertmanager.base.yml with a syntax error or without a route ended `netmon alerts
    generate` in a YAMLError/TypeError traceback."""
    from netmon.cli import main

    (tmp_path / "alertmanager.base.yml").write_text(base)
    monkeypatch.setenv("NETMON_LANG", "vi")  # restored afterwards: main() sets it from --lang
    assert main(["--lang", "vi", "alerts", "generate", "--check", "--alerts-dir", str(tmp_path)]) == 1
    assert f"{tmp_path}/{said}" in capsys.readouterr().err


def test_a_directory_it_may_not_write_is_said_so(tmp_path: Path) -> None:
    """A user other than the package's owner generating into the installed alerts/ (the default from another
    directory) was told "cannot read it (Permission denied)" of the file it failed to write. Root writes
    anywhere, so here generated/ is a plain file."""
    shutil.copy(ROOT / "alerts" / "alertmanager.base.yml", tmp_path)
    (tmp_path / "generated").write_text("")
    args = ("alerts", "generate", "--config", str(province.write(tmp_path / "inventory.yaml", 9)),
            "--alerts-dir", str(tmp_path))
    done = netmon(*args)
    assert done.returncode == 1 and done.stderr.startswith(
        f"{tmp_path / 'generated'}: cannot write it (File exists); --alerts-dir names a directory laid out like "
        "alerts/ that you may write"), done.stderr
    done = netmon("--lang", "vi", *args)
    assert done.returncode == 1 and done.stderr.startswith(
        f"{tmp_path / 'generated'}: không ghi được (đã có một tệp cùng tên); --alerts-dir phải là thư mục có "
        "cấu trúc như alerts/ mà bạn được ghi"), done.stderr
