"""The planners' filings against rounds the lab oracle recorded (`bench/oracle.py --work DIR`).

    python -m bench.filing_oracle DIR/round-3000 DIR/round-3001 ...

Each round directory entry holds the round's inventory (``.yaml``), its history store (``.db``), the
report's window (``.json``), the lab's event log (``.events.jsonl``) and the round itself
(``.meta.json``). For every injected stretch of a site's primary link (or its hub) long enough that
it must be an outage (longer than ``2 * interval + BURST``, not touching the window's ends), the
incident log must hold exactly one incident whose start and end are within the oracle's tau
(``interval + BURST``). Then, on a copy of the store, the longest one is reclassified as a power cut:
the citizens' availability must not move and the contract availability must rise by exactly that
incident's share of the observed time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from netmon.inventory import load
from netmon.lab import events
from netmon.lab.oracle import BURST, primary_links
from netmon.report import intervals as iv
from netmon.report import inventory_sites
from netmon.report.accounting import Rules, account
from netmon.report.compute import observed_spans
from netmon.report.contract import LinkContract, build_contract
from netmon.report.incidents import Incident, incidents
from netmon.report.reclassify import history, outage_ids, record
from netmon.report.store import StoreSource


def _contract(store: Path, round_: dict, site: str, link: str) -> LinkContract:
    source = StoreSource(store)
    acc = account(source.outages(round_["t0"], round_["t1"]), history(source.conn), round_["rules"])
    report = build_contract(
        source,
        round_["inventory"],
        round_["sites"],
        acc,
        round_["rules"],
        round_["t0"],
        round_["t1"],
        round_["t1"] + 3600,
    )
    source.close()
    return next(lc for lc in report.links if lc.site.slug == site and lc.link == link)


def check(base: Path) -> tuple[int, int, list[str], bool]:
    """(found, expected, problems, whether the reclassification was checked) for one recorded round."""
    window = json.loads(base.with_suffix(".json").read_text())
    interval = json.loads(base.with_suffix(".meta.json").read_text())["round"]["interval"]
    t0, t1, tau = window["start"], window["end"], interval + BURST
    log = [json.loads(line) for line in base.with_suffix(".events.jsonl").read_text().splitlines()]
    inventory = load(base.with_suffix(".yaml"))
    sites = inventory_sites(inventory)
    rules = Rules(inventory.spec.accounting)
    source = StoreSource(base.with_suffix(".db"))
    acc = account(source.outages(t0, t1), history(source.conn), rules)
    items = incidents(sites, acc, rules.window(t0, t1), outage_ids(source.conn, t0, t1), t1 + 3600)
    source.close()
    found = expected = 0
    problems: list[str] = []
    longest: tuple[float, Incident] | None = None
    checked = False
    for site, (link, hub) in primary_links(base.with_suffix(".yaml")).items():
        mine = [i for i in items if i.site.slug == site and i.outage.link == link]
        truth = iv.merge(
            events.down_spans(log, "link", f"{site}/{link}", t1) + events.down_spans(log, "hub", hub, t1)
        )
        for a, b in iv.intersect(truth, [(t0 + tau, t1 - tau)]):
            if b - a <= 2 * interval + BURST or (a, b) not in truth:
                continue
            expected += 1
            hits = [
                i
                for i in mine
                if abs(i.outage.start - a) <= tau and i.outage.end and abs(i.outage.end - b) <= tau
            ]
            if len(hits) == 1:
                found += 1
                if hits[0].id is not None and (longest is None or b - a > longest[0]):
                    longest = (b - a, hits[0])
            else:
                problems.append(
                    f"{base.name} {site}: injected {a - t0:.1f}-{b - t0:.1f} s, incidents "
                    f"{[(round(i.outage.start - t0, 1), round((i.outage.end or t1) - t0, 1)) for i in mine]}"
                )
    if longest is not None:
        inc = longest[1]
        round_ = {"t0": t0, "t1": t1, "rules": rules, "inventory": inventory, "sites": sites}
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "history.db"
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{base.with_suffix('.db')}{suffix}")
                if src.exists():
                    shutil.copy(src, f"{copy}{suffix}")
            before = _contract(copy, round_, inc.site.slug, inc.outage.link)
            assert inc.id is not None
            record(copy, inc.id, "power", "bench.filing_oracle", "bench")
            after = _contract(copy, round_, inc.site.slug, inc.outage.link)
        if before.availability is not None and after.availability is not None:
            # The share of observed time the incident covered (observed: the runs' sample spans).
            source = StoreSource(base.with_suffix(".db"))
            seen, _ = observed_spans(source.samples(t0, t1), inc.site.slug, inc.outage.link)
            source.close()
            span = (inc.outage.start, inc.outage.end or t1)
            share = (
                iv.total(iv.intersect(iv.intersect(seen, [(t0, t1)]), [span])) / after.contract.observed_excl
            )
            checked = True
            if before.service.availability != after.service.availability:
                problems.append(
                    f"{base.name} {inc.site.slug}: citizens' availability moved on reclassification"
                )
            if abs(after.availability - before.availability - share) > 1e-9:
                problems.append(
                    f"{base.name} {inc.site.slug}: contract rose by "
                    f"{after.availability - before.availability:.9f}, expected {share:.9f}"
                )
    return found, expected, problems, checked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rounds", nargs="+", help="round paths without suffix, e.g. /tmp/oracle/round-3000")
    args = parser.parse_args()
    found = expected = reclassified = 0
    problems: list[str] = []
    for name in args.rounds:
        f, e, p, checked = check(Path(name))
        found, expected, problems, reclassified = (
            found + f,
            expected + e,
            problems + p,
            reclassified + checked,
        )
    print("\n".join(problems))
    print(
        f"{found}/{expected} injected outages in the incident log within tau; reclassification checked in "
        f"{reclassified} rounds (the others' site was below the coverage floor); {len(problems)} problems "
        f"in {len(args.rounds)} rounds"
    )


if __name__ == "__main__":
    main()
