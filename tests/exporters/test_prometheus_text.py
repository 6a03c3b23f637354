"""The fast text renderer says exactly what prometheus_client's generic exposition says."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporters.prometheus import ResultCollector, _grouped, _text
from probes.base import Check, Kind, Measurement, MetricSpec, ProbeOptions, Result

SPECS = [
    MetricSpec("netmon_icmp_packet_loss_ratio", Kind.GAUGE, "loss"),
    MetricSpec("netmon_icmp_packets_sent", Kind.INCREMENT, "sent"),
    MetricSpec("netmon_icmp_rtt_seconds", Kind.OBSERVATION, "rtt", buckets=(0.01, 0.1, 1, 2.5)),
    MetricSpec("netmon_interface_in_octets_total", Kind.COUNTER, "octets\nwith \\ odd help", labels=("ifname",)),
    MetricSpec("netmon_device_info", Kind.INFO, "info", labels=("sysname", "descr")),
    MetricSpec("netmon_http_duration_seconds", Kind.GAUGE, "phases", labels=("phase",)),
]


def _samples(text: str) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted((s.name, tuple(sorted(s.labels.items())), s.value)
                  for family in text_string_to_metric_families(text) for s in family.samples)


def _families(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_text_renderer_matches_generic_exposition() -> None:
    collector = ResultCollector(SPECS)
    registry = CollectorRegistry()
    registry.register(collector)
    collector.set_histograms(["chieng-mung/icmp-primary"])
    odd = Check(site="chieng-mung", id="icmp-primary", probe="icmp", target='198.18.1.2"\\\n',
                options=ProbeOptions(), link="primary")
    plain = Check(site="to-hieu", id="snmp", probe="snmp", target="198.18.1.3", options=ProbeOptions())
    for started in (1000.0, 1030.0):
        collector.publish(odd.ok(started, [
            Measurement("netmon_icmp_packet_loss_ratio", 0.2), Measurement("netmon_icmp_packets_sent", 5),
            Measurement("netmon_icmp_rtt_seconds", 0.004), Measurement("netmon_icmp_rtt_seconds", 3.0),
        ]))
    collector.publish(odd.fail("timeout", "no reply", 1060.0, [Measurement("netmon_icmp_packets_sent", 5)]))
    collector.publish(plain.ok(1000.0, [
        Measurement("netmon_interface_in_octets_total", 1.5e12, (("ifname", "ge-0/0/1"),)),
        Measurement("netmon_device_info", 7.0, (("sysname", "Cisco \"ISR\""), ("descr", "a\\b"))),
        Measurement("netmon_http_duration_seconds", 0.01, (("phase", "dns"),)),
        Measurement("netmon_http_duration_seconds", 0.02, (("phase", "connect"),)),
    ]))
    collector.set_sites([{"site": "chieng-mung", "name": "Chiềng Mung", "kind": "commune", "lat": "21.1693"}])
    collector.set_links([{"site": "chieng-mung", "link": "primary", "link_type": "fiber", "isp": "VNPT",
                          "role": "primary"}])
    collector.set_thresholds({"fiber": {"rtt_down": 0.3, "loss_down": 0.5}})

    fast = b"".join(collector.render_text()).decode()
    generic = generate_latest(registry).decode()

    assert _samples(fast) == _samples(generic)
    assert _families(fast) == _families(generic)
    assert len(_samples(fast)) == 24  # the failed check says since when it fails


def test_text_renderer_forgets_removed_checks() -> None:
    collector = ResultCollector(SPECS)
    keep = Check(site="a", id="icmp", probe="icmp", target="127.0.0.1", options=ProbeOptions())
    gone = Check(site="b", id="icmp", probe="icmp", target="127.0.0.2", options=ProbeOptions())
    for check in (keep, gone):
        collector.publish(check.ok(1.0, [Measurement("netmon_icmp_packet_loss_ratio", 0.0)]))
    collector.retain([keep.key])
    text = b"".join(collector.render_text()).decode()
    assert 'site="a"' in text
    assert 'site="b"' not in text


def test_go_float_formatting_matches_prometheus_client() -> None:
    """The fast path's float writer against prometheus_client's, on the values where Go and Python
    differ (exponents, huge and tiny numbers, specials) and ordinary ones."""
    from prometheus_client.utils import floatToGoString

    from exporters.prometheus import _go

    values = [0.0, -0.0, 1.0, 5, 1234567, 0.5, 1e-05, 1.5e-05, 123456.7, 1234567.8, 1.5e12, -1.5e12, 1e22,
              1.7976931348623157e308, 5e-324, float("inf"), float("-inf"), float("nan"), 0.1 + 0.2,
              1764567890.123, -123456789.5, 30.0, 4.5]
    assert [_go(v) for v in values] == [floatToGoString(v) for v in values]


def test_steady_lines_follow_a_family_that_gains_a_sample() -> None:
    """Once every family of a check has one sample, ``publish`` writes each as its family's line; a
    new failure reason, a new labelled series or a new gauge in a later run must still come out as
    prometheus_client says (the family then has two samples)."""
    specs = [*SPECS, MetricSpec("netmon_probe_bytes", Kind.INCREMENT, "bytes", labels=("direction",))]
    collector = ResultCollector(specs)
    registry = CollectorRegistry()
    registry.register(collector)
    check = Check(site="muong-bu", id="icmp", probe="icmp", target="198.18.1.9", options=ProbeOptions())
    other = Check(site="muong-bu", id="tcp", probe="tcp", target="198.18.1.9:22", options=ProbeOptions())
    sent = Measurement("netmon_icmp_packets_sent", 5)
    loss = Measurement("netmon_icmp_packet_loss_ratio", 0.0)
    out, into = (Measurement("netmon_probe_bytes", n, (("direction", way),)) for n, way in ((500, "out"), (480, "in")))
    runs = [
        check.ok(1000.0, [loss, sent]),
        check.ok(1030.0, [Measurement("netmon_icmp_packet_loss_ratio", 0.2), sent]),
        check.fail("timeout", "no reply", 1060.0, [sent]),
        check.fail("timeout", "no reply", 1090.0, [sent]),
        check.fail("unreachable", "no route", 1120.0, [sent]),
        check.ok(1150.0, [loss, sent]),
        other.ok(1000.0, [out]),
        other.ok(1030.0, [out]),
        other.ok(1060.0, [out, into]),
        other.ok(1090.0, [out, into]),
    ]
    for run in runs:
        collector.publish(run)
        fast = b"".join(collector.render_text()).decode()
        assert _samples(fast) == _samples(generate_latest(registry).decode())
    assert 'reason="timeout"} 2.0' in fast and 'reason="unreachable"} 1.0' in fast
    assert 'direction="in"} 960.0' in fast and 'direction="out"} 2000.0' in fast


def test_template_lines_are_the_grouped_encoding_byte_for_byte() -> None:
    """While a check's families have one sample each, ``publish`` only fills its values into a
    template of its lines (`ResultCollector._template`); after every run of ICMP checks (successes,
    losses, failures and recoveries, timestamps written with exponents, a check with its own labels),
    the text must be byte for byte what grouping the samples writes (and say what prometheus_client
    says), so a template that drifts from `_samples` (a value in another family's line, a label or a
    name changed) fails here — whether `_fill` wrote the lines in one call or, for values Go writes
    otherwise than Python's repr and for a label with a carriage return, line by line."""
    from probes import icmp

    collector = ResultCollector([*icmp.METRICS, *SPECS[3:4]])
    registry = CollectorRegistry()
    registry.register(collector)
    pings = [Check(site=f"xa-{n}", id="icmp", probe="icmp", target=f"198.18.1.{n}", options=ProbeOptions(),
                   link="primary") for n in range(3)]
    snmp = Check(site="xa-0", id="snmp", probe="snmp", target="198.18.1.0", options=ProbeOptions())
    odd_values = Check(site="xa-9", id="odd", probe="icmp", target="198.18.1.9", options=ProbeOptions())
    carriage = Check(site="xa-9", id="cr", probe="icmp", target="198.18.1.9\r", options=ProbeOptions())
    whole_seconds = Check(site="xa-9", id="int", probe="icmp", target="198.18.1.9", options=ProbeOptions())
    bursts = [(0.010437, 0.011, 0.0125), (0.010437, None, 0.0125), (None, None, None), (0.2, 0.3, 1.25e-05)]
    steady = 0
    for run in range(8):
        started = 1764567890.123 + 30 * run
        for n, check in enumerate(pings):
            rtts = bursts[(run + n) % len(bursts) if n else min(run, 1)]
            found = icmp.measurements(rtts)
            result = (check.fail("timeout", "no echo reply", started, found, ended=started + 1.25)
                      if rtts.count(None) == len(rtts) else check.ok(started, found, ended=started + 0.41))
            state = collector._checks.get(check.key)
            steady += state is not None and state.template is not None
            collector.publish(result)
        collector.publish(snmp.ok(started, [
            Measurement("netmon_interface_in_octets_total", 1.5e12 + run, (("ifname", "ge-0/0/1"),))]))
        # Values Go writes otherwise than Python's repr (inf, nan, 7 digits before the point, an int
        # duration), a value under 10^6 written with an exponent, and a label whose text splits a line.
        for odd, value in ((odd_values, (float("inf"), float("nan"), 1e-05)[run % 3]),
                           (carriage, 0.25 * run), (whole_seconds, 0.25 * run)):
            collector.publish(Result(odd.site, odd.id, odd.probe, odd.target, odd.link, run % 4 != 2, started,
                                     run or 1, measurements=(Measurement(icmp.LOSS, value),
                                                             Measurement(icmp.SENT, 400_000.0))))
        for key, state in collector._checks.items():
            kept = {name: lines[key] for name, lines in collector._families.items() if key in lines}
            assert kept == {name: _text(state.head, found)
                            for name, found in _grouped(collector._samples(state)).items()}
        fast = b"".join(collector.render_text()).decode()
        assert repr(_samples(fast)) == repr(_samples(generate_latest(registry).decode()))  # nan != nan
    assert steady >= 12  # most runs took the template
