"""`netmon --lang vi` sets NETMON_LANG for the process (that is how the CLI passes it down), so a
report test calling `main` in Vietnamese would leave every later test speaking Vietnamese (config
errors are worded when printed, in the language of that moment)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _keep_language() -> Iterator[None]:
    # Not monkeypatch.delenv: with nothing to delete it records nothing, and a later `main --lang vi`
    # then stayed set for the rest of the session.
    before = os.environ.get("NETMON_LANG")
    yield
    if before is None:
        os.environ.pop("NETMON_LANG", None)
    else:
        os.environ["NETMON_LANG"] = before
