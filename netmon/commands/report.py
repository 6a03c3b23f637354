"""`netmon report`: availability, outages and link quality for planners; `netmon report upgrade SITE`
compares a link before and after its ``since`` date. Reads the history store (default) or Prometheus.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from netmon import i18n, oswording
from netmon.facts import inventory_topology
from netmon.inventory import load
from netmon.report import DEFAULT_HISTORY, filings_cli, formats, html, inventory_sites
from netmon.report.accounting import COVERAGE_FLOOR
from netmon.report.compute import GROUPINGS, build, upgrade
from netmon.report.data import Source
from netmon.report.intervals import LOCAL_TZ
from probes.errors import NetmonError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="availability and outage report for planners (or: report upgrade SITE)",
        description=__doc__,
    )
    p.add_argument(
        "action",
        nargs="*",
        metavar="ACTION",
        help="'upgrade SITE': compare the site's link before/after its `since` date; 'contract', "
        "'incidents', 'filing', 'reclassify OUTAGE': the planners' filings (docs/report.md)",
    )
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--history", default=None, help=f"history store (default: {DEFAULT_HISTORY})")
    p.add_argument("--source", choices=("store", "prometheus"), default="store")
    p.add_argument("--url", default=None, help="Prometheus base URL for --source prometheus")
    p.add_argument(
        "--from",
        dest="start",
        default=None,
        help="start: YYYY-MM-DD, ISO time (local Asia/Ho_Chi_Minh if no offset) or Nd ago (default: 30d)",
    )
    p.add_argument("--to", dest="end", default=None, help="end, same forms (default: now)")
    p.add_argument("--by", choices=GROUPINGS, default="site")
    p.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    p.add_argument("--worst", type=int, default=10, help="how many worst sites to list (default 10)")
    p.add_argument(
        "--coverage-floor",
        type=_percent,
        default=COVERAGE_FLOOR * 100,
        metavar="PERCENT",
        help="below this share of the window observed, availability is 'insufficient data' (default 90)",
    )
    p.add_argument("--link", default=None, help="upgrade: link id (default: the primary link)")
    p.add_argument("--days", type=float, default=90, help="upgrade: days compared on each side (default 90)")
    p.add_argument(
        "--reachability",
        default="icmp",
        help="probes whose failures make outages, comma-separated (default icmp)",
    )
    filings_cli.add_arguments(p)
    p.set_defaults(func=run)


def _percent(value: str) -> float:
    try:
        number = float(value.rstrip("% "))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a percentage (e.g. 90)") from None
    if not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"{value!r} is not between 0 and 100")
    return number


_TIME = {"unreadable": ("cannot read time {value!r} (use YYYY-MM-DD, an ISO time or e.g. 30d)",
                        "không đọc được thời điểm {value!r} (dùng YYYY-MM-DD, thời gian ISO hoặc ví dụ 30d)")}
_TEXT = {
    "needs_url": ("--source prometheus needs --url (e.g. http://127.0.0.1:9090)",
                  "--source prometheus cần --url (ví dụ http://127.0.0.1:9090)"),
    "upgrade_usage": ("usage: netmon report upgrade SITE [--link ID] [--days N]",
                      "cách dùng: netmon report upgrade TRUNG-TÂM [--link MÃ] [--days N]"),
    "unknown_site": ("unknown site {site!r}", "không có trung tâm {site!r}"),
    "no_link": ("site {site} has no link {link!r}", "trung tâm {site} không có đường truyền {link!r}"),
    "order": ("--from must be before --to", "--from phải trước --to"),
    "unwritable": ("cannot write {file} ({reason})", "không ghi được {file} ({reason})"),
}


def parse_time(value: str, now: float) -> float:
    """``2026-03-02``, ``2026-03-02T08:00[+07:00]`` or ``30d`` / ``12h`` (ago)."""
    v = value.strip()
    if v[-1:] in ("d", "h") and v[:-1].replace(".", "", 1).isdigit():
        return now - float(v[:-1]) * (86400 if v[-1] == "d" else 3600)
    try:
        if len(v) == 10:
            return datetime.combine(date.fromisoformat(v), dtime(0), LOCAL_TZ).timestamp()
        parsed = datetime.fromisoformat(v)
    except ValueError:
        raise NetmonError(i18n.text(_TIME, "unreadable", i18n.lang(), value=value)) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)).timestamp()


def open_source(args: argparse.Namespace, inventory: object) -> Source:
    probes = tuple(p.strip() for p in args.reachability.split(",") if p.strip())
    if args.source == "prometheus":
        if not args.url:
            raise NetmonError(i18n.text(_TEXT, "needs_url", i18n.lang()))
        from netmon.report.prom import PromSource

        return PromSource(args.url, inventory_topology(inventory, time.time()), probes=probes)  # type: ignore[arg-type]
    from netmon.report.store import open_store

    return open_store(args.history or DEFAULT_HISTORY)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    lang = i18n.lang(None)
    now = time.time()
    inventory = load(args.config or DEFAULT_CONFIG)
    sites = inventory_sites(inventory)
    source = open_source(args, inventory)
    try:
        if args.action and args.action[0] in filings_cli.ACTIONS:
            end = parse_time(args.end, now) if args.end else now
            start = parse_time(args.start, end) if args.start else end - 30 * 86400
            text = filings_cli.run(args, inventory, sites, source, start, end, now, lang)
        elif args.action:
            if len(args.action) != 2 or args.action[0] != "upgrade":
                raise NetmonError(i18n.text(_TEXT, "upgrade_usage", lang))
            site = next((s for s in sites if s.slug == args.action[1]), None)
            if site is None:
                raise NetmonError(i18n.text(_TEXT, "unknown_site", lang, site=args.action[1]))
            link = site.link(args.link) if args.link else site.primary
            if link is None:
                raise NetmonError(i18n.text(_TEXT, "no_link", lang, site=site.slug, link=args.link))
            since = datetime.combine(link.since, dtime(0), LOCAL_TZ).timestamp()
            rules = filings_cli.rules(args, inventory)
            result = upgrade(source, site, link.id, since, args.days, now, rules)
            text = (
                formats.upgrade_json(result) if args.format == "json" else formats.upgrade_text(result, lang)
            )
        else:
            end = parse_time(args.end, now) if args.end else now
            start = parse_time(args.start, end) if args.start else end - 30 * 86400
            if start >= end:
                raise NetmonError(i18n.text(_TEXT, "order", lang))
            report = build(
                source,
                sites,
                start,
                end,
                now,
                by=args.by,
                rules=filings_cli.rules(args, inventory),
                worst=args.worst,
                source_name=args.source,
            )
            text = {
                "table": lambda: formats.table(report, lang),
                "csv": lambda: formats.to_csv(report, lang),
                "json": lambda: formats.to_json(report),
                "html": lambda: html.render(report, lang),
            }[args.format]()
    finally:
        source.close()  # type: ignore[attr-defined]
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:  # a missing directory, or one this user may not write: not a traceback
            why = oswording.error(exc, lang)
            raise NetmonError(i18n.text(_TEXT, "unwritable", lang, file=args.out, reason=why)) from None
    else:
        sys.stdout.write(text)
    return 0
