"""The lab as an oracle, the short seeded set that runs in `make test`.

One round of generated cases (cuts, blips below the detection floor, flaps, partial loss, a hub
outage, cuts inside and outside a site's maintenance window, and the prober itself stopped for a
while) runs on the session lab under a real `netmon run --history`; every figure of `netmon report`
is compared with the lab's event log by `netmon.lab.oracle` (tolerances in its docstring). The long
randomized run is bench/oracle.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.inventory import load
from netmon.lab import control, oracle, topology
from tests.lab.fixtures import INVENTORY

pytestmark = pytest.mark.privileged

PLAN = topology.plan(load(INVENTORY))


def test_generated_rounds_cover_every_kind_of_fault() -> None:
    rounds = [oracle.generate(seed, PLAN, cases=12) for seed in range(20)]
    kinds = {c.kind for r in rounds for c in r.cases}
    assert kinds == set(oracle.KINDS), kinds
    assert any(r.prober_down for r in rounds) and not all(r.prober_down for r in rounds)
    for r in rounds:
        sites = [s for c in r.cases for s in c.sites]
        assert len(sites) == len(set(sites)), "every site in one case only"
        assert all(0 < f.start < f.end <= r.length for c in r.cases for f in c.faults)


def test_report_matches_what_the_lab_injected(fresh_lab: control.Lab, tmp_path: Path) -> None:
    rnd = oracle.generate(13, PLAN, cases=10, length=150.0, prober_down=True)
    outcome = oracle.run(rnd, fresh_lab, INVENTORY, tmp_path)
    print(f"\noracle: {len(rnd.cases)} cases ({', '.join(sorted({c.kind for c in rnd.cases}))}), "
          f"{outcome.compared} sites compared, worst errors {outcome.worst_error}")
    assert outcome.compared >= 10
    assert outcome.mismatches == [], "\n".join(map(str, outcome.mismatches))
