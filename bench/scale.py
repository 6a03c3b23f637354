"""`netmon run` at national scale: 20,000 ICMP checks on loopback for ten minutes.

    python bench/scale.py [--checks 20000] [--interval 30] [--duration 600] [--scrape-every 30]

Generates an inventory of ``--checks`` ICMP checks (two links per site, every CPE a distinct
127.x.y.z address, one hub, locations inside Vietnam) in a temp dir, starts ``netmon run`` on it as
a child process and scrapes its /metrics like Prometheus would. Reports:

- scheduler lag p50/p99: from the deltas of ``netmon_scheduler_lag_seconds`` between the first and the
  last scrape (linear interpolation inside a bucket, as ``histogram_quantile`` does), over the whole
  run and over the steady state after the first interval (when every check has had its first start);
- skipped checks (``netmon_checks_skipped_total``), completed runs against the runs due;
- CPU % of one core (user + system of the process, from /proc), RSS at start, after the first
  interval and at the end;
- /metrics scrape time (request to last byte) and size;
- the machine's 1-minute load average at each scrape (the build machine is shared: other runs
  compete for its 2 cores, and lag figures mean little without it);
- with ``--gc``, netmon runs under ``bench/gc_probe.py``: collections, pauses (total, longest) and
  objects freed per generation over the measured window, the young collections' pauses (mean and
  percentiles), and pymalloc's allocated blocks;
- with ``--prometheus``, what a Debian Prometheus scraping the same /metrics every ``--scrape-every``
  seconds pays at the end: head series, samples per scrape, its RSS, and its scrape duration
  (median and max of ``scrape_duration_seconds`` over the run).

Only loopback traffic. The child is stopped with SIGTERM by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import stop_process

HEADER = """version: 1
defaults:
  interval: {interval}s
  timeout: 10s
  link_types:
    fiber: {{rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5,
             jitter_degraded: 10ms, unreachable_after: 2m}}
    4g: {{rtt_degraded: 150ms, rtt_down: 800ms, loss_degraded: 0.05, loss_down: 0.5,
          jitter_degraded: 40ms, unreachable_after: 3m}}
datacenter:
  slug: trung-tam-du-lieu
  name: Trung tâm Dữ liệu
  address: 127.0.0.1
  location: {{lat: 21.3256, lon: 103.9188}}
hubs:
  - {{id: hub-bench, name: Trạm tập trung thử tải, district: Toàn quốc, address: 127.0.0.2}}
sites:
"""

SITE = """  - slug: xa-{n:05d}
    name: Xã thử tải {n}
    kind: commune
    admin_code: "{n:05d}"
    district: Huyện {d}
    location: {{lat: {lat:.4f}, lon: {lon:.4f}}}
    upstream: hub-bench
    links:
      - {{id: primary, type: fiber, isp: VNPT, since: 2024-01-01, cpe: {primary}}}
      - {{id: backup, role: backup, type: 4g, isp: Viettel, since: 2024-01-01, cpe: {backup}}}
    checks:
      - {{id: icmp-primary, probe: icmp, link: primary}}
      - {{id: icmp-backup, probe: icmp, link: backup}}
"""


def loopback(i: int) -> str:
    """The i-th CPE address: 127.1.0.0 upwards, so none collides with 127.0.0.x services."""
    n = (1 << 16) + i
    return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def inventory(checks: int, interval: float) -> str:
    """An inventory of ``checks`` ICMP checks (``checks`` rounded up to an even number)."""
    parts = [HEADER.format(interval=interval)]
    for n in range((checks + 1) // 2):
        # Spread over Vietnam's bounding box along its north-south axis (valid coordinates only).
        lat, lon = 10.5 + (n % 1000) * 0.012, 104.5 + (n % 97) * 0.02
        parts.append(SITE.format(n=n, d=n % 700, lat=lat, lon=lon,
                                 primary=loopback(2 * n), backup=loopback(2 * n + 1)))
    return "".join(parts)


# -- the process under test -------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Scrape:
    at: float
    seconds: float
    size: int
    lag: dict[float, float]  # le → cumulative count
    skipped: float
    runs: float
    cpu: float
    rss: float
    load: float  # 1-minute load average of the machine


def health(body: bytes) -> tuple[dict[float, float], float, float]:
    """The lag buckets, total skipped and runs from one exposition, without parsing all of it."""
    lag: dict[float, float] = {}
    skipped = runs = 0.0
    start = body.find(b"\nnetmon_scheduler_lag_seconds_bucket")
    for line in body[start:].split(b"\n")[1:40]:
        if line.startswith(b"netmon_scheduler_lag_seconds_bucket"):
            le = line.split(b'le="', 1)[1].split(b'"', 1)[0]
            lag[float(le)] = float(line.rsplit(b" ", 1)[1])
    pos = 0
    while (pos := body.find(b"\nnetmon_checks_skipped_total{", pos + 1)) >= 0:
        skipped += float(body[pos:body.find(b"\n", pos + 1)].rsplit(b" ", 1)[1])
    pos = body.find(b"\nnetmon_check_runs_total ")
    if pos >= 0:
        runs = float(body[pos:body.find(b"\n", pos + 1)].rsplit(b" ", 1)[1])
    return lag, skipped, runs


def scrape(url: str, pid: int) -> Scrape:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    seconds = time.monotonic() - started
    lag, skipped, runs = health(body)
    return Scrape(time.time(), seconds, len(body), lag, skipped, runs, cpu_seconds(pid), rss_mb(pid),
                  os.getloadavg()[0])


def quantile(q: float, first: dict[float, float], last: dict[float, float]) -> float:
    """``histogram_quantile`` over the bucket deltas between two scrapes."""
    bounds = sorted(last)
    counts = [last[b] - first.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower


@dataclass
class Run:
    checks: int
    interval: float
    scrapes: list[Scrape] = field(default_factory=list)
    rss_start: float = 0.0
    started: float = 0.0
    #: What the Prometheus scraping netmon paid (``--prometheus``), as report rows.
    prometheus: list[tuple[str, str]] = field(default_factory=list)
    #: What netmon's garbage collector did over the measured window (``--gc``), as report rows.
    gc: list[tuple[str, str]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"netmon run exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("netmon run did not answer /-/healthy")


def start_prometheus(workdir: Path, target: str, every: float) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's Prometheus on loopback scraping ``target`` every ``every`` s, temp storage in ``workdir``."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("--prometheus needs Debian's prometheus (apt-get install prometheus)")
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": f"{every:g}s", "scrape_timeout": f"{min(every, 60):g}s"},
        "scrape_configs": [{"job_name": "netmon", "static_configs": [{"targets": [target]}]}]}))
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, 60)
    return proc, f"http://127.0.0.1:{port}"


def prom_value(url: str, expr: str) -> float:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=60) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def head_series(url: str) -> int:
    with urllib.request.urlopen(f"{url}/api/v1/status/tsdb", timeout=60) as response:
        return int(json.load(response)["data"]["headStats"]["numSeries"])


def prometheus_rows(url: str, pid: int, seconds: float) -> list[tuple[str, str]]:
    window = f"[{max(1, int(seconds))}s]"
    duration = 'scrape_duration_seconds{job="netmon"}'
    samples = prom_value(url, 'scrape_samples_scraped{job="netmon"}')
    return [
        ("Prometheus head series", f"{head_series(url):,}"),
        ("Prometheus samples per scrape", f"{samples:,.0f}"),
        ("Prometheus RSS at the end", f"{rss_mb(pid):.0f} MB"),
        ("Prometheus scrape duration median / max",
         f"{prom_value(url, f'quantile_over_time(0.5, {duration}{window})'):.2f} / "
         f"{prom_value(url, f'max_over_time({duration}{window})'):.2f} s"),
    ]


def gc_rows(path: Path, since: float) -> list[tuple[str, str]]:
    """Collections per generation, their pauses and the longest, between ``since`` and the last line
    `bench/gc_probe.py` wrote."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    window = [row for row in lines if row["at"] >= since]
    if len(window) < 2:
        return [("GC", "no probe lines in the window")]
    first, last = window[0], window[-1]
    seconds = last["at"] - first["at"]
    count = [b - a for a, b in zip(first["count"], last["count"], strict=True)]
    pause = [b - a for a, b in zip(first["pause"], last["pause"], strict=True)]
    longest = [max(row["longest"][g] for row in window[1:]) for g in range(3)]
    freed = [b - a for a, b in zip(first["collected"], last["collected"], strict=True)]
    young = sorted(p for row in window[1:] for p in row.get("young", ()))
    return [
        ("GC collections gen 0 / 1 / 2", " / ".join(f"{c:,}" for c in count) + f" in {seconds:.0f} s"),
        ("GC pause total gen 0 / 1 / 2", " / ".join(f"{p:.2f}" for p in pause)
         + f" s ({sum(pause) / seconds * 100:.1f} % of the time)"),
        ("GC longest pause gen 0 / 1 / 2", " / ".join(f"{m * 1e3:.0f}" for m in longest) + " ms"),
        ("GC young pauses mean / p50 / p90 / p99 / max",
         " / ".join(f"{v * 1e3:.1f}" for v in (sum(young) / len(young), *(
             young[min(len(young) - 1, int(q * len(young)))] for q in (.5, .9, .99)), young[-1])) + " ms"
         if young else "none in the window"),
        ("GC objects freed gen 0 / 1 / 2", " / ".join(f"{f:,}" for f in freed)),
        ("pymalloc blocks start / end of window", f"{first['blocks']:,} / {last['blocks']:,}"),
    ]


def bench(args: argparse.Namespace, workdir: Path) -> Run:
    config = workdir / "inventory.yaml"
    config.write_text(inventory(args.checks, args.interval), encoding="utf-8")
    port = free_port()
    probe = [str(Path(__file__).with_name("gc_probe.py")), str(workdir / "gc.jsonl")] if args.gc else []
    command = [sys.executable, *(probe or ["-m", "netmon.cli"]), "run", "--config", str(config),
               "--listen", f"127.0.0.1:{port}", "--history", str(workdir / "history.db")]
    if args.max_concurrency:
        command += ["--max-concurrency", str(args.max_concurrency)]
    if args.no_history:
        command.append("--no-history")
    log = (workdir / "netmon.log").open("wb")
    launched = time.monotonic()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parent.parent)
    run = Run(args.checks, args.interval)
    prometheus: tuple[subprocess.Popen[bytes], str] | None = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/healthy", proc)
        if args.prometheus:
            prometheus = start_prometheus(workdir, f"127.0.0.1:{port}", args.scrape_every)
        run.started = time.time()
        run.rss_start = rss_mb(proc.pid)
        print(f"ready after {time.monotonic() - launched:.1f} s, RSS {run.rss_start:.0f} MB", flush=True)
        url = f"http://127.0.0.1:{port}/metrics"
        while time.time() - run.started < args.duration:
            s = scrape(url, proc.pid)
            run.scrapes.append(s)
            print(f"t={s.at - run.started:6.1f}s scrape {s.seconds:5.2f}s {s.size / 1e6:6.1f} MB "
                  f"runs {s.runs:8.0f} skipped {s.skipped:4.0f} RSS {s.rss:5.0f} MB load {s.load:4.2f}",
                  flush=True)
            time.sleep(max(0.0, args.scrape_every - (time.time() - s.at)))
        run.scrapes.append(scrape(url, proc.pid))
        if prometheus is not None:
            run.prometheus = prometheus_rows(prometheus[1], prometheus[0].pid, time.time() - run.started)
        if args.gc:
            run.gc = gc_rows(workdir / "gc.jsonl", run.scrapes[0].at)
    finally:
        if prometheus is not None:
            stop_process(prometheus[0], 30)
        stop_process(proc, 30)
        log.close()
    return run


def lags(a: Scrape, b: Scrape) -> str:
    return f"{quantile(.5, a.lag, b.lag) * 1e3:.1f} / {quantile(.99, a.lag, b.lag) * 1e3:.1f} ms"


def report(run: Run) -> None:
    first, last = run.scrapes[0], run.scrapes[-1]
    steady = next((s for s in run.scrapes if s.at - run.started >= run.interval + 1), first)
    wall = last.at - first.at
    loads = sorted(s.load for s in run.scrapes)
    rows = [
        ("checks × interval", f"{run.checks:,} × {run.interval:g} s"),
        ("measured", f"{wall:.0f} s, {len(run.scrapes)} scrapes"),
        ("runs completed / due", f"{last.runs - first.runs:,.0f} / {run.checks * wall / run.interval:,.0f}"),
        ("lag p50 / p99 (whole run)", lags(first, last)),
        ("lag p50 / p99 (after first interval)", lags(steady, last)),
        ("lag p99.9 (after first interval)", f"{quantile(.999, steady.lag, last.lag) * 1e3:.1f} ms"),
        ("skipped", f"{last.skipped:.0f}"),
        ("CPU (% of one core)", f"{(last.cpu - first.cpu) / wall * 100:.0f} %"),
        ("RSS start / after 1st interval / end",
         f"{run.rss_start:.0f} / {steady.rss:.0f} / {last.rss:.0f} MB"),
        ("RSS per check at the end", f"{last.rss * 1024 / run.checks:.1f} KB"),
        ("scrape time median / max",
         f"{sorted(s.seconds for s in run.scrapes)[len(run.scrapes) // 2]:.2f} / "
         f"{max(s.seconds for s in run.scrapes):.2f} s"),
        ("scrape size", f"{last.size / 1e6:.1f} MB"),
        ("machine load (1 min) min / median / max",
         " / ".join(f"{v:.2f}" for v in (min(loads), loads[len(loads) // 2], max(loads)))),
        *run.prometheus,
        *run.gc,
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of measurement")
    parser.add_argument("--scrape-every", type=float, default=30.0)
    parser.add_argument("--max-concurrency", type=int, default=0, help="passed to netmon run if set")
    parser.add_argument("--no-history", action="store_true", help="run without the history store")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (inventory, log)")
    parser.add_argument("--gc", action="store_true",
                        help="run netmon under bench/gc_probe.py and report its garbage collections")
    parser.add_argument("--prometheus", action="store_true",
                        help="also run Debian's Prometheus scraping netmon every --scrape-every s")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="netmon-scale-"))
    try:
        report(bench(args, workdir))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
