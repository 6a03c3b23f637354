"""A site's own normal, read from the history store when there is one (``--history`` / NETMON_HISTORY).

Optional by design: the CLI must work on a technician's laptop with no store at all, so a missing
file, an unreadable one or a store without rows for the check simply means "no baseline".
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import time
from pathlib import Path

from exporters.history_rollup import percentile
from exporters.history_schema import connect, day_tables
from netmon.agent import view as agent_view
from netmon.diagnose.plan import Plan, Row
from probes.verdict import Baseline

log = logging.getLogger("netmon.diagnose")

#: Days of daily rollups that define "usual"; recent enough to follow an upgrade, long enough to be stable.
WINDOW_DAYS = 14


def load(path: str | Path, site: str, check: str, now: float | None = None) -> Baseline | None:
    """Median RTT and mean loss of ``site``/``check`` over the last `WINDOW_DAYS` days, or None."""
    if not Path(path).is_file():
        return None
    since = (now or time.time()) - WINDOW_DAYS * 86_400
    try:
        conn = connect(path, readonly=True)
    except (sqlite3.Error, RuntimeError) as exc:
        log.warning("history store %s unreadable, no baseline: %s", path, exc)
        return None
    try:
        rollup_day, rtt_day = day_tables(conn)
        days, loss_sum, loss_n = conn.execute(
            f"SELECT COUNT(DISTINCT ts), SUM(loss_sum), SUM(loss_n) FROM {rollup_day} "
            "WHERE site=? AND check_id=? AND ts>=?",
            (site, check, since)).fetchone()
        buckets = dict(conn.execute(
            f"SELECT bucket, SUM(n) FROM {rtt_day} WHERE site=? AND check_id=? AND ts>=? GROUP BY bucket",
            (site, check, since)).fetchall())
    except sqlite3.Error as exc:
        log.warning("history store %s: %s; no baseline", path, exc)
        return None
    finally:
        conn.close()
    if not days:
        return None
    return Baseline(percentile(buckets, 0.5) if buckets else None,
                    loss_sum / loss_n if loss_n else None, int(days))


def power_outage(path: str | Path, site: str) -> bool:
    """Whether the store has an open outage of ``site`` whose cause is ``power`` (decided by the history
    from the UPS's on-battery reports before the link died)."""
    if not Path(path).is_file():
        return False
    try:
        conn = connect(path, readonly=True)
    except (sqlite3.Error, RuntimeError):
        return False
    try:
        found = conn.execute('SELECT 1 FROM outages WHERE site=? AND "end" IS NULL AND cause=?',
                             (site, "power")).fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return found is not None


def attach(plan: Plan, path: str | Path | None) -> Plan:
    """``plan`` with each site check's baseline filled in from the store at ``path`` (if any), whether
    the site is in a power outage by the store's account, and what its edge agent saw (if it has one)."""
    if not path:
        return plan
    rows = [Row(r.role, r.check, r.limits, load(path, r.check.site, r.check.id)) if r.role == "site" else r
            for r in plan.rows]
    site = plan.place.site.slug if plan.place and plan.place.site else None
    try:
        agent = agent_view.read(path, site) if site else None
    except (sqlite3.Error, RuntimeError) as exc:
        log.warning("history store %s: %s; no agent view", path, exc)
        agent = None
    return dataclasses.replace(plan.with_rows(rows), power_outage=bool(site and power_outage(path, site)),
                               agent=agent)
