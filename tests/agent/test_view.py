"""`netmon probe SITE --history` shows what the site's edge agent saw, read from a real history store
written by the real `HistoryWriter` from the results an agent delivers (link ``agent``).

The story, 30 s checks, times from T0: the data center's echo over the primary link fails from +1200 s to
+1800 s (a cut); the agent's echoes to its hub and to the data center's canary fail over the same
stretch (seen from inside: the link, not the agent's LAN); the agent is not running from +1500 s to
+1650 s (killed, restarted); it delivers its backlog after the cut, so the store has its results at
their own times. Its last result is at +2370 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from exporters.history import HistoryWriter
from exporters.history_schema import connect
from netmon.agent.view import AgentView, Outage, Span, view
from netmon.cli import main
from netmon.diagnose.render import LOCAL, agent_lines
from probes.base import Measurement, Result
from tests.agent.test_processes import INVENTORY

T0 = float(int(time.time()) // 60 * 60 - 3600)
CUT, RESTORED = T0 + 1200, T0 + 1800
AGENT_DEAD = (T0 + 1500, T0 + 1650)


def echo(check: str, link: str, t: float, ok: bool) -> Result:
    loss = (Measurement("netmon_icmp_packet_loss_ratio", 0.0 if ok else 1.0),)
    return Result("chieng-mung", check, "icmp", "127.0.0.1", link, ok, t, 0.01 if ok else 2.0,
                  None if ok else "timeout", None if ok else "no reply", loss)


def story() -> list[Result]:
    out = []
    for k in range(80):
        t = T0 + 30 * k
        down = CUT <= t < RESTORED
        out.append(echo("icmp-primary", "primary", t, not down))
        if not AGENT_DEAD[0] <= t < AGENT_DEAD[1]:
            out += [echo("agent-hub", "agent", t, not down), echo("agent-canary-core", "agent", t, not down)]
    return out


def write_story(path: Path) -> Path:
    """The story above, through the real history writer, into a store at ``path``."""
    writer = HistoryWriter(path)
    writer.start()
    for r in story():
        writer.publish(r)
    writer.flush()
    writer.close()
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_story(tmp_path / "history.db")


def test_the_agents_view_of_the_latest_outage(store: Path) -> None:
    now = T0 + 2400 + 5
    with connect(store, readonly=True) as conn:
        got = view(conn, "chieng-mung", now)
        assert view(conn, "chieng-mai", now) is None, "no agent there: nothing to show"
    assert got == AgentView(
        "chieng-mung", T0 + 2400, Outage("primary", CUT, RESTORED),
        (Span("agent-canary-core", CUT, AGENT_DEAD[0], True), Span("agent-canary-core", AGENT_DEAD[1], RESTORED, True),
         Span("agent-hub", CUT, AGENT_DEAD[0], True), Span("agent-hub", AGENT_DEAD[1], RESTORED, True)),
        (AGENT_DEAD,))


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t + LOCAL.utcoffset(None).total_seconds()))  # type: ignore[union-attr]


def test_rendered_in_both_languages(store: Path) -> None:
    now = T0 + 2400 + 5 * 60
    with connect(store, readonly=True) as conn:
        agent = view(conn, "chieng-mung", now)
    assert agent is not None
    cut, back, dead, alive = clock(CUT), clock(RESTORED), clock(AGENT_DEAD[0]), clock(AGENT_DEAD[1])
    assert agent_lines(agent, "en", now) == [
        f"Edge agent in the center (history store): results up to {clock(T0 + 2400)} UTC+7 (5 min ago)",
        f"  Outage of link primary {cut}–{back}, measured from inside the center:",
        f"    agent-canary-core: down {cut}–{dead}, down {alive}–{back}",
        f"    agent-hub: down {cut}–{dead}, down {alive}–{back}",
        f"    no result from the agent {dead}–{alive} (not running, or not delivered yet)"]
    vi = agent_lines(agent, "vi", now)
    assert vi[0] == f"Tác tử tại trung tâm (kho lịch sử): có số liệu đến {clock(T0 + 2400)} giờ VN (5 phút trước)"
    assert vi[-1] == f"    tác tử không có số liệu {dead}–{alive} (không chạy, hoặc chưa gửi về)"


def test_the_incident_log_says_when_the_agent_was_not_heard(store: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`netmon report incidents`: the cut's row says the agent was not heard while it was not running —
    the rest of the cut it was measuring (its results arrived later)."""
    monkeypatch.setenv("NETMON_LANG", "en")  # restored after: `--lang vi` below sets it for the process
    config = tmp_path / "inventory.yaml"
    config.write_text(INVENTORY.replace("PORT", "9"))
    day = lambda ts: time.strftime("%Y-%m-%d", time.gmtime(ts + 7 * 3600))  # noqa: E731
    # `--to DAY` is that local day's midnight: two days on, so the cut is inside the span even when T0 falls
    # in the last hour of a local day (it failed from 23:00 to 24:00 UTC+7).
    span = ["--config", str(config), "--history", str(store), "--from", day(T0 - 86400), "--to", day(T0 + 2 * 86400)]
    out = tmp_path / "log.json"
    assert main(["report", "incidents", *span, "--format", "json", "--out", str(out)]) == 0
    (cut,) = json.loads(out.read_text())["incidents"]
    assert (cut["site"], cut["link"], cut["start"], cut["end"]) == ("chieng-mung", "primary", CUT, RESTORED)
    assert cut["agent_silent"] == [list(AGENT_DEAD)]
    capsys.readouterr()
    assert main(["--lang", "vi", "report", "incidents", *span]) == 0
    hhmm = lambda ts: clock(ts)[:5]  # noqa: E731
    assert f"mất liên lạc {hhmm(AGENT_DEAD[0])}–{hhmm(AGENT_DEAD[1])}" in capsys.readouterr().out
