"""Each accounting rule against the generated week of tests/report/accounting_history.py, whose
answers are computed by hand in the comments."""

from __future__ import annotations

import json
import shutil
import sqlite3
from html import escape
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from exporters.prometheus import Families, TextRegistry
from netmon.cli import main
from netmon.inventory import load
from netmon.inventory.loader import Inventory
from netmon.inventory.source import ConfigError
from netmon.report import filing_text, formats, inventory_sites
from netmon.report.accounting import Rules, account
from netmon.report.calendar import service_spans
from netmon.report.compute import build as build_report
from netmon.report.contract import build_contract
from netmon.report.filing import build as build_filing
from netmon.report.filings_cli import preset
from netmon.report.incidents import incidents, longest
from netmon.report.metrics import AccountingCollector
from netmon.report.reclassify import history, outage_ids, record
from netmon.report.store import StoreSource
from probes.errors import NetmonError
from tests.report.accounting_history import DAY, MIN, O1, O2, O3, O4, O5, P1, P2, T0, at, write

WEEK = 7 * DAY
SERVICE = 2 * 36000.0  # Tue and Wed 07:00-17:00: Mon 27/4, Thu 30/4, Fri 1/5 are days off


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Inventory]:
    config, store = write(tmp_path_factory.mktemp("accounting"))
    conn = sqlite3.connect(store)
    ids = {(s, lk, start): i for i, s, lk, start in conn.execute("SELECT id, site, link, start FROM outages")}
    conn.close()
    record(
        store, ids[("ban-a", "primary", O5[0])], "power", "mất điện lưới khu vực", "chị Lan", at=T0 + 8 * DAY
    )
    record(
        store,
        ids[("ban-b", "primary", P1[0])],
        "provider",
        "VNPT xác nhận đứt cáp",
        "anh Nam",
        at=T0 + 8 * DAY,
    )
    # The latest verdict wins; the first stays in the trail.
    record(
        store,
        ids[("ban-b", "primary", P1[0])],
        "not-outage",
        "thiết bị đo lỗi, trung tâm vẫn làm việc",
        "anh Nam",
        ticket="VNPT-2026-0412",
        actions="khởi động lại máy đo",
        at=T0 + 9 * DAY,
    )
    return config, store, load(config)


def compute(
    week: tuple[Path, Path, Inventory],
    service: bool = False,
    ignore: float = 0.0,
    reclassified: bool = True,
    start: float = T0,
    end: float = T0 + WEEK,
) -> dict[str, Any]:
    _, store, inventory = week
    acc = inventory.spec.accounting.model_copy(update={"ignore_shorter_than": ignore})
    rules = Rules(acc, service_period=service)
    source = StoreSource(store)
    sites = inventory_sites(inventory)
    now = T0 + 30 * DAY
    accounted = account(source.outages(start, end), history(source.conn) if reclassified else [], rules)
    report = build_contract(source, inventory, sites, accounted, rules, start, end, now)
    items = incidents(sites, accounted, rules.window(start, end), outage_ids(source.conn, start, end), now)
    links = {(lc.site.slug, lc.link): lc for lc in report.links}
    return {
        "report": report,
        "accounted": accounted,
        "links": links,
        "items": items,
        "source": source,
        "sites": sites,
        "rules": rules,
        "inventory": inventory,
    }


def minutes(*spans: tuple[float, int]) -> float:
    return sum(n for _, n in spans) * MIN


def test_all_hours_without_rules(week: Any) -> None:
    r = compute(week, reclassified=False)
    a = r["links"][("ban-a", "primary")]
    assert a.service.availability == pytest.approx(1 - minutes(O1, O2, O3, O4, O5) / WEEK)
    assert a.contract.outages == 5
    assert r["accounted"].reclassified == 0


def test_service_period_skips_nights_weekends_and_public_holidays(week: Any) -> None:
    r = compute(week, service=True, reclassified=False)
    a, b = r["links"][("ban-a", "primary")], r["links"][("ban-b", "primary")]
    assert a.service.observed == pytest.approx(SERVICE)
    # O2 is at 20:00, O4 on 30/4: outside. O1, O3, O5 inside.
    assert a.service.availability == pytest.approx(1 - minutes(O1, O3, O5) / SERVICE)
    assert a.service.outages == 3
    # P2 falls on the Hùng Kings' day in lieu (Mon 27/4).
    assert b.service.availability == pytest.approx(1 - minutes(P1) / SERVICE)
    assert len(service_spans(r["inventory"].spec.accounting.service_period, T0, T0 + WEEK)) == 2


def test_user_holidays_extend_the_shipped_ones(week: Any) -> None:
    period = week[2].spec.accounting.service_period
    extra = type(period).model_validate({"holidays": [{"date": "2026-04-28", "name": "Ngày nghỉ của tỉnh"}]})
    assert len(service_spans(extra, T0, T0 + WEEK)) == 1
    bare = type(period).model_validate({"national_holidays": False})
    assert len(service_spans(bare, T0, T0 + WEEK)) == 5


def test_short_interruptions_are_dropped_and_disclosed(week: Any, capsys: pytest.CaptureFixture[str]) -> None:
    r = compute(week, ignore=5 * MIN, reclassified=False)
    a = r["links"][("ban-a", "primary")]
    assert r["accounted"].ignored_short == 2  # O2 (3 min) and O3 (2 min)
    assert a.service.availability == pytest.approx(1 - minutes(O1, O4, O5) / WEEK)
    config, store, _ = week
    args = [
        "--lang",
        "vi",
        "report",
        "contract",
        "--config",
        str(config),
        "--history",
        str(store),
        "--from",
        "2026-04-27",
        "--to",
        "2026-05-04",
    ]
    assert main([*args, "--ignore-shorter-than", "5m"]) == 0
    assert "không tính các lần gián đoạn ngắn hơn 5 phút (đã bỏ 2 lần)" in capsys.readouterr().out
    assert main(args) == 0
    assert "tính mọi lần gián đoạn (không đặt ngưỡng thời lượng)" in capsys.readouterr().out


def test_reclassification_changes_the_right_figures_and_keeps_the_trail(week: Any) -> None:
    r = compute(week)
    a, b = r["links"][("ban-a", "primary")], r["links"][("ban-b", "primary")]
    assert (r["accounted"].reclassified, r["accounted"].not_outages) == (2, 1)
    # O5 as power: still down for the citizens, no longer against the provider.
    assert a.service.availability == pytest.approx(1 - minutes(O1, O2, O3, O4, O5) / WEEK)
    assert a.availability == pytest.approx(1 - minutes(O1, O2, O3, O4) / WEEK)
    # P1 not an outage: gone everywhere.
    assert b.service.availability == pytest.approx(1 - minutes(P2) / WEEK)
    log = {i.outage.start: i for i in r["items"]}
    assert P1[0] not in log
    o5 = log[O5[0]]
    assert (o5.cause, o5.original_cause, o5.note.entries[0].by) == ("power", "link", "chị Lan")
    trail = history(r["source"].conn)
    assert [e.as_cause for e in trail] == ["power", "provider", "not-outage"]
    assert trail[-1].ticket == "VNPT-2026-0412"
    # The outage row itself is untouched.
    causes = {c for (c,) in r["source"].conn.execute("SELECT cause FROM outages")}
    assert causes == {"link"}


def test_error_budget_and_outage_count_sla(week: Any) -> None:
    r = compute(week)
    a, b, c = (r["links"][(s, "primary")] for s in ("ban-a", "ban-b", "ban-c"))
    # ban-a: 99.9 % of a week allows 604.8 s; O1+O2+O3+O4 = 125 min used.
    assert a.budget.allowed == pytest.approx(0.001 * WEEK)
    assert a.budget.used == pytest.approx(minutes(O1, O2, O3, O4))
    assert a.budget.state == "breached" and a.meets_contract is False and a.meets_floor is False
    # ban-b holds the floor 99.5 %: 3024 s allowed, P2 = 1800 s used → 60 %: a warning, not a breach.
    assert b.budget.allowed == pytest.approx(0.005 * WEEK)
    assert b.budget.fraction == pytest.approx(1800 / 3024)
    assert b.budget.state == "warning" and b.meets_contract is True
    assert c.budget.state == "ok" and c.budget.fraction == 0
    # 10 outages a month over 7 days allow 2.3; ban-a had 4 against the provider.
    assert a.allowed_outages == pytest.approx(10 * 7 / (365.25 / 12))
    assert a.too_many_outages and b.allowed_outages is None


def test_restore_breaches_per_isp_backup_and_bandwidth(week: Any) -> None:
    r = compute(week)
    report = r["report"]
    assert [(lc.site.slug, o.start) for lc, o in report.breaches] == [("ban-a", O1[0])]
    isps = {i.isp: i for i in report.isps}
    assert isps["VNPT"].links == 2 and isps["Viettel"].links == 2
    # VNPT restore times: O1 90 min, O2 3, O3 2, O4 30 → classes ≤15 min: 2, ≤1 h: 1, ≤4 h: 1.
    assert isps["VNPT"].restore_classes == [2, 1, 1, 0, 0]
    assert isps["VNPT"].breaches == 1
    assert [s.slug for s in report.no_backup] == ["ban-b", "ban-c"]
    assert [(s.slug, bw) for s, bw in report.below_bandwidth] == [("ban-b", None), ("ban-c", 100.0)]


def test_incident_impact_from_the_other_links(week: Any) -> None:
    r = compute(week)
    log = {(i.site.slug, i.outage.link, i.outage.start): i for i in r["items"]}
    o1 = log[("ban-a", "primary", O1[0])]
    assert (o1.impact, o1.offline, o1.duration) == ("offline", 30 * MIN, 90 * MIN)
    assert log[("ban-a", "primary", O2[0])].impact == "on-backup"
    assert log[("ban-a", "backup", at(1, 9.5))].impact == "offline"
    p2 = log[("ban-b", "primary", P2[0])]
    assert (p2.impact, p2.offline) == ("offline", 30 * MIN)
    assert all(i.id is not None for i in r["items"])
    # The printed filing lists those that left a center offline, longest first, in time order.
    printed = [(i.site.slug, i.outage.link, i.outage.start) for i in longest(r["items"])]
    assert printed == [
        ("ban-b", "primary", P2[0]),
        ("ban-a", "primary", O1[0]),
        ("ban-a", "backup", at(1, 9.5)),
    ]


def test_calendar_cells_and_grey_days(week: Any) -> None:
    r = compute(week)
    f = build_filing(
        r["source"],
        r["inventory"],
        r["sites"],
        r["accounted"],
        r["rules"],
        r["items"],
        T0,
        T0 + WEEK,
        T0 + 30 * DAY,
    )
    assert len(f.days) == 7
    assert f.calendar["ban-a"][1] == pytest.approx(1 - minutes(O1, O2) / DAY)
    assert f.calendar["ban-c"] == [1.0] * 5 + [None, None]
    assert [d.key for d in f.districts] == ["Huyện Mường La", "Huyện Sốp Cộp"]
    # Observed time is the planners' truth: ban-c's weekend was seen by nobody, so it is neither up
    # nor down, and 5 days of 7 (71 %) are below the 90 % coverage floor: no figure, not 100 %.
    c = next(r for r in f.sites if r.key == "ban-c")
    assert c.coverage == pytest.approx(5 / 7) and c.availability is None
    assert f.districts[1].coverage == pytest.approx(12 / 14) and f.districts[1].availability is None
    assert f.districts[0].availability == pytest.approx(1 - minutes(O1, O2, O3, O4, O5) / WEEK)
    assert r["links"][("ban-c", "primary")].meets_contract is None


def test_every_report_applies_the_same_rules(
    week: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`netmon report` (#13's) and the filings count the same way from one home: before, the main
    report ignored the planners' verdicts (P1 still down, O5 still "link") and its --office-hours
    counted the Hùng Kings' day in lieu, 30/4 and 1/5 as working days (5 × 10 h observed, not 2)."""
    config, store, _ = week
    now = T0 + 30 * DAY
    for service, ignore in ((True, 0.0), (False, 5 * MIN)):
        r = compute(week, service=service, ignore=ignore)
        report = build_report(
            r["source"], r["sites"], T0, T0 + WEEK, now, rules=r["rules"], source_name="store"
        )
        f = build_filing(
            r["source"], r["inventory"], r["sites"], r["accounted"], r["rules"], r["items"], T0, T0 + WEEK, now
        )
        main_rows = {row.key: row for row in report.rows}
        for row in f.sites:
            lc = r["links"][(row.key, "primary")]
            for other in (main_rows[row.key], lc.service):
                assert (other.observed, other.down, other.outages, other.availability) == (
                    row.observed,
                    row.down,
                    row.outages,
                    row.availability,
                ), (service, ignore, row.key)
        for lang in ("vi", "en"):
            rules = filing_text.rules_header(r["rules"], r["accounted"], T0, T0 + WEEK, lang)
            assert formats.header(report, lang)[1:] == rules
            assert all(line in formats.table(report, lang) for line in rules)
            assert all(line in filing_text.contract_text(r["report"], lang) for line in rules)
        assert json.loads(formats.to_json(report)).items() >= filing_text.rules_data(
            r["rules"], r["accounted"], T0, T0 + WEEK
        ).items()
    a, b = main_rows["ban-a"], main_rows["ban-b"]
    # All hours, interruptions under 5 min left out (O2, O3), P1 not an outage, O5 power.
    assert (a.outages, dict(a.causes)) == (3, {"link": 2, "power": 1})
    assert a.availability == pytest.approx(1 - minutes(O1, O4, O5) / WEEK)
    assert (b.outages, b.availability) == (1, pytest.approx(1 - minutes(P2) / WEEK))
    # From the command line: --office-hours is the service period, holidays skipped, header as filed.
    base = ["--config", str(config), "--history", str(store), "--from", "2026-04-27", "--to", "2026-05-04"]
    assert main(["--lang", "vi", "report", *base, "--office-hours", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ban_a = next(row for row in data["rows"] if row["key"] == "ban-a")
    assert (data["service_period"], data["reclassified"], data["not_outages"]) == (True, 2, 1)
    assert ban_a["observed"] == SERVICE and ban_a["causes"] == {"link": 2, "power": 1}
    assert main(["--lang", "vi", "report", *base, "--office-hours"]) == 0
    table = capsys.readouterr().out
    assert main(["--lang", "vi", "report", "contract", *base, "--service-period"]) == 0
    contract = capsys.readouterr().out
    assert main(["--lang", "vi", "report", *base, "--office-hours", "--format", "html"]) == 0
    page = capsys.readouterr().out
    for line in (
        "chỉ tính giờ phục vụ: 07:00-17:00, T2, T3, T4, T5, T6, trừ ngày nghỉ lễ",
        "khả dụng tính trên thời gian quan sát được; độ phủ dưới 90 %: không đủ dữ liệu",
        "2 sự cố đã được phân loại lại (1 trong số đó không phải sự cố)",
    ):
        assert line in table and line in contract and escape(line) in page, line
    # Every verdict has words in every form (a cause the tracker never gives made the table fail).
    copy = tmp_path / "history.db"
    shutil.copy(store, copy)
    o5 = next(e for e in history(sqlite3.connect(copy)) if e.key[2] == O5[0]).outage_id
    record(copy, o5, "provider", "VNPT xác nhận", "chị Lan", at=T0 + 10 * DAY)
    other = ["--config", str(config), "--history", str(copy), "--from", "2026-04-27", "--to", "2026-05-04"]
    for form in ("table", "html", "csv"):
        assert main(["--lang", "vi", "report", *other, "--format", form]) == 0
    assert "lỗi nhà cung cấp 1" in capsys.readouterr().out


def test_contract_counts_observed_time_only(week: Any) -> None:
    """A period one day longer than the store: that day nobody observed is neither up nor down. Counted
    as up (the filings' old outage_row), ban-a's primary would read 1 - 145 min / 8 days and coverage
    100 %; it is 7 of 8 days observed, below the 90 % floor (no figure), and over observed time with a
    lower floor."""
    _, store, inventory = week
    sites = inventory_sites(inventory)
    source = StoreSource(store)
    now = T0 + 30 * DAY
    for floor, expected in ((0.9, None), (0.8, pytest.approx(1 - minutes(O1, O2, O3, O4, O5) / WEEK))):
        rules = Rules(inventory.spec.accounting, floor=floor)
        accounted = account(source.outages(T0, T0 + 8 * DAY), history(source.conn), rules)
        report = build_contract(source, inventory, sites, accounted, rules, T0, T0 + 8 * DAY, now)
        a = next(lc for lc in report.links if (lc.site.slug, lc.link) == ("ban-a", "primary"))
        assert a.service.coverage == pytest.approx(7 / 8) and a.service.observed == WEEK
        assert a.service.availability == expected
        # The budget is a share of the observed time too: 0.1 % of 7 days, not of 8.
        assert a.budget.allowed == pytest.approx(0.001 * WEEK)


def test_period_presets() -> None:
    h1 = preset("2026-H1")
    assert h1 == (pytest.approx(1767200400.0), pytest.approx(1782838800.0))  # 2026-01-01 / 07-01 +07
    q4 = preset("2026-Q4")
    assert q4[1] == pytest.approx(1798736400.0)  # 2027-01-01 +07
    assert preset("2026")[0] == h1[0]
    with pytest.raises(NetmonError, match="a half"):
        preset("2026-H3")


def test_header_says_when_holidays_are_unknown(week: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config, store, _ = week
    assert (
        main(
            [
                "--lang",
                "en",
                "report",
                "incidents",
                "--config",
                str(config),
                "--history",
                str(store),
                "--period",
                "2027-Q1",
                "--service-period",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "holiday list does not cover 2027" in out and "service period only: 07:00-17:00" in out


def test_csv_and_json_filings(week: Any, tmp_path: Path) -> None:
    config, store, _ = week
    base = [
        "report",
        "--config",
        str(config),
        "--history",
        str(store),
        "--from",
        "2026-04-27",
        "--to",
        "2026-05-04",
    ]
    out = tmp_path / "log.csv"
    assert (
        main(["--lang", "vi", *base[:1], "incidents", *base[1:], "--format", "csv", "--out", str(out)]) == 0
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Mã,Bắt đầu,Kết thúc,Trung tâm")
    o1 = next(line for line in lines if "28/04/2026 09:00" in line and ",primary," in line)
    assert ",90.0," in o1 and "trung tâm mất kết nối 30 phút" in o1
    assert any("VNPT-2026-0412" in line for line in lines) is False  # P1 is no longer an outage
    js = tmp_path / "filing.json"
    assert main(["report", "filing", *base[1:], "--format", "json", "--out", str(js)]) == 0
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["reclassified"] == 2
    assert data["calendar"]["sites"]["ban-c"][-2:] == [None, None]
    assert data["province"]["outages"] == 6  # primary links: O1-O5 and P2 (P1 is not an outage)
    csv_out = tmp_path / "filing.csv"
    assert (
        main(["--lang", "en", "report", "filing", *base[1:], "--format", "csv", "--out", str(csv_out)]) == 0
    )
    rows = csv_out.read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == (
        "Center,Former district,Centers,Availability (%),Availability excluding maintenance (%),"
        "Outages,Total downtime (min),Mean time to restore (min)"
    )
    assert rows[1].startswith("Bản Á,Huyện Mường La,1,98.562,")  # 1 - 145 min / 7 days


def test_reclassify_cli_and_its_errors(week: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config, store, _ = week
    base = ["report", "reclassify", "--config", str(config), "--history", str(store)]
    for extra, message in (
        (["9999", "--as", "power", "--reason", "x"], "no outage #9999"),
        (["1", "--as", "power"], "--reason must say why"),
        (["1", "--reason", "x"], "give --as, or at least --ticket or --actions"),
    ):
        assert main([*base[:2], *extra[:1], *base[2:], *extra[1:]]) == 1
        assert message in capsys.readouterr().err
    assert main(["report", "contract", *base[2:], "--format", "html"]) == 1
    assert "--format html is for `netmon report filing`" in capsys.readouterr().err
    assert (
        main(
            [
                "--lang",
                "vi",
                *base[:2],
                "1",
                *base[2:],
                "--ticket",
                "VNPT-1",
                "--reason",
                "ghi phiếu",
                "--who",
                "anh Tú",
            ]
        )
        == 0
    )
    assert ": Số phiếu VNPT: VNPT-1 (anh Tú, " in capsys.readouterr().out


def test_contract_and_accounting_errors_name_file_line_and_field(tmp_path: Path) -> None:
    from tests.report.accounting_history import INVENTORY

    bad = INVENTORY.replace("restore: 1h", "restore: soon").replace(
        "version: 1\n",
        "version: 1\naccounting:\n  service_period: {hours: 17:00-07:00}\n  budget_warning: 2\n",
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path)
    text = str(err.value)
    assert f"{path}:3: accounting.service_period: " in text and "07:00-17:00" in text
    assert f"{path}:4: accounting.budget_warning" in text
    assert ":22: sites[0].links[0].contract.restore: Value error, expected a duration such as 30s" in text


def test_service_period_and_contracts_exported_for_the_recording_rules(week: Any) -> None:
    """`netmon run` exports the reports' calendar and contracts (alerts/accounting.rules.yml reads them):
    in the generated week, only Tuesday and Wednesday 07:00-17:00 are service time."""
    now = [0.0]
    collector = AccountingCollector(clock=lambda: now[0])
    collector.on_inventory(week[2])
    registry = CollectorRegistry()
    registry.register(collector)

    def value(name: str, labels: str = "") -> float | None:
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith(f"{name}{labels} "):
                return float(line.split()[-1])
        return None

    for t, expected in (
        (at(1, 9), 1.0),  # Tue 28/4 09:00
        (at(2, 16.99), 1.0),  # Wed 29/4 16:59
        (at(2, 17), 0.0),  # closing time
        (at(1, 20), 0.0),  # Tue evening
        (at(0, 9), 0.0),  # Mon 27/4: the Hùng Kings' day in lieu
        (at(3, 10), 0.0),  # Thu 30/4: Reunification Day
        (at(5, 10), 0.0),  # Saturday
    ):
        now[0] = t
        assert value("netmon_service_period") == expected, t
    ratio = "netmon_link_contract_availability_ratio"
    assert value(ratio, '{link="primary",site="ban-a"}') == 0.999
    assert value(ratio, '{link="backup",site="ban-a"}') == 0.995  # accounting.contract: the QCVN 34 floor
    assert value(ratio, '{link="primary",site="ban-b"}') == 0.995
    collector.on_inventory(week[2], publish_links=False)  # a shard other than the first
    assert value(ratio, '{link="primary",site="ban-a"}') is None and value("netmon_service_period") == 0.0


def test_the_contracts_are_encoded_once_per_inventory_in_the_same_bytes(
        week: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`netmon run`'s text path writes the accounting series as kept encoded at the last inventory: the
    same bytes prometheus_client's encoder writes (inside a registry, between generic collectors), and
    no sample built per link at a scrape (at 50,000 links that was 0.3-1.0 s and 100,000 objects a
    scrape: bench/README.md, Scale)."""
    now = [at(1, 9)]
    collector = AccountingCollector(clock=lambda: now[0])
    registry = TextRegistry()
    before, after = (Families(GaugeMetricFamily(f"netmon_test_{n}", "Generic.", value=1.0)) for n in "ab")
    for one in (before, collector, after):
        registry.register(one)
    assert b"".join(registry.render_text()) == generate_latest(registry)  # before any inventory
    for publish_links in (True, False, True):
        collector.on_inventory(week[2], publish_links=publish_links)
        for now[0] in (at(1, 9), at(1, 20)):
            text = b"".join(registry.render_text())
            assert text == generate_latest(registry)
            assert (b'netmon_link_contract_availability_ratio{link="primary",site="ban-a"} 0.999\n' in text) \
                is publish_links
    built = []
    monkeypatch.setattr(GaugeMetricFamily, "add_metric", lambda self, *a, **k: built.append(a))
    registry.render_text()
    assert len(built) == 1  # the service period's one sample (generically: one more per link)
