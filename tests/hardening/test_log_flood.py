"""Repeated warnings are summed up, not repeated: the skip warning once filled ~7 GB of log a day."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from netmon.runner import run_check
from probes import base
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


@dataclasses.dataclass(frozen=True, slots=True)
class CrashOptions(base.ProbeOptions):
    pass


if "test-crash" not in base.registry():

    @base.register("test-crash", CrashOptions)
    async def _crash(check: base.Check) -> base.Result:
        raise RuntimeError("a probe bug")


async def test_a_probe_crashing_every_run_logs_one_traceback_not_one_per_run(
        caplog: pytest.LogCaptureFixture) -> None:
    check = base.Check(site="t", id="crashy", probe="test-crash", target="127.0.0.1", options=CrashOptions(),
                       timeout=1)
    with caplog.at_level(logging.ERROR, logger="netmon.runner"):
        results = [await run_check(check) for _ in range(200)]
    assert {r.reason for r in results} == {"probe_error"}
    records = [r for r in caplog.records if r.name == "netmon.runner"]
    assert len(records) == 2, [r.getMessage() for r in records]
    assert records[0].exc_info is not None and "crashed on t/crashy" in records[0].getMessage()
    assert "more probe crash(es)" in records[1].getMessage()
