"""Repeated warnings are summed up, not repeated: the skip warning once filled ~7 GB of log a day."""

from __future__ import annotations

from pathlib import Path

from tests.netmon.test_service import write_inventory
from tests.support import http_server, netmon_run, wait_until


def test_skipped_runs_are_one_summary_line_not_one_line_each(tmp_path: Path) -> None:
    with http_server(hang=True) as url:
        # Six checks that each hold the only concurrency slot for 0.9 s of every 1 s: most runs are skipped.
        checks = [f"{{id: hang-{i}, probe: http, target: '{url}'}}" for i in range(6)]
        config = write_inventory(tmp_path / "inv.yaml", checks, [], interval="1s", timeout="900ms")
        with netmon_run(config, tmp_path, "--no-history", "--max-concurrency", "1") as netmon:
            def skipped() -> float:
                return sum(v for _, v in netmon.samples("netmon_checks_skipped_total"))
            wait_until(lambda: skipped() >= 30, 30, "30 skipped runs")
            log = netmon.log.read_text()
    lines = [line for line in log.splitlines() if "skipped" in line]
    assert len(lines) == 1, lines
    assert "check(s) skipped since the last such warning" in lines[0] and "hang-" in lines[0]
