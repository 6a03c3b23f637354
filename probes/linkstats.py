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
from collections.abc import Callable, Sequence
from typing import NamedTuple

#: Codec + packetisation delay added to the one-way delay (seconds).
CODEC_DELAY = 0.010
#: G.711 with packet-loss concealment (ITU-T G.113 Appendix I).
IE_G711 = 0.0
BPL_G711 = 25.1


class RttSummary(NamedTuple):
    """Min/median/avg/max and population standard deviation of the received RTTs, seconds (a named
    tuple: built once per ICMP run, in a third of a frozen dataclass's time)."""

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
    got.sort()
    n = len(got)
    if not n:
        return None
    average = math.fsum(got) / n  # statistics.fmean and .median, inlined: this runs once per ICMP run
    mid = n // 2
    median = got[mid] if n % 2 else (got[mid - 1] + got[mid]) / 2
    stddev = math.sqrt(math.fsum([(r - average) ** 2 for r in got]) / n)
    return RttSummary(got[0], median, average, got[-1], stddev)


#: Differences after which RFC 3550's running estimate has forgotten its start at 0 ((15/16)^64 ≈ 1.6 %).
RFC3550_SETTLED = 64


def jitter(rtts: Sequence[float | None]) -> float:
    """The jitter of consecutive *received* echoes, seconds: the mean of ``|D|``, the difference of
    two consecutive RTTs (lost echoes are skipped, so ``D`` spans the gap); 0 with fewer than two replies.

    RFC 3550 § 6.4.1's ``J += (|D| − J) / 16`` from J = 0 converges to the same mean, but only over a
    long stream: after a 5-echo burst it has reached about a quarter of it (80 ms of jitter on 4G read
    as ~20 ms, under every limit). It is used once the stream is long enough (`RFC3550_SETTLED`).
    """
    diffs: list[float] = []
    previous: float | None = None
    for rtt in rtts:
        if rtt is None:
            continue
        if previous is not None:
            diffs.append(abs(rtt - previous))
        previous = rtt
    if len(diffs) < RFC3550_SETTLED:
        return math.fsum(diffs) / len(diffs) if diffs else 0.0
    value = 0.0
    for d in diffs:
        value += (d - value) / 16
    return value


def loss_bounds(sent: int, lost: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of the loss ratio after ``lost`` of ``sent`` echoes.

    A verdict about loss is a claim about the link, not about one burst: 1 lost of 5 is "somewhere
    between 0.5 % and 72 %", not "20 % — a cut cable". Bisection on the binomial tail (n is small).
    """
    if sent <= 0:
        return 0.0, 1.0
    alpha = (1 - confidence) / 2

    def at_least_k(p: float, k: int) -> float:  # P(X >= k) at loss p
        return math.fsum(math.comb(sent, i) * p**i * (1 - p) ** (sent - i) for i in range(k, sent + 1))

    def at_least(p: float) -> float:
        return at_least_k(p, lost)

    def solve(f: Callable[[float], float], target: float) -> float:  # f increases with p
        lo, hi = 0.0, 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
        return (lo + hi) / 2

    lower = 0.0 if lost == 0 else solve(at_least, alpha)
    # P(X <= lost) = alpha  <=>  P(X >= lost + 1) = 1 - alpha
    upper = 1.0 if lost == sent else solve(lambda p: at_least_k(p, lost + 1), 1 - alpha)
    return lower, upper


def echoes_to_judge(limit: float, confidence: float = 0.95) -> int:
    """Echoes for a clean burst to show the loss is under ``limit`` with ``confidence`` (0 of n lost:
    upper bound ``1 − (α/2)^(1/n)`` < limit) — 183 for fiber's 2 %, 72 for 4G's 5 %."""
    alpha = (1 - confidence) / 2
    return math.ceil(math.log(alpha) / math.log(1 - limit)) if 0 < limit < 1 else 1


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


def mos(rtts: Sequence[float | None], summary: RttSummary | None = None,
        jitter_s: float | None = None) -> float:
    """Meeting-quality estimate (MOS 1-4.5) of a burst; 1.0 when nothing came back. A caller that has
    the burst's `summarize` and `jitter` already passes them (the ICMP probe, once per run)."""
    summary = summary or summarize(rtts)
    if summary is None:
        return 1.0
    got = len(rtts) - rtts.count(None)
    jitter_s = jitter(rtts) if jitter_s is None else jitter_s
    return mos_from_r(r_factor(summary.average, jitter_s, loss_ratio(len(rtts), got)))
