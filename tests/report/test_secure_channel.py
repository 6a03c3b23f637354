"""A secure channel's outages in the reports: listed where a planner looks for outages — the incident log
(table, CSV, JSON), the filing, `netmon report`'s outage log (HTML, JSON) — named as the secure channel,
and never counted against the line it rides.

One day of one center, every check once a minute: its line is cut 10:00-10:30 (the tunnel fails with it:
the line's outage, recorded once) and its encryptor alone fails 14:00-14:45 while the line answers.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from exporters.history import HistoryWriter, Topology
from netmon.cli import main
from netmon.inventory.model import SECURE_CHECK
from probes.base import Result

T0 = datetime(2026, 5, 4, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
MIN = 60.0
LINE_CUT = (T0 + 10 * 3600, 30)  # (start, minutes)
ENCRYPTOR = (T0 + 14 * 3600, 45)

INVENTORY = """\
version: 1
defaults:
  link_types:
    fiber: {rtt_degraded: 50ms, rtt_down: 300ms, loss_degraded: 0.02, loss_down: 0.5, jitter_degraded: 10ms, unreachable_after: 2m}
datacenter: {slug: dc, name: Trung tâm Dữ liệu, address: 198.18.0.2, location: {lat: 21.3, lon: 103.9}}
hubs:
  - {id: hub-x, name: Trạm X, district: Huyện Mường La, address: 198.18.1.1}
sites:
  - slug: ban-a
    name: Bản Á
    kind: commune
    admin_code: "00001"
    district: Huyện Mường La
    location: {lat: 21.5, lon: 104.0}
    upstream: hub-x
    secure_channel: {address: 198.18.241.1}
    links:
      - {id: primary, type: fiber, isp: VNPT, since: 2020-01-01, cpe: 198.19.1.1}
"""


def _down(t: float, *spans: tuple[float, int]) -> bool:
    return any(start <= t < start + n * MIN for start, n in spans)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The ``--config/--history/--from/--to`` arguments of the day."""
    directory = tmp_path_factory.mktemp("secure")
    config, store = directory / "communes.yaml", directory / "history.db"
    config.write_text(INVENTORY, encoding="utf-8")
    topology = Topology(intervals={"ban-a/icmp-primary": MIN, f"ban-a/{SECURE_CHECK}": MIN},
                        secure={f"ban-a/{SECURE_CHECK}": "primary"})
    writer = HistoryWriter(store, topology, flush_every=0.01)
    writer.start()
    for k in range(1440):
        t = T0 + k * MIN
        writer.publish(Result("ban-a", "icmp-primary", "icmp", "198.19.1.1", "primary", not _down(t, LINE_CUT),
                              t, 0.01))
        writer.publish(Result("ban-a", SECURE_CHECK, "icmp", "198.18.241.1", "", not _down(t, LINE_CUT, ENCRYPTOR),
                              t, 0.01))
    writer.flush()
    writer.close()
    return ["--config", str(config), "--history", str(store), "--from", "2026-05-04", "--to", "2026-05-05"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_the_report_lists_the_secure_channel_and_counts_only_the_line(
        day: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run(capsys, "report", *day, "--format", "json"))
    assert [(o["link"], o["start"], o["end"], o["cause"]) for o in data["outages"]] == [
        ("primary", LINE_CUT[0], LINE_CUT[0] + 30 * MIN, "link"),
        (SECURE_CHECK, ENCRYPTOR[0], ENCRYPTOR[0] + 45 * MIN, "secure_channel"),
    ]
    [row] = data["rows"]
    assert (row["outages"], row["causes"], row["downtime"]) == (1, {"link": 1}, 30 * MIN)
    assert row["availability"] == pytest.approx(1 - 30 / 1440)
    page = run(capsys, "--lang", "vi", "report", *day, "--format", "html")
    assert "<td>Bản Á</td><td>kênh bảo mật</td>" in page and "kênh bảo mật (thiết bị mã hóa)" in page


def test_the_incident_log_names_the_secure_channel(day: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    table = run(capsys, "--lang", "vi", "report", "incidents", *day)
    [line] = [x for x in table.splitlines() if "kênh bảo mật (thiết bị mã hóa)" in x]
    assert "Bản Á" in line and "45 phút" in line and "đường truyền tốt, kênh bảo mật mất" in line
    assert "secure channel" in run(capsys, "--lang", "en", "report", "incidents", *day)
    rows = list(csv.reader(io.StringIO(run(capsys, "--lang", "vi", "report", "incidents", *day, "--format", "csv")
                                       .lstrip("\ufeff"))))
    header = rows[0]
    logged = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [(r["Đường truyền"], r["Nguyên nhân"], r["Thời lượng (phút)"]) for r in logged] == [
        ("primary", "đường truyền", "30.0"),
        ("kênh bảo mật", "kênh bảo mật (thiết bị mã hóa)", "45.0"),
    ]
    items = json.loads(run(capsys, "report", "incidents", *day, "--format", "json"))["incidents"]
    assert [(i["link"], i["cause"], i["impact"], i["offline"], i["duration"]) for i in items] == [
        ("primary", "link", "offline", 30 * MIN, 30 * MIN),
        (SECURE_CHECK, "secure_channel", "secure-channel", 0.0, 45 * MIN),
    ]
    filing = json.loads(run(capsys, "report", "filing", *day, "--format", "json"))
    assert [i["link"] for i in filing["incidents"]] == ["primary", SECURE_CHECK]
    assert (filing["province"]["outages"], filing["province"]["downtime"]) == (1, 30 * MIN)
