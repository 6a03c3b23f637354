"""Any problem while loading the inventory is a configuration error naming file and line — in
`validate`, `probe`, `run`, and on a running service's SIGHUP or POST /-/reload (issue #15, case 8:
an impossible date crashed all of them with a traceback)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netmon.test_service import write_inventory
from tests.support import ROOT, http_post, netmon_run, wait_until

BROKEN = ROOT / "tests" / "fixtures" / "inventory" / "broken-impossible-date.yaml"
WHERE = f"{BROKEN}:34: sites[0].links[0].since: Input should be a valid date or datetime, month value"


@pytest.mark.parametrize(("argv", "code"), [
    (["validate", str(BROKEN)], 1),
    (["probe", "chieng-mung", "--config", str(BROKEN)], 3),
    (["run", "--config", str(BROKEN), "--no-history", "--listen", "127.0.0.1:0"], 1),
])
def test_an_impossible_date_is_a_config_error_with_file_and_line(argv: list[str], code: int) -> None:
    done = subprocess.run([sys.executable, "-m", "netmon.cli", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert WHERE in done.stdout + done.stderr
    assert done.returncode == code


def test_reloading_an_impossible_date_is_rejected_and_said(tmp_path: Path) -> None:
    config = write_inventory(tmp_path / "inv.yaml", [], [])
    good = config.read_text()
    broken = good.replace("since: 2025-09-15", "since: 2025-13-45")
    assert broken != good
    with netmon_run(config, tmp_path, "--no-history") as netmon:
        def reload_ok() -> float:
            return netmon.samples("netmon_config_last_reload_successful")[0][1]
        config.write_text(broken)
        netmon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reload_ok() == 0.0, 10, "the SIGHUP reload to be rejected")
        status, body = http_post(f"{netmon.url}/-/reload")
        assert status == 500 and f"{config}:" in body and "month value is outside" in body, body
        config.write_text(good)
        assert http_post(f"{netmon.url}/-/reload")[0] == 200 and reload_ok() == 1.0
        log = netmon.log.read_text()
    assert "Traceback" not in log and "exception was never retrieved" not in log, log
