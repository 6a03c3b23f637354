"""`netmon report contract`: each link held to what its provider committed to and to the national floor.

Per link: availability as citizens saw it and as the contract counts it (`netmon.report.accounting`
decides which outages and which time), contracted and floor availability, the error budget, outages
against the allowed number, measured p95 latency against contracted and floor latency, and every
outage that took longer to restore than the contract allows. Per ISP: the same summed, and the
distribution of restore times. Per center: no backup link, or committed bandwidth below the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exporters.history_samples import SampleSpan
from netmon.inventory.loader import Inventory
from netmon.inventory.model import FLOOR_AVAILABILITY, FLOOR_LATENCY, Contract
from netmon.report import intervals as iv
from netmon.report.accounting import Accounted, Budget, Rules, allowed_outages, budget, samples_by_site
from netmon.report.compute import Row, maintenance_spans, site_row
from netmon.report.data import OutageEvent, Rollup, SiteInfo, Source

#: Upper bounds (seconds) of the restore-time classes a planner reads: 15 min, 1 h, 4 h, 24 h, longer.
RESTORE_CLASSES = (900.0, 3600.0, 4 * 3600.0, 86400.0, float("inf"))


def terms(inventory: Inventory) -> dict[tuple[str, str], Contract]:
    """Each link's contract with the fields it leaves out taken from ``accounting.contract``."""
    default = inventory.spec.accounting.contract
    out = {}
    for s in inventory.spec.sites:
        for lk in s.links:
            own = lk.contract.model_dump(exclude_none=True) if lk.contract else {}
            out[(s.slug, lk.id)] = default.model_copy(update=own)
    return out


@dataclass
class LinkContract:
    site: SiteInfo
    link: str
    isp: str
    role: str
    terms: Contract
    service: Row
    contract: Row
    budget: Budget
    allowed_outages: float | None
    restore_times: list[float]
    breaches: list[OutageEvent]
    latency_p95: float | None

    @property
    def availability(self) -> float | None:
        """Availability as the contract counts it: provider-caused downtime over time minus maintenance."""
        return self.contract.availability_excl

    @property
    def meets_contract(self) -> bool | None:
        a, want = self.availability, self.terms.availability
        return None if a is None or want is None else a >= want

    @property
    def meets_floor(self) -> bool | None:
        return None if self.availability is None else self.availability >= FLOOR_AVAILABILITY

    @property
    def too_many_outages(self) -> bool:
        return self.allowed_outages is not None and self.contract.outages > self.allowed_outages

    @property
    def latency_ok(self) -> bool | None:
        if self.latency_p95 is None or self.terms.latency is None:
            return None
        return self.latency_p95 <= self.terms.latency

    @property
    def latency_floor_ok(self) -> bool | None:
        return None if self.latency_p95 is None else self.latency_p95 <= FLOOR_LATENCY


@dataclass
class IspContract:
    isp: str
    links: int = 0
    row: Row = field(default_factory=lambda: Row("", ""))
    restore_times: list[float] = field(default_factory=list)
    breaches: int = 0
    below_contract: int = 0
    below_floor: int = 0

    @property
    def restore_classes(self) -> list[int]:
        counts = [0] * len(RESTORE_CLASSES)
        for t in self.restore_times:
            counts[next(i for i, limit in enumerate(RESTORE_CLASSES) if t <= limit)] += 1
        return counts


@dataclass
class ContractReport:
    start: float
    end: float
    rules: Rules
    accounted: Accounted
    links: list[LinkContract]
    isps: list[IspContract]
    no_backup: list[SiteInfo]
    #: (center, best committed bandwidth in Mbps or None when no link states one)
    below_bandwidth: list[tuple[SiteInfo, float | None]]

    @property
    def breaches(self) -> list[tuple[LinkContract, OutageEvent]]:
        return sorted(((lc, o) for lc in self.links for o in lc.breaches), key=lambda p: p[1].start)


def build_contract(
    source: Source,
    inventory: Inventory,
    sites: Sequence[SiteInfo],
    accounted: Accounted,
    rules: Rules,
    start: float,
    end: float,
    now: float,
    rollups: dict[tuple[str, str], Rollup] | None = None,
    samples: dict[str, list[SampleSpan]] | None = None,
) -> ContractReport:
    """``rollups``, ``samples`` (by site): the period's, when the caller has read them already."""
    stop = min(end, now)
    observed = rules.window(start, stop)
    if rollups is None:
        rollups = source.rollups(start, stop) if stop > start else {}
    if samples is None:
        samples = samples_by_site(source.samples(start, stop)) if stop > start else {}
    windows = source.maintenance()
    contracts = terms(inventory)
    days = max(0.0, stop - start) / 86400
    links: list[LinkContract] = []
    isps: dict[str, IspContract] = {}
    for s in sites:
        maintenance = maintenance_spans(s, windows)
        provider = accounted.against_provider(accounted.of_site(s.slug))
        seen = samples.get(s.slug, [])
        for lk in s.links:
            t = contracts[(s.slug, lk.id)]
            args = (s, lk.id, accounted, seen, observed, maintenance, rollups, now, rules.floor)
            service = site_row(*args)
            contract = site_row(*args, provider_only=True)
            mine = [
                o for o in provider if o.link == lk.id and iv.intersect([(o.start, o.end or now)], observed)
            ]
            restore = [o.end - o.start for o in mine if o.end is not None]
            breaches = [o for o in mine if t.restore is not None and (o.end or now) - o.start > t.restore]
            lc = LinkContract(
                s,
                lk.id,
                lk.isp,
                lk.role,
                t,
                service,
                contract,
                budget(
                    t.availability if t.availability is not None else FLOOR_AVAILABILITY,
                    contract.observed_excl,
                    contract.down_excl,
                    rules.accounting.budget_warning,
                ),
                allowed_outages(t.max_outages_per_month, days),
                restore,
                breaches,
                contract.rollup.rtt_p(0.95),
            )
            links.append(lc)
            isp = isps.setdefault(lk.isp, IspContract(lk.isp, row=Row(lk.isp, lk.isp)))
            isp.links += 1
            isp.row.add(contract)
            isp.restore_times.extend(restore)
            isp.breaches += len(breaches)
            isp.below_contract += lc.meets_contract is False
            isp.below_floor += lc.meets_floor is False
    target = rules.accounting.bandwidth_target_mbps
    below = []
    for s in sites:
        committed = [contracts[(s.slug, lk.id)].bandwidth_mbps for lk in s.links]
        best = max((b for b in committed if b is not None), default=None)
        if best is None or best < target:
            below.append((s, best))
    return ContractReport(
        start,
        end,
        rules,
        accounted,
        links,
        sorted(isps.values(), key=lambda i: i.isp),
        [s for s in sites if not any(lk.role == "backup" for lk in s.links)],
        below,
    )
