"""Which side saw an outage, read from a real history store."""

from __future__ import annotations

from pathlib import Path

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
