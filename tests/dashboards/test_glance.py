"""Screens that read at a glance: what an operator sees in each panel, checked on the generated JSON.

No Grafana server can run here, so these read the committed dashboards the way Grafana renders them:
a table column is called by its ``renameByName`` entry or Grafana's raw "Value #B"; a 0/1 series is a
word only through a value mapping; a unit comes from the panel default or the column's override.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest

from netmon.dashboards import load_all
from netmon.dashboards.builder import BASEMAP_FILE, BASEMAP_SRC
from netmon.inventory import load
from tests.support import ROOT

EN = load_all(ROOT / "dashboards", ("en",))
VI = load_all(ROOT / "dashboards", ("vi",))
PANELS = [(b, p) for b in [*EN, *VI] for p in b["panels"]]
PANEL_IDS = [f"{b['uid']}/{p['id']}" for b, p in PANELS]
#: Series whose values are states (0/1), meaningless as bare numbers.
STATES = ("netmon_probe_success", "netmon_snmp_up", "netmon_interface_oper_up", "netmon_interface_admin_up",
          "netmon_ups_on_battery", "netmon_config_last_reload_successful", "up{", "netmon:site_state:code")


def _value_columns(panel: dict) -> list[str]:
    """The names Grafana gives a table's value columns before any rename."""
    refs = [t["refId"] for t in panel["targets"]]
    return [f"Value #{r}" for r in refs] if len(refs) > 1 else ["Value"]


def _organize(panel: dict) -> dict:
    return next(t["options"] for t in panel["transformations"] if t["id"] == "organize")


def _override(panel: dict, column: str, prop: str) -> object:
    for o in panel["fieldConfig"]["overrides"]:
        if o["matcher"]["options"] == column:
            for p in o["properties"]:
                if p["id"] == prop:
                    return p["value"]
    return None


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=PANEL_IDS)
def test_table_columns_have_names_not_value_letters(board: dict, panel: dict) -> None:
    if panel["type"] != "table":
        return
    organize = _organize(panel)
    for column in _value_columns(panel):
        if not organize["excludeByName"].get(column):
            assert column in organize["renameByName"], f"{board['title']} / {panel['title']}: shows '{column}'"


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=PANEL_IDS)
def test_state_series_are_shown_as_words(board: dict, panel: dict) -> None:
    for target, column in zip(panel["targets"], _value_columns(panel), strict=True):
        if not any(state in target["expr"] for state in STATES) or "count(" in target["expr"]:
            continue
        where = f"{board['title']} / {panel['title']} ({target['expr'][:60]})"
        if panel["type"] == "table":
            shown = _organize(panel)["renameByName"].get(column, column)
            assert _override(panel, shown, "mappings"), f"{where}: a bare 0/1 column"
        elif panel["type"] == "geomap":
            assert _override(panel, column, "mappings"), f"{where}: map markers without state names"
        else:
            assert panel["type"] in ("stat", "state-timeline"), f"{where}: a state drawn as a number"
            assert panel["fieldConfig"]["defaults"]["mappings"], f"{where}: a bare 0/1 value"


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=PANEL_IDS)
def test_durations_and_percentages_have_units(board: dict, panel: dict) -> None:
    for target, column in zip(panel["targets"], _value_columns(panel), strict=True):
        expr = target["expr"]
        if "uptime_seconds" in expr or "expiry_timestamp_seconds - time()" in expr:
            shown = _organize(panel)["renameByName"].get(column, column) if panel["type"] == "table" else column
            unit = _override(panel, shown, "unit") or panel["fieldConfig"]["defaults"].get("unit")
            assert unit in ("s", "dtdurations"), f"{board['title']} / {panel['title']}: duration without unit"


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=PANEL_IDS)
def test_legends_name_centers_not_slugs(board: dict, panel: dict) -> None:
    for target in panel["targets"]:
        assert "{{site}}" not in target["legendFormat"], f"{board['title']} / {panel['title']}: slug legend"


@pytest.mark.parametrize(("board", "panel"), PANELS, ids=PANEL_IDS)
def test_on_battery_is_never_on_a_percent_axis(board: dict, panel: dict) -> None:
    if any("netmon_ups_on_battery" in t["expr"] for t in panel["targets"]):
        assert len(panel["targets"]) == 1, f"{panel['title']}: on-battery shares an axis with another series"
        assert panel["fieldConfig"]["defaults"].get("unit", "") != "percentunit"
        assert panel["type"] == "state-timeline"


@pytest.mark.parametrize("board", [b for b in [*EN, *VI] if any(p["type"] == "geomap" for p in b["panels"])],
                         ids=lambda b: b["uid"])
def test_map_is_offline_and_shows_hubs_and_the_data_center(board: dict) -> None:
    (geomap,) = [p for p in board["panels"] if p["type"] == "geomap"]
    basemap = geomap["options"]["basemap"]
    assert basemap["type"] == "geojson" and basemap["config"]["src"] == BASEMAP_SRC
    assert "tile" not in json.dumps(geomap) and "carto" not in json.dumps(geomap).lower()
    exprs = [t["expr"] for t in geomap["targets"]]
    assert any('kind="hub"' in e for e in exprs) and any('kind="datacenter"' in e for e in exprs)
    refs = {layer["filterData"]["options"] for layer in geomap["options"]["layers"]}
    assert refs == {t["refId"] for t in geomap["targets"]}, "every query has its own marker layer"
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert f"./dashboards/{BASEMAP_FILE}:/usr/share/grafana/{BASEMAP_SRC}:ro" in compose


def _contains(ring: list[list[float]], lon: float, lat: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _polygons(feature: dict) -> list[list[list[float]]]:
    geometry = feature["geometry"]
    return ([geometry["coordinates"][0]] if geometry["type"] == "Polygon"
            else [polygon[0] for polygon in geometry["coordinates"]])


def test_basemap_places_every_unit_in_its_own_cell_district_and_the_province() -> None:
    basemap = json.loads((ROOT / "dashboards" / BASEMAP_FILE).read_text(encoding="utf-8"))
    assert "approximate" in basemap["name"]
    assert all(f["properties"]["approximate"] for f in basemap["features"])
    by_kind: dict[str, dict[str, dict]] = {}
    for f in basemap["features"]:
        by_kind.setdefault(f["properties"]["kind"], {})[f["properties"]["name"]] = f
    sites = load(ROOT / "config" / "communes.yaml").sites
    assert len(by_kind["unit"]) == len(sites) == 75 and len(by_kind["district"]) == 12
    (province,) = by_kind["province"].values()
    for site in sites:
        lon, lat = site.location.lon, site.location.lat
        district = site.district.split(";")[0].strip()
        assert _contains(_polygons(province)[0], lon, lat), site.name
        assert any(_contains(r, lon, lat) for r in _polygons(by_kind["district"][district])), site.name
        assert _contains(_polygons(by_kind["unit"][site.name])[0], lon, lat), site.name
        others = [n for n, f in by_kind["district"].items() if n != district]
        assert not any(_contains(r, lon, lat) for n in others for r in _polygons(by_kind["district"][n]))


def _texts(board: dict) -> list[str]:
    texts = [board["title"], board["description"]]
    for p in board["panels"]:
        texts += [p["title"], p["description"]]
        texts += [t["legendFormat"] for t in p["targets"]]
        texts += [o.get("renameByName", {}).get(k, "") for t in p["transformations"]
                  for o in [t["options"]] for k in o.get("renameByName", {})]
        texts += [m["text"] for o in p["fieldConfig"]["overrides"] for prop in o["properties"]
                  if prop["id"] == "mappings" for mp in prop["value"] for m in mp["options"].values()]
        texts += [m["text"] for mp in p["fieldConfig"]["defaults"].get("mappings", [])
                  for m in mp["options"].values()]
    texts += [v["label"] for v in board["templating"]["list"]]
    return texts


#: English words that have no business on a Vietnamese screen (names, units and ids are allowed).
ENGLISH = re.compile(r"\b(the|and|of|per|link|links|down|up|center|centers|check|checks|failed|battery|"
                     r"mains|time|last|days|alerts?|district|state|answering|silent|enabled|disabled|"
                     r"errors|discards|runs|skipped|speed|address|device|interface)\b", re.IGNORECASE)


@pytest.mark.parametrize(("en", "vi"), list(zip(EN, VI, strict=True)), ids=[b["uid"] for b in EN])
def test_vietnamese_twin_runs_the_same_queries_in_vietnamese(en: dict, vi: dict) -> None:
    assert vi["uid"] == f"{en['uid']}-vi" and "netmon-vi" in vi["tags"]
    shape = [(p["type"], p["gridPos"], [t["expr"] for t in p["targets"]], p["fieldConfig"]["defaults"].get("unit"))
             for p in en["panels"]]
    assert shape == [(p["type"], p["gridPos"], [t["expr"] for t in p["targets"]],
                      p["fieldConfig"]["defaults"].get("unit")) for p in vi["panels"]]
    english = [text for text in _texts(vi) if ENGLISH.search(re.sub(r"`[^`]*`|\{\{[^}]*\}\}", "", text))]
    assert not english, f"{vi['title']}: English left on the Vietnamese board: {english}"
