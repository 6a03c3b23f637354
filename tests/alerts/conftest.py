"""The simulated province for the end-to-end alerting tests: the session's one lab (tests/lab/fixtures.py).

Never brings up a lab of its own and never borrows another session's: the shared ``lab`` fixture takes
the machine's lab lock, so concurrent test sessions take turns instead of cutting each other's links.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netmon.lab import control


@pytest.fixture(scope="module")
def province_lab(lab: control.Lab) -> Iterator[control.Lab]:
    lab.reset()
    try:
        yield lab
    finally:
        lab.reset()
