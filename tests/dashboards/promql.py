"""What the dashboard tests need to know about PromQL and the metric contract.

`metric_names` is a deliberately small scanner, not a parser: it removes string literals, label
matchers, range selectors and grouping label lists, then every identifier not followed by ``(`` and
not a keyword is a metric name. That is exact for the expressions our dashboards use, and a test
below keeps it honest on tricky cases.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from exporters.prometheus import ResultCollector
from netmon.agent.config import AgentEntry, AgentsFile
from netmon.agent.receiver import Inbox, ReceiverMetrics
from netmon.facts import derive
from netmon.health import HealthCollector, ReloadState
from netmon.inventory import load
from netmon.meetings.board import ReadinessBoard
from netmon.report.metrics import AccountingCollector
from netmon.scheduler import SchedulerStats
from probes import base
from tests.support import ROOT

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}
#: Series Prometheus itself produces for every scrape target and alert rule.
PROMETHEUS_BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr: str) -> set[str]:
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group().lower() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def _sample_names(name: str, histogram: bool, counter: bool) -> set[str]:
    if histogram:
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {f"{name}_total"} if counter else {name}


def recording_rules() -> set[str]:
    names = set()
    for path in sorted((ROOT / "alerts").glob("*.rules.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names |= {r["record"] for r in group.get("rules", []) if "record" in r}
    return names


def _readiness() -> ReadinessBoard:
    """A readiness board that has checked once, so it shows every family it can export."""
    board = ReadinessBoard()
    board.on_inventory(derive(load(ROOT / "config" / "communes.yaml"), 0.0))
    board.last = (None, 0.0, [])  # type: ignore[assignment]
    return board


def _accounting() -> AccountingCollector:
    collector = AccountingCollector()
    collector.on_inventory(load(ROOT / "config" / "communes.yaml"))
    return collector


def contract() -> dict[str, str]:
    """Every series name netmon or Prometheus can produce → who produces it (probe name or 'core')."""
    out: dict[str, str] = {}
    for probe in base.registry().values():
        for spec in probe.metrics:
            for n in _sample_names(spec.name, spec.kind is base.Kind.OBSERVATION,
                                   spec.kind in (base.Kind.COUNTER, base.Kind.INCREMENT)):
                out[n] = probe.name
    for collector in (ResultCollector(()), HealthCollector(SchedulerStats(), ReloadState()), _readiness(),
                      _accounting()):
        for family in collector.collect():
            for n in _sample_names(family.name, family.type == "histogram", family.type == "counter"):
                out[n] = "core"
    with tempfile.TemporaryDirectory() as tmp:  # the agents' endpoint (`netmon run --agents`)
        agents = AgentsFile(listen="127.0.0.1:0", state=f"{tmp}/agents.db",
                            agents=[AgentEntry(id="a", site="a", token_sha256="0" * 64)])
        inbox = Inbox(agents, Path(tmp) / "agents.db", {})
        try:
            for family in ReceiverMetrics(inbox).collect():
                for n in _sample_names(family.name, False, family.type == "counter"):
                    out[n] = "agent"
        finally:
            inbox.close()
    out.update(dict.fromkeys(recording_rules(), "recording rule"))
    out.update(dict.fromkeys(PROMETHEUS_BUILTIN, "prometheus"))
    return out


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) for every target of every panel."""
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


def variable_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(variable name, PromQL) behind each query variable: label_values/query_result unwrapped."""
    out = []
    for v in board.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        text = v["definition"]
        m = re.fullmatch(r"(?:label_values|query_result)\((.*?)(?:,\s*\w+)?\)", text)
        out.append((v["name"], m.group(1) if m else text))
    return out


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace ``$var`` with a test value and Grafana's interval macros with fixed windows."""
    expr = expr.replace("$__rate_interval", "30s").replace("$__interval", "5s").replace("$__range", "5m")
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${name}", values[name])
    if "$" in expr:
        raise AssertionError(f"unsubstituted variable in {expr!r}")
    return expr


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
