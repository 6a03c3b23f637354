"""`netmon alerts generate [--check]`: write (or verify) the alerting files that follow from the inventory.
`netmon alerts bridge`: relay Alertmanager's webhooks to Telegram, Zalo OA and SMS (netmon/notify.py).
`netmon alerts backtest`: replay the rules over a period of the history store (netmon/backtest.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netmon import alerting, oswording
from netmon.i18n import lang, text
from netmon.inventory import ConfigError, load
from probes.wording import Lang

_TEXT = {
    "stale": ("{file}: out of date with {path}; run `netmon alerts generate`",
              "{file}: chưa khớp với {path}; hãy chạy `netmon alerts generate`"),
    "wrote": ("wrote {file}", "đã ghi {file}"),
    "bridge": ("bridge on {url}: receivers {receivers}", "cầu nối tại {url}: nơi nhận {receivers}"),
    "order": ("--from must be before --to", "--from phải trước --to"),
    "unreadable": ("{file}: cannot read it ({reason}); --alerts-dir names a directory laid out like alerts/",
                   "{file}: không đọc được ({reason}); --alerts-dir phải là thư mục có cấu trúc như alerts/"),
    "unwritable": ("{file}: cannot write it ({reason}); --alerts-dir names a directory laid out like alerts/ "
                   "that you may write",
                   "{file}: không ghi được ({reason}); --alerts-dir phải là thư mục có cấu trúc như alerts/ "
                   "mà bạn được ghi"),
}


def _config_error(path: str | Path, exc: ConfigError, language: Lang) -> int:
    """Every issue of an invalid inventory, under one localised heading (as `netmon validate` prints)."""
    print(exc.heading(path, language), file=sys.stderr)
    for issue in exc.issues:
        print(issue, file=sys.stderr)
    return 1


def _unreadable(exc: OSError, language: Lang, key: str = "unreadable") -> int:
    """A file of the alerts directory that cannot be read (or, ``key="unwritable"``, written), named with
    the OS's reason: one wording for generate and backtest (``--alerts-dir`` pointing elsewhere is the
    usual cause; the default, the installed alerts/, is written only by its owner)."""
    why = oswording.error(exc, language)
    print(text(_TEXT, key, language, file=exc.filename, reason=why), file=sys.stderr)
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="alerting configuration derived from the inventory")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser("generate", help="write alerts/generated/*.yml and alerts/alertmanager.yml")
    gen.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    gen.add_argument("--alerts-dir", default=None, type=Path,
                     help="directory holding alertmanager.base.yml (default: ./alerts, else the shipped one)")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if a generated file is missing or out of date (for CI)")
    gen.set_defaults(func=run)
    bridge = actions.add_parser("bridge", help="Alertmanager webhooks to Telegram, Zalo OA, SMS")
    bridge.add_argument("--bridge-config", required=True, type=Path, metavar="FILE",
                        help="destinations per Alertmanager receiver (see docs/runbook.md#channels)")
    bridge.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    bridge.add_argument("--listen", default="127.0.0.1:9087", help="listen address (default 127.0.0.1:9087)")
    bridge.set_defaults(func=run_bridge)
    back = actions.add_parser("backtest", help="replay the alert rules over a period of the history store")
    back.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD, ISO time or 7d (ago)")
    back.add_argument("--to", dest="end", default=None, help="end, same forms (default: now)")
    back.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    back.add_argument("--history", default=None, help="history store (default: the report's)")
    back.add_argument("--alerts-dir", default=None, type=Path,
                      help="rules to replay: a directory laid out like alerts/ (default: ./alerts, else "
                           "the shipped one)")
    back.add_argument("--format", choices=("table", "json"), default="table")
    back.set_defaults(func=run_backtest)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_ALERTS, DEFAULT_CONFIG

    language = lang(getattr(args, "lang", None))
    path = args.config or DEFAULT_CONFIG
    alerts_dir = args.alerts_dir or Path(DEFAULT_ALERTS)
    try:
        inventory = load(path)
    except ConfigError as exc:
        return _config_error(path, exc, language)
    try:  # what is stale is read first: an OSError while writing is then one of writing
        stale = list(alerting.stale(inventory, alerts_dir))
    except OSError as exc:
        return _unreadable(exc, language)
    except ConfigError as exc:  # alertmanager.base.yml is not YAML, or has no route
        return _config_error(alerts_dir / alerting.AM_BASE_FILE, exc, language)
    if args.check:
        for file in stale:
            print(text(_TEXT, "stale", language, file=file, path=path), file=sys.stderr)
        return 1 if stale else 0
    try:
        for file in alerting.write(inventory, alerts_dir):
            print(text(_TEXT, "wrote", language, file=file))
    except OSError as exc:
        return _unreadable(exc, language, "unwritable")
    return 0


def run_bridge(args: argparse.Namespace) -> int:
    import signal
    import threading

    from netmon import notify
    from netmon.cli import DEFAULT_CONFIG

    language = lang(getattr(args, "lang", None))
    path = args.config or DEFAULT_CONFIG
    try:
        inventory = load(path)
    except ConfigError as exc:
        return _config_error(path, exc, language)
    try:
        config = notify.load_config(args.bridge_config)
    except ConfigError as exc:
        return _config_error(args.bridge_config, exc, language)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with notify.serve(config, notify.site_facts(inventory), args.listen) as url:
        print(text(_TEXT, "bridge", language, url=url, receivers=", ".join(sorted(config.receivers))),
              file=sys.stderr)
        stop.wait()
    return 0


_BACKTEST_TEXT = {
    "header": ("Backtest {start} – {end} ({alerts_dir}): {sites} site(s) with outages or alerts",
               "Chạy thử cảnh báo {start} – {end} ({alerts_dir}): {sites} trung tâm có sự cố hoặc cảnh báo"),
    "columns": ("site | outages | alerted | missed (minutes) | alerts | alerts without an outage",
                "trung tâm | sự cố | có cảnh báo | bỏ sót (phút) | cảnh báo | cảnh báo không có sự cố"),
    "totals": ("Total: {alerted}/{outages} outages alerted, {unexplained} alert(s) without an outage",
               "Tổng: {alerted}/{outages} sự cố có cảnh báo, {unexplained} cảnh báo không có sự cố"),
    "note": ("Series rebuilt from the history store (outages, hourly loss); latency, jitter, equipment and "
             "service alerts are not replayed. PacketLossHigh is replayed with the ratio approximation: the "
             "store keeps each hour's mean loss, not echo counts, so every minute is replayed as "
             "{echoes} echoes losing that hour's share evenly (a run of bad luck within an hour is not "
             "replayed, and neither is the 10-minute window's view of a short loss).",
             "Chuỗi số liệu dựng lại từ kho lịch sử (sự cố, tỉ lệ mất gói theo giờ); cảnh báo độ trễ, "
             "jitter, thiết bị và dịch vụ không được chạy lại. PacketLossHigh được chạy lại theo xấp xỉ tỉ "
             "lệ: kho chỉ lưu tỉ lệ mất gói trung bình mỗi giờ, không lưu số gói gửi/nhận, nên mỗi phút "
             "được dựng lại thành {echoes} gói tin mất đều theo tỉ lệ của giờ đó (không tái hiện một "
             "chuỗi mất gói ngẫu nhiên trong giờ, cũng như mất gói ngắn trong cửa sổ 10 phút)."),
}


def run_backtest(args: argparse.Namespace) -> int:
    import json
    import time
    from datetime import datetime

    from netmon import backtest
    from netmon.cli import DEFAULT_ALERTS, DEFAULT_CONFIG
    from netmon.commands.report import DEFAULT_HISTORY, parse_time
    from netmon.report.intervals import LOCAL_TZ
    from netmon.report.store import open_store
    from probes.errors import NetmonError

    language = lang(getattr(args, "lang", None))
    path = args.config or DEFAULT_CONFIG
    alerts_dir = args.alerts_dir or Path(DEFAULT_ALERTS)
    try:  # promtool reads them, and its complaint about one is a page of Go: said here, naming the file
        for name in backtest.RULE_FILES:
            (alerts_dir / name).open("rb").close()
    except OSError as exc:
        return _unreadable(exc, language)
    try:
        inventory = load(path)
        now = time.time()
        start, end = parse_time(args.start, now), parse_time(args.end, now) if args.end else now
        if start >= end:
            raise NetmonError(text(_TEXT, "order", language))
        store = open_store(args.history or DEFAULT_HISTORY)
    except ConfigError as exc:
        return _config_error(path, exc, language)
    except NetmonError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        outages = store.outages(start, end)
        loss = backtest.hourly_loss(store.conn, start, end)
    finally:
        store.close()
    fired = backtest.replay(inventory, outages, loss, start, end, alerts_dir)
    verdicts = backtest.judge(inventory, outages, fired)
    note = text(_BACKTEST_TEXT, "note", language, echoes=backtest.ECHOES_PER_MINUTE)
    if args.format == "json":
        print(json.dumps(backtest.as_dict(verdicts), ensure_ascii=False, indent=1))
        print(note, file=sys.stderr)  # the approximation is said with every answer, JSON's too
        return 0
    stamp = "%Y-%m-%d %H:%M"
    print(text(_BACKTEST_TEXT, "header", language,
               start=datetime.fromtimestamp(start, LOCAL_TZ).strftime(stamp),
               end=datetime.fromtimestamp(end, LOCAL_TZ).strftime(stamp), alerts_dir=alerts_dir,
               sites=len(verdicts)))
    print(text(_BACKTEST_TEXT, "columns", language))
    for v in verdicts:
        missed = ", ".join(f"{((o.end or end) - o.start) / 60:.0f}" for o in v.missed) or "-"
        alerts = ", ".join(sorted({f.alert for f in v.fired})) or "-"
        print(f"{v.site} | {len(v.outages)} | {len(v.alerted)} | {missed} | {alerts} | {len(v.unexplained)}")
    print(text(_BACKTEST_TEXT, "totals", language, alerted=sum(len(v.alerted) for v in verdicts),
               outages=sum(len(v.outages) for v in verdicts),
               unexplained=sum(len(v.unexplained) for v in verdicts)))
    print(note)
    return 0
