"""How a Result travels from an agent to the central side: JSON, one batch per zlib-compressed body.

A result is stored in the agent's buffer in the same JSON it is sent in, so what was committed is
byte for byte what arrives. A batch names its agent and site (checked against the credential), the
lowest sequence number the agent still holds (everything below it was delivered or dropped by the
size cap), how many results the cap has dropped so far and how many the buffer holds (this batch's
included): the central side shows the agent's backlog without asking it.

A result whose check has counted something carries its check's running totals after it (``t``:
`exporters.totals.Totals`), counted by the agent in commit order, so the central side writes counters
that continue across the agent's restarts and do not depend on the order batches arrive in.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from exporters.totals import Totals, identity_of
from probes.base import Measurement, Result

#: A decompressed batch larger than this is refused (a zip bomb must not take the central down).
MAX_BATCH_BYTES = 16 * 1024 * 1024


def dump(result: Result, totals: Totals | None = None) -> str:
    data = {
        "site": result.site, "check": result.check, "probe": result.probe, "target": result.target,
        "link": result.link, "success": result.success, "started": result.started,
        "duration": result.duration, "reason": result.reason, "error": result.error,
        "m": [[m.name, m.value, [list(p) for p in m.labels]] for m in result.measurements],
        "details": result.details,
    }
    if totals:
        data["t"] = totals.dump()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def load(data: dict[str, Any]) -> Result:
    return Result(
        site=str(data["site"]), check=str(data["check"]), probe=str(data["probe"]),
        target=str(data["target"]), link=str(data["link"]), success=bool(data["success"]),
        started=float(data["started"]), duration=float(data["duration"]),
        reason=data.get("reason"), error=data.get("error"),
        measurements=tuple(Measurement(str(n), float(v), tuple((str(k), str(x)) for k, x in labels))
                           for n, v, labels in data.get("m", ())),
        details=dict(data.get("details") or {}),
    )


def load_totals(data: dict[str, Any], result: Result) -> Totals | None:
    """The running totals ``data`` (a result as `dump` wrote it) carries, if any."""
    return Totals.load(data["t"], identity_of(result)) if data.get("t") else None


@dataclass(frozen=True)
class Batch:
    agent: str
    site: str
    low: int
    dropped: int
    #: Results in the agent's buffer when the batch left, this batch's included (its backlog).
    held: int
    #: (sequence number, Result as JSON text) in the order they were taken from the buffer.
    results: tuple[tuple[int, str], ...]


def encode(batch: Batch) -> bytes:
    results = ",".join(f"[{seq},{text}]" for seq, text in batch.results)
    body = (f'{{"agent":{json.dumps(batch.agent)},"site":{json.dumps(batch.site)},"low":{batch.low},'
            f'"dropped":{batch.dropped},"held":{batch.held},"results":[{results}]}}')
    return zlib.compress(body.encode(), 6)


class BadBatch(ValueError):
    """A body that is not a batch; the central side counts it and answers 400."""


#: One result of a batch: its sequence number, the result, its check's totals after it.
Item = tuple[int, Result, Totals | None]


def decode(body: bytes) -> tuple[Batch, list[Item]]:
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(body, MAX_BATCH_BYTES)
        if inflater.unconsumed_tail:
            raise BadBatch(f"batch larger than {MAX_BATCH_BYTES} bytes uncompressed")
        data = json.loads(raw)
        results = [(int(seq), result, load_totals(item, result))
                   for seq, item in data["results"] for result in (load(item),)]
        batch = Batch(str(data["agent"]), str(data["site"]), int(data["low"]), int(data["dropped"]),
                      int(data["held"]), ())
    except BadBatch:
        raise
    except (zlib.error, ValueError, KeyError, TypeError) as exc:
        raise BadBatch(f"malformed batch: {exc}") from None
    return batch, results
