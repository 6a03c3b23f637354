"""What one `netmon probe` run will do: which checks, with which limits, along which path.

A site's run covers the whole path a clerk's request takes, in path order — the data center's
service checks (is the document system up at all?), the hub the site hangs off, then the site's own
link checks — so the diagnosis can tell "the hub is down" from "this link is down" from "the service
is down". Checks are the inventory's own `Check` values, run by the scheduler's `run_check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from netmon.agent.view import AgentView
from netmon.diagnose.lookup import Place
from netmon.inventory import Inventory
from netmon.inventory.model import Link, Thresholds
from probes import base
from probes.base import Check
from probes.errors import NetmonError
from probes.icmp import IcmpOptions
from probes.linkstats import echoes_to_judge
from probes.verdict import Baseline

ROLES = ("datacenter", "hub", "site", "adhoc")
#: The most echoes one sized burst sends (the icmp probe's own upper bound), and how far apart.
MAX_ECHOES = 100
SIZED_SPACING = 0.05


class PlanError(NetmonError):
    """The requested run cannot be built (e.g. ``--check`` names nothing); a usage error, exit 3."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Row:
    """One check to run and what to judge it against. ``role`` says where on the path it sits."""

    role: str
    check: Check
    limits: Thresholds | None = None
    baseline: Baseline | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    place: Place | None
    rows: tuple[Row, ...]
    #: Notes for the user about changes made to the run (budget lowered the count, ...).
    notes: tuple[str, ...] = ()
    #: The history store holds an open outage of this site caused by power (its UPS was on battery
    #: before the link died): a dead link now is the power cut, even when the UPS no longer answers.
    power_outage: bool = False
    #: What the site's edge agent saw, from the history store (None: no store, or no agent there).
    agent: AgentView | None = None

    def links(self) -> list[Link]:
        return list(self.place.site.links) if self.place and self.place.site else []

    def with_rows(self, rows: Iterable[Row], notes: Iterable[str] = ()) -> Plan:
        return dataclasses.replace(self, rows=tuple(rows), notes=(*self.notes, *notes))


def for_place(inventory: Inventory, place: Place, only: str | None = None, count: int | None = None) -> Plan:
    """The run for ``place``: data center checks, its hub(s), its own checks; ``only`` keeps one check id."""
    spec = inventory.spec
    hubs = [place.hub.id] if place.hub else []
    if place.site:
        hubs = [place.site.upstream, *(lk.upstream for lk in place.site.links if lk.upstream)]
    owners = {spec.datacenter.slug: "datacenter", **{h: "hub" for h in dict.fromkeys(hubs)}}
    if place.site:
        owners[place.site.slug] = "site"
    order = list(owners)
    checks = sorted((c for c in inventory.checks if c.site in owners), key=lambda c: order.index(c.site))
    if only is not None:
        checks = [c for c in checks if only in (c.id, c.key)]
        if not checks:
            known = sorted({c.id for c in inventory.checks if c.site in owners})
            raise PlanError(f"no check {only!r} on the path of {place.slug} (checks: {', '.join(known)})")
    rows = [Row(owners[c.site], with_count(c, count), inventory.thresholds.get(c.key)) for c in checks]
    return Plan(place, tuple(rows))


def with_count(check: Check, count: int | None) -> Check:
    """``check`` with its echo count set to ``count`` (probes without a count are left alone).

    The timeout grows with the burst when needed, as the loader would insist it does.
    """
    kind = type(check.options)
    fields = [f.name for f in dataclasses.fields(kind)]
    if count is None or "count" not in fields:
        return check
    options = base.options(kind, {**{name: getattr(check.options, name) for name in fields}, "count": count})
    timeout = max(check.timeout, options.minimum_timeout() + 1.0)
    return dataclasses.replace(check, options=options, timeout=timeout)


def sized_for_loss(plan: Plan) -> Plan:
    """``plan`` with each link echo check's burst long enough to judge its loss limit (0 lost of n must
    put the loss under the limit with 95 % confidence: 72 echoes for 4G's 5 %; at most `MAX_ECHOES`),
    sent `SIZED_SPACING` s apart so the run stays short. Five echoes cannot tell 10 % loss from none.
    A metered link's budget may lower it again (`budget.fit`), and the output then says how sure it is.
    """
    rows = []
    for row in plan.rows:
        count = echo_count(row.check)
        options = row.check.options
        if isinstance(options, IcmpOptions) and row.limits is not None and count is not None:
            wanted = min(MAX_ECHOES, echoes_to_judge(row.limits.loss_degraded))
            if wanted > count:
                spacing = min(options.spacing, SIZED_SPACING)
                faster = dataclasses.replace(row.check, options=dataclasses.replace(options, spacing=spacing))
                row = dataclasses.replace(row, check=with_count(faster, wanted))
        rows.append(row)
    return plan.with_rows(rows)


def echo_count(check: Check) -> int | None:
    value = getattr(check.options, "count", None)
    return value if isinstance(value, int) else None
