"""`Source` over Prometheus's HTTP API, for a province that kept only Prometheus.

Outages are rebuilt from the raw samples of ``netmon_probe_success`` and
``netmon_probe_last_run_timestamp_seconds`` (one sample per scrape; a new run is a new
``last_run`` value), replayed through the very `OutageTracker` the store uses, so the same rule
gives the same outages within one scrape interval; the same runs, through the store's
`SampleTracker`, give the observed time up and down. Rollups come from PromQL over the whole range:
loss and jitter averages, run counts from ``changes()`` of the last-run timestamp, and RTT
percentiles from the ``netmon_icmp_rtt_seconds`` histogram where a link's checks export it (so they are
only as fine as its buckets), else from each run's median RTT (``netmon_icmp_rtt_median_seconds``, one
value per run however often it was scraped): the histogram is opt-in (``rtt_histogram``), and the
history store falls back to the same summary for a result without per-echo RTTs.
Maintenance windows come from the inventory (`Topology`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from exporters.history_outages import Outage, OutageTracker, Topology, Window
from exporters.history_rollup import rtt_bucket
from exporters.history_samples import SampleSpan, SampleTracker
from netmon import i18n
from netmon.inventory import wording
from netmon.report.data import OutageEvent, Rollup
from probes.base import Result
from probes.errors import NetmonError

CHUNK = 3600.0
LOOKBACK = 6 * 3600.0
#: A check's series in Prometheus: (site, link, check, probe).
_Ident = tuple[str, str, str, str]


class PrometheusError(NetmonError):
    pass


_TEXT = {
    "unreachable": ("cannot query Prometheus at {url}: {reason}",
                    "không truy vấn được Prometheus tại {url}: {reason}"),
    "failed": ("Prometheus query {expr!r} failed: {error}", "Prometheus từ chối truy vấn {expr!r}: {error}"),
}


def query(client: httpx.Client, url: str, expr: str, **params: str) -> list[dict[str, Any]]:
    """One instant query's result vector; an unreachable Prometheus or a refused query is a
    `PrometheusError` in the user's language (the report and `netmon agent compare` share it)."""
    try:
        data = client.get(f"{url}/api/v1/query", params={"query": expr, **params}).json()
    except (httpx.HTTPError, ValueError) as exc:
        language = i18n.lang()
        why = wording.reason(str(exc) or type(exc).__name__, language)
        raise PrometheusError(i18n.text(_TEXT, "unreachable", language, url=url, reason=why)) from None
    if data.get("status") != "success":
        raise PrometheusError(i18n.text(_TEXT, "failed", i18n.lang(), expr=expr, error=data.get("error")))
    return list(data["data"]["result"])


class PromSource:
    def __init__(
        self,
        url: str,
        topology: Topology,
        probes: tuple[str, ...] = ("icmp",),
        open_after: int = 2,
        timeout: float = 60.0,
    ):
        self.url = url.rstrip("/")
        self.topology = topology
        self.probes = probes
        self.open_after = open_after
        self.client = httpx.Client(timeout=timeout, trust_env=False)
        self._cache: dict[tuple[float, float], list[OutageEvent]] = {}
        self._samples: dict[tuple[float, float], list[SampleSpan]] = {}
        self._run_cache: dict[tuple[float, float], list[Result]] = {}

    def close(self) -> None:
        self.client.close()

    def _query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return query(self.client, self.url, expr, time=f"{at:.3f}")

    def _selector(self) -> str:
        return '{probe=~"' + "|".join(self.probes) + '"}'

    def maintenance(self) -> list[Window]:
        return list(self.topology.maintenance)

    def _runs(self, start: float, end: float) -> list[Result]:
        """Every distinct run of the reachability checks between ``start`` and ``end``, in time order
        (read once per range: outages and samples replay the same runs)."""
        if (start, end) not in self._run_cache:
            self._run_cache[(start, end)] = self._read_runs(start, end)
        return self._run_cache[(start, end)]

    def _read_runs(self, start: float, end: float) -> list[Result]:
        runs = self._per_run("netmon_probe_success", self._selector(), start, end)
        out = [
            Result(site, check, probe, "", link, ok >= 1, started, 0.0)
            for (site, link, check, probe), per in runs.items()
            for started, ok in per.items()
        ]
        return sorted(out, key=lambda r: r.started)

    def _per_run(self, family: str, selector: str, start: float,
                 end: float) -> dict[_Ident, dict[float, float]]:
        """``family``'s value at each run (keyed by its start) of every check matching ``selector``
        between ``start`` and ``end``: a run is scraped many times and counted once, by its
        ``netmon_probe_last_run_timestamp_seconds`` sample of the same scrape."""
        runs: dict[_Ident, dict[float, float]] = {}
        t = start
        while t < end:
            stop = min(end, t + CHUNK)
            window = f"[{int(stop - t) or 1}s]"
            last = self._query(f"netmon_probe_last_run_timestamp_seconds{selector}{window}", stop)
            found = self._query(f"{family}{selector}{window}", stop)
            values = {_ident(s["metric"]): {float(ts): float(v) for ts, v in s["values"]} for s in found}
            for s in last:
                key = _ident(s["metric"])
                per = runs.setdefault(key, {})
                for ts, v in s["values"]:
                    value = values.get(key, {}).get(float(ts))
                    if value is not None:
                        per.setdefault(float(v), value)
            t = stop
        return runs

    def outages(self, start: float, end: float) -> list[OutageEvent]:
        key = (start, end)
        if key not in self._cache:
            tracker = OutageTracker(self.topology, open_after=self.open_after, probes=self.probes)
            seen: dict[int, Outage] = {}
            for result in self._runs(start - LOOKBACK, end):
                for o in tracker.observe(result):
                    seen[id(o)] = o
            self._cache[key] = [
                OutageEvent(o.site, o.link, o.start, o.end, o.cause)
                for o in sorted(seen.values(), key=lambda o: o.start)
                if o.start < end and (o.end is None or o.end > start)
            ]
        return self._cache[key]

    def samples(self, start: float, end: float) -> list[SampleSpan]:
        key = (start, end)
        if key not in self._samples:
            tracker = SampleTracker(self.topology.intervals, probes=self.probes)
            seen: dict[int, SampleSpan] = {}
            for result in self._runs(start - LOOKBACK, end):
                for s in tracker.observe(result):
                    seen[id(s)] = s
            self._samples[key] = [s for s in seen.values() if s.start < end and s.end > start]
        return self._samples[key]

    def rollups(self, start: float, end: float) -> dict[tuple[str, str], Rollup]:
        rng = f"[{max(1, int(end - start))}s]"
        out: dict[tuple[str, str], Rollup] = {}
        probes = self._selector()

        def each(expr: str) -> list[tuple[str, str, float, dict[str, str]]]:
            return [
                (s["metric"].get("site", ""), s["metric"].get("link", ""), float(s["value"][1]), s["metric"])
                for s in self._query(expr, end)
            ]

        for site, _, n, _m in each(
            f"sum by (site) (changes(netmon_probe_last_run_timestamp_seconds{rng}) + 1)"
        ):
            out.setdefault((site, "*"), Rollup()).runs = int(n)
        for site, link, n, _m in each(
            f"sum by (site, link) (changes(netmon_probe_last_run_timestamp_seconds{probes}{rng}) + 1)"
        ):
            out.setdefault((site, link), Rollup()).runs = int(n)
        for site, link, v, _m in each(
            f"avg by (site, link) (avg_over_time(netmon_icmp_packet_loss_ratio{rng}))"
        ):
            r = out.setdefault((site, link), Rollup())
            r.loss_n = max(1, r.runs)
            r.loss_sum = v * r.loss_n
        for site, link, v, _m in each(
            f"avg by (site, link) (avg_over_time(netmon_icmp_jitter_seconds{rng}))"
        ):
            r = out.setdefault((site, link), Rollup())
            r.jitter_n = max(1, r.runs)
            r.jitter_sum = v * r.jitter_n
        buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for site, link, v, m in each(
            f"sum by (site, link, le) (increase(netmon_icmp_rtt_seconds_bucket{rng}))"
        ):
            buckets.setdefault((site, link), []).append((float(m["le"]), v))
        for key, cumulative in buckets.items():
            out.setdefault(key, Rollup()).rtt.update(_histogram(cumulative))
        medians = self._per_run("netmon_icmp_rtt_median_seconds", '{probe="icmp"}', start, end)
        for (site, link, _, _), per in medians.items():
            if (site, link) not in buckets:  # a link without the per-echo histogram
                out.setdefault((site, link), Rollup()).rtt.update(rtt_bucket(v) for v in per.values())
        return out


def _ident(metric: dict[str, str]) -> _Ident:
    return metric["site"], metric.get("link", ""), metric["check"], metric["probe"]


def _histogram(cumulative: list[tuple[float, float]]) -> Counter[int]:
    """Prometheus cumulative buckets → our log buckets, each count at its bucket's geometric middle."""
    out: Counter[int] = Counter()
    lower, below = 0.0, 0.0
    for le, count in sorted(cumulative):
        n = round(count - below)
        if n > 0:
            upper = le if le != float("inf") else lower * 2 or 1.0
            mid = (max(lower, 1e-4) * upper) ** 0.5
            out[rtt_bucket(mid)] += n
        lower, below = le, count
    return out
