"""The oracle's comparison on hand-made truth and reports: it must catch what a wrong report says."""

from __future__ import annotations

from typing import Any

from netmon.lab import events, oracle

T0 = 1_796_000_000.0
INTERVAL = 5.0
ROUND = oracle.Round(1, INTERVAL, 100.0, (oracle.Case("cut", ("ban-a",), (oracle.Fault("cut", "ban-a", 20, 40),)),))
LOG = [{"t": T0 + 20.3, "kind": "link", "target": "ban-a/primary", "down": True},
       {"t": T0 + 40.1, "kind": "link", "target": "ban-a/primary", "down": False}]
LINKS = {"ban-a": ("primary", "hub-x")}


def _report(start: float = 22.0, end: float = 41.0, cause: str = "link", down: float = 20.0,
            observed: float = 100.0, short: int = 0) -> dict[str, Any]:
    return {"rows": [{"key": "ban-a", "observed": observed, "downtime": down, "status": "ok",
                      "short_outages": short, "availability": 1 - down / observed}],
            "outages": [{"site": "ban-a", "link": "primary", "start": T0 + start, "end": T0 + end,
                         "cause": cause}],
            "worst": ["ban-a"]}


def _figures(report: dict[str, Any], gap: tuple[float, float] | None = None) -> list[str]:
    outcome = oracle.compare(ROUND, report, LOG, LINKS, T0, T0 + 100, gap)
    return [m.figure for m in outcome.mismatches]


def test_a_report_within_one_interval_of_the_truth_passes() -> None:
    assert _figures(_report()) == []
    assert events.down_spans(LOG, "link", "ban-a/primary", T0 + 100) == [(T0 + 20.3, T0 + 40.1)]


def test_every_kind_of_wrong_figure_is_caught() -> None:
    assert _figures(_report(start=30.0)) == ["outage", "missed outage", "short outages"]  # 9.7 s late
    assert _figures(_report(cause="maintenance")) == ["cause"]
    assert _figures(_report(down=5.0)) == ["down seconds"]  # a flap read as up
    assert _figures(_report(observed=80.0)) == ["observed seconds"]  # unobserved time lost
    assert _figures(_report(short=2)) == ["short outages"]
    assert _figures(_report(), gap=(T0 + 55, T0 + 95)) == ["observed seconds", "status"]  # 60 % seen
