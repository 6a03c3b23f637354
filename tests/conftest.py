"""Shared fixtures. Real peers live in `tests.support`; the simulated province in `tests.lab`."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

FIXTURES = ROOT / "tests" / "fixtures"

# The simulated province: `lab` (session-scoped, all 75 sites) and `fresh_lab` (undoes `lab set`).
# Registered as a plugin, not imported, so every test module shares the one lab of the session.
pytest_plugins = ["tests.lab.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Give Ctrl-C back if this run was started with SIGINT ignored (a shell's `cmd &` without job control,
    as `scripts/test.sh` runs half the tests, or a CI runner doing the same). An ignored signal is inherited
    across exec, so every netmon a test starts would ignore the SIGINT the Ctrl-C tests send it; a Python
    handler is not inherited, so restoring ours gives the children the default again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_root() -> bool:
    return os.geteuid() == 0


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark every test that touches the machine's network — the one simulated province, or namespaces and
    198.18.x addresses of its own — as `machine_network`: `make test` (scripts/test.sh) runs those in order
    and everything else beside them, so two of them never meet (two namespaces holding 198.18.201.2)."""
    if "privileged" in item.keywords or {"lab", "fresh_lab"} & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.machine_network)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Privileged tests need root; outside CI they are skipped with a reason, in CI they must run."""
    if _is_root() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces / raw sockets)")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def blackhole_lab_range() -> None:
    """Make sure 198.18.0.0/15 can never leave the machine before anything probes it."""
    subprocess.run(["ip", "route", "replace", "blackhole", "198.18.0.0/15"], check=True)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
