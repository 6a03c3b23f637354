"""Which side saw an outage, read from a real history store."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.history import save_outages
from exporters.history_outages import Outage
from exporters.history_schema import connect
from netmon.agent.sides import seen_by


def test_both_center_only_agent_only(tmp_path: Path) -> None:
    conn = connect(tmp_path / "h.db")
    save_outages(conn, [
        Outage("muong-lan", "primary", 1000, 1290, 1300, "link", 9),   # the cut...
        Outage("muong-lan", "agent", 1010, 1280, 1290, "link", 8),     # ...seen from inside too
        Outage("muong-lan", "primary", 5000, 5590, 5600, "power", 19),  # the agent was dead: no record
        Outage("chieng-an", "agent", 7000, 7100, 7120, "link", 4),      # the center could not get out
        Outage("hub-quynh-nhai", "", 100, 200, 200, "link", 3),         # a hub: not a site's
    ], [])
    got = [(o.site, o.link, o.start, o.seen_by) for o in seen_by(conn, 0, 10_000)]
    assert got == [("muong-lan", "primary", 1000, "both"), ("muong-lan", "primary", 5000, "center"),
                   ("chieng-an", "agent", 7000, "agent")]
    assert [o.site for o in seen_by(conn, 0, 10_000, site="chieng-an")] == ["chieng-an"]


def test_the_outages_command_names_the_cause_in_the_users_language(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`netmon --lang vi agent outages` printed the store's raw cause ('power')."""
    import time

    from netmon.cli import main

    store = tmp_path / "h.db"
    conn = connect(store)
    now = time.time()
    save_outages(conn, [Outage("muong-lan", "primary", now - 600, now - 60, cause="power", failures=5)], [])
    conn.close()
    monkeypatch.setenv("NETMON_LANG", "vi")  # restored afterwards: main() sets it from --lang
    assert main(["--lang", "vi", "agent", "outages", "--history", str(store)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith("muong-lan") and "  mất điện  " in row, row
