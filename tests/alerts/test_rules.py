"""The shipped rules: valid for promtool, unit-tested firing and not firing, and fit for a technician."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT, require_binary

ALERTS = ROOT / "alerts"
RULE_FILES = [ALERTS / "recording.rules.yml", ALERTS / "netmon.rules.yml", ALERTS / "accounting.rules.yml",
              ALERTS / "generated" / "site-availability.rules.yml"]
UNIT_TESTS = sorted((ALERTS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"


def alert_rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    """Lint warnings fail too: `promtool check rules` prints "FAILED" for them while exiting 0."""
    result = subprocess.run([require_binary("promtool"), "check", "rules", "--lint=all", "--lint-fatal",
                             *map(str, RULE_FILES)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run([require_binary("promtool"), "test", "rules", *map(str, UNIT_TESTS)],
                            capture_output=True, text=True, cwd=ALERTS / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TESTS)


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested staying quiet"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_carries_what_a_technician_needs(rule: dict[str, Any]) -> None:
    labels, notes = rule["labels"], rule["annotations"]
    assert labels["severity"] in ("critical", "warning", "info")
    assert labels["team"] in ("vnpt", "province-office", "cipher")
    assert notes["summary"] and notes["summary_vi"] and notes["summary"] != notes["summary_vi"]
    assert re.search(r"[ạảãáàâấầẩẫậăắằẳẵặđẹẻẽéèêếềểễệịỉĩíìọỏõóòôốồổỗộơớờởỡợụủũúùưứừửữựỵỷỹýỳ]",
                     notes["summary_vi"].lower()), "summary_vi is not Vietnamese"
    anchor = rule["alert"].lower()
    assert notes["runbook_url"] == f"docs/runbook.md#{anchor}"
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", RUNBOOK.read_text(), re.M)}
    assert anchor in headings, f"docs/runbook.md has no section '## {rule['alert']}'"
    if labels["team"] in ("vnpt", "cipher") and rule["alert"] != "ProberIsolated":
        # a technician needs to know where to go: the Vietnamese name and the hub come with every site alert
        assert "group_left (name, kind, link_type, isp, upstream, hub)" in " ".join(rule["expr"].split())


def test_unit_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    """The unit tests fail when the per-link-type join is replaced by one fixed limit."""
    broken = tmp_path / "alerts"
    (broken / "tests").mkdir(parents=True)
    (broken / "generated").mkdir()
    text = (ALERTS / "netmon.rules.yml").read_text()
    join = 'on (site, link) group_left () netmon:link_threshold{threshold="rtt_degraded"}'
    assert join in text
    (broken / "netmon.rules.yml").write_text(text.replace(join, "1", 1))
    for name in ("recording.rules.yml", "generated/site-availability.rules.yml"):
        (broken / name).write_text((ALERTS / name).read_text())
    for path in UNIT_TESTS:
        (broken / "tests" / path.name).write_text(path.read_text())
    result = subprocess.run([require_binary("promtool"), "test", "rules", "links_test.yml"],
                            capture_output=True, text=True, cwd=broken / "tests")
    assert result.returncode != 0
    assert "LatencyHigh" in result.stdout + result.stderr
