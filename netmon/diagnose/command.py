"""What `netmon probe`, `netmon ping` and `netmon trace` share: output options, running once or in
``--watch``, ``--json``, and exit codes (0 ok, 1 degraded, 2 down, 3 usage or configuration error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from netmon import i18n
from netmon.diagnose import render, report, session, watch
from netmon.diagnose.diagnosis import Diagnosis, diagnose
from netmon.diagnose.lookup import USAGE_EXIT
from netmon.diagnose.path import directory
from netmon.diagnose.plan import Plan
from netmon.inventory import ConfigError, Inventory, load
from netmon.inventory.model import InventoryFile

DEFAULT_WATCH_SECONDS = 2.0


_ARGUMENTS: dict[str, tuple[str, str]] = {
    "at_least_1": ("must be 1 or more", "phải từ 1 trở lên"),
    "positive": ("must be greater than 0", "phải lớn hơn 0"),
}


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(i18n.text(_ARGUMENTS, "at_least_1", i18n.lang()))
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(i18n.text(_ARGUMENTS, "positive", i18n.lang()))
    return number


def add_options(p: argparse.ArgumentParser, watch_option: bool = True) -> None:
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--json", action="store_true", help="print one JSON document (schema: docs/cli.md)")
    p.add_argument("--count", type=positive_int, default=None, metavar="N", help="echoes per ICMP burst")
    if watch_option:
        p.add_argument("--watch", nargs="?", type=positive_float, const=DEFAULT_WATCH_SECONDS, default=None,
                       metavar="SECONDS", help=f"live table, rerun every SECONDS "
                       f"(default {DEFAULT_WATCH_SECONDS:g}); Ctrl-C stops")


def load_inventory(path: str | None, required: bool = True) -> Inventory | None:
    """The inventory; a broken one raises `ConfigError`. When not ``required`` (ad-hoc ping/trace,
    which only use it to name hosts and pick thresholds) an absent default file gives None.
    """
    from netmon.cli import DEFAULT_CONFIG

    chosen = path or DEFAULT_CONFIG
    if not required and path is None and not Path(chosen).is_file():
        return None
    return load(chosen)


def adhoc_title(name: str, typed: str, target: str, spec: InventoryFile | None) -> str:
    """``netmon ping chieng-mung (198.19.9.4) — CPE Chiềng Mung (primary)``: what was typed, the address
    it stands for when that differs, and the inventory's name of that host when it has one."""
    known = directory(spec).get(target) if spec else None
    return f"netmon {name} {typed}" + (f" ({target})" if target != typed else "") + (
        f" — {known[1]}" if known else "")


def config_failed(path: str | None, exc: ConfigError) -> int:
    """Print every issue of a broken inventory, like `netmon validate`; usage/config exit code."""
    from netmon.cli import DEFAULT_CONFIG

    print(exc.heading(path or DEFAULT_CONFIG, i18n.lang()), file=sys.stderr)
    for issue in exc.issues:
        print(issue, file=sys.stderr)
    return USAGE_EXIT


def execute(args: argparse.Namespace, plan: Plan, spec: InventoryFile | None, title: str, command: str,
            once: Callable[[session.Progress], Coroutine[Any, Any, session.Report]] | None = None,
            max_rounds: int | None = None) -> int:
    """Run ``plan`` once (or ``once`` instead) or under ``--watch``; print; return the exit code."""
    lang = i18n.lang()
    out = sys.stdout

    def explain(rep: session.Report) -> Diagnosis:
        return diagnose(rep, spec, lang)

    every = getattr(args, "watch", None)
    if every is not None:
        try:
            asyncio.run(watch.watch(plan, every, out, lang, title, explain, max_rounds))
        except KeyboardInterrupt:
            render.write(out, "\n")
        return 0
    progress = session.Progress(enabled=None if not args.json else False)
    try:
        job = once(progress) if once else session.run(plan, spec, progress=progress)
        rep: session.Report = asyncio.run(job)
    except KeyboardInterrupt:
        progress.clear()
        return 130
    found = explain(rep)
    if args.json:
        render.write(out, json.dumps(report.document(rep, found, command, lang), ensure_ascii=False,
                                     indent=2) + "\n")
    else:
        render.write(out, render.document(rep, found, lang, render.use_color(out), title))
    return int(rep.verdict)
