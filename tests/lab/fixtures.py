"""The simulated province as pytest fixtures: ``lab`` (session-scoped) and ``fresh_lab`` (per test).

Wire them in with ``pytest_plugins = ["tests.lab.fixtures"]`` in tests/conftest.py. The lab runs the
shipped inventory with the ``calm`` preset; its services trust the lab CA through their ``ca_file``
(no ``SSL_CERT_FILE``: a technician's shell has none either). It is torn down at session end, also
when tests fail.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.lab import control
from tests.support import ROOT

INVENTORY = ROOT / "config" / "communes.yaml"
SCENARIO = "calm"
#: One lab per machine: test sessions that need it (several developers' runs, a CI run) take turns.
SESSION_LOCK = Path("/run/netmon-lab-tests.lock")
LOCK_WAIT_SECONDS = 1800
_DEVICES = re.compile(r"^    devices:\n(?:      .*\n)+", re.MULTILINE)


def without_devices(text: str) -> str:
    """The shipped inventory's text minus every site's SNMP ``devices:`` block, for tests about links
    and hubs only: a device polled over a cut or lossy link adds a result of its own (the devices are
    covered by tests/lab/test_agents.py)."""
    stripped = _DEVICES.sub("", text)
    assert "\n    devices:" not in stripped, "every devices: block is removed"
    return stripped


def _take_turn() -> int:
    fd = os.open(SESSION_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                pytest.fail(f"another test session held the lab for {LOCK_WAIT_SECONDS} s")
            time.sleep(0.05)  # another session's lab: nothing to await but its lock (a syscall a poll)


@pytest.fixture(scope="session")
def lab() -> Iterator[control.Lab]:
    """A running lab (75 sites, calm); use ``lab.set(target, key=value)`` and undo with ``lab.reset()``."""
    if os.geteuid() != 0:
        pytest.skip("the simulated province needs root")
    turn = _take_turn()
    try:
        if control.current() is not None:
            pytest.fail("a lab is already up (netmon lab status); run `netmon lab down` before the tests")
        running, _ = control.up(INVENTORY, SCENARIO)
        try:
            yield running
        finally:
            control.down()
    finally:
        os.close(turn)


@pytest.fixture
def fresh_lab(lab: control.Lab) -> Iterator[control.Lab]:
    """The session lab, guaranteed back at the plain scenario after the test (every `set` undone)."""
    lab.reset()
    yield lab
    lab.reset()
