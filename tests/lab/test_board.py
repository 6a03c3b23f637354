"""`netmon demo`'s live board in a real terminal (tmux, 80×24) on the simulated province.

A link is cut on real packets before the demo starts; the board must show, without anything typed:
the cut in what the lab injects, the center among the down ones with `netmon probe`'s diagnosis, the
counts, and the alerts a Prometheus on the shipped rules evaluates (pending within its first minute,
since the shipped `for:` durations are minutes). Ctrl-C ends it and leaves the lab (``--reuse-lab``)
as it was. The screen captured here is what docs/demo.md shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.lab import control
from tests.support import ROOT, free_port, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

CUT = "chieng-mung"


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def test_board_shows_the_cut_the_diagnosis_and_the_alerts(fresh_lab: control.Lab, tmp_path: Path) -> None:
    tmux = shutil.which("tmux")
    assert tmux, "tmux is installed by scripts/bootstrap.sh"
    fresh_lab.set(CUT, down=True)
    session = f"netmon-board-{os.getpid()}"
    command = " ".join([sys.executable, "-m", "netmon.cli", "--lang", "vi", "demo", "--reuse-lab",
                        "--listen", f"127.0.0.1:{free_port()}", f"2> {tmp_path / 'demo.err'}"])
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", "-c", str(ROOT),
                    f"exec {command}"], check=True, env={**os.environ, "TERM": "xterm-256color"})
    try:
        last = [""]

        def board() -> str:
            last[0] = screen = _capture(session)
            done = ("MẤT KẾT NỐI" in screen and "Chiềng Mung" in screen and f"{CUT}/primary ↓" in screen
                    and "SiteUnreachable Chiềng Mung" in screen)
            return screen if done else ""
        try:
            screen = wait_until(board, 150, "the board showing the cut, its center and its alert")
        except AssertionError:
            err = tmp_path / "demo.err"
            raise AssertionError(f"last screen:\n{last[0]}\nstderr:\n{err.read_text() if err.exists() else ''}") from None
        (tmp_path / "board.txt").write_text(screen, encoding="utf-8")
        rows = screen.rstrip("\n").splitlines()
        assert len(rows) <= 24 and all(len(row) <= 80 for row in rows)
        assert rows[0].startswith("netmon demo · ") and "Ctrl-C: dừng" in rows[0]
        assert rows[1].startswith("75 trung tâm: ")
        down = rows.index("MẤT KẾT NỐI")
        line = next(row for row in rows[down + 1:] if row.startswith(" Chiềng Mung"))
        assert "mất kết nối" in line
        assert rows[-1].startswith("Nhật ký dịch vụ: /"), "the service log goes to a file the board names"
        log = Path(rows[-1].removeprefix("Nhật ký dịch vụ: "))
        subprocess.run([tmux, "send-keys", "-t", session, "C-c"], check=True)
        wait_until(lambda: subprocess.run([tmux, "has-session", "-t", session],
                                          capture_output=True).returncode != 0, 30, "the demo to end")
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
        print(f"\n{(tmp_path / 'board.txt').read_text(encoding='utf-8') if (tmp_path / 'board.txt').exists() else ''}")
    assert "Traceback" not in (tmp_path / "demo.err").read_text(encoding="utf-8")
    service_log = log.read_text(encoding="utf-8")
    assert "Traceback" not in service_log and "netmon running" in service_log and "netmon stopped" in service_log
    log.unlink()
    assert control.current() is not None, "--reuse-lab leaves the lab up"
