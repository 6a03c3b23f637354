"""Probe budgets on metered links (4G and VSAT data plans billed by the byte).

A link may declare ``budget_bytes_per_day``. The scheduled checks on it spend a known amount a day;
an interactive run may use what they leave (the headroom). A run that would exceed it gets fewer
echoes per ICMP burst; if even one echo each does not fit, the run is refused with the figures, so
a technician never burns a commune's data plan by holding `--watch` open.

Byte figures are each probe type's own estimate per run (`probes.base.ProbeType.run_bytes`), on the
generous side (an HTTP check counts its ``max_body_bytes``), since under-estimating is what costs money.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from netmon.diagnose.plan import Plan, echo_count, with_count
from netmon.inventory import Inventory
from netmon.inventory.model import Link
from probes import base
from probes.base import Check
from probes.errors import NetmonError


class BudgetExceeded(NetmonError):
    exit_code = 3


@dataclass(frozen=True, slots=True)
class Allowance:
    """One budgeted link: its daily budget, what the schedule spends, and what is left for us."""

    link: str
    budget: int
    scheduled: float

    @property
    def headroom(self) -> float:
        return self.budget - self.scheduled


def run_bytes(check: Check) -> int:
    """Estimated bytes one run of ``check`` puts on its link, as its probe type declares."""
    return base.get(check.probe).run_bytes(check)


def echo_bytes(check: Check) -> float:
    """Bytes one echo of a burst check costs (its run's cost is proportional to its count)."""
    count = echo_count(check)
    return run_bytes(check) / count if count else 0.0


def allowances(inventory: Inventory, site: str, links: list[Link]) -> list[Allowance]:
    """Budgeted links of ``site`` with the daily bytes its scheduled checks spend on each."""
    out = []
    for link in links:
        if link.budget_bytes_per_day is None:
            continue
        scheduled = sum(run_bytes(c) * 86_400 / c.interval
                        for c in inventory.checks if c.site == site and c.link == link.id)
        out.append(Allowance(link.id, link.budget_bytes_per_day, scheduled))
    return out


def fit(plan: Plan, allowance: list[Allowance], rounds: int = 1) -> Plan:
    """``plan`` lowered to fit every allowance for ``rounds`` runs; raises `BudgetExceeded` if it cannot."""
    rows = list(plan.rows)
    notes: list[str] = []
    for a in allowance:
        mine = [i for i, r in enumerate(rows) if r.check.link == a.link and r.role == "site"]
        cost = sum(run_bytes(rows[i].check) for i in mine) * rounds
        if cost <= a.headroom:
            continue
        bursts = [i for i in mine if echo_count(rows[i].check) is not None]
        fixed = sum(run_bytes(rows[i].check) for i in mine if i not in bursts) * rounds
        per_echo = sum(echo_bytes(rows[i].check) for i in bursts) * rounds
        count = int((a.headroom - fixed) // per_echo) if per_echo else 0
        if count < 1:
            raise BudgetExceeded(
                f"link {a.link!r} has a probe budget of {a.budget:,} bytes/day; scheduled checks use "
                f"{a.scheduled:,.0f}, this run needs {cost:,} — refusing (lower --count or --watch rounds)")
        for i in bursts:
            old = echo_count(rows[i].check)
            if old is not None and old > count:
                rows[i] = dataclasses.replace(rows[i], check=with_count(rows[i].check, count))
                notes.append(f"{rows[i].check.id}: count lowered from {old} to {count} "
                             f"to stay within the {a.budget:,} bytes/day budget of link {a.link}")
    return plan.with_rows(rows, notes)


def rounds_left(plan: Plan, allowance: list[Allowance]) -> int | None:
    """How many rounds of ``plan`` fit in the headroom (``--watch``); None when no link is budgeted."""
    fits: list[int] = []
    for a in allowance:
        cost = sum(run_bytes(r.check) for r in plan.rows if r.check.link == a.link and r.role == "site")
        if cost:
            fits.append(max(0, int(a.headroom // cost)))
    return min(fits) if fits else None
