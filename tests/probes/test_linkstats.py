"""Link statistics against values computed by hand (the arithmetic is in each comment)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics

import pytest

from probes import icmp, linkstats
from probes.base import Check, Measurement, Result
from probes.icmp_engine import BurstResult
from tests.support import young_growth

BURST = [0.010, 0.020, None, 0.015]


def test_loss_ratio() -> None:
    assert linkstats.loss_ratio(4, 3) == 0.25
    assert linkstats.loss_ratio(5, 0) == 1.0
    assert linkstats.loss_ratio(0, 0) == 0.0


def test_summary_of_received_rtts() -> None:
    s = linkstats.summarize(BURST)
    assert s is not None
    assert (s.minimum, s.median, s.maximum) == (0.010, 0.015, 0.020)
    assert s.average == pytest.approx(0.015)
    # deviations -5, +5, 0 ms → variance 50/3 ms² → 4.0825 ms
    assert s.stddev == pytest.approx(0.0040825, abs=1e-7)
    assert linkstats.summarize([None, None]) is None


def test_burst_jitter_is_the_mean_rtt_difference_skipping_lost_echoes() -> None:
    # |20-10| = 10 ms; lost echo skipped; |15-20| = 5 ms → mean 7.5 ms
    assert linkstats.jitter(BURST) == pytest.approx(0.0075)
    assert linkstats.jitter([0.01]) == 0.0
    assert linkstats.jitter([0.01, 0.01, 0.01]) == 0.0


def test_a_short_burst_shows_all_of_its_jitter_not_a_quarter() -> None:
    """Issue #15 case 4: RTTs alternating 45/125 ms differ by 80 ms each time. RFC 3550's estimator
    (from 0, gain 1/16) had reached 80 × (1 − (15/16)^4) = 18.9 ms after 5 echoes; the burst's mean is 80."""
    burst = [0.045, 0.125, 0.045, 0.125, 0.045]
    assert linkstats.jitter(burst) == pytest.approx(0.080)
    long = [0.045, 0.125] * 50  # 99 differences: RFC 3550's settled value, the same 80 ms
    assert len(long) - 1 >= linkstats.RFC3550_SETTLED
    assert linkstats.jitter(long) == pytest.approx(0.080, rel=0.01)


@pytest.mark.parametrize(("sent", "lost", "low", "high"), [
    # Clopper-Pearson 95 %: matches scipy.stats.beta.ppf(0.025, k, n-k+1) and ppf(0.975, k+1, n-k) (checked once)
    (5, 0, 0.0, 0.5218),
    (5, 1, 0.00505, 0.7164),
    (50, 10, 0.1003, 0.3372),
    (100, 0, 0.0, 0.03622),
    (5, 5, 0.4782, 1.0),
])
def test_loss_interval_is_exact(sent: int, lost: int, low: float, high: float) -> None:
    lo, hi = linkstats.loss_bounds(sent, lost)
    assert (lo, hi) == (pytest.approx(low, abs=2e-4), pytest.approx(high, abs=2e-4))


def test_echoes_to_judge_a_limit() -> None:
    # 0 of n lost: upper bound 1 - 0.025^(1/n) under the limit
    assert linkstats.echoes_to_judge(0.05) == 72 and linkstats.loss_bounds(72, 0)[1] < 0.05
    assert linkstats.echoes_to_judge(0.02) == 183


def test_r_factor_delay_only() -> None:
    # d = 100/2 + 2×5 + 10 = 70 ms; Id = 0.024×70 = 1.68; R = 93.2 - 1.68 = 91.52
    assert linkstats.r_factor(0.100, 0.005, 0.0) == pytest.approx(91.52)
    # d = 400/2 + 10 = 210 ms; Id = 5.04 + 0.11×(210 - 177.3) = 8.637; R = 84.563
    assert linkstats.r_factor(0.400, 0.0, 0.0) == pytest.approx(84.563)


def test_r_factor_with_loss() -> None:
    # Ppl = 5 %: Ie_eff = 95×5/(5 + 25.1) = 15.78073; R = 91.52 - 15.78073 = 75.73927
    assert linkstats.r_factor(0.100, 0.005, 0.05) == pytest.approx(75.73927, abs=1e-4)


def test_mos_from_r() -> None:
    # 1 + 0.035×91.52 + 7e-6×91.52×31.52×8.48 = 1 + 3.2032 + 0.171236 = 4.374436
    assert linkstats.mos_from_r(91.52) == pytest.approx(4.374436, abs=1e-5)
    # 1 + 2.650874 + 7e-6×75.73927×15.73927×24.26073 = 3.853320
    assert linkstats.mos_from_r(75.73927) == pytest.approx(3.85332, abs=1e-4)
    assert linkstats.mos_from_r(-5) == 1.0
    assert linkstats.mos_from_r(120) == 4.5


def test_mos_of_a_burst() -> None:
    perfect = linkstats.mos([0.001] * 5)
    # d = 0.5 + 10 ms → R = 93.2 - 0.252 = 92.948 → MOS ≈ 4.4
    assert perfect == pytest.approx(linkstats.mos_from_r(92.948), abs=1e-6)
    assert 4.3 < perfect < 4.5
    assert linkstats.mos([0.001, None, None, None, 0.001]) < 3.0  # 60 % loss: unusable meeting
    assert linkstats.mos([None, None]) == 1.0


def test_icmp_measurements_agree_with_the_statistics_module() -> None:
    """The probe's per-run measurements (built without NamedTuple's constructor, on the ICMP hot
    path) are real `Measurement`s in the contract's order, with the values `statistics` computes."""
    rnd = random.Random(16)
    for _ in range(300):
        rtts = tuple(None if rnd.random() < 0.3 else rnd.uniform(1e-6, 0.5) for _ in range(rnd.randint(1, 12)))
        got = [r for r in rtts if r is not None]
        found = icmp.measurements(rtts)
        assert all(type(m) is Measurement and m.labels == () for m in found)
        assert [m.name for m in found[:3]] == [icmp.SENT, icmp.RECEIVED, icmp.LOSS]
        assert (found[0].value, found[1].value) == (len(rtts), len(got))
        assert found[2].value == pytest.approx(1 - len(got) / len(rtts))
        assert [m.value for m in found if m.name == icmp.RTT] == got
        values = {m.name: m.value for m in found[3 + len(got):]}
        if not got:
            assert values == {}
            continue
        diffs = [abs(b - a) for a, b in itertools.pairwise(got)]
        jitter = statistics.fmean(diffs) if diffs else 0.0
        loss = 1 - len(got) / len(rtts)
        assert values == {
            icmp.RTT_MIN: min(got), icmp.RTT_MAX: max(got),
            icmp.RTT_MEDIAN: pytest.approx(statistics.median(got), rel=1e-12),
            icmp.RTT_AVG: pytest.approx(statistics.fmean(got), rel=1e-12),
            icmp.RTT_STDDEV: pytest.approx(statistics.pstdev(got), rel=1e-9, abs=1e-15),
            icmp.JITTER: pytest.approx(jitter, rel=1e-12),
            icmp.MOS: pytest.approx(linkstats.mos_from_r(linkstats.r_factor(statistics.fmean(got), jitter, loss))),
        }


def test_an_icmp_run_keeps_its_values_beside_a_shape_every_such_run_shares() -> None:
    """A run's `Result` keeps its values as one tuple beside the `Shape` every run with as many replies
    shares; readers get the `Measurement`s they got before (iterated, indexed, sliced, `value`), and the
    run leaves 5 GC-tracked objects for the young collection: the Result, its readings, values, details
    and RTT list — it was 16 for 2 replies of 3, a `Measurement` named tuple per value (bench/README.md,
    ICMP sweep)."""
    options = icmp.IcmpOptions(count=3)
    check = Check(site="s", id="icmp", probe="icmp", target="127.0.0.1", options=options)
    bursts = [BurstResult("127.0.0.1", (0.001 * i, None, 0.002), None, 2.0) for i in range(1, 201)]
    results: list[Result] = []
    grown = young_growth(lambda: results.extend(icmp._result(check, options, burst, 1.0, "raw")
                                                for burst in bursts))
    assert grown <= 5 * len(bursts) + 5
    first, second = results[0], results[1]
    assert first.readings.shape is second.readings.shape
    assert first.readings.shape is not icmp.measurements((0.001, 0.002, 0.003)).shape
    assert first.readings.values == (3, 2, pytest.approx(1 / 3), 0.001, 0.002, *first.readings.values[5:])
    assert list(first.measurements) == [Measurement(n, v) for n, v in zip(
        (icmp.SENT, icmp.RECEIVED, icmp.LOSS, icmp.RTT, icmp.RTT, icmp.RTT_MIN, icmp.RTT_MEDIAN, icmp.RTT_AVG,
         icmp.RTT_MAX, icmp.RTT_STDDEV, icmp.JITTER, icmp.MOS), first.readings.values, strict=True)]
    assert first.measurements[3] == Measurement(icmp.RTT, 0.001) and len(first.measurements) == 12
    assert first.measurements[1:3] == (Measurement(icmp.RECEIVED, 2), Measurement(icmp.LOSS, 1 / 3))
    assert (first.value(icmp.RTT_MEDIAN), second.value(icmp.RTT_MEDIAN)) == (0.0015, 0.002)
    assert first.value("netmon_no_such") is None
    # Built from plain `Measurement`s (the agent's wire, the board), a Result is the same value.
    rebuilt = Result(first.site, first.check, first.probe, first.target, first.link, first.success,
                     first.started, first.duration, measurements=tuple(first.measurements),
                     details=first.details)
    assert rebuilt == first and rebuilt.readings.shape is first.readings.shape
    assert dataclasses.replace(first, started=0.5).measurements == first.measurements
    assert rebuilt != dataclasses.replace(first, measurements=first.measurements[:-1])
    labelled = Result("s", "snmp", "snmp", "t", "", True, 1.0, 0.1,
                      measurements=(Measurement("netmon_interface_oper_up", 1.0, (("ifname", "eth0"),)),))
    assert labelled.value("netmon_interface_oper_up", ifname="eth0") == 1.0
    assert labelled.value("netmon_interface_oper_up", ifname="eth1") is None
    assert not labelled.readings.shape.plain and first.readings.shape.plain
