"""The planners' filings end to end on the lab, through the planners'-truth oracle.

A round of two cuts and one quiet site runs on the session lab under a real `netmon run --history`
(`netmon.lab.oracle.run`, which also checks `netmon report` against the lab's event log). Then the
incident log must hold each injected cut within the oracle's tolerance, and after a planner
reclassifies one of them as a power cut, the contract report must stop counting it against the
provider while the citizens' availability still shows it, and `netmon report` must show the same
verdict and the same citizens' figure.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from netmon.cli import main
from netmon.inventory import load
from netmon.lab import control, events, oracle, topology
from netmon.report.intervals import LOCAL_TZ
from tests.lab.fixtures import INVENTORY

pytestmark = pytest.mark.privileged

SEED = 1901


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, LOCAL_TZ).isoformat()


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_filings_match_what_the_lab_injected(
    fresh_lab: control.Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = topology.plan(load(INVENTORY))
    fast = sorted(lk.site for lk in plan.links if lk.role == "primary" and lk.type in oracle.FAST)
    cut_long, cut_short, quiet = fast[0], fast[7], fast[14]
    rnd = oracle.Round(
        SEED,
        3.0,
        100.0,
        (
            oracle.Case("cut", (cut_long,), (oracle.Fault("cut", cut_long, 20.0, 50.0),)),
            oracle.Case("cut", (cut_short,), (oracle.Fault("cut", cut_short, 40.0, 55.0),)),
            oracle.Case("cut", (quiet,), ()),
        ),
    )
    outcome = oracle.run(rnd, fresh_lab, INVENTORY, tmp_path)
    assert outcome.mismatches == [], outcome.mismatches
    name = tmp_path / f"round-{SEED}"
    base = ["report", "--config", str(name.with_suffix(".yaml")), "--history", str(name.with_suffix(".db"))]
    window = json.loads(name.with_suffix(".json").read_text())
    t0, t1 = window["start"], window["end"]
    span = ["--from", _iso(t0), "--to", _iso(t1)]
    log = [json.loads(line) for line in name.with_suffix(".events.jsonl").read_text().splitlines()]
    tau = rnd.interval + oracle.BURST

    incidents = _json(capsys, [*base[:1], "incidents", *base[1:], *span, "--format", "json"])
    assert (incidents["reclassified"], incidents["reclassifications_applied"]) == (0, True)
    by_site: dict[str, list[dict[str, Any]]] = {}
    for i in incidents["incidents"]:
        if i["link"] == "primary":
            by_site.setdefault(i["site"], []).append(i)
    assert quiet not in by_site
    for site in (cut_long, cut_short):
        (truth,) = events.down_spans(log, "link", f"{site}/primary", t1)
        (got,) = by_site[site]
        assert abs(got["start"] - truth[0]) <= tau and abs(got["end"] - truth[1]) <= tau, (site, got, truth)
        assert got["cause"] == "link"

    long_id = by_site[cut_long][0]["id"]
    assert (
        main(
            [
                *base[:1],
                "reclassify",
                str(long_id),
                *base[1:],
                "--as",
                "power",
                "--reason",
                "UPS cạn pin (lab)",
                "--who",
                "kiểm thử",
            ]
        )
        == 0
    )
    capsys.readouterr()
    contract = _json(capsys, [*base[:1], "contract", *base[1:], *span, "--format", "json"])
    assert contract["reclassified"] == 1
    links = {(lc["site"], lc["link"]): lc for lc in contract["links"]}
    width = t1 - t0
    for site in (cut_long, cut_short):
        (truth,) = events.down_spans(log, "link", f"{site}/primary", t1)
        lc = links[(site, "primary")]
        assert lc["availability_service"] == pytest.approx(
            1 - (truth[1] - truth[0]) / width, abs=2 * tau / width
        )
    assert links[(cut_long, "primary")]["availability_contract"] == 1.0
    assert (
        links[(cut_short, "primary")]["availability_contract"]
        == links[(cut_short, "primary")]["availability_service"]
    )
    assert links[(quiet, "primary")]["availability_contract"] == 1.0
    # `netmon report` counts by the same rules: the verdict shows, the citizens' figure is the same.
    report = _json(capsys, [*base, *span, "--format", "json"])
    rows = {r["key"]: r for r in report["rows"]}
    assert report["reclassified"] == 1 and rows[cut_long]["causes"] == {"power": 1}
    for site in (cut_long, cut_short, quiet):
        assert rows[site]["availability"] == pytest.approx(links[(site, "primary")]["availability_service"])
