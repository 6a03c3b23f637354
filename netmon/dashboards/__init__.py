"""Grafana dashboards as code: each module builds one dashboard; `DASHBOARDS` lists them in menu order.

Every dashboard is built twice, in English (``overview.json``) and in Vietnamese (``overview.vi.json``,
uid ``netmon-overview-vi``). Beside them, the offline basemap ``sonla.approx.geojson`` (netmon/geo.py)
drawn from the shipped inventory's unit centroids. The files committed under ``dashboards/`` are
generated from here (``netmon dashboards build``), are what Grafana provisions and what ``netmon
dashboards push`` uploads; a test fails when one is stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmon.dashboards import equipment, history, overview, prober, site
from netmon.dashboards.builder import BASEMAP_FILE
from netmon.i18n import LANGS, Lang

#: (file stem, builder) in the order an operator meets them.
DASHBOARDS: tuple[tuple[str, Callable[[Lang], dict[str, Any]]], ...] = (
    ("overview", overview.build),
    ("site", site.build),
    ("equipment", equipment.build),
    ("history", history.build),
    ("prober", prober.build),
)
#: The inventory whose unit centroids draw the basemap.
INVENTORY = Path(__file__).resolve().parents[2] / "config" / "communes.yaml"


def file_name(stem: str, lang: Lang) -> str:
    return f"{stem}.json" if lang == "en" else f"{stem}.{lang}.json"


def render(board: dict[str, Any]) -> str:
    """Stable text for a dashboard: sorted keys, so a rebuild only changes what really changed."""
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def basemap(inventory: Path = INVENTORY) -> str:
    from netmon.geo import outlines
    from netmon.inventory import load

    units = [(s.name, s.district, s.location.lat, s.location.lon) for s in load(inventory).sites]
    return json.dumps(outlines(units, "Tỉnh Sơn La"), ensure_ascii=False, separators=(",", ":")) + "\n"


def build_all() -> dict[str, str]:
    """File name → text of every dashboard in every language, and the basemap."""
    boards = {file_name(stem, lang): render(build(lang)) for lang in LANGS for stem, build in DASHBOARDS}
    return {**boards, BASEMAP_FILE: basemap()}


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


def load_all(directory: Path, langs: tuple[Lang, ...] = LANGS) -> list[dict[str, Any]]:
    """The committed dashboards, as Grafana will receive them."""
    return [json.loads((directory / file_name(stem, lang)).read_text(encoding="utf-8"))
            for lang in langs for stem, _ in DASHBOARDS]
