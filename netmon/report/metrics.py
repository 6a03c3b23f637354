"""The accounting rules as series, so Prometheus's recording rules (alerts/accounting.rules.yml) count
the way the reports do: ``netmon_service_period`` is 1 inside the centers' service period
(``accounting.service_period``: office hours, Vietnamese public holidays excluded, from the same
`netmon.report.calendar` the reports use) and 0 outside; ``netmon_link_contract_availability_ratio``
is what each link's provider committed to (`netmon.report.contract.terms`: the link's contract, else
``accounting.contract``, whose default is the QCVN 34 floor). Both are computed from the installed
inventory, the first at scrape time.

The contracts are one series per link (50,000 at 50,000 checks) that change only with the inventory:
their text is encoded once per inventory (`render_text`), not by prometheus_client's encoder at every
scrape (0.6-1.0 s and 100,000 short-lived objects a scrape at that size: bench/README.md, Scale).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.prometheus import Families, text_samples
from netmon.inventory import Inventory
from netmon.inventory.model import ServicePeriod
from netmon.report.calendar import in_service
from netmon.report.contract import terms

_CONTRACT = ("netmon_link_contract_availability_ratio",
             "Availability the link's provider committed to (its contract, else accounting.contract).")


class AccountingCollector(Collector):
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._period: ServicePeriod | None = None
        self._targets: dict[tuple[str, str], float] = {}
        self._contract_text = b""

    def on_inventory(self, inventory: Inventory, publish_links: bool = True) -> None:
        """``publish_links`` is false on every shard but the first, as for ``netmon_site_info``: one
        series per link across the shards keeps the rules' joins one-to-one."""
        self._period = inventory.spec.accounting.service_period
        contracts = terms(inventory) if publish_links else {}
        self._targets = {key: contract.availability for key, contract in sorted(contracts.items())
                         if contract.availability is not None}
        # What `generate_latest` writes for `_contract_family`: its header, then labels sorted by name.
        rows = [((("link", link), ("site", site)), value) for (site, link), value in self._targets.items()]
        header = generate_latest(Families(self._contract_family(())))
        self._contract_text = header + text_samples(_CONTRACT[0], rows)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        if self._period is None:
            return
        yield self._period_family(self._period)
        yield self._contract_family(self._targets.items())

    def render_text(self) -> bytes:
        """`collect`'s families in text format 0.0.4, the contracts as encoded at the last inventory."""
        if self._period is None:
            return b""
        return generate_latest(Families(self._period_family(self._period))) + self._contract_text

    def _period_family(self, period_: ServicePeriod) -> Metric:
        period = GaugeMetricFamily(
            "netmon_service_period",
            "1 inside the centers' service period (accounting.service_period: office hours, "
            "Vietnamese public holidays excluded), 0 outside.",
        )
        period.add_metric([], 1.0 if in_service(period_, self._clock()) else 0.0)
        return period

    @staticmethod
    def _contract_family(targets: Iterable[tuple[tuple[str, str], float]]) -> Metric:
        family = GaugeMetricFamily(*_CONTRACT, labels=("site", "link"))
        for (site, link), value in targets:
            family.add_metric([site, link], value)
        return family
