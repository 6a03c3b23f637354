"""Link statistics of one echo burst: loss, RTT summary, RFC 3550 jitter and a meeting-quality MOS.

Pure functions on a burst's per-echo RTTs (seconds, in send order, ``None`` for a lost echo), shared by
the icmp probe, the CLI and the history store so that every place computes the same numbers.

Meeting quality (`mos`) is a simplified ITU-T G.107 E-model, as popularised by R. G. Cole and
J. H. Rosenbluth, "Voice over IP performance monitoring", ACM SIGCOMM CCR 31(2), 2001:

- one-way delay ``d`` (ms) = RTT/2 + 2 × jitter + codec delay (10 ms; the "effective latency" of the
  common simplification: a jitter buffer holds about two jitters);
- delay impairment ``Id = 0.024 d + 0.11 (d − 177.3) H(d − 177.3)`` (H = step function);
- loss impairment, G.107 (2015) eq. 7-29 with random loss (BurstR = 1):
  ``Ie_eff = Ie + (95 − Ie) × Ppl / (Ppl + Bpl)``, Ppl in percent; G.711 with packet-loss concealment:
  ``Ie = 0``, ``Bpl = 25.1`` (G.113 Appendix I);
- ``R = 93.2 − Id − Ie_eff`` (default G.107 values for everything else);
- ``MOS = 1 + 0.035 R + 7·10⁻⁶ R (R − 60)(100 − R)``, 1 for R < 0, 4.5 for R > 100 (G.107 Annex B).

A perfect link scores about 4.41; 4.0 is "satisfied", below 3.6 many users complain, below 2.6 the
meeting is barely usable. It is an estimate for ranking links, not a listening test.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Codec + packetisation delay added to the one-way delay (seconds).
CODEC_DELAY = 0.010
#: G.711 with packet-loss concealment (ITU-T G.113 Appendix I).
IE_G711 = 0.0
BPL_G711 = 25.1


@dataclass(frozen=True, slots=True)
class RttSummary:
    """Min/median/avg/max and population standard deviation of the received RTTs, seconds."""

    minimum: float
    median: float
    average: float
    maximum: float
    stddev: float


def loss_ratio(sent: int, received: int) -> float:
    """Share of echoes without a reply, 0-1; 0 when nothing was sent (nothing was lost)."""
    if sent <= 0:
        return 0.0
    return max(0.0, min(1.0, (sent - received) / sent))


def summarize(rtts: Sequence[float | None]) -> RttSummary | None:
    """Summary of the received RTTs, or None when nothing came back.

    The standard deviation is the population one (like ping's ``mdev``): a burst is the whole sample.
    It is computed in floats: `statistics.pstdev` works in exact fractions, which made it the
    largest single cost of a 20,000-check scheduler (bench/README.md, Scale).
    """
    got = [r for r in rtts if r is not None]
    if not got:
        return None
    average = statistics.fmean(got)
    stddev = math.sqrt(math.fsum((r - average) ** 2 for r in got) / len(got))
    return RttSummary(min(got), statistics.median(got), average, max(got), stddev)


def jitter(rtts: Sequence[float | None]) -> float:
    """RFC 3550 § 6.4.1 interarrival jitter over consecutive *received* echoes, seconds.

    ``D`` is the difference of the transit times (here RTTs) of two consecutive received packets and
    ``J += (|D| − J) / 16`` from J = 0. Lost echoes are skipped, so ``D`` spans the gap. With fewer
    than two replies there is no difference to measure and the jitter is 0.
    """
    value = 0.0
    previous: float | None = None
    for rtt in rtts:
        if rtt is None:
            continue
        if previous is not None:
            value += (abs(rtt - previous) - value) / 16
        previous = rtt
    return value


def r_factor(rtt: float, jitter_s: float, loss: float, ie: float = IE_G711, bpl: float = BPL_G711) -> float:
    """E-model transmission rating R for a link with average ``rtt``, ``jitter_s`` and ``loss`` ratio."""
    d = (rtt / 2 + 2 * jitter_s + CODEC_DELAY) * 1000
    delay_impairment = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = loss * 100
    ie_eff = ie + (95 - ie) * ppl / (ppl + bpl)
    return 93.2 - delay_impairment - ie_eff


def mos_from_r(r: float) -> float:
    """ITU-T G.107 Annex B: R factor → estimated mean opinion score, 1.0-4.5."""
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    return max(1.0, min(4.5, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)))


def mos(rtts: Sequence[float | None]) -> float:
    """Meeting-quality estimate (MOS 1-4.5) of a burst; 1.0 when nothing came back."""
    got = [r for r in rtts if r is not None]
    if not got:
        return 1.0
    return mos_from_r(r_factor(statistics.fmean(got), jitter(rtts), loss_ratio(len(rtts), len(got))))
