"""The accounting rules as series, so Prometheus's recording rules (alerts/accounting.rules.yml) count
the way the reports do: ``netmon_service_period`` is 1 inside the centers' service period
(``accounting.service_period``: office hours, Vietnamese public holidays excluded, from the same
`netmon.report.calendar` the reports use) and 0 outside; ``netmon_link_contract_availability_ratio``
is what each link's provider committed to (`netmon.report.contract.terms`: the link's contract, else
``accounting.contract``, whose default is the QCVN 34 floor). Both are computed from the installed
inventory, the first at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.inventory import Inventory
from netmon.inventory.model import ServicePeriod
from netmon.report.calendar import in_service
from netmon.report.contract import terms


class AccountingCollector(Collector):
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._period: ServicePeriod | None = None
        self._targets: dict[tuple[str, str], float] = {}

    def on_inventory(self, inventory: Inventory, publish_links: bool = True) -> None:
        """``publish_links`` is false on every shard but the first, as for ``netmon_site_info``: one
        series per link across the shards keeps the rules' joins one-to-one."""
        self._period = inventory.spec.accounting.service_period
        contracts = terms(inventory) if publish_links else {}
        self._targets = {k: c.availability for k, c in contracts.items() if c.availability is not None}

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        if self._period is None:
            return
        period = GaugeMetricFamily(
            "netmon_service_period",
            "1 inside the centers' service period (accounting.service_period: office hours, "
            "Vietnamese public holidays excluded), 0 outside.",
        )
        period.add_metric([], 1.0 if in_service(self._period, self._clock()) else 0.0)
        yield period
        target = GaugeMetricFamily(
            "netmon_link_contract_availability_ratio",
            "Availability the link's provider committed to (its contract, else accounting.contract).",
            labels=("site", "link"),
        )
        for (site, link), value in sorted(self._targets.items()):
            target.add_metric([site, link], value)
        yield target
