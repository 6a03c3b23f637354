"""The planners' filings under `netmon report`: ``contract``, ``incidents``, ``filing`` and
``reclassify OUTAGE``, and the accounting-rule flags every `netmon report` shares (`rules`: the
inventory's ``accounting:`` section with the flags below on top; `netmon.report.accounting`).
"""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime, time
from typing import Any

from netmon import i18n
from netmon.agent.view import coverage
from netmon.i18n import Lang
from netmon.inventory import wording
from netmon.inventory.loader import Inventory
from netmon.report import filing_text as ft
from netmon.report.accounting import Rules, for_source
from netmon.report.contract import build_contract
from netmon.report.data import SiteInfo, Source
from netmon.report.incidents import incidents
from netmon.report.intervals import LOCAL_TZ
from netmon.report.reclassify import CAUSES, outage_ids, record, who
from probes.base import parse_duration
from probes.errors import NetmonError

ACTIONS = ("contract", "incidents", "filing", "reclassify")
_PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]))?$")
_USAGE_RECLASSIFY = ("netmon report reclassify OUTAGE --as maintenance|power|provider|not-outage "
                     "--reason TEXT [--who NAME] [--ticket NO] [--actions TEXT]")
_TEXT = {
    "period": ("--period {value!r}: use a year (2026), a half (2026-H1) or a quarter (2026-Q3)",
               "--period {value!r}: dùng một năm (2026), nửa năm (2026-H1) hoặc một quý (2026-Q3)"),
    "usage": ("usage: netmon report {action} [--period 2026-H1] [--format ...]",
              "cách dùng: netmon report {action} [--period 2026-H1] [--format ...]"),
    "html": ("--format html is for `netmon report filing`; {action} gives table, csv or json",
             "--format html dành cho `netmon report filing`; {action} cho ra table, csv hoặc json"),
    "reclassify": (f"usage: {_USAGE_RECLASSIFY} (OUTAGE: the No. in `netmon report incidents`)",
                   f"cách dùng: {_USAGE_RECLASSIFY} (OUTAGE: cột Mã của `netmon report incidents`)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("accounting rules (every report; docs/report.md)")
    a.add_argument(
        "--service-period",
        "--office-hours",
        dest="service_period",
        action="store_true",
        help="count only the service period (accounting.service_period, default Mon–Fri 07:00–17:00 "
        "Asia/Ho_Chi_Minh, Vietnamese public holidays excluded)",
    )
    a.add_argument(
        "--ignore-shorter-than",
        default=None,
        metavar="DURATION",
        help="leave out interruptions shorter than this, e.g. 2m (default: accounting.ignore_shorter_than)",
    )
    g = p.add_argument_group("filings (contract, incidents, filing, reclassify)")
    g.add_argument(
        "--period",
        default=None,
        help="preset period instead of --from/--to: 2026 (year), 2026-H1 (half), 2026-Q3 (quarter)",
    )
    g.add_argument("--as", dest="as_cause", choices=CAUSES, default=None, help="reclassify: the new cause")
    g.add_argument("--reason", default="", help="reclassify: why (kept in the audit trail)")
    g.add_argument(
        "--who",
        dest="by_whom",
        default=None,
        help="reclassify: who decides (default $NETMON_USER or the login name)",
    )
    g.add_argument("--ticket", default=None, help="reclassify: VNPT ticket number")
    g.add_argument("--actions", default=None, help="reclassify: actions taken to restore service")


def preset(value: str) -> tuple[float, float]:
    """``2026`` / ``2026-H1`` / ``2026-Q3`` → [first local midnight, next period's first midnight)."""
    m = _PERIOD.match(value.strip())
    if not m:
        raise NetmonError(i18n.text(_TEXT, "period", i18n.lang(), value=value))
    year, part = int(m.group(1)), m.group(2)
    first, months = 1, 12
    if part:
        months = 3 if part[0] == "Q" else 6
        first = 1 + (int(part[1]) - 1) * months
    last = first + months
    start = date(year, first, 1)
    end = date(year + (last > 12), (last - 1) % 12 + 1, 1)
    return (
        datetime.combine(start, time(0), LOCAL_TZ).timestamp(),
        datetime.combine(end, time(0), LOCAL_TZ).timestamp(),
    )


def rules(args: argparse.Namespace, inventory: Inventory) -> Rules:
    """The accounting rules of this run: the inventory's, with the command line's flags on top."""
    acc = inventory.spec.accounting
    if args.ignore_shorter_than is not None:
        try:
            seconds = float(parse_duration(args.ignore_shorter_than))  # type: ignore[arg-type]
        except ValueError as exc:
            raise NetmonError(f"--ignore-shorter-than: {wording.say(str(exc), i18n.lang())}") from None
        acc = acc.model_copy(update={"ignore_shorter_than": seconds})
    return Rules(acc, service_period=args.service_period, floor=args.coverage_floor / 100)


def run(
    args: argparse.Namespace,
    inventory: Inventory,
    sites: list[SiteInfo],
    source: Source,
    start: float,
    end: float,
    now: float,
    lang: Lang,
) -> str:
    """Text of the asked filing (``reclassify`` writes the store and says what it recorded)."""
    action = args.action[0]
    if action == "reclassify":
        return _reclassify(args, lang)
    if len(args.action) != 1:
        raise NetmonError(i18n.text(_TEXT, "usage", lang, action=action))
    if args.format == "html" and action != "filing":
        raise NetmonError(i18n.text(_TEXT, "html", lang, action=action))
    if args.period:
        start, end = preset(args.period)
    r = rules(args, inventory)
    stop = min(end, now)
    acc = for_source(source, r, start, stop)
    fmt = args.format
    if action == "contract":
        report = build_contract(source, inventory, sites, acc, r, start, end, now)
        return {"json": ft.contract_json, "csv": lambda x: ft.contract_csv(x, lang)}.get(
            fmt, lambda x: ft.contract_text(x, lang)
        )(report)
    conn: Any = getattr(source, "conn", None)
    ids = outage_ids(conn, start, stop) if conn else {}
    agents = coverage(source.samples(start, stop)) if stop > start else {}
    items = incidents(sites, acc, r.window(start, stop), ids, now, agents)
    if action == "incidents":
        if fmt == "json":
            return ft.incidents_json(items, ft.rules_data(r, acc, start, end))
        if fmt == "csv":
            return ft.incidents_csv(items, lang)
        return ft.incidents_text(items, ft.rules_header(r, acc, start, end, lang), lang)
    from netmon.report import filing

    report_ = filing.build(source, inventory, sites, acc, r, items, start, end, now)
    return {
        "json": filing.to_json,
        "csv": lambda x: filing.to_csv(x, lang),
        "html": lambda x: filing.to_html(x, lang),
    }.get(fmt, lambda x: filing.to_text(x, lang))(report_)


def _reclassify(args: argparse.Namespace, lang: Lang) -> str:
    from netmon.report import DEFAULT_HISTORY

    if len(args.action) != 2 or not args.action[1].lstrip("#").isdigit():
        raise NetmonError(i18n.text(_TEXT, "reclassify", lang))
    entry = record(
        args.history or DEFAULT_HISTORY,
        int(args.action[1].lstrip("#")),
        args.as_cause,
        args.reason,
        args.by_whom or who(),
        ticket=args.ticket,
        actions=args.actions,
    )
    if entry.as_cause:
        change = f"{ft.cause(entry.original, lang)} → {ft.cause(entry.as_cause, lang)}"
    else:
        change = "; ".join(
            f"{ft.t(k, lang)}: {v}" for k, v in (("ticket", entry.ticket), ("actions", entry.actions)) if v
        )
    return (
        f"#{entry.outage_id} {entry.key[0]}/{entry.key[1]} {ft.when(entry.key[2], lang)}: {change} "
        f"({entry.by}, {ft.when(entry.at, lang)}: {entry.reason})\n"
    )
