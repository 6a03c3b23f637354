"""The simulated province as pytest fixtures: ``lab`` (session-scoped) and ``fresh_lab`` (per test).

Wire them in with ``pytest_plugins = ["tests.lab.fixtures"]`` in tests/conftest.py. The lab runs the
shipped inventory with the ``calm`` preset; the http probe trusts its CA through ``SSL_CERT_FILE``
for the whole session. It is torn down at session end, also when tests fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from netmon.lab import control
from tests.support import ROOT

INVENTORY = ROOT / "config" / "communes.yaml"
SCENARIO = "calm"


@pytest.fixture(scope="session")
def lab() -> Iterator[control.Lab]:
    """A running lab (75 sites, calm); use ``lab.set(target, key=value)`` and undo with ``lab.reset()``."""
    if os.geteuid() != 0:
        pytest.skip("the simulated province needs root")
    if control.current() is not None:
        pytest.fail("a lab is already up (netmon lab status); run `netmon lab down` before the tests")
    running, _ = control.up(INVENTORY, SCENARIO)
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(running.ca_file)
    try:
        yield running
    finally:
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous
        control.down()


@pytest.fixture
def fresh_lab(lab: control.Lab) -> Iterator[control.Lab]:
    """The session lab, guaranteed back at the plain scenario after the test (every `set` undone)."""
    lab.reset()
    yield lab
    lab.reset()
