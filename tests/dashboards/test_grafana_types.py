"""The committed dashboards against Grafana's own types: grafana-foundation-sdk, Grafana Labs' typed models.

No Grafana server runs here, so the JSON is read into the SDK's models — the dashboard, every panel kind's
options and field config, the Prometheus query — and written back. A key the models do not know (a typo, a
field of another panel kind, a null where the schema wants a string) does not survive the trip; the test
fails naming it. Known gaps of the SDK, not of the boards, are listed once below with why.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest

from netmon.dashboards import load_all
from tests.support import ROOT

sdk = pytest.importorskip("grafana_foundation_sdk")
from grafana_foundation_sdk import models  # noqa: E402
from grafana_foundation_sdk.cog import runtime  # noqa: E402
from grafana_foundation_sdk.models import dashboard  # noqa: E402

#: Keys Grafana itself writes that the SDK's schema (PyPI has its Grafana 10.1 cut only) leaves out:
#: - ``builtIn`` marks Grafana's own "Annotations & Alerts" entry, as every exported dashboard has it;
#: - ``definition`` is the query text Grafana's variable editor shows (its UI keeps it beside ``query``);
#: - a heatmap's ``tooltip.mode`` is Grafana 11's (the compose file runs 11.6), after the SDK's 10.1 schema.
SDK_GAPS = (r"\.annotations\.list\[\d+\]\.builtIn", r"\.templating\.list\[\d+\]\.definition",
            r"\.panels\[\d+\]\.options\.tooltip\.mode@heatmap")


def _register_every_kind() -> None:
    """Type panel options/field config and queries per kind (untyped, the SDK keeps any key)."""
    for module in pkgutil.iter_modules(models.__path__):
        kind = importlib.import_module(f"{models.__name__}.{module.name}")
        if hasattr(kind, "variant_config"):
            config = kind.variant_config()
            if isinstance(config, runtime.PanelCfgConfig):
                runtime.register_panelcfg_variant(config)
            else:
                runtime.register_dataquery_variant(config)


_register_every_kind()


def _leaves(value: Any, path: str = "", kind: str = "") -> Iterator[str]:
    """Every leaf's path, with the panel kind it sits in (``.panels[3].options.tooltip.mode@heatmap``)."""
    if isinstance(value, dict):
        kind = value.get("type", kind) if "gridPos" in value else kind
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}", kind)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]", kind)
    else:
        yield f"{path}@{kind}" if kind else path


def _round_trip(board: dict[str, Any]) -> dict[str, Any]:
    typed = dashboard.Dashboard.from_json(board)
    back: dict[str, Any] = json.loads(json.dumps(typed, default=lambda o: o.to_json()))
    return back


BOARDS = load_all(ROOT / "dashboards")


@pytest.mark.parametrize("board", BOARDS, ids=[b["uid"] for b in BOARDS])
def test_every_key_is_one_grafana_knows(board: dict[str, Any]) -> None:
    lost = sorted(set(_leaves(board)) - set(_leaves(_round_trip(board))))
    unknown = [p for p in lost if not any(re.fullmatch(gap + "(@.*)?", p) for gap in SDK_GAPS)]
    assert unknown == [], f"{board['title']}: not in Grafana's types: {unknown}"


def test_a_misspelt_key_is_caught() -> None:
    board = json.loads(json.dumps(next(b for b in BOARDS if any(p.get("type") == "timeseries"
                                                                 for p in b["panels"]))))
    panel = next(p for p in board["panels"] if p.get("type") == "timeseries")
    panel["fieldConfig"]["defaults"].setdefault("custom", {})["lineWidht"] = 2
    panel.setdefault("options", {}).setdefault("legend", {"showLegend": True})["displayMod"] = "table"
    lost = {re.sub(r"\[\d+\]", "[]", p) for p in set(_leaves(board)) - set(_leaves(_round_trip(board)))}
    assert {".panels[].fieldConfig.defaults.custom.lineWidht@timeseries",
            ".panels[].options.legend.displayMod@timeseries"} <= lost
