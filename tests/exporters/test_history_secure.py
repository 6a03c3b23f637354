"""A secure-channel outage is recorded with its own cause, never as a link outage, and not at all while
the line it rides is down (the line's outage says it once)."""

from __future__ import annotations

from exporters.history_outages import OutageTracker, Topology
from probes.base import Result

T0 = 1_700_000_000.0
TOPOLOGY = Topology(upstream={"to-hieu": "hub-son-la"}, secure={"to-hieu/secure-channel": "primary"})


def run(check: str, k: int, ok: bool) -> Result:
    link = "" if check == "secure-channel" else "primary"
    return Result("to-hieu", check, "icmp", "198.18.241.1", link, ok, T0 + 30 * k, 0.01,
                  None if ok else "timeout", None if ok else "no reply")


def feed(tracker: OutageTracker, timeline: dict[str, str]) -> None:
    """``timeline``: check → one character per 30 s run, ``+`` answered, ``-`` lost."""
    for k in range(max(len(t) for t in timeline.values())):
        for check, runs in timeline.items():
            if k < len(runs):
                tracker.observe(run(check, k, runs[k] == "+"))


def test_dead_encryptor_beside_a_live_line_is_its_own_outage() -> None:
    tracker = OutageTracker(TOPOLOGY)
    feed(tracker, {"icmp-primary": "++++++++", "secure-channel": "++----++"})
    [outage] = [o for s in tracker._subjects.values() for o in s.closed or ()]
    assert (outage.link, outage.cause) == ("secure-channel", "secure_channel")
    assert (outage.start, outage.end) == (T0 + 60, T0 + 180)


def test_a_cut_line_is_the_lines_outage_only() -> None:
    tracker = OutageTracker(TOPOLOGY)
    feed(tracker, {"icmp-primary": "++----++", "secure-channel": "++-----+"})
    closed = [o for s in tracker._subjects.values() for o in s.closed or ()]
    assert [(o.link, o.cause) for o in closed] == [("primary", "link")]


def test_without_the_inventory_fact_it_would_read_as_a_link_outage() -> None:
    """What the topology's ``secure`` prevents (the test fails if the tracker ignores it)."""
    tracker = OutageTracker(Topology(upstream={"to-hieu": "hub-son-la"}))
    feed(tracker, {"icmp-primary": "++++++++", "secure-channel": "++----++"})
    [outage] = [o for s in tracker._subjects.values() for o in s.closed or ()]
    assert outage.cause == "link"
