"""`netmon run`: probe every check on schedule and serve /metrics."""

from __future__ import annotations

import argparse
import asyncio

from netmon.service import Service
from netmon.sharding import Shard


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the monitoring service (scheduled probes + /metrics)")
    p.add_argument("--config", default=None, help="inventory file (default: config/communes.yaml)")
    p.add_argument("--listen", default="127.0.0.1:9813",
                   help="address for /metrics, /-/healthy, /-/reload (default: 127.0.0.1:9813)")
    p.add_argument("--max-concurrency", type=int, default=256, help="checks running at once (default 256)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only shard I of N of the checks (stable hash of site + check id)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netmon.cli import DEFAULT_CONFIG

    async def main() -> None:
        shard = Shard.parse(args.shard) if args.shard else None
        service = Service(args.config or DEFAULT_CONFIG, args.listen, max_concurrency=args.max_concurrency,
                          shard=shard)
        await service.run()

    asyncio.run(main())
    return 0
