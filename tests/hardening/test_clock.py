"""The wall clock stepped backwards must not stop probing; a stalled scheduler is a metric and an alert.

libfaketime (Debian ``libfaketime``) moves only `netmon run`'s wall clock, 120 s back, while the process
runs; its monotonic clock (``FAKETIME_DONT_FAKE_MONOTONIC``) and the host's clock stay untouched, as with
an NTP step on a prober whose RTC drifted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hardening.peers import netmon_secure
from tests.netmon.test_service import write_inventory
from tests.support import ROOT, http_server, require_binary, wait_until

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def faketime_env(offset_file: Path) -> dict[str, str]:
    """Environment for a process whose wall clock follows the offset written in ``offset_file``."""
    if not LIBFAKETIME.exists():
        raise AssertionError("libfaketime is not installed; scripts/bootstrap.sh installs it (apt-get)")
    offset_file.write_text("+0\n")
    return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset_file),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


@pytest.mark.slow
def test_checks_keep_running_when_the_wall_clock_steps_back(tmp_path: Path) -> None:
    offset = tmp_path / "faketime"
    with http_server(200) as url:
        config = write_inventory(tmp_path / "inv.yaml", [
            f"{{id: web, probe: http, target: '{url}'}}",
            f"{{id: web2, probe: http, target: '{url}', interval: 1s}}"], [], interval="1s", timeout="500ms")
        with netmon_secure(config, tmp_path, None, env=faketime_env(offset)) as netmon:
            def runs() -> float:
                return sum(v for _, v in netmon.samples("netmon_check_runs_total"))
            before = wait_until(lambda: runs() >= 4 and runs(), 20, "the first runs")
            offset.write_text("-120\n")
            # Two checks at 1 s: ten more runs take about 5 s when nothing stalls.
            wait_until(lambda: runs() >= before + 10, 15, "checks to keep running after the clock step")
            idle = [v for _, v in netmon.samples("netmon_scheduler_seconds_since_last_run")]
    assert idle and 0 <= idle[0] < 2, idle


def test_checks_not_running_alert() -> None:
    """The shipped ProberUnhealthy{cause="checks-not-running"} fires on a stalled scheduler, not on a quiet one."""
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "test", "rules", "prober_faults_test.yml"],
                            cwd=ROOT / "alerts" / "tests", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
