"""Loss correctness at scale: 5,000 ICMP checks through `netmon run`, 10 % of echoes silently dropped.

    python bench/loss_at_scale.py [--checks 5000] [--percent 10] [--duration 180] [--interval 10]

A namespace ``nmt-scale-<pid>`` answers every address of 198.18.240.0/20 (a local route on its
loopback), behind one veth. In it, nftables drops ``--percent`` % of the echo requests sent to the
lossy half, 198.18.240.0/21, at random (``numgen random``); the other half, 198.18.248.0/21, is
healthy. The /20 holds 4,090 usable targets, so above that count checks reuse addresses (each check
still counts its own echoes). Before `netmon run` starts, fping measures the healthy targets' RTTs on
a quiet machine as the reference.

Reported, from the final /metrics scrape (packets sent and received per check, last burst's median and
max RTT) and the nft rule's counter:
- aggregate loss of the lossy checks against the binomial bounds of ``--percent`` (± 4 σ);
- per-check loss: mean, dispersion against the binomial's (ratio ≈ 1 when each check sees independent
  drops), and the share of checks outside the binomial's central 99.8 %;
- lost echoes netmon counted against the drops nftables counted (equal up to the bursts in flight);
- healthy checks: any loss at all (there must be none), median RTT p50/p99 against fping's.

Traffic goes only to loopback and 198.18.240.0/20 inside our own namespace; 198.18.0.0/15 is
blackholed in the root namespace first. Namespace, veth and routes are removed in ``finally``.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families

from bench.scale import free_port, wait_ready
from tests.support import stop_process

NS = f"nmt-scale-{os.getpid()}"
VETH = f"nms{os.getpid() % 100000}"
RANGE = ipaddress.ip_network("198.18.240.0/20")
LOSSY = ipaddress.ip_network("198.18.240.0/21")
LINK_ROOT, LINK_NS = "198.18.255.253", "198.18.255.254"  # a /30 at the top of the range


def sh(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(args, input=stdin, text=True, capture_output=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def setup(percent: int) -> None:
    done = subprocess.run(["ip", "route", "add", "blackhole", "198.18.0.0/15"], capture_output=True,
                          text=True)
    if done.returncode and "File exists" not in done.stderr:
        raise RuntimeError(f"cannot blackhole 198.18.0.0/15: {done.stderr.strip()}")
    sh("ip", "netns", "add", NS)
    sh("ip", "-n", NS, "link", "set", "lo", "up")
    sh("ip", "link", "add", f"{VETH}a", "type", "veth", "peer", "name", f"{VETH}b", "netns", NS)
    sh("ip", "addr", "add", f"{LINK_ROOT}/30", "dev", f"{VETH}a")
    sh("ip", "link", "set", f"{VETH}a", "up")
    sh("ip", "-n", NS, "addr", "add", f"{LINK_NS}/30", "dev", f"{VETH}b")
    sh("ip", "-n", NS, "link", "set", f"{VETH}b", "up")
    sh("ip", "-n", NS, "route", "add", "local", str(RANGE), "dev", "lo")  # answer the whole /20
    sh("ip", "-n", NS, "route", "add", "default", "via", LINK_ROOT)
    sh("ip", "route", "add", str(RANGE), "via", LINK_NS)
    for knob in ("net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=1000000"):
        sh("ip", "netns", "exec", NS, "sysctl", "-q", "-w", knob)
    rules = (f"table inet nmt_scale_loss {{\n chain input {{\n  type filter hook input priority 0;\n"
             f"  ip daddr {LOSSY} icmp type echo-request numgen random mod 100 < {percent} counter drop\n"
             " }\n}\n")
    sh("ip", "netns", "exec", NS, "nft", "-f", "-", stdin=rules)


def teardown() -> None:
    subprocess.run(["ip", "route", "del", str(RANGE), "via", LINK_NS], capture_output=True)
    subprocess.run(["ip", "link", "del", f"{VETH}a"], capture_output=True)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def dropped() -> int:
    found = re.search(r"counter packets (\d+)", sh("ip", "netns", "exec", NS, "nft", "list", "table", "inet",
                                                   "nmt_scale_loss"))
    return int(found.group(1)) if found else 0


def targets(count: int) -> list[str]:
    pool = [str(a) for a in RANGE.hosts() if str(a) not in (LINK_ROOT, LINK_NS)
            and not str(a).startswith("198.18.255.25")]
    return [pool[i % len(pool)] for i in range(count)]


def inventory(addresses: list[str], interval: float, echoes: int) -> str:
    head = f"""version: 1
defaults:
  interval: {interval:g}s
  timeout: {interval / 2:g}s
  link_types:
    fiber: {{rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5,
             jitter_degraded: 10ms, unreachable_after: 2m}}
datacenter:
  slug: trung-tam-du-lieu
  name: Trung tâm Dữ liệu
  address: 127.0.0.1
  location: {{lat: 21.3256, lon: 103.9188}}
hubs:
  - {{id: hub-bench, name: Trạm thử tải, district: Toàn quốc, address: 127.0.0.2}}
sites:
"""
    sites = [f"""  - slug: xa-{n:05d}
    name: Xã thử {n}
    kind: commune
    admin_code: "{n:05d}"
    district: Huyện thử
    location: {{lat: {10.5 + (n % 1000) * 0.012:.4f}, lon: {104.5 + (n % 97) * 0.02:.4f}}}
    upstream: hub-bench
    links:
      - {{id: primary, type: fiber, isp: VNPT, since: 2024-01-01, cpe: {address}}}
    checks:
      - {{id: icmp, probe: icmp, link: primary, count: {echoes}, spacing: 100ms, packet_timeout: 1s}}
""" for n, address in enumerate(addresses)]
    return head + "".join(sites)


def fping_medians(addresses: list[str], echoes: int) -> list[float]:
    """Median RTT (seconds) per address from one quiet fping sweep."""
    out = subprocess.run(["fping", "-C", str(echoes), "-q", "-p", "100", "-t", "1000", *addresses],
                         capture_output=True, text=True).stderr
    medians = []
    for line in out.splitlines():
        values = [float(v) / 1e3 for v in line.split(":", 1)[1].split() if v != "-"]
        if values:
            medians.append(statistics.median(values))
    return medians


def per_check(text: str) -> dict[str, dict[str, float]]:
    wanted = {"netmon_icmp_packets_sent_total": "sent", "netmon_icmp_packets_received_total": "received",
              "netmon_icmp_rtt_median_seconds": "median", "netmon_icmp_rtt_max_seconds": "max"}
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in wanted:
                out.setdefault(s.labels["site"], {"target": s.labels["target"]})[wanted[s.name]] = s.value
    return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def binomial_tail_bounds(n: int, p: float, tail: float = 0.001) -> tuple[int, int]:
    """Smallest and largest loss counts inside the binomial's central 1 - 2·tail."""
    pmf = [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]
    low = next(k for k in range(n + 1) if sum(pmf[:k + 1]) > tail)
    high = next(k for k in range(n, -1, -1) if sum(pmf[k:]) > tail)
    return low, high


def report(checks: dict[str, dict[str, float]], percent: int, drops: int, reference: list[float]) -> bool:
    lossy = [c for c in checks.values() if ipaddress.ip_address(c["target"]) in LOSSY and c.get("sent")]
    healthy = [c for c in checks.values() if ipaddress.ip_address(c["target"]) not in LOSSY and c.get("sent")]
    p = percent / 100
    sent = sum(c["sent"] for c in lossy)
    lost = sum(c["sent"] - c["received"] for c in lossy)
    sigma = math.sqrt(sent * p * (1 - p))
    losses = [(c["sent"] - c["received"]) / c["sent"] for c in lossy]
    n = int(statistics.median(c["sent"] for c in lossy))
    low, high = binomial_tail_bounds(n, p)
    same_n = [c for c in lossy if c["sent"] == n]
    outside = sum(1 for c in same_n if not low <= c["sent"] - c["received"] <= high)
    dispersion = statistics.pvariance(losses) / statistics.mean(p * (1 - p) / c["sent"] for c in lossy)
    healthy_lost = sum(c["sent"] - c["received"] for c in healthy)
    medians = [c["median"] for c in healthy if "median" in c]
    maxima = [c["max"] for c in healthy if "max" in c]
    checks_ok = {
        "aggregate within ±4σ": abs(lost - p * sent) <= 4 * sigma,
        "dispersion 0.8-1.25": 0.8 <= dispersion <= 1.25,
        "outside 99.8 % ≤ 1 %": outside <= 0.01 * max(1, len(same_n)),
        "healthy lost nothing": healthy_lost == 0,
        "RTT p50 ≤ fping + 0.05 ms": quantile(medians, .5) <= quantile(reference, .5) + 5e-5,
    }
    rows = [
        ("checks lossy / healthy", f"{len(lossy):,} / {len(healthy):,}"),
        ("lossy: echoes sent / lost", f"{sent:,.0f} / {lost:,.0f} = {lost / sent:.4%} "
                                      f"(expected {p:.0%} ± {4 * sigma / sent:.3%} at 4σ)"),
        ("lossy: lost by netmon / dropped by nft", f"{lost:,.0f} / {drops:,} (nft counts bursts in flight)"),
        ("lossy: per-check loss mean / sd",
         f"{statistics.mean(losses):.4f} / {statistics.pstdev(losses):.4f} "
         f"(binomial sd at n={n}: {math.sqrt(p * (1 - p) / n):.4f})"),
        ("lossy: dispersion vs binomial", f"{dispersion:.3f}"),
        (f"lossy: outside [{low}, {high}] of {n}", f"{outside} of {len(same_n)} (expected ≈ 0.2 %)"),
        ("lossy: per-check loss min / max", f"{min(losses):.3f} / {max(losses):.3f}"),
        ("healthy: echoes lost", f"{healthy_lost:,.0f} of {sum(c['sent'] for c in healthy):,.0f}"),
        ("healthy: median RTT p50 / p99 (netmon)", f"{quantile(medians, .5) * 1e3:.3f} / "
                                                   f"{quantile(medians, .99) * 1e3:.3f} ms"),
        ("healthy: median RTT p50 / p99 (fping, quiet)", f"{quantile(reference, .5) * 1e3:.3f} / "
                                                         f"{quantile(reference, .99) * 1e3:.3f} ms"),
        ("healthy: max RTT p99 (netmon)", f"{quantile(maxima, .99) * 1e3:.3f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for name, ok in checks_ok.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return all(checks_ok.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=5_000)
    parser.add_argument("--percent", type=int, default=10)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of probing")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--echoes", type=int, default=10, help="echoes per burst")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces, nftables)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="netmon-loss-"))
    proc = None
    try:
        setup(args.percent)
        addresses = targets(args.checks)
        healthy = sorted({a for a in addresses if ipaddress.ip_address(a) not in LOSSY})
        reference = fping_medians(healthy[:500], args.echoes)
        config = workdir / "inventory.yaml"
        config.write_text(inventory(addresses, args.interval, args.echoes), encoding="utf-8")
        port = free_port()
        log = (workdir / "netmon.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "run", "--config", str(config),
                                 "--listen", f"127.0.0.1:{port}", "--no-history"],
                                stdout=log, stderr=subprocess.STDOUT,
                                cwd=Path(__file__).resolve().parent.parent)
        wait_ready(f"http://127.0.0.1:{port}/-/healthy", proc)
        print(f"{args.checks:,} checks, {args.percent} % dropped on {LOSSY}; probing {args.duration:g} s",
              flush=True)
        time.sleep(args.duration)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as response:
            text = response.read().decode()
        drops = dropped()
        ok = report(per_check(text), args.percent, drops, reference)
    finally:
        if proc is not None:
            stop_process(proc, 30)
        teardown()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
