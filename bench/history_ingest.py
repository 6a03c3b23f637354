"""History store benchmark: ingest rate (Results/s) and the time of a one-year report.

    python -m bench.history_ingest [--hours 24] [--runs 5] [--full] [--db PATH]

1. Ingest: ``--hours`` of generated Results for 75 sites × 10 checks at 30 s (3 ICMP checks per site
   with RTTs and loss, 7 others), pushed through `HistoryWriter` (queue + writer thread + batched
   commits: rollups, outages and the observed-time sample spans, the path `netmon run` uses), with
   each check's interval in its topology as `netmon run` gives it. The queue is unbounded here and
   the drop counter must stay 0, else the rate would count Results never written. The peer, in the
   same process and alternating with it: the same Results appended as bare rows to one SQLite table
   (20,000 per transaction), what any SQLite store pays at least. Medians of ``--runs``. The
   province's real rate is ~255 checks / 30 s ≈ 8.5 Results/s.
2. One year: a store holding one year × 75 sites × 10 checks at 30 s. With ``--full`` every one of
   the 78.8 M Results is ingested (slow: about an hour); by default the daily/hourly rollup rows,
   outages and sample spans that ingest produces are generated directly in the same schema, then
   `netmon report` (all sites, by district; table and HTML) is timed on it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from exporters.history import HistoryWriter, Retention, Topology
from exporters.history_rollup import RTT_BUCKETS, day_start, rtt_bucket
from exporters.history_schema import connect
from netmon.report import html
from netmon.report import intervals as iv
from netmon.report.compute import build
from netmon.report.data import LinkInfo, SiteInfo
from netmon.report.formats import table
from netmon.report.store import StoreSource
from probes.base import Measurement, Result

SITES, CHECKS, INTERVAL = 75, 10, 30.0
ICMP = ("icmp-primary", "icmp-backup", "icmp-hub")
YEAR_START = 1_735_664_400.0  # 2025-01-01 00:00 +07:00


def sites() -> list[SiteInfo]:
    types = ("fiber", "4g", "microwave", "vsat")
    return [
        SiteInfo(
            f"site-{i}",
            f"Xã {i}",
            "commune",
            f"Huyện {i % 12}",
            f"hub-{i % 12}",
            20.8 + (i % 9) / 10,
            103.5 + (i // 9) / 8,
            (LinkInfo("primary", types[i % 4], "VNPT", datetime.date(2025, 6, 1), "primary"),),
        )
        for i in range(SITES)
    ]


def results(start: float, hours: float, rng: random.Random) -> Iterator[Result]:
    for k in range(int(hours * 3600 / INTERVAL)):
        t = start + k * INTERVAL
        for i in range(SITES):
            for c in range(CHECKS):
                ok = rng.random() > 0.01
                if c < len(ICMP):
                    ms = (
                        Measurement("netmon_icmp_rtt_seconds", 0.01 + rng.random() * 0.05),
                        Measurement("netmon_icmp_packet_loss_ratio", 0.0 if ok else 1.0),
                        Measurement("netmon_icmp_jitter_seconds", 0.002),
                    )
                    yield Result(
                        f"site-{i}",
                        ICMP[c],
                        "icmp",
                        "198.19.0.1",
                        "primary" if c == 0 else "backup",
                        ok,
                        t,
                        0.05,
                        measurements=ms if ok else ms[1:2],
                    )
                else:
                    yield Result(f"site-{i}", f"svc-{c}", "http", "198.18.0.10", "", ok, t, 0.2)


def check_ids() -> list[str]:
    return [*ICMP, *(f"svc-{c}" for c in range(len(ICMP), CHECKS))]


def bench_ingest(path: Path, hours: float) -> tuple[int, float]:
    topology = Topology(intervals={f"site-{i}/{c}": INTERVAL for i in range(SITES) for c in check_ids()})
    writer = HistoryWriter(
        path, topology, retention=Retention(hourly_days=10_000, daily_days=10_000), max_pending_rows=10**9
    )
    writer.start()
    began = time.perf_counter()
    n = 0
    for r in results(YEAR_START, hours, random.Random(1)):
        writer.publish(r)
        n += 1
    writer.flush(timeout=3600)
    elapsed = time.perf_counter() - began
    writer.close()
    if writer.status.dropped:
        raise SystemExit(f"the writer dropped {writer.status.dropped} of {n} Results: the rate is not valid")
    return n, elapsed


def bench_peer(path: Path, hours: float) -> tuple[int, float]:
    """The same Results as bare rows in one table, 20,000 per transaction: no rollups, outages or spans."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE runs (site TEXT, check_id TEXT, ts REAL, ok INTEGER)")
    began = time.perf_counter()
    n = 0
    batch: list[tuple[str, str, float, bool]] = []
    for r in results(YEAR_START, hours, random.Random(1)):
        batch.append((r.site, r.check, r.started, r.success))
        n += 1
        if len(batch) == 20_000:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?)", batch)
            conn.execute("COMMIT")
            batch = []
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?)", batch)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return n, elapsed


def synthesize_year(path: Path, rng: random.Random) -> None:
    """The rows one year of ingest leaves behind (hourly rows only for the 90 days retention keeps)."""
    conn = connect(path)
    conn.execute("BEGIN")
    day_rows, hour_rows, rtt_rows, outages = [], [], [], []
    for day in range(365):
        d = day_start(YEAR_START + day * 86400 + 1)
        for i in range(SITES):
            for c in range(CHECKS):
                check = ICMP[c] if c < len(ICMP) else f"svc-{c}"
                probe, link = ("icmp", "primary" if c == 0 else "backup") if c < len(ICMP) else ("http", "")
                day_rows.append((f"site-{i}", link, check, probe, d, 2880, 2870, 10.0, 2880, 5.0, 2870))
                if probe == "icmp":
                    rtt_rows += [
                        (f"site-{i}", check, d, b, rng.randint(50, 400))
                        for b in range(rtt_bucket(0.01), min(RTT_BUCKETS, rtt_bucket(0.06)))
                    ]
                if day >= 365 - 90:
                    hour_rows += [
                        (f"site-{i}", link, check, probe, d + h * 3600, 120, 119, 1.0, 120, 0.2, 119)
                        for h in range(24)
                    ]
            if rng.random() < 0.3:
                start = d + rng.uniform(0, 80000)
                outages.append(
                    (
                        f"site-{i}",
                        "primary",
                        start,
                        start + rng.uniform(60, 7200),
                        start,
                        rng.choice(("link", "hub", "power", "maintenance")),
                        3,
                    )
                )
    insert = "INSERT INTO rollup_{} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    conn.executemany(insert.format("day"), day_rows)
    conn.executemany(insert.format("hour"), hour_rows)
    conn.executemany("INSERT INTO rtt_day VALUES (?, ?, ?, ?, ?)", rtt_rows)
    conn.executemany(
        'INSERT INTO outages (site, link, start, "end", last_seen, cause, failures) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        outages,
    )
    # Observed time: each site's primary check up all year but for its outages, which are down spans.
    end = YEAR_START + 365 * 86400
    down: dict[str, list[iv.Span]] = {}
    for site, _, a, b, *_ in outages:
        down.setdefault(site, []).append((a, b))
    spans = []
    for i in range(SITES):
        failed = iv.merge(down.get(f"site-{i}", []))
        spans += [(f"site-{i}", "primary", ICMP[0], a, b, 1) for a, b in failed]
        up = iv.subtract([(YEAR_START, end)], failed)
        spans += [(f"site-{i}", "primary", ICMP[0], a, b, 0) for a, b in up]
    conn.executemany(
        'INSERT INTO samples (site, link, check_id, start, "end", down) VALUES (?, ?, ?, ?, ?, ?)', spans
    )
    conn.execute("UPDATE rolled_up SET upto = ?", (end,))  # the day rows hold every hour of the year
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=24.0, help="hours of Results for the ingest run")
    parser.add_argument("--runs", type=int, default=1, help="alternating writer/peer runs (median)")
    parser.add_argument(
        "--full", action="store_true", help="ingest the whole year instead of generating rows"
    )
    parser.add_argument("--db", default=None, help="keep the year store here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        real = (SITES * 3 + 12 + 6) / INTERVAL
        rates: dict[str, list[float]] = {"writer": [], "peer": []}
        for k in range(args.runs):
            for name, run in (("writer", bench_ingest), ("peer", bench_peer)):
                path = Path(tmp) / f"{name}-{k}.db"
                n, elapsed = run(path, args.hours)
                rates[name].append(n / elapsed)
                for f in Path(tmp).glob(f"{name}-{k}.db*"):
                    f.unlink()
        writer, peer = statistics.median(rates["writer"]), statistics.median(rates["peer"])
        print(
            f"ingest: {n} Results, median of {args.runs}: HistoryWriter {writer:,.0f} Results/s "
            f"({writer / real:,.0f}× the province's ~{real:.1f}/s); "
            f"bare SQLite appends {peer:,.0f} Results/s "
            f"(writer/peer {writer / peer:.2f}); runs {[round(r) for r in rates['writer']]} / "
            f"{[round(r) for r in rates['peer']]}; load average {os.getloadavg()[0]:.1f}"
        )
        year = Path(args.db) if args.db else Path(tmp) / "year.db"
        began = time.perf_counter()
        if args.full:
            bench_ingest(year, 365 * 24)
        else:
            synthesize_year(year, random.Random(2))
        print(
            f"year store built in {time.perf_counter() - began:.1f} s, "
            f"{year.stat().st_size / 1e6:.0f} MB, "
            f"{sqlite3.connect(year).execute('SELECT COUNT(*) FROM rollup_day').fetchone()[0]} daily rows"
        )
        began = time.perf_counter()
        source = StoreSource(year)
        report = build(
            source, sites(), YEAR_START, YEAR_START + 365 * 86400, now=YEAR_START + 366 * 86400, by="district"
        )
        text, page = table(report, "vi"), html.render(report, "vi")
        took = time.perf_counter() - began
        print(
            f"full-year report (75 sites, by district, table + HTML {len(page) // 1024} KiB): {took:.2f} s; "
            f"availability {report.total.availability:.5f}, {report.total.outages} outages, "
            f"{len(text.splitlines())} table lines"
        )


if __name__ == "__main__":
    main()
