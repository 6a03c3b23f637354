"""Small builders for Grafana dashboard JSON, so each dashboard module reads as a list of panels.

The output targets Grafana 11.x (``SCHEMA_VERSION`` 39, which Grafana 11 loads without migrating
panels). Every query goes to the provisioned Prometheus datasource by its fixed uid; panels are laid
out left to right in rows of 24 grid units, so a dashboard module only says how wide and tall a panel
is. Panel ids are assigned in order at build time: stable across builds, unique per dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netmon.i18n import Lang

SCHEMA_VERSION = 39
GRAFANA_VERSION = "11.6.0"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
ALERTMANAGER = {"type": "alertmanager", "uid": "alertmanager"}
#: Datasource uids provisioned by config/grafana/provisioning/datasources/netmon.yaml.
DATASOURCE_UIDS = (PROMETHEUS["uid"], ALERTMANAGER["uid"])

SITE_FILTER = 'district=~"$district", link_type=~"$link_type", isp=~"$isp"'
#: Grafana's query refIds, in order.
REFS = "ABCDEFGHIJ"


def say(lang: Lang) -> Callable[[str, str], str]:
    """The picker a dashboard module writes its texts with: ``t("Centers up", "Trung tâm hoạt động")``."""
    return lambda en, vi: vi if lang == "vi" else en


def mapping(*values: tuple[float, str, str]) -> list[dict[str, Any]]:
    """A value mapping: (value, text, colour) for each value a 0/1 or state series can take.

    Bare 0/1 cells and stats mean nothing to an operator; every such panel names its states.
    """
    return [{"type": "value", "options": {
        f"{value:g}": {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(values)}}]


def state_mappings(lang: Lang) -> list[dict[str, Any]]:
    """Value mapping of ``netmon:site_state:code`` (see alerts/recording.rules.yml)."""
    t = say(lang)
    return mapping((0, t("up", "hoạt động"), "green"), (1, t("degraded", "suy giảm"), "orange"),
                   (2, t("down", "mất kết nối"), "red"))


def power_mappings(lang: Lang) -> list[dict[str, Any]]:
    """``netmon_ups_on_battery``: 0 on mains, 1 on battery — a state, never a percentage."""
    t = say(lang)
    return mapping((0, t("on mains", "điện lưới"), "green"), (1, t("on battery", "đang chạy pin"), "red"))


def ok_mappings(lang: Lang, ok: tuple[str, str] = ("ok", "tốt"),
                failed: tuple[str, str] = ("failed", "lỗi")) -> list[dict[str, Any]]:
    """1/0 success-like series: 1 green, 0 red, each with its words."""
    t = say(lang)
    return mapping((1, t(*ok), "green"), (0, t(*failed), "red"))


@dataclass(frozen=True)
class Query:
    """One PromQL target. ``instant`` queries feed tables, stats and the map.

    In a table, ``column`` names the query's value column (Grafana would say "Value #B"), ``unit`` and
    ``mappings`` apply to that column only.
    """

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False
    heatmap: bool = False
    column: str = ""
    unit: str = ""
    mappings: tuple[dict[str, Any], ...] = ()

    def target(self, ref: str) -> dict[str, Any]:
        fmt = "heatmap" if self.heatmap else "table" if self.table else "time_series"
        return {"refId": ref, "datasource": PROMETHEUS, "expr": self.expr, "legendFormat": self.legend,
                "instant": self.instant, "range": not self.instant, "format": fmt}


@dataclass
class Panel:
    """A panel before layout: its type, size, queries and the JSON particular to its type."""

    type: str
    title: str
    description: str
    queries: tuple[Query, ...]
    width: int = 12
    height: int = 8
    unit: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)


def timeseries(title: str, description: str, *queries: Query, unit: str = "", width: int = 12,
               stack: bool = False, bars: bool = False, **defaults: Any) -> Panel:
    custom = {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}, "showPoints": "never"}
    return Panel("timeseries", title, description, queries, width=width, unit=unit,
                 defaults={"custom": custom, **defaults},
                 options={"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}})


def band(title: str, description: str, expr_min: str, expr_mid: str, expr_max: str, unit: str = "s",
         width: int = 12, legends: tuple[str, str, str] = ("min", "median", "max")) -> Panel:
    """SmokePing-style band: the area between min and max shaded, the median drawn on top."""
    low, mid, high = legends
    panel = timeseries(title, description, Query(expr_min, low), Query(expr_mid, mid),
                       Query(expr_max, high), unit=unit, width=width)
    panel.overrides = [
        {"matcher": {"id": "byName", "options": high},
         "properties": [{"id": "custom.fillBelowTo", "value": low}, {"id": "custom.lineWidth", "value": 0},
                        {"id": "custom.fillOpacity", "value": 30},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}}]},
        {"matcher": {"id": "byName", "options": low},
         "properties": [{"id": "custom.lineWidth", "value": 0}, {"id": "custom.hideFrom",
                                                                "value": {"legend": True, "tooltip": False,
                                                                          "viz": False}}]},
        {"matcher": {"id": "byName", "options": mid},
         "properties": [{"id": "custom.lineWidth", "value": 2},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "dark-green"}}]},
    ]
    return panel


def stat(title: str, description: str, query: Query, unit: str = "", width: int = 6, height: int = 4,
         color: str = "green", mappings: list[dict[str, Any]] | None = None,
         thresholds: list[tuple[float | None, str]] | None = None) -> Panel:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, color)])]
    return Panel("stat", title, description, (query,), width=width, height=height, unit=unit,
                 defaults={"mappings": mappings or [], "thresholds": {"mode": "absolute", "steps": steps}},
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "background", "graphMode": "none", "textMode": "value"})


def table(title: str, description: str, *queries: Query, width: int = 12, height: int = 8, unit: str = "",
          hide: tuple[str, ...] = ("Time", "__name__", "job", "instance"), sort_by: str = "",
          labels: dict[str, str] | None = None) -> Panel:
    """An instant table; with several queries they are joined into one row per series.

    Value columns take their query's ``column`` name, unit and mappings; ``labels`` renames label
    columns (``{"name": "Trung tâm"}``). Sorting is by a column's shown name.
    """
    merge = [{"id": "merge", "options": {}}] if len(queries) > 1 else []
    values = ([f"Value #{REFS[i]}" for i in range(len(queries))] if len(queries) > 1 else ["Value"])
    rename = {**(labels or {}), **{v: q.column for v, q in zip(values, queries, strict=True) if q.column}}
    organize = {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True),
                                              "renameByName": rename}}
    overrides = []
    for value, q in zip(values, queries, strict=True):
        props: list[dict[str, Any]] = [{"id": "unit", "value": q.unit}] if q.unit else []
        if q.mappings:
            props += [{"id": "mappings", "value": list(q.mappings)},
                      {"id": "custom.cellOptions", "value": {"type": "color-background"}}]
        if props:
            overrides.append({"matcher": {"id": "byName", "options": q.column or value}, "properties": props})
    options: dict[str, Any] = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    panel = Panel("table", title, description, queries, width=width, height=height, unit=unit,
                  options=options, transformations=[*merge, organize])
    panel.overrides = overrides
    return panel


def state_timeline(title: str, description: str, query: Query, mappings: list[dict[str, Any]],
                   width: int = 12, height: int = 8) -> Panel:
    """A state over time (on mains / on battery), never drawn as a number on a percent axis."""
    return Panel("state-timeline", title, description, (query,), width=width, height=height,
                 defaults={"mappings": mappings, "color": {"mode": "thresholds"},
                           "thresholds": {"mode": "absolute", "steps": [{"value": None, "color": "text"}]}},
                 options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                          "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}})


def bargauge(title: str, description: str, query: Query, unit: str = "percentunit", width: int = 8,
             height: int = 8) -> Panel:
    return Panel("bargauge", title, description, (query,), width=width, height=height, unit=unit,
                 defaults={"min": 0, "max": 1, "thresholds": {"mode": "absolute", "steps": [
                     {"value": None, "color": "red"}, {"value": 0.95, "color": "orange"},
                     {"value": 0.99, "color": "green"}]}},
                 options={"orientation": "horizontal", "displayMode": "gradient",
                          "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})


def heatmap(title: str, description: str, query: Query, width: int = 12) -> Panel:
    return Panel("heatmap", title, description, (query,), width=width,
                 options={"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1,
                          "color": {"mode": "scheme", "scheme": "Spectral", "steps": 64},
                          "tooltip": {"mode": "single", "yHistogram": True}})


#: The offline basemap: approximate province, district and unit outlines (netmon/geo.py), served by
#: Grafana from the file docker-compose.yml mounts at this path. No tile server is ever asked.
BASEMAP_FILE = "sonla.approx.geojson"
BASEMAP_SRC = f"public/maps/{BASEMAP_FILE}"


@dataclass(frozen=True)
class MapLayer:
    """Markers for one query's rows at their ``lat``/``lon`` labels, coloured by the row's value."""

    name: str
    query: Query
    mappings: list[dict[str, Any]]
    steps: list[tuple[float | None, str]]
    size: int = 7
    symbol: str = "img/icons/marker/circle.svg"


def geomap(title: str, description: str, layers: list[MapLayer], lang: Lang, width: int = 24,
           height: int = 14, center: tuple[float, float] = (21.2, 104.0), zoom: float = 8.0) -> Panel:
    """Marker layers over the offline outlines; each layer reads its own query (A, B, ...)."""
    t = say(lang)
    basemap = {"type": "geojson", "name": t("Outlines (approximate)", "Ranh giới (gần đúng)"),
               "config": {"src": BASEMAP_SRC, "rules": [], "style": {
                   "color": {"fixed": "#8080a0"}, "opacity": 0.15, "lineWidth": 1}}}
    out_layers = []
    overrides = []
    for ref, layer in zip(REFS, layers, strict=False):
        value = f"Value #{ref}" if len(layers) > 1 else "Value"
        style = {"size": {"fixed": layer.size}, "opacity": 0.9, "color": {"field": value, "fixed": "green"},
                 "symbol": {"fixed": layer.symbol, "mode": "fixed"}}
        out_layers.append({
            "type": "markers", "name": layer.name, "tooltip": True,
            "filterData": {"id": "byRefId", "options": ref},
            "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
            "config": {"showLegend": True, "style": style}})
        overrides.append({"matcher": {"id": "byName", "options": value},
                          "properties": [{"id": "mappings", "value": layer.mappings},
                                         {"id": "color", "value": {"mode": "thresholds"}},
                                         {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                                             {"value": v, "color": c} for v, c in layer.steps]}}]})
    convert = {"id": "convertFieldType", "options": {"fields": {}, "conversions": [
        {"targetField": axis, "destinationType": "number"} for axis in ("lat", "lon")]}}
    panel = Panel("geomap", title, description, tuple(layer.query for layer in layers), width=width,
                  height=height,
                  options={"view": {"id": "coords", "lat": center[0], "lon": center[1], "zoom": zoom},
                           "basemap": basemap, "layers": out_layers,
                           "controls": {"showZoom": True, "mouseWheelZoom": True}},
                  transformations=[convert])
    panel.overrides = overrides
    return panel


def variable(name: str, label: str, query: str, regex: str = "", multi: bool = True) -> dict[str, Any]:
    """A Prometheus query variable; multi-value ones offer "All" as ``.*`` for use in ``=~``."""
    # allValue only where "All" exists: Grafana's schema types it as a string, never null.
    return {"type": "query", "name": name, "label": label, "datasource": PROMETHEUS,
            "query": {"query": query, "refId": f"{name}-variable"}, "definition": query,
            "regex": regex, "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
            **({"allValue": ".*"} if multi else {}), "current": {}, "options": [], "hide": 0}


def filter_variables(lang: Lang) -> list[dict[str, Any]]:
    """District, link type and ISP, each narrowing the next, shared by every dashboard."""
    t = say(lang)
    sites = 'netmon_site_info{kind=~"ward|commune"'
    return [
        variable("district", t("District (former)", "Huyện (cũ)"), f"label_values({sites}}}, district)"),
        variable("link_type", t("Link type", "Loại đường truyền"),
                 f'label_values({sites}, district=~"$district"}}, link_type)'),
        variable("isp", t("ISP", "Nhà mạng"),
                 f'label_values({sites}, district=~"$district", link_type=~"$link_type"}}, isp)'),
    ]


def site_variable(lang: Lang) -> dict[str, Any]:
    """One center, listed by its Vietnamese name while the value is the slug used in every query.

    ``query_result`` prints labels in alphabetical order, so ``name`` comes before ``site``.
    """
    query = f'query_result(netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}})'
    return variable("site", say(lang)("Service center", "Trung tâm"), query,
                    regex='/name="(?<text>[^"]+)".*site="(?<value>[^"]+)"/', multi=False)


def dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]],
              lang: Lang, tags: tuple[str, ...] = (), time_from: str = "now-6h",
              refresh: str = "1m") -> dict[str, Any]:
    """One dashboard in one language: the Vietnamese twin has the uid ``<uid>-vi`` and links to its
    Vietnamese siblings only, so an operator never lands on a board in the other language."""
    t = say(lang)
    return {
        "uid": uid if lang == "en" else f"{uid}-vi", "title": title, "description": description,
        "tags": ["netmon", f"netmon-{lang}", *tags], "schemaVersion": SCHEMA_VERSION, "version": 1,
        "editable": True, "graphTooltip": 1,
        "timezone": "browser", "time": {"from": time_from, "to": "now"}, "refresh": refresh,
        "templating": {"list": variables},
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"title": t("Other netmon dashboards", "Các bảng netmon khác"), "type": "dashboards",
                   "tags": [f"netmon-{lang}"], "asDropdown": True, "includeVars": True, "keepTime": True}],
        "panels": layout(panels),
    }


def layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Flow panels into rows 24 units wide; a panel that does not fit starts a new row."""
    out: list[dict[str, Any]] = []
    x, y, row_height = 0, 0, 0
    for number, p in enumerate(panels, start=1):
        if x + p.width > 24:
            x, y, row_height = 0, y + row_height, 0
        defaults: dict[str, Any] = {"unit": p.unit, **p.defaults} if p.unit else dict(p.defaults)
        out.append({
            "id": number, "type": p.type, "title": p.title, "description": p.description,
            "datasource": PROMETHEUS, "gridPos": {"x": x, "y": y, "w": p.width, "h": p.height},
            "targets": [q.target(REFS[i]) for i, q in enumerate(p.queries)],
            "fieldConfig": {"defaults": defaults, "overrides": p.overrides},
            "options": p.options, "transformations": p.transformations, "pluginVersion": GRAFANA_VERSION,
        })
        x, row_height = x + p.width, max(row_height, p.height)
    return out
