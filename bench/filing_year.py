"""Time of the planners' filings on a one-year store of the 75 shipped centers.

    python -m bench.filing_year [--runs 5] [--service-period]

The store is the one `bench.history_ingest` synthesizes (one year × 75 sites × 10 checks at 30 s:
daily rollups, 90 days of hourly ones, ~8,000 outages) with its sites renamed to the shipped
inventory's slugs, the primary checks' observed time as sample spans (up all year but for the
outages), plus 200 reclassifications. Timed on the path `netmon report` takes (store open,
accounting, rendering): the year's contract report, incident log (CSV) and filing (HTML, CSV,
JSON), against the existing availability report (`netmon report --by district`, table + HTML) on the
same store as the peer; runs alternate, medians reported, with the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.history_ingest import YEAR_START, synthesize_year
from exporters.history_schema import connect
from netmon.inventory import load
from netmon.report import filing, html, inventory_sites
from netmon.report import filing_text as ft
from netmon.report.accounting import Rules, account
from netmon.report.compute import build
from netmon.report.formats import table
from netmon.report.incidents import incidents
from netmon.report.reclassify import history, outage_ids
from netmon.report.store import StoreSource

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "communes.yaml"
END = YEAR_START + 365 * 86400


def store(path: Path, slugs: list[str]) -> None:
    synthesize_year(path, random.Random(2))
    conn = connect(path)
    conn.execute("BEGIN")
    for table_name in ("rollup_day", "rollup_hour", "rtt_day", "outages", "samples"):
        for i, slug in enumerate(slugs):
            conn.execute(f"UPDATE {table_name} SET site = ? WHERE site = ?", (slug, f"site-{i}"))
    ids = [i for (i,) in conn.execute("SELECT id FROM outages ORDER BY id")]
    rng = random.Random(3)
    for oid in rng.sample(ids, 200):
        conn.execute(
            "INSERT INTO reclassifications (outage_id, as_cause, reason, by, at) VALUES (?, ?, ?, ?, ?)",
            (oid, rng.choice(("maintenance", "power", "provider", "not-outage")), "bench", "bench", END),
        )
    conn.execute("COMMIT")
    conn.close()


def peer(path: Path, inventory_sites_: list, now: float) -> int:
    source = StoreSource(path)
    report = build(source, inventory_sites_, YEAR_START, END, now=now, by="district")
    size = len(table(report, "vi")) + len(html.render(report, "vi"))
    source.close()
    return size


def filings(path: Path, inventory: object, sites: list, now: float, service: bool) -> int:
    source = StoreSource(path)
    rules = Rules(inventory.spec.accounting, service_period=service)  # type: ignore[attr-defined]
    acc = account(source.outages(YEAR_START, END), history(source.conn), rules)
    items = incidents(
        sites, acc, rules.window(YEAR_START, END), outage_ids(source.conn, YEAR_START, END), now
    )
    f = filing.build(source, inventory, sites, acc, rules, items, YEAR_START, END, now)  # type: ignore[arg-type]
    size = len(ft.contract_text(f.contract, "vi")) + len(ft.incidents_csv(items, "vi"))
    size += len(filing.to_html(f, "vi")) + len(filing.to_csv(f, "vi")) + len(filing.to_json(f))
    source.close()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service-period", action="store_true")
    args = parser.parse_args()
    inventory = load(SHIPPED)
    sites = inventory_sites(inventory)
    now = END + 86400
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.db"
        store(path, [s.slug for s in sites])
        times: dict[str, list[float]] = {"peer": [], "filings": []}
        for _ in range(args.runs):
            for name in ("peer", "filings"):
                began = time.perf_counter()
                if name == "peer":
                    peer(path, sites, now)
                else:
                    filings(path, inventory, sites, now, args.service_period)
                times[name].append(time.perf_counter() - began)
    p, f = statistics.median(times["peer"]), statistics.median(times["filings"])
    load1, load5, _ = os.getloadavg()
    print(
        f"one year, 75 centers: filings (contract + incident log + filing HTML/CSV/JSON) {f:.2f} s, "
        f"peer `netmon report --by district` (table + HTML) {p:.2f} s, ratio {f / p:.2f}; "
        f"medians of {args.runs} alternating runs; load average {load1:.1f} / {load5:.1f} "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
