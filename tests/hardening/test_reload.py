"""Reload under fire: broken files via SIGHUP and POST /-/reload during an outage keep every check
running on the old inventory; 100 reloads in a row leak no tasks, fds or memory."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.netmon.test_service import write_inventory
from tests.support import NetmonProcess, free_port, http_post, http_server, netmon_run, wait_until

RELOADS = 100


def _value(netmon: NetmonProcess, name: str) -> float:
    return netmon.samples(name)[0][1]


def _last_runs(netmon: NetmonProcess) -> dict[str, float]:
    return {labels["check"]: v for labels, v in netmon.samples("netmon_probe_last_run_timestamp_seconds")}


def _footprint(netmon: NetmonProcess) -> tuple[int, float, float]:
    """(open fds, RSS MiB, asyncio tasks) of the running service."""
    pid = netmon.proc.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
    return len(os.listdir(f"/proc/{pid}/fd")), rss, _value(netmon, "netmon_asyncio_tasks")


@pytest.mark.slow
def test_broken_reloads_during_an_outage_keep_checks_running_and_leak_nothing(tmp_path: Path) -> None:
    refused = free_port()
    with http_server(200) as up, http_server(hang=True) as hanging:
        # the outage: a check that never gets an answer and one that is refused, next to a healthy one
        checks = [f"{{id: web, probe: http, target: '{up}'}}", f"{{id: hung, probe: http, target: '{hanging}'}}"]
        site = [f"{{id: refused, probe: tcp, link: primary, port: {refused}}}"]
        good_a = write_inventory(tmp_path / "a.yaml", checks, site, interval="1s", timeout="800ms")
        good_b = write_inventory(tmp_path / "b.yaml", checks, site, interval="1s", timeout="700ms")
        config = tmp_path / "inv.yaml"
        config.write_bytes(good_a.read_bytes())
        # two kinds of broken: YAML that does not parse, and a check naming a probe that does not exist
        broken = [good_a.read_text().replace("version: 1", "version: 1\nbogus: ["),
                  good_a.read_text().replace("probe: tcp", "probe: tcpp")]
        with netmon_run(config, tmp_path, "--no-history") as netmon:
            wait_until(lambda: len(_last_runs(netmon)) == 3, 20, "every check to run once")
            samples: list[tuple[int, float, float]] = []
            started = _last_runs(netmon)
            for i in range(RELOADS):
                bad = i % 2 == 0
                config.write_text(broken[i % 4 // 2]) if bad else config.write_bytes((good_a if i % 4 == 1 else good_b).read_bytes())
                if i % 3 == 0:
                    netmon.proc.send_signal(signal.SIGHUP)
                    wait_until(lambda b=bad: _value(netmon, "netmon_config_last_reload_successful") == (0.0 if b else 1.0),
                               10, f"SIGHUP reload {i} to be {'rejected' if bad else 'applied'}")
                else:
                    status, body = http_post(f"{netmon.url}/-/reload")
                    assert status == (500 if bad else 200), body
                    if bad:
                        assert "reload rejected, keeping the running inventory" in body
                        assert f"{config}:" in body  # file:line of the error
                assert _value(netmon, "netmon_config_last_reload_successful") == (0.0 if bad else 1.0)
                assert _value(netmon, "netmon_checks_scheduled") == 3.0
                if i in (9, RELOADS - 1):  # after warm-up, and at the end
                    samples.append(_footprint(netmon))
            assert _value(netmon, "netmon_config_last_reload_successful") == 1.0  # last one was good
            # every check kept running through the storm of reloads
            wait_until(lambda: all(t > started[k] + 2 for k, t in _last_runs(netmon).items()),
                       10, "every check to have run after the reloads")
            success = {labels["check"]: v for labels, v in netmon.samples("netmon_probe_success")}
            assert success == {"web": 1.0, "hung": 0.0, "refused": 0.0}
            (fds0, rss0, tasks0), (fds1, rss1, tasks1) = samples
            print(f"after 10 reloads: {fds0} fds, {rss0:.1f} MiB, {tasks0:g} tasks; "
                  f"after {RELOADS}: {fds1} fds, {rss1:.1f} MiB, {tasks1:g} tasks")
            assert fds1 <= fds0 + 2, "file descriptors leak per reload"
            assert tasks1 <= tasks0 + 3, "asyncio tasks leak per reload"  # ± checks in flight
            assert rss1 <= rss0 + 8, "memory grows per reload"
