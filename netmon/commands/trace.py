"""`netmon trace TARGET`: traceroute with every hop named after the inventory host it belongs to."""

from __future__ import annotations

import argparse

from netmon.diagnose import command, lookup, path, plan, session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace", help="traceroute to any target, hops named from the inventory",
        description="TARGET as for `netmon ping`: an address, a host name with its domain, or a site (its "
                    "primary link's CPE) or hub of the inventory. Exit: 0 target reached, 2 not reached, "
                    "3 usage error.")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--max-hops", type=command.positive_int, default=None, metavar="N")
    command.add_options(p, watch_option=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        inventory = command.load_inventory(args.config, required=False)
    except command.ConfigError as exc:
        return command.config_failed(args.config, exc)
    spec = inventory.spec if inventory else None
    target = lookup.address(spec, args.target)
    names = path.directory(spec) if spec else {}
    check = path.trace_check(target, max_hops=args.max_hops, count=args.count)
    row = plan.Row("adhoc", check)
    chosen = plan.Plan(None, (row,))

    async def once(progress: session.Progress) -> session.Report:
        report = await session.run(chosen, progress=progress)
        traced = path.view(report.outcomes[0].result, names)
        return session.Report(chosen, report.outcomes, (traced,), report.started, report.duration)

    title = command.adhoc_title("trace", args.target, target, spec)
    return command.execute(args, chosen, spec, title, "trace", once=once)
