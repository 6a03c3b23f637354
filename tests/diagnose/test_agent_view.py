"""`netmon probe SITE --history` on loopback with real packets shows what the site's edge agent saw
(the story and its store: tests/agent/test_view.py)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from netmon.diagnose.report import schema
from tests.agent.test_view import AGENT_DEAD, CUT, RESTORED, clock, write_story
from tests.diagnose.conftest import Province, netmon, netmon_json
from tests.diagnose.test_probe import flat

pytestmark = pytest.mark.privileged


def test_netmon_probe_shows_it(province: Province, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, store = province(), write_story(tmp_path / "history.db")
    _code, out, _ = netmon(capsys, "probe", "chieng-mung", "--config", str(path), "--count", "3",
                          "--history", str(store))
    assert "Edge agent in the center (history store): results up to" in out
    assert f"no result from the agent {clock(AGENT_DEAD[0])}–{clock(AGENT_DEAD[1])}" in flat(out)
    _code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(path), "--count", "3",
                            "--history", str(store))
    jsonschema.validate(doc, schema())
    assert doc["agent"]["silent"] == [{"start": AGENT_DEAD[0], "end": AGENT_DEAD[1]}]
    assert doc["agent"]["outage"] == {"link": "primary", "start": CUT, "end": RESTORED}
    _code, doc = netmon_json(capsys, "probe", "chieng-mung", "--config", str(path), "--count", "3")
    assert "agent" not in doc, "without a history store there is nothing to say"
