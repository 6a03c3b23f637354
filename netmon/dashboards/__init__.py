"""Grafana dashboards as code: each module builds one dashboard; `DASHBOARDS` lists them in menu order.

The JSON committed under ``dashboards/`` is generated from here (``netmon dashboards build``) and is
what Grafana provisions and what ``netmon dashboards push`` uploads; a test fails when it is stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmon.dashboards import equipment, history, overview, prober, site

#: (file name, builder) in the order an operator meets them.
DASHBOARDS: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
    ("overview.json", overview.build),
    ("site.json", site.build),
    ("equipment.json", equipment.build),
    ("history.json", history.build),
    ("prober.json", prober.build),
)


def render(board: dict[str, Any]) -> str:
    """Stable text for a dashboard: sorted keys, so a rebuild only changes what really changed."""
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: render(build()) for name, build in DASHBOARDS}


def stale(directory: Path) -> list[str]:
    """Files under ``directory`` that differ from (or are missing against) a fresh build."""
    out = []
    for name, text in build_all().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in build_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def load_all(directory: Path) -> list[dict[str, Any]]:
    """The committed dashboards, as Grafana will receive them."""
    return [json.loads((directory / name).read_text(encoding="utf-8")) for name, _ in DASHBOARDS]
