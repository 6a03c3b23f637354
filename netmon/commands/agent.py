"""`netmon agent`: the edge agent at a service center (`run`) and its credential (`credential`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from netmon.i18n import lang, text

_TEXT = {
    "issued": ("Token written to {path} (mode 0600): copy it to the agent's credential_file.\n"
               "Add this entry to the central agents file (netmon run --agents):\n",
               "Đã ghi mã xác thực vào {path} (quyền 0600): chép sang credential_file của tác tử.\n"
               "Thêm mục này vào tệp danh sách tác tử ở trung tâm (netmon run --agents):\n"),
    "h_site": ("site", "trung tâm"), "h_start": ("start (UTC+7)", "bắt đầu (UTC+7)"),
    "h_end": ("end", "kết thúc"), "h_link": ("link", "đường truyền"), "h_cause": ("cause", "nguyên nhân"),
    "h_seen": ("seen by", "bên phát hiện"), "open": ("ongoing", "đang diễn ra"),
    "seen_center": ("data center only", "chỉ trung tâm dữ liệu"), "seen_agent": ("agent only", "chỉ tác tử"),
    "seen_both": ("both sides", "cả hai phía"),
    "exists": ("{path} already exists; refusing to overwrite a credential",
               "{path} đã tồn tại; không ghi đè mã xác thực"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="edge agent at a service center: measure inside-out, buffer, deliver")
    agent_sub = p.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    r = agent_sub.add_parser("run", help="run the agent (config: site, central endpoint, credential file)")
    r.add_argument("--config", default="/etc/netmon/agent.yaml", help="agent config (default %(default)s)")
    r.set_defaults(func=run)
    c = agent_sub.add_parser("credential", help="make a new agent token and print its central-side entry")
    c.add_argument("--id", required=True, help="agent name (usually the site's slug)")
    c.add_argument("--site", required=True, help="the site slug the agent may write for")
    c.add_argument("--out", required=True, help="file to write the token to (created 0600)")
    c.set_defaults(func=credential)
    v = agent_sub.add_parser("compare",
                             help="each service from the data center and from the center, side by side")
    v.add_argument("site", help="site slug")
    v.add_argument("--prometheus", default="http://127.0.0.1:9090",
                   help="Prometheus URL (default %(default)s)")
    v.add_argument("--window", default="5m", help="averaging window, PromQL duration (default %(default)s)")
    v.set_defaults(func=compare)
    o = agent_sub.add_parser("outages", help="outages of the history with the side that saw them")
    o.add_argument("--site", default=None, help="one site only")
    o.add_argument("--history", default=None, metavar="PATH", help="history store (default as netmon run)")
    o.add_argument("--days", type=float, default=7.0, help="how far back (default %(default)s days)")
    o.set_defaults(func=outages)


def run(args: argparse.Namespace) -> int:
    from netmon.agent.runner import Agent

    asyncio.run(Agent(args.config).run())
    return 0


def compare(args: argparse.Namespace) -> int:
    from netmon.agent.compare import compare as rows_for
    from netmon.agent.compare import render

    rows = rows_for(args.prometheus, args.site, args.window)
    print(render(rows, lang()))
    return 1 if any(r.verdict in ("slower", "fails") for r in rows) else 0


def outages(args: argparse.Namespace) -> int:
    import datetime as dt
    import time

    from netmon.agent.sides import read
    from netmon.report import DEFAULT_HISTORY
    from netmon.report.filing_text import cause

    language = lang()
    now = time.time()
    rows = read(args.history or DEFAULT_HISTORY, now - args.days * 86400, now, args.site)
    local = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh, no DST
    heads = ("h_site", "h_start", "h_end", "h_link", "h_cause", "h_seen")
    print("  ".join(text(_TEXT, k, language) for k in heads))
    for r in rows:
        end = (dt.datetime.fromtimestamp(r.end, local).strftime("%H:%M:%S") if r.end
               else text(_TEXT, "open", language))
        print(f"{r.site}  {dt.datetime.fromtimestamp(r.start, local):%Y-%m-%d %H:%M:%S}  {end}  {r.link}  "
              f"{cause(r.cause, language)}  {text(_TEXT, 'seen_' + r.seen_by, language)}")
    return 0


def credential(args: argparse.Namespace) -> int:
    from netmon.agent.config import new_credential
    from probes.errors import NetmonError

    language = lang()
    path = Path(args.out)
    try:
        digest = new_credential(path)
    except FileExistsError:
        raise NetmonError(text(_TEXT, "exists", language, path=path)) from None
    print(text(_TEXT, "issued", language, path=path)
          + f"  - {{id: {args.id}, site: {args.site}, token_sha256: {digest}}}")
    return 0
