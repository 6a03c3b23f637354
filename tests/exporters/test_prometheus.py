"""The Result → series contract, asserted on registry samples (no HTTP needed)."""

from __future__ import annotations

import gc
import tracemalloc

from prometheus_client import CollectorRegistry, generate_latest

from exporters.prometheus import ResultCollector
from probes import icmp
from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions
from tests.support import young_growth

SPECS = [
    MetricSpec("netmon_icmp_packet_loss_ratio", Kind.GAUGE, "loss"),
    MetricSpec("netmon_icmp_packets_sent", Kind.INCREMENT, "sent"),
    MetricSpec("netmon_icmp_rtt_seconds", Kind.OBSERVATION, "rtt", buckets=(0.01, 0.1, 1.0)),
    MetricSpec("netmon_interface_in_octets", Kind.COUNTER, "octets", labels=("ifname",)),
    MetricSpec("netmon_device_info", Kind.INFO, "info", labels=("sysname",)),
]


def _check(site: str = "chieng-mung", check_id: str = "icmp-primary") -> Check:
    return Check(
        site=site, id=check_id, probe="icmp", target="198.18.1.2", options=ProbeOptions(), link="primary"
    )


def _collector() -> tuple[ResultCollector, CollectorRegistry]:
    collector = ResultCollector(SPECS)
    registry = CollectorRegistry()
    registry.register(collector)
    return collector, registry


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(
        name,
        {
            "site": "chieng-mung",
            "check": "icmp-primary",
            "probe": "icmp",
            "target": "198.18.1.2",
            "link": "primary",
            **labels,
        },
    )


def test_never_run_check_has_no_series() -> None:
    _, registry = _collector()
    assert _value(registry, "netmon_probe_success") is None


def test_success_gauges_increments_and_histogram() -> None:
    collector, registry = _collector()
    check = _check()
    collector.set_histograms([check.key])
    for _ in range(2):
        collector.publish(
            check.ok(
                1000.0,
                [
                    Measurement("netmon_icmp_packet_loss_ratio", 0.2),
                    Measurement("netmon_icmp_packets_sent", 5),
                    Measurement("netmon_icmp_rtt_seconds", 0.005),
                    Measurement("netmon_icmp_rtt_seconds", 0.5),
                ],
            )
        )
    assert _value(registry, "netmon_probe_success") == 1.0
    assert _value(registry, "netmon_probe_last_run_timestamp_seconds") == 1000.0
    assert _value(registry, "netmon_icmp_packet_loss_ratio") == 0.2
    assert _value(registry, "netmon_icmp_packets_sent_total") == 10.0  # accumulated across runs
    assert _value(registry, "netmon_icmp_rtt_seconds_bucket", le="0.01") == 2.0
    assert _value(registry, "netmon_icmp_rtt_seconds_bucket", le="1.0") == 4.0
    assert _value(registry, "netmon_icmp_rtt_seconds_count") == 4.0
    assert abs((_value(registry, "netmon_icmp_rtt_seconds_sum") or 0) - 1.01) < 1e-9


def test_failed_run_exports_no_stale_values_and_counts_reason() -> None:
    collector, registry = _collector()
    check = _check()
    collector.publish(check.ok(1.0, [Measurement("netmon_icmp_packet_loss_ratio", 0.0)]))
    collector.publish(check.fail("timeout", "no reply", 2.0))
    assert _value(registry, "netmon_probe_success") == 0.0
    assert _value(registry, "netmon_icmp_packet_loss_ratio") is None
    assert _value(registry, "netmon_probe_failures_total", reason="timeout") == 1.0


def test_device_counter_and_info_with_own_labels() -> None:
    collector, registry = _collector()
    collector.publish(
        _check().ok(
            1.0,
            [
                Measurement("netmon_interface_in_octets", 123456.0, (("ifname", "eth0"),)),
                Measurement("netmon_device_info", 0.0, (("sysname", "cpe-chieng-mung"),)),
            ],
        )
    )
    assert _value(registry, "netmon_interface_in_octets_total", ifname="eth0") == 123456.0
    assert _value(registry, "netmon_device_info", sysname="cpe-chieng-mung") == 1.0


def test_removed_check_disappears() -> None:
    collector, registry = _collector()
    collector.publish(_check().ok(1.0))
    collector.publish(_check(check_id="cpe-https").ok(1.0))
    collector.retain(["chieng-mung/cpe-https"])
    assert _value(registry, "netmon_probe_success") is None
    assert (
        registry.get_sample_value(
            "netmon_probe_success",
            {
                "site": "chieng-mung",
                "check": "cpe-https",
                "probe": "icmp",
                "target": "198.18.1.2",
                "link": "primary",
            },
        )
        == 1.0
    )


def test_site_info_keeps_vietnamese_names() -> None:
    collector, registry = _collector()
    collector.set_sites([{"site": "chieng-mung", "name": "Chiềng Mung", "kind": "commune", "lat": "21.1693"}])
    text = generate_latest(registry).decode()
    assert 'name="Chiềng Mung"' in text
    assert (
        registry.get_sample_value(
            "netmon_site_info",
            {
                "site": "chieng-mung",
                "name": "Chiềng Mung",
                "kind": "commune",
                "district": "",
                "link_type": "",
                "isp": "",
                "upstream": "",
                "lat": "21.1693",
                "lon": "",
            },
        )
        == 1.0
    )


def test_unknown_measurement_is_skipped_not_fatal() -> None:
    collector, registry = _collector()
    collector.publish(_check().ok(1.0, [Measurement("netmon_made_up", 1.0)]))
    assert _value(registry, "netmon_probe_success") == 1.0
    assert "netmon_made_up" not in generate_latest(registry).decode()


def test_histogram_only_for_checks_that_opt_in() -> None:
    """The per-echo histogram is ~20 series a check: exported only for the checks the inventory names,
    and dropped at the next scrape when a reload turns it off."""
    collector, registry = _collector()
    chosen, plain = _check(), _check(check_id="icmp-backup")
    collector.set_histograms([chosen.key])
    for check in (chosen, plain):
        collector.publish(check.ok(1.0, [Measurement("netmon_icmp_rtt_seconds", 0.005)]))
    assert _value(registry, "netmon_icmp_rtt_seconds_count") == 1.0
    text = generate_latest(registry).decode()
    assert 'netmon_icmp_rtt_seconds_count{check="icmp-backup"' not in text
    assert 'check="icmp-backup"' in text
    collector.set_histograms([])
    assert _value(registry, "netmon_icmp_rtt_seconds_count") is None
    assert "netmon_icmp_rtt_seconds_bucket{" not in b"".join(collector.render_text()).decode()


def test_default_icmp_check_exports_at_most_15_series() -> None:
    """Issue 16's series diet, on the ICMP probe's own measurements: a burst with a lost echo, then a
    run that timed out (its reason becomes a series of its own)."""
    collector = ResultCollector(icmp.METRICS)
    check = _check()
    collector.publish(check.ok(1.0, icmp.measurements((0.010, None, 0.012, 0.011, 0.013))))
    collector.publish(check.fail("timeout", "no echo reply", 31.0, icmp.measurements((None,) * 5)))
    collector.publish(check.ok(61.0, icmp.measurements((0.010, 0.011, 0.012, 0.011, 0.013))))
    lines = [line for line in b"".join(collector.render_text()).decode().splitlines()
             if 'check="icmp-primary"' in line]
    assert 13 <= len(lines) <= 15, lines


def test_link_limits_once_per_link_type() -> None:
    collector, registry = _collector()
    collector.set_links([{"site": s, "link": "primary", "link_type": "fiber", "isp": "VNPT", "role": "primary"}
                         for s in ("chieng-mung", "to-hieu")])
    collector.set_thresholds({"fiber": {"rtt_degraded": 0.05, "loss_degraded": 0.02},
                              "vsat": {"rtt_degraded": 0.9, "loss_degraded": 0.05}})
    text = generate_latest(registry).decode()
    assert text.count("netmon_link_threshold{") == 4
    assert text.count("netmon_link_info{") == 2
    assert registry.get_sample_value(
        "netmon_link_threshold", {"link_type": "vsat", "threshold": "rtt_degraded"}) == 0.9


def test_failing_since_is_the_first_failed_run_and_ends_with_a_success() -> None:
    """The alert rules count an outage from the first failed run (issue 21): the series holds that
    run's start through the later failed runs, and exists only while the check fails."""
    collector, registry = _collector()
    check = _check()
    collector.publish(check.ok(1000.0))
    assert _value(registry, "netmon_probe_failing_since_timestamp_seconds") is None
    for started in (1030.0, 1060.0, 1090.0):
        collector.publish(check.fail("timeout", "no reply", started))
        assert _value(registry, "netmon_probe_failing_since_timestamp_seconds") == 1030.0
    assert _value(registry, "netmon_probe_last_run_timestamp_seconds") == 1090.0
    collector.publish(check.ok(1120.0))
    assert _value(registry, "netmon_probe_failing_since_timestamp_seconds") is None
    collector.publish(check.fail("timeout", "no reply", 1150.0))
    assert _value(registry, "netmon_probe_failing_since_timestamp_seconds") == 1150.0
    assert b"netmon_probe_failing_since_timestamp_seconds{" in b"".join(collector.render_text())


def test_failing_since_ends_with_a_success_of_the_same_shape() -> None:
    """A TCP check's failed and successful runs export the same gauges: the text cache must still drop
    the failing-since line when the check answers again."""
    collector = ResultCollector(SPECS)
    check = _check(check_id="cpe-https")
    collector.publish(check.fail("timeout", "no reply", 1030.0))
    collector.publish(check.ok(1060.0))
    assert b"netmon_probe_failing_since_timestamp_seconds{" not in b"".join(collector.render_text())


def test_a_run_leaves_nothing_for_full_collections_to_walk() -> None:
    """At 50,000 checks every run's exported state reached the old generation (a NamedTuple and
    nested tuples stay GC-tracked, and a totals dict updated with a fresh key tuple was tracked
    again), 1,700 objects a second for full collections to walk (issue 16). After a young collection,
    a run of ICMP checks that already had results leaves no tracked object behind."""
    collector = ResultCollector(icmp.METRICS)
    checks = [_check(site=f"xa-{n}") for n in range(500)]
    for check in checks:
        collector.publish(check.ok(1.0, icmp.measurements((0.010, None, 0.012))))
    for check in checks[:50]:
        collector.publish(check.fail("timeout", "no echo reply", 31.0, icmp.measurements((None,) * 3)))
    # The collector's per-shape plans and line templates (a few per probe, shared by every check) are
    # made by the first run of each shape; the runs below meet these shapes.
    spare = _check(site="xa-spare")
    collector.publish(spare.ok(1.0, icmp.measurements((0.010, 0.011, 0.012))))
    collector.publish(spare.fail("timeout", "no echo reply", 31.0, icmp.measurements((None,) * 3)))
    collector.publish(spare.ok(61.0, icmp.measurements((0.010, 0.011, 0.012))))
    gc.collect()
    before = len(gc.get_objects())
    for started in (61.0, 91.0):
        for check in checks:
            collector.publish(check.ok(started, icmp.measurements((0.010, 0.011, 0.012))))
    del check
    gc.collect(0)
    assert len(gc.get_objects()) - before <= 2  # was +944 for these 500 checks


def test_a_run_of_known_checks_leaves_nothing_for_young_collections_to_walk() -> None:
    """A check's gauges were kept as a tuple of floats made at every run: tracked until a collection
    walks it, and replacing the previous one adds nothing to the count that sets off young collections,
    so every check's copy waited in generation 0 (20,000 of a young collection's 88,000 objects at
    20,000 checks; young collections averaged 57-59 ms at 50,000, issue 16). A run of ICMP checks that
    already had results now leaves no tracked object behind, before any collection."""
    collector = ResultCollector(icmp.METRICS)
    checks = [_check(site=f"xa-{n}") for n in range(500)]
    for check in checks:
        collector.publish(check.ok(1.0, icmp.measurements((0.010, 0.011, 0.012))))

    def run() -> None:
        for check in checks:
            collector.publish(check.ok(31.0, icmp.measurements((0.012, 0.010, 0.011))))

    assert young_growth(run) <= 2  # was +500, a tuple per check
    assert b'netmon_icmp_rtt_median_seconds{site="xa-7"' in b"".join(collector.render_text())


def test_site_and_link_facts_keep_little_beside_their_text() -> None:
    """A site's and its links' facts kept (label, value) pairs and a samples tuple each beside their
    text, for `collect` alone: ~0.7 KB a check at 50,000 checks (issue 16's 12 KB per check). Now their
    label values only; the text is what a scrape sends."""
    sites = [{"site": f"xa-{n:05d}", "name": f"Xã thử tải {n}", "kind": "commune", "district": "Huyện 1",
              "link_type": "fiber", "isp": "VNPT", "upstream": "hub-bench", "lat": f"{10.5 + n / 1e3:.4f}",
              "lon": "104.5000"} for n in range(2000)]
    links = [{"site": site["site"], "link": link, "link_type": "fiber", "isp": "VNPT", "role": "primary"}
             for site in sites for link in ("primary", "backup")]
    collector = ResultCollector(SPECS)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        collector.set_sites(sites)
        collector.set_links(links)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    text = sum(len(chunk) for chunk in collector.render_text(["netmon_site_info", "netmon_link_info"]))
    assert (kept - text) / len(sites) < 1_100  # was 2,160 bytes a site (a site info and two links)
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("netmon_link_info", {**links[3]}) == 1.0
    assert registry.get_sample_value("netmon_site_info", sites[7]) == 1.0
