"""The Result → series contract, asserted on registry samples (no HTTP needed)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from exporters.prometheus import ResultCollector
from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions

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
