"""A model of PacketLossHigh: how often it fires on a link under its limit, how soon on one above it.

Not a measurement: one lab run sees one link for minutes, and a false-firing rate of one a week cannot
be seen there. The model draws every echo's fate (independent loss at a true ratio ``p``) and follows
the path the shipped rule sees:

- a link's ICMP check runs every 30 s with 5 echoes and publishes sent/received counters and the run's
  loss ratio (a gauge); Prometheus scrapes every 15 s and evaluates the rules every 15 s, so a window
  of W seconds holds W/15 samples: the ratio gauge counts each run 2 times (3 at an edge, in effect
  weights by where the window falls), and ``increase()`` of a counter sees the runs published between
  its first and last sample (W - 15 s: 19 or 20 runs in 10 min) and extrapolates by W / (W - 15 s);
- a rule is a list of alternatives (window, z, share): the alert's expression holds when any
  alternative's one-sided Wilson lower bound of lost/sent over its window (n = the extrapolated echoes
  sent, as PromQL computes it) is above the limit and the last 10 min's observed ratio above ``share``
  of it; ``z=None`` is the rule before: the average of the ratio gauge over 10 min above the limit;
- Prometheus's ``for`` (the expression true at every evaluation for that long) and ``keep_firing_for``
  (a firing alert stays firing until the expression has been false that long) as in rules/alerting.go,
  and the hold the shipped rule makes with its own ALERTS series (once firing, it also holds while the
  last 10 min's observed ratio is above ``hold_share`` of the limit).

It prints, per rule: false firings a link-week at 2/3 of each link type's limit (and at the issue's
1 % / 2 % fiber, 4 % / 5 % 4G), the minutes from a loss's start to the firing (median, 90th percentile)
and, for a 90-min loss, how often it is notified more than once and how long after it ends it resolves.

Not modelled: loss that comes in bursts (a real link's loss is rarely independent: bursts make the
window's count more variable, so more false firings at a given mean than modelled), and runs that lose
every echo (the ``netmon:link_up`` guard then holds the alert off for the window; at 30 % loss that is
0.3^5 = 0.24 % of runs).

Run: ``python -m bench.loss_rule_model [--weeks 2000] [--trials 2000]`` (numpy: ``pip install -e
'.[bench]'``). Figures in bench/README.md ("Alert truth" → "PacketLossHigh: the model").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

TICK = 15  # s: scrape and evaluation interval
RUN_TICKS = 2  # a run every 30 s
ECHOES = 5
RECENT = 600  # s: the window whose observed ratio a firing alert holds on
Rng = np.random.Generator

#: Link types' loss limits (config/communes.yaml).
LIMITS = {"fiber": 0.02, "4g": 0.05, "microwave": 0.03, "vsat": 0.05}


@dataclass(frozen=True)
class Rule:
    """One shape of PacketLossHigh: alternatives (window s, z or None for the old average, share of the
    limit the last 10 min's observed ratio must also reach: 0 for none), for, keep."""

    name: str
    alternatives: tuple[tuple[int, float | None, float], ...]
    for_s: int
    keep_s: int = 60
    #: Once firing, the alert also holds while the last 10 min's observed ratio is above this share of
    #: the limit (its own ALERTS series in the expression); 0: no such hold.
    hold_share: float = 0.0


#: The rule before, #21c's proposal, the two windows alone, and SHIPPED_NOW (alerts/netmon.rules.yml).
BEFORE = Rule("before: avg_over_time(ratio[10m]) > limit, for 5m", ((600, None, 0),), 300)
SHIPPED_NOW = Rule("shipped now: Wilson 99.99 % on 10m, or 99.9 % on 1h with the 10-min ratio > limit/2;"
                   " for 3m; held while the 10-min ratio > limit/2",
                   ((600, 3.719, 0), (3600, 3.090, 0.5)), 180, hold_share=0.5)
RULES = (
    BEFORE,
    Rule("Wilson 95 % on 10m, for 5m", ((600, 1.645, 0),), 300),
    Rule("Wilson 99.99 % on 10m or 99.9 % on 1h, for 3m, no hold",
         ((600, 3.719, 0), (3600, 3.090, 0)), 180),
    SHIPPED_NOW,
)


def wilson_low(lost: np.ndarray, sent: np.ndarray, z: float) -> np.ndarray:
    """One-sided Wilson lower bound of the loss ratio: the same arithmetic as the rule's PromQL."""
    p = lost / np.maximum(sent, 1e-9)
    z2 = z * z
    return (p + z2 / (2 * sent) - z * np.sqrt(p * (1 - p) / sent + z2 / (4 * sent * sent))) / (1 + z2 / sent)


def expression(rule: Rule, lost_runs: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The alert expression at every evaluation (trials x ticks), from each run's lost echoes.

    Run ``r`` is published at tick ``2r + phase`` (phase random per trial); evaluation ``t`` reads the
    samples of ticks ``t - W/15 + 1 .. t``."""
    trials, runs = lost_runs.shape
    ticks = runs * RUN_TICKS
    phase = np.random.default_rng(1).integers(0, RUN_TICKS, trials)
    lost_tick = np.zeros((trials, ticks + 1))
    sent_tick = np.zeros((trials, ticks + 1))
    ratio = np.zeros((trials, ticks + 1))  # the gauge: last published run's ratio
    rows = np.arange(trials)[:, None]
    cols = np.arange(runs)[None, :] * RUN_TICKS + phase[:, None]
    lost_tick[rows, cols] = lost_runs
    sent_tick[rows, cols] = ECHOES
    ratio[rows, cols] = lost_runs / ECHOES
    published = np.zeros((trials, ticks + 1), bool)
    published[rows, cols] = True
    idx = np.where(published, np.arange(ticks + 1)[None, :], 0)
    ratio = np.take_along_axis(ratio, np.maximum.accumulate(idx, axis=1), axis=1)
    cum_lost = np.cumsum(lost_tick, axis=1)
    cum_sent = np.cumsum(sent_tick, axis=1)
    cum_ratio = np.concatenate([np.zeros((trials, 1)), np.cumsum(ratio, axis=1)], axis=1)
    start = max(w for w, _, _ in rule.alternatives) // TICK
    holds = np.zeros((trials, ticks + 1 - start), bool)
    t = np.arange(start, ticks + 1)
    ten = RECENT // TICK - 1  # sample intervals in the 10-min window
    recent = ((cum_lost[:, t] - cum_lost[:, t - ten])  # the last 10 min's observed ratio
              / np.maximum(cum_sent[:, t] - cum_sent[:, t - ten], 1))
    for window, z, share in rule.alternatives:
        samples = window // TICK
        if z is None:
            avg = (cum_ratio[:, t + 1] - cum_ratio[:, t + 1 - samples]) / samples
            holds |= avg > limit + 1e-12
            continue
        lost = cum_lost[:, t] - cum_lost[:, t - samples + 1]
        sent = cum_sent[:, t] - cum_sent[:, t - samples + 1]
        factor = window / ((samples - 1) * TICK)
        with np.errstate(invalid="ignore", divide="ignore"):
            holds |= ((sent > 0) & (wilson_low(lost * factor, sent * factor, z) > limit)
                      & (recent > share * limit + 1e-12 if share else True))
    return holds, (recent > rule.hold_share * limit + 1e-12) if rule.hold_share else holds


def firings(rule: Rule, confirm: np.ndarray, hold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial: how many times the alert started firing, the evaluation of the first (-1: never) and the
    evaluation at which the last resolved (-1: never fired).

    Pending from the first evaluation ``confirm`` holds, firing once it has held ``for`` (evaluations
    0..for/15: ``ts - activeAt >= for``); a firing alert stays while ``confirm`` or ``hold`` does and
    resolves at the (keep/15 + 1)-th evaluation in a row without either (keep_firing_for)."""
    need, keep = rule.for_s // TICK, rule.keep_s // TICK
    trials, evals = confirm.shape
    count = np.zeros(trials, int)
    first = np.full(trials, -1)
    resolved = np.full(trials, -1)
    edges = np.diff(np.pad(confirm.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    quiet = np.diff(np.pad((~(confirm | hold)).astype(np.int8), ((0, 0), (1, 1))), axis=1)
    for trial in np.flatnonzero(confirm.any(axis=1)):
        starts = np.flatnonzero(edges[trial] == 1)
        ends = np.flatnonzero(edges[trial] == -1)  # one past each run's last true evaluation
        q_starts = np.flatnonzero(quiet[trial] == 1)
        q_long = q_starts[(np.flatnonzero(quiet[trial] == -1) - q_starts) > keep]  # gaps that resolve
        until = -1  # the evaluation at which the firing alert resolves
        for s, e in zip(starts, ends, strict=True):
            if s < until or e - s <= need:
                continue
            count[trial] += 1
            fire = s + need
            if first[trial] < 0:
                first[trial] = fire
            gap = q_long[q_long > fire]
            until = int(gap[0]) + keep if gap.size else evals
            resolved[trial] = until
    return count, first, resolved


def false_per_week(rule: Rule, p: float, limit: float, weeks: int, rng: Rng) -> int:
    """Firings over ``weeks`` link-weeks of a link whose true loss is ``p`` (25 link-weeks at a time)."""
    runs = 7 * 24 * 120 + 240
    total = 0
    done = 0
    while done < weeks:
        chunk = min(25, weeks - done)
        holds = expression(rule, rng.binomial(ECHOES, p, size=(chunk, runs)).astype(float), limit)
        total += int(firings(rule, *holds)[0].sum())
        done += chunk
    return total


def detection(rule: Rule, p: float, limit: float, trials: int, rng: Rng) -> tuple[float, float, float]:
    """Minutes from loss ``p`` starting on a clean link to firing: median, 90th percentile, share in 3 h."""
    clean, after = 240, 360  # runs: 2 h clean (longer than any window), then 3 h of loss
    lost = np.concatenate([np.zeros((trials, clean)), rng.binomial(ECHOES, p, size=(trials, after))], axis=1)
    holds = expression(rule, lost.astype(float), limit)
    start = max(w for w, _, _ in rule.alternatives) // TICK
    first = firings(rule, *holds)[1]
    onset = clean * RUN_TICKS - start  # evaluation index of the first lossy run's tick (phase 0)
    minutes = (first - onset) * TICK / 60
    hit = first >= onset
    if not hit.any():
        return float("nan"), float("nan"), 0.0
    m = np.where(hit, minutes, np.inf)
    return float(np.median(m)), float(np.percentile(m, 90, method="lower")), float(hit.mean())


def fault(rule: Rule, p: float, limit: float, trials: int, rng: Rng) -> tuple[float, float, float]:
    """A 90-min loss ``p`` between clean hours: share of faults notified more than once, median and
    90th percentile of the minutes from the loss's end to the last resolve (faults that fired; negative:
    the last notification had resolved while the loss went on)."""
    clean, lossy = 240, 180
    lost = np.concatenate([np.zeros((trials, clean)), rng.binomial(ECHOES, p, size=(trials, lossy)),
                           np.zeros((trials, 2 * clean))], axis=1)
    holds = expression(rule, lost.astype(float), limit)
    start = max(w for w, _, _ in rule.alternatives) // TICK
    count, _, resolved = firings(rule, *holds)
    fired = count > 0
    if not fired.any():
        return 0.0, float("nan"), float("nan")
    after = (resolved[fired] - ((clean + lossy) * RUN_TICKS - start)) * TICK / 60
    p90 = float(np.percentile(after, 90, method="lower"))
    return float((count > 1).mean()), float(np.median(after)), p90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=1000, help="link-weeks per false-firing figure")
    parser.add_argument("--trials", type=int, default=2000, help="loss onsets per detection figure")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    under = (("microwave", 0.02), ("fiber", 0.02 * 2 / 3), ("4g", 0.05 * 2 / 3), ("vsat", 0.05 * 2 / 3),
             ("fiber", 0.01), ("4g", 0.04))
    over = (("4g", 0.08), ("4g", 0.10), ("4g", 0.30), ("fiber", 0.05), ("microwave", 0.06))
    for rule in RULES:
        print(f"== {rule.name}")
        for kind, p in under:
            n, weeks = false_per_week(rule, p, LIMITS[kind], args.weeks, rng), args.weeks
            bound = f" (< {3 / weeks:.4f} at 95 %)" if n == 0 else ""
            print(f"  false: {kind} at {p:.2%} (limit {LIMITS[kind]:.0%}): {n / weeks:.4f} a week{bound}"
                  f" [{n} in {weeks} link-weeks]")
        for kind, p in over:
            med, p90, share = detection(rule, p, LIMITS[kind], args.trials, rng)
            twice, res, res90 = fault(rule, p, LIMITS[kind], args.trials // 4, rng)
            print(f"  detect: {kind} at {p:.0%} (limit {LIMITS[kind]:.0%}): median {med:.1f} min,"
                  f" 90 % by {p90:.1f} min, {share:.1%} within 3 h; a 90-min fault notified more than once"
                  f" {twice:.1%}, resolved {res:.1f} min after it ends (90 %: {res90:.1f})")


if __name__ == "__main__":
    main()
