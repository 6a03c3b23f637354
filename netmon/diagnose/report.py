"""The ``--json`` document: a stable, versioned shape, validated by ``probe.schema.json`` beside this file.

Compatible changes (a new optional field) keep ``schema_version``; anything that removes, renames
or retypes a field bumps it. Values are in base units (seconds, ratios 0-1), like the metrics.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from netmon.agent.view import AgentView
from netmon.diagnose.diagnosis import Diagnosis
from netmon.diagnose.lookup import Place
from netmon.diagnose.path import PathView
from netmon.diagnose.session import Outcome, Report
from probes.verdict import CONFIDENCE

SCHEMA_VERSION = 1


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `document`."""
    return dict(json.loads(resources.files("netmon.diagnose").joinpath("probe.schema.json").read_text()))


def document(report: Report, diagnosis: Diagnosis, command: str, lang: str) -> dict[str, Any]:
    doc = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "place": _place(report.plan.place),
        "started": report.started,
        "duration_seconds": report.duration,
        "verdict": report.verdict.label,
        "exit_code": int(report.verdict),
        "diagnosis": {"text": diagnosis.text, "causes": list(diagnosis.causes), "lang": lang},
        "checks": [_check(o) for o in report.outcomes],
        "traces": [_trace(p) for p in report.paths],
        "notes": list(report.plan.notes),
    }
    if report.plan.agent is not None:
        doc["agent"] = _agent(report.plan.agent)
    return doc


def _agent(view: AgentView) -> dict[str, Any]:
    o = view.outage
    return {"covered_until": view.covered_until,
            "outage": None if o is None else {"link": o.link, "start": o.start, "end": o.end},
            "inside": [{"check": s.check, "start": s.start, "end": s.end, "down": s.down}
                       for s in view.inside],
            "silent": [{"start": a, "end": b} for a, b in view.silent]}


def _place(place: Place | None) -> dict[str, Any] | None:
    if place is None:
        return None
    if place.site:
        s = place.site
        return {"kind": s.kind, "slug": s.slug, "name": s.name, "admin_code": s.admin_code,
                "district": s.district, "upstream": s.upstream,
                "links": [{"id": lk.id, "role": lk.role, "type": lk.type, "isp": lk.isp, "cpe": lk.cpe}
                          for lk in s.links]}
    assert place.hub is not None
    h = place.hub
    return {"kind": "hub", "slug": h.id, "name": h.name, "admin_code": None, "district": h.district,
            "upstream": None, "links": []}


def _check(o: Outcome) -> dict[str, Any]:
    r, f, limits, base = o.result, o.finding, o.row.limits, o.row.baseline
    return {
        "role": o.row.role,
        "site": r.site,
        "id": r.check,
        "probe": r.probe,
        "target": r.target,
        "link": r.link or None,
        "success": r.success,
        "verdict": f.verdict.label,
        "cause": f.cause,
        "figure": f.figure,
        "limit": f.limit,
        "interval": list(f.interval) if f.interval else None,
        "confidence": CONFIDENCE if f.interval else None,
        "reason": r.reason,
        "error": r.error,
        "started": r.started,
        "duration_seconds": r.duration,
        "measurements": [{"name": m.name, "value": m.value, "labels": dict(m.labels)}
                         for m in r.measurements],
        "thresholds": limits.model_dump() if limits else None,
        "baseline": {"rtt_median_seconds": base.rtt_median, "loss_ratio": base.loss, "days": base.days}
        if base else None,
    }


def _trace(p: PathView) -> dict[str, Any]:
    return {
        "link": p.link or None,
        "target": p.target,
        "reached": p.reached,
        "stops_at": p.stops_at,
        "error": p.error,
        "hops": [{"ttl": h.ttl, "address": h.address, "name": h.name, "role": h.role,
                  "rtt_seconds": h.rtt, "loss_ratio": h.loss} for h in p.hops],
        "expected": [{"role": role, "name": name, "address": address} for role, name, address in p.expected],
    }
