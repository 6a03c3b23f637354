"""Reclassification with an audit trail: a planner's after-the-fact verdict on an outage.

`netmon report reclassify OUTAGE --as power --reason "..."` appends a row to the store's
``reclassifications`` table; nothing is ever updated or deleted, so who said what, when and why
stays readable, and the outage row keeps the cause the tracker gave it. The latest entry for an
outage is the one reports apply (`netmon.report.accounting`). An entry may carry only a VNPT ticket
number and the actions taken (for the incident log) without changing the cause.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from exporters.history_schema import connect
from netmon import i18n
from netmon.report.store import HistoryMissing
from probes.errors import NetmonError

#: What a planner may call an outage after the fact (docs/report.md says what each one changes).
CAUSES = ("maintenance", "power", "provider", "not-outage")

#: An outage as reports know it: (site, link, start). The store's row id is what the CLI shows.
OutageKey = tuple[str, str, float]


@dataclass(frozen=True, slots=True)
class Reclassification:
    outage_id: int
    key: OutageKey
    original: str
    as_cause: str | None
    reason: str
    by: str
    at: float
    ticket: str | None
    actions: str | None


_TEXT = {
    "unknown": ("{path}: no outage #{outage_id} (list them with `netmon report incidents`)",
                "{path}: không có sự cố mã {outage_id} (xem danh sách bằng `netmon report incidents`)"),
    "cause": ("--as must be one of {causes}, got {cause!r}",
              "--as phải là một trong {causes}, không phải {cause!r}"),
    "reason": ("--reason must say why (it is kept in the audit trail)",
               "--reason phải nêu lý do (được lưu trong nhật ký thay đổi)"),
    "nothing": ("give --as, or at least --ticket or --actions to record",
                "hãy cho --as, hoặc ít nhất --ticket hay --actions để ghi lại"),
}


class UnknownOutage(NetmonError):
    def __init__(self, outage_id: int, path: Path):
        super().__init__(i18n.text(_TEXT, "unknown", i18n.lang(), path=path, outage_id=outage_id))


def who() -> str:
    """The person to record when ``--by`` is not given: ``$NETMON_USER``, else the login name."""
    return os.environ.get("NETMON_USER") or getpass.getuser()


def record(
    path: str | Path,
    outage_id: int,
    as_cause: str | None,
    reason: str,
    by: str,
    ticket: str | None = None,
    actions: str | None = None,
    at: float | None = None,
) -> Reclassification:
    """Append one entry (migrating the store to the schema with the table if needed)."""
    path = Path(path)
    if not path.exists():
        raise HistoryMissing(path)
    if as_cause is not None and as_cause not in CAUSES:
        raise NetmonError(i18n.text(_TEXT, "cause", i18n.lang(), causes=", ".join(CAUSES), cause=as_cause))
    if not reason.strip():
        raise NetmonError(i18n.text(_TEXT, "reason", i18n.lang()))
    if as_cause is None and not (ticket or actions):
        raise NetmonError(i18n.text(_TEXT, "nothing", i18n.lang()))
    conn = connect(path)
    try:
        if conn.execute("SELECT 1 FROM outages WHERE id = ?", (outage_id,)).fetchone() is None:
            raise UnknownOutage(outage_id, path)
        conn.execute(
            "INSERT INTO reclassifications (outage_id, as_cause, reason, by, at, ticket, actions) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (outage_id, as_cause, reason.strip(), by, time.time() if at is None else at, ticket, actions),
        )
        return history(conn)[-1]
    finally:
        conn.close()


def history(conn: sqlite3.Connection) -> list[Reclassification]:
    """Every entry, oldest first (an older store without the table has none)."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reclassifications'"
    ).fetchone()
    if not has_table:
        return []
    rows = conn.execute(
        "SELECT r.outage_id, o.site, o.link, o.start, o.cause, r.as_cause, r.reason, r.by, r.at, "
        "r.ticket, r.actions FROM reclassifications r JOIN outages o ON o.id = r.outage_id ORDER BY r.id"
    )
    return [
        Reclassification(oid, (site, link, start), cause, as_cause, reason, by, at, ticket, actions)
        for oid, site, link, start, cause, as_cause, reason, by, at, ticket, actions in rows
    ]


def outage_ids(conn: sqlite3.Connection, start: float, end: float) -> dict[OutageKey, int]:
    """Store row id of each outage overlapping ``[start, end)``: the number the CLI accepts."""
    rows = conn.execute(
        'SELECT id, site, link, start FROM outages WHERE start < ? AND ("end" IS NULL OR "end" > ?)',
        (end, start),
    )
    return {(site, link, begin): oid for oid, site, link, begin in rows}
