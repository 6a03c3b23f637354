"""The probe registry finds every plugin on first use, whoever asks first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from probes import base

NETMON = str(Path(sys.executable).with_name("netmon"))


def test_registry_discovers_every_probe_and_collector() -> None:
    assert {"icmp", "tcp", "http", "dns", "trace", "snmp"} <= set(base.registry())


def test_unknown_probe_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown probe 'icpm' \(known: .*icmp"):
        base.get("icpm")


@pytest.mark.privileged
@pytest.mark.parametrize("argv", [["ping", "127.0.0.1", "--count", "1"], ["trace", "127.0.0.1"]])
def test_cli_probes_work_outside_the_repository(tmp_path: Path, argv: list[str]) -> None:
    # A fresh process in a directory without an inventory: nothing imports the probes beforehand, the
    # registry alone must find them (this was `KeyError: unknown probe 'icmp' (known: none)`).
    done = subprocess.run([NETMON, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert "127.0.0.1" in done.stdout
