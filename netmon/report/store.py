"""`Source` over the SQLite history store (read-only; safe while `netmon run` writes)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from exporters.history_outages import Window
from exporters.history_rollup import day_start, hour_start
from exporters.history_samples import SampleSpan
from exporters.history_schema import connect, day_tables
from netmon import i18n
from netmon.inventory import wording
from netmon.report.data import OutageEvent, Rollup
from probes.errors import NetmonError
from probes.wording import say

_MISSING = (
    "no history store at {path} (start `netmon run --history {path}` first, or give --history / --source "
    "prometheus)",
    "không có kho lịch sử tại {path} (hãy chạy `netmon run --history {path}` trước, hoặc chỉ định "
    "--history / --source prometheus)",
)

_UNREADABLE = ("{path}: not a readable history store ({reason})",
               "{path}: không phải kho lịch sử đọc được ({reason})")


class HistoryMissing(NetmonError):
    def __init__(self, path: Path):
        super().__init__(say(_MISSING, i18n.lang(), path=path))


class StoreSource:
    """Reads outages and rollups for a range: whole local days from the daily rows (with the hours
    not rolled up into them yet, `day_tables`), the partial days at either end from the hourly ones
    (so a one-year report reads ~365 rows per check)."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.exists():
            raise HistoryMissing(path)
        self.conn = connect(path, readonly=True)
        rollup_day, rtt_day = day_tables(self.conn)
        self._tables = {"hour": ("rollup_hour", "rtt_hour"), "day": (rollup_day, rtt_day)}

    def close(self) -> None:
        self.conn.close()

    def outages(self, start: float, end: float) -> list[OutageEvent]:
        rows = self.conn.execute(
            'SELECT site, link, start, "end", cause FROM outages '
            'WHERE start < ? AND ("end" IS NULL OR "end" > ?) ORDER BY start',
            (end, start),
        )
        return [OutageEvent(*row) for row in rows]

    def samples(self, start: float, end: float) -> list[SampleSpan]:
        """Spans from the ``samples`` table; a store written before it existed has none (not observed)."""
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'samples'").fetchone():
            return []
        rows = self.conn.execute(
            'SELECT site, link, check_id, start, "end", down FROM samples WHERE "end" > ? AND start < ?',
            (start, end),
        )
        return [SampleSpan(site, link, check, a, b, bool(down)) for site, link, check, a, b, down in rows]

    def maintenance(self) -> list[Window]:
        return [
            Window(*row) for row in self.conn.execute('SELECT site, start, "end", reason FROM maintenance')
        ]

    def rollups(self, start: float, end: float) -> dict[tuple[str, str], Rollup]:
        first_day = day_start(start)
        if first_day < start:
            first_day += 86400
        last_day = day_start(end)
        out: dict[tuple[str, str], Rollup] = {}
        if first_day < last_day:
            self._read(out, "day", first_day, last_day)
            self._read(out, "hour", hour_start(start), first_day)
            self._read(out, "hour", last_day, end)
        else:
            self._read(out, "hour", hour_start(start), end)
        return out

    def _read(self, out: dict[tuple[str, str], Rollup], grain: str, start: float, end: float) -> None:
        if start >= end:
            return
        c = self.conn
        rollup, rtt = self._tables[grain]
        for site, runs in c.execute(
            f"SELECT site, SUM(runs) FROM {rollup} WHERE ts >= ? AND ts < ? GROUP BY site", (start, end)
        ):
            out.setdefault((site, "*"), Rollup()).runs += runs
        query = (
            f"SELECT site, link, ts, SUM(runs), SUM(ok), SUM(loss_sum), SUM(loss_n), SUM(jitter_sum), "
            f"SUM(jitter_n) FROM {rollup} WHERE ts >= ? AND ts < ? AND probe = 'icmp' "
            "GROUP BY site, link, ts"
        )
        for site, link, _ts, runs, ok, loss_sum, loss_n, jitter_sum, jitter_n in c.execute(
            query, (start, end)
        ):
            r = Rollup(
                runs=runs,
                ok=ok,
                loss_sum=loss_sum,
                loss_n=loss_n,
                jitter_sum=jitter_sum,
                jitter_n=jitter_n,
                daily_loss=[loss_sum / loss_n] if grain == "day" and loss_n else [],
            )
            out.setdefault((site, link), Rollup()).merge(r)
        links = {
            (site, check): link
            for site, check, link in c.execute(
                f"SELECT DISTINCT site, check_id, link FROM {rollup} "
                "WHERE ts >= ? AND ts < ? AND probe = 'icmp'",
                (start, end),
            )
        }
        hist: dict[tuple[str, str], Counter[int]] = {}
        for site, check, bucket, n in c.execute(
            f"SELECT site, check_id, bucket, SUM(n) FROM {rtt} "
            "WHERE ts >= ? AND ts < ? GROUP BY site, check_id, bucket",
            (start, end),
        ):
            link = links.get((site, check))
            if link is not None:
                hist.setdefault((site, link), Counter())[bucket] += n
        for key, counter in hist.items():
            out.setdefault(key, Rollup()).rtt.update(counter)


def open_store(path: str | Path) -> StoreSource:
    try:
        return StoreSource(path)
    except sqlite3.DatabaseError as exc:
        language = i18n.lang()
        why = wording.reason(str(exc), language)
        raise NetmonError(say(_UNREADABLE, language, path=path, reason=why)) from None
