"""`netmon run`: probe every check on schedule and serve /metrics."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.i18n import lang, text
from netmon.service import Daemon
from netmon.sharding import Shard
from probes.base import parse_duration
from probes.errors import NetmonError
from probes.wording import Lang

if TYPE_CHECKING:
    from exporters.history import HistoryWriter
    from netmon.agent.receiver import Receiver


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the monitoring service (scheduled probes + /metrics)")
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--listen", default="127.0.0.1:9813",
                   help="address for /metrics, /-/healthy, /-/reload (default: 127.0.0.1:9813)")
    p.add_argument("--web-config", default=None, metavar="FILE",
                   help="TLS and basic auth for every endpoint (exporter-toolkit web-config format)")
    p.add_argument("--enable-reload", action="store_true",
                   help="allow POST /-/reload on a non-loopback listen address (always allowed on loopback)")
    p.add_argument("--user", default=None, metavar="NAME",
                   help="when started as root: become this user once sockets are open, keep only CAP_NET_RAW")
    p.add_argument("--max-concurrency", type=int, default=256, help="checks running at once (default 256)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only shard I of N of the checks (stable hash of site + check id)")
    p.add_argument("--history", default=None, metavar="PATH",
                   help="history store for `netmon report` (default: $NETMON_DATA_DIR/history.db, "
                        "else var/netmon/history.db)")
    p.add_argument("--no-history", action="store_true", help="do not keep the history store")
    p.add_argument("--history-reachability", default="icmp", metavar="PROBES",
                   help="probes whose failures open outages in the history, comma-separated (default icmp)")
    p.add_argument("--history-rollup-every", default="60s", metavar="DURATION",
                   help="how often rollups and observed time are written to the history (default 60s): "
                        "what a killed netmon may lose of them, read as not observed; outages are written "
                        "within 1s")
    p.add_argument("--agents", default=None, metavar="FILE",
                   help="accept edge agents (netmon agent) listed in FILE: endpoint, TLS, remote-write URL")
    p.add_argument("--alertmanager", default=os.environ.get("NETMON_ALERTMANAGER_URL"), metavar="URL",
                   help="Alertmanager that receives the meeting-readiness summaries (default: "
                        "$NETMON_ALERTMANAGER_URL; without one, readiness is exported and logged only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG
    from netmon.report import DEFAULT_HISTORY
    from netmon.webconfig import load_web_config

    rollup_every = _rollup_every(args.history_rollup_every, lang(getattr(args, "lang", None)))

    async def main() -> None:
        from netmon.meetings.board import ReadinessBoard
        from netmon.meetings.notify import Notifier

        board = ReadinessBoard(Notifier(args.alertmanager) if args.alertmanager else None)
        shard = Shard.parse(args.shard) if args.shard else None
        web = load_web_config(args.web_config) if args.web_config else None
        history = None
        if not args.no_history:
            from exporters.history import HistoryWriter

            probes = tuple(p.strip() for p in args.history_reachability.split(",") if p.strip())
            history = HistoryWriter(args.history or DEFAULT_HISTORY, probes=probes, owner=_owner(args.user),
                                    rollup_every=rollup_every)
        # The service hands the history the inventory's facts on start and every reload, and closes it.
        service = Daemon(args.config or DEFAULT_CONFIG, args.listen, max_concurrency=args.max_concurrency,
                          shard=shard, sinks=[board, *([history] if history else [])], web=web,
                          enable_reload=True if args.enable_reload else None, user=args.user)
        if history is not None:
            history.start()  # once the inventory loaded: a start that fails on it leaves no store behind
            service.health.watch_history(history.status)
        service.own_registry.register(board)
        if args.agents:
            service.attach_feed(start_agents(args.agents, service, history))
        board.start()  # the service stops it with its other sinks
        await service.run()

    asyncio.run(main())
    return 0


def _owner(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) that files created before `--user` drops privileges must belong to, if any."""
    if user is None or os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None  # the service reports an unknown user when it drops privileges
    return entry.pw_uid, entry.pw_gid


_TEXT = {
    "rollup_every": ("--history-rollup-every {value!r}: expected a duration from 1s to 110s, e.g. 60s",
                     "--history-rollup-every {value!r}: cần một khoảng thời gian từ 1s đến 110s, ví dụ 60s"),
}


def _rollup_every(value: str, language: Lang) -> float:
    """Seconds from ``--history-rollup-every``; at most 110 s, under the 120 s after which an hour's rows
    are rolled up into their day's (`exporters.history_rollup.ROLL_AFTER`), so its last sums come first."""
    try:
        seconds = float(parse_duration(value))  # type: ignore[arg-type]
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 110:
        raise NetmonError(text(_TEXT, "rollup_every", language, value=value))
    return seconds


def start_agents(path: str, service: Daemon, history: HistoryWriter | None) -> Receiver:
    """The agents' endpoint: results into the history and (remote-write) Prometheus; its counters on
    the service's /metrics."""
    from netmon.agent.config import load_agents
    from netmon.agent.receiver import Inbox, Receiver, ReceiverMetrics
    from probes import base

    agents = load_agents(path, {s.slug for s in service.inventory.spec.sites})
    source = Path(path)
    specs = {s.name: s for p in base.registry().values() for s in p.metrics}
    state = Path(agents.state) if Path(agents.state).is_absolute() else source.resolve().parent / agents.state
    inbox = Inbox(agents, state, specs, history.publish if history else None)
    service.own_registry.register(ReceiverMetrics(inbox))
    receiver = Receiver(agents, source, inbox)
    receiver.start()
    return receiver
