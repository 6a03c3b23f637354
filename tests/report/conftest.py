"""`netmon --lang vi` sets NETMON_LANG for the process (that is how the CLI passes it down), so a
report test calling `main` in Vietnamese would leave every later test speaking Vietnamese."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _keep_language() -> Iterator[None]:
    before = os.environ.get("NETMON_LANG")
    yield
    if before is None:
        os.environ.pop("NETMON_LANG", None)
    else:
        os.environ["NETMON_LANG"] = before


@pytest.fixture(autouse=True)
def _keep_language_per_test(monkeypatch: pytest.MonkeyPatch) -> None:
    if "NETMON_LANG" in os.environ:
        monkeypatch.setenv("NETMON_LANG", os.environ["NETMON_LANG"])
    else:
        monkeypatch.delenv("NETMON_LANG", raising=False)
