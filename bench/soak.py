"""Soak: does `netmon run` stay flat over an hour? RSS, fds, asyncio tasks and scheduler lag per minute.

    python bench/soak.py [--checks 20000] [--duration 60m] [--sample 60s] [--interval 30]
                         [--lab] [--storm-every 5m] [--out bench/out/soak]

Generates an inventory of ``--checks`` loopback checks (per site: ICMP to two distinct 127.x.y.z CPEs;
every tenth site also a TCP check to a closed loopback port, so the failure path runs too), starts
``netmon run`` on it and samples every ``--sample``:

- RSS (``/proc/PID/status`` VmRSS) and open fds (``/proc/PID/fd``) of the process;
- ``netmon_asyncio_tasks`` and the rate of ``netmon_check_runs_total`` from its /metrics;
- scheduler lag p50/p99 over the last sample window, from the deltas of the
  ``netmon_scheduler_lag_seconds`` histogram (interpolated inside a bucket, as histogram_quantile does).

With ``--lab`` (root) the simulated province is brought up with the calm preset, its inventory is
merged into the generated one, and the storm preset's link faults are switched on and off every
``--storm-every`` (``netmon lab set`` / ``reset``), so outages, flaps and loss come and go.

Writes ``OUT.csv`` and ``OUT.png`` and prints the least-squares slope per hour of RSS, fds and tasks
after a warm-up (``--warmup``, default 3 min, while per-check state and histograms fill up). Loopback and
lab namespaces only; the child is stopped by its PID.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probes.base import parse_duration  # noqa: E402 - after the sys.path line above
from tests.support import stop_process  # noqa: E402

LINK_TYPES = {
    "fiber": {"rtt_degraded": "50ms", "rtt_down": "300ms", "loss_degraded": 0.02, "loss_down": 0.5,
              "jitter_degraded": "10ms", "unreachable_after": "2m"},
    "4g": {"rtt_degraded": "150ms", "rtt_down": "800ms", "loss_degraded": 0.05, "loss_down": 0.5,
           "jitter_degraded": "40ms", "unreachable_after": "3m"},
}
COLUMNS = ("elapsed_s", "rss_mib", "fds", "asyncio_tasks", "runs_per_s", "lag_p50_s", "lag_p99_s", "storm")


def cpe(i: int) -> str:
    """The i-th CPE: 127.2.0.0 upwards, clear of the 127.0.x.y services tests and the lab use."""
    n = (2 << 16) + i
    return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def loopback_sites(checks: int, closed_port: int) -> list[dict[str, Any]]:
    sites: list[dict[str, Any]] = []
    n = 0
    while sum(len(s["checks"]) for s in sites) < checks:
        site: dict[str, Any] = {
            "slug": f"soak-{n:05d}", "name": f"Xã thử bền {n}", "kind": "commune",
            "admin_code": f"{50000 + n:05d}",  # clear of Son La's 04xxx codes
            "district": f"Huyện {n % 500}", "upstream": "hub-soak",
            "location": {"lat": round(10.5 + (n % 1000) * 0.012, 4),
                         "lon": round(104.5 + (n % 97) * 0.02, 4)},
            "links": [{"id": "primary", "type": "fiber", "isp": "VNPT", "since": "2024-01-01",
                       "cpe": cpe(2 * n)},
                      {"id": "backup", "role": "backup", "type": "4g", "isp": "Viettel",
                       "since": "2024-01-01", "cpe": cpe(2 * n + 1)}],
            "checks": [{"id": "icmp-primary", "probe": "icmp", "link": "primary"},
                       {"id": "icmp-backup", "probe": "icmp", "link": "backup"}],
        }
        if n % 10 == 0:
            site["checks"].append({"id": "cpe-tcp", "probe": "tcp", "link": "primary", "port": closed_port})
        sites.append(site)
        n += 1
    return sites


def build_inventory(checks: int, interval: float, closed_port: int, base: Path | None) -> dict[str, Any]:
    """The loopback inventory, merged into ``base`` (the lab's inventory) when given."""
    if base is not None:
        inv: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    else:
        inv = {"version": 1, "defaults": {"interval": f"{interval:g}s", "timeout": "10s", "link_types": {}},
               "datacenter": {"slug": "trung-tam-du-lieu", "name": "Trung tâm Dữ liệu",
                              "address": "127.0.0.1", "location": {"lat": 21.3256, "lon": 103.9188}},
               "hubs": [], "sites": []}
    for name, limits in LINK_TYPES.items():
        inv["defaults"]["link_types"].setdefault(name, limits)
    inv["hubs"].append({"id": "hub-soak", "name": "Trạm thử bền", "district": "Toàn quốc",
                        "address": "127.1.0.1"})
    inv["sites"].extend(loopback_sites(checks, closed_port))
    return inv


def proc_sample(pid: int) -> tuple[float, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def scrape(url: str) -> dict[str, Any]:
    """The few prober-health series the soak needs, without parsing 20,000 checks' worth of text."""
    out: dict[str, Any] = {"buckets": {}, "runs": 0.0, "tasks": float("nan")}
    with urllib.request.urlopen(f"{url}/metrics", timeout=60) as resp:
        for raw in resp:
            line = raw.decode()
            if line.startswith("netmon_scheduler_lag_seconds_bucket"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                out["buckets"][float(le)] = float(line.rsplit(" ", 1)[1])
            elif line.startswith("netmon_check_runs_total "):
                out["runs"] = float(line.split()[1])
            elif line.startswith("netmon_asyncio_tasks "):
                out["tasks"] = float(line.split()[1])
    return out


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """histogram_quantile over the delta of two cumulative bucket sets."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def slope_per_hour(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return float("nan")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600 if var else 0.0


def chart(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["elapsed_s"] / 60 for r in rows]
    panels = [("rss_mib", "RSS (MiB)"), ("fds", "open fds"), ("asyncio_tasks", "asyncio tasks"),
              ("lag_p99_s", "scheduler lag (s)")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 9), sharex=True)
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.plot(minutes, [r[key] for r in rows], marker=".", label="p99" if key == "lag_p99_s" else None)
        if key == "lag_p99_s":
            ax.plot(minutes, [r["lag_p50_s"] for r in rows], marker=".", label="p50")
            ax.legend(loc="upper right")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("minutes")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


class StormToggle:
    """Switches the storm preset's link faults on and off in a running lab."""

    def __init__(self, every: float):
        from netmon.lab import control

        self.lab = control.current()
        if self.lab is None:
            raise SystemExit("--lab: no lab is up")
        storm = yaml.safe_load((ROOT / "netmon" / "scenarios" / "storm.yaml").read_text(encoding="utf-8"))
        self.faults: dict[str, dict[str, Any]] = storm.get("links", {})
        self.every, self.on, self.next = every, False, time.monotonic() + every

    def tick(self) -> None:
        if time.monotonic() < self.next:
            return
        self.next += self.every
        if self.on:
            self.lab.reset()  # type: ignore[union-attr]
        else:
            for target, values in self.faults.items():
                self.lab.set(target, **values)  # type: ignore[union-attr]
        self.on = not self.on


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--checks", type=int, default=20_000)
    ap.add_argument("--duration", default="60m")
    ap.add_argument("--sample", default="60s")
    ap.add_argument("--interval", type=float, default=30.0, help="check interval, seconds (default 30)")
    ap.add_argument("--lab", action="store_true", help="merge in the simulated province and toggle the storm")
    ap.add_argument("--storm-every", default="5m")
    ap.add_argument("--warmup", default="3m",
                    help="samples before this are left out of the slopes (default 3m)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "soak"))
    args = ap.parse_args()
    duration, every = parse_duration(args.duration), parse_duration(args.sample)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="netmon-soak-"))
    base, toggle, lab_started = None, None, False
    if args.lab:
        from netmon.lab import control

        base = ROOT / "config" / "communes.yaml"
        if control.current() is None:
            control.up(base, "calm")
            lab_started = True
        toggle = StormToggle(parse_duration(args.storm_every))
    closed = socket_port()
    config = tmp / "soak.yaml"
    config.write_text(yaml.safe_dump(build_inventory(args.checks, args.interval, closed, base),
                                     allow_unicode=True, sort_keys=False), encoding="utf-8")
    port = socket_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "netmon.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "run", "--config", str(config),
                             "--no-history", "--listen", f"127.0.0.1:{port}"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    rows: list[dict[str, float]] = []
    try:
        wait_healthy(proc, url)
        start = time.monotonic()
        last, last_t = scrape(url), start
        while time.monotonic() - start < duration:
            deadline = last_t + every
            while time.monotonic() < deadline:
                if toggle:
                    toggle.tick()
                if proc.poll() is not None:
                    raise SystemExit(f"netmon exited with {proc.returncode}; log in {tmp}")
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            now, current = time.monotonic(), scrape(url)
            rss, fds = proc_sample(proc.pid)
            row = {"elapsed_s": round(now - start, 1), "rss_mib": round(rss, 1), "fds": fds,
                   "asyncio_tasks": current["tasks"], "runs_per_s": round((current["runs"] - last["runs"])
                                                                          / (now - last_t), 1),
                   "lag_p50_s": round(quantile(0.5, last["buckets"], current["buckets"]), 4),
                   "lag_p99_s": round(quantile(0.99, last["buckets"], current["buckets"]), 4),
                   "storm": int(bool(toggle and toggle.on))}
            rows.append(row)
            print(" ".join(f"{k}={row[k]}" for k in COLUMNS), flush=True)
            last, last_t = current, now
    finally:
        stop_process(proc, 30)
        log.close()
        if lab_started:
            from netmon.lab import control

            control.down()
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    warmup = parse_duration(args.warmup)
    steady = [r for r in rows if r["elapsed_s"] > warmup] or rows
    xs = [r["elapsed_s"] for r in steady]
    print(f"\n{args.checks} checks, {len(rows)} samples over {rows[-1]['elapsed_s'] / 60:.1f} min "
          f"(slopes over the {len(steady)} samples after the {warmup:g} s warm-up):")
    for key, unit in (("rss_mib", "MiB"), ("fds", "fds"), ("asyncio_tasks", "tasks")):
        ys = [r[key] for r in steady]
        print(f"  {key:14s} first {ys[0]:>9.1f}  last {ys[-1]:>9.1f}  "
              f"slope {slope_per_hour(xs, ys):+.2f} {unit}/h")
    lags = sorted(r["lag_p99_s"] for r in steady)
    print(f"  lag p99 per minute: median {lags[len(lags) // 2]:.3f} s, worst {lags[-1]:.3f} s")
    chart(rows, out.with_suffix(".png"), f"netmon run soak: {args.checks} checks"
          + (" + simulated province, storm toggling" if args.lab else ""))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    return 0


def socket_port() -> int:
    """A loopback port free now: used for /metrics, and (bound and released) as a refusing TCP target."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"netmon exited with {proc.returncode} at start-up")
        try:
            with urllib.request.urlopen(f"{url}/-/healthy", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("netmon did not become healthy")


if __name__ == "__main__":
    sys.exit(main())
