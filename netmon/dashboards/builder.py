"""Small builders for Grafana dashboard JSON, so each dashboard module reads as a list of panels.

The output targets Grafana 11.x (``SCHEMA_VERSION`` 39, which Grafana 11 loads without migrating
panels). Every query goes to the provisioned Prometheus datasource by its fixed uid; panels are laid
out left to right in rows of 24 grid units, so a dashboard module only says how wide and tall a panel
is. Panel ids are assigned in order at build time: stable across builds, unique per dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 39
GRAFANA_VERSION = "11.6.0"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
ALERTMANAGER = {"type": "alertmanager", "uid": "alertmanager"}
#: Datasource uids provisioned by config/grafana/provisioning/datasources/netmon.yaml.
DATASOURCE_UIDS = (PROMETHEUS["uid"], ALERTMANAGER["uid"])

#: Value mapping of ``netmon:site_state:code`` (see alerts/recording.rules.yml).
STATE_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "up", "color": "green", "index": 0},
    "1": {"text": "degraded", "color": "orange", "index": 1},
    "2": {"text": "down", "color": "red", "index": 2},
}}]
SITE_FILTER = 'district=~"$district", link_type=~"$link_type", isp=~"$isp"'


@dataclass(frozen=True)
class Query:
    """One PromQL target. ``instant`` queries feed tables, stats and the map."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False
    heatmap: bool = False

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
         width: int = 12) -> Panel:
    """SmokePing-style band: the area between min and max shaded, the median drawn on top."""
    panel = timeseries(title, description, Query(expr_min, "min"), Query(expr_mid, "median"),
                       Query(expr_max, "max"), unit=unit, width=width)
    panel.overrides = [
        {"matcher": {"id": "byName", "options": "max"},
         "properties": [{"id": "custom.fillBelowTo", "value": "min"}, {"id": "custom.lineWidth", "value": 0},
                        {"id": "custom.fillOpacity", "value": 30},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}}]},
        {"matcher": {"id": "byName", "options": "min"},
         "properties": [{"id": "custom.lineWidth", "value": 0}, {"id": "custom.hideFrom",
                                                                "value": {"legend": True, "tooltip": False,
                                                                          "viz": False}}]},
        {"matcher": {"id": "byName", "options": "median"},
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
          hide: tuple[str, ...] = ("Time", "__name__", "job", "instance"), sort_by: str = "") -> Panel:
    """An instant table; with several queries they are joined into one row per series."""
    merge = [{"id": "merge", "options": {}}] if len(queries) > 1 else []
    organize = {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}
    options: dict[str, Any] = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return Panel("table", title, description, queries, width=width, height=height, unit=unit,
                 options=options, transformations=[*merge, organize])


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


def geomap(title: str, description: str, query: Query, width: int = 24, height: int = 14,
           center: tuple[float, float] = (21.2, 104.0), zoom: float = 8.0) -> Panel:
    """Markers at each row's ``lat``/``lon`` labels, colored by the row's value (the site state)."""
    layer = {"type": "markers", "name": "Service centers", "tooltip": True,
             "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
             "config": {"showLegend": True, "style": {
                 "size": {"fixed": 7}, "opacity": 0.9,
                 "color": {"field": "Value", "fixed": "green"}}}}
    convert = {"id": "convertFieldType", "options": {"fields": {}, "conversions": [
        {"targetField": axis, "destinationType": "number"} for axis in ("lat", "lon")]}}
    return Panel("geomap", title, description, (query,), width=width, height=height,
                 defaults={"mappings": STATE_MAPPINGS, "thresholds": {"mode": "absolute", "steps": [
                     {"value": None, "color": "green"}, {"value": 1, "color": "orange"},
                     {"value": 2, "color": "red"}]}, "color": {"mode": "thresholds"}},
                 options={"view": {"id": "coords", "lat": center[0], "lon": center[1], "zoom": zoom},
                          "basemap": {"type": "default", "name": "Basemap"}, "layers": [layer],
                          "controls": {"showZoom": True, "mouseWheelZoom": True}},
                 transformations=[convert])


def variable(name: str, label: str, query: str, regex: str = "", multi: bool = True) -> dict[str, Any]:
    """A Prometheus query variable; multi-value ones offer "All" as ``.*`` for use in ``=~``."""
    return {"type": "query", "name": name, "label": label, "datasource": PROMETHEUS,
            "query": {"query": query, "refId": f"{name}-variable"}, "definition": query,
            "regex": regex, "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
            "allValue": ".*" if multi else None, "current": {}, "options": [], "hide": 0}


def filter_variables() -> list[dict[str, Any]]:
    """District, link type and ISP, each narrowing the next, shared by every dashboard."""
    sites = 'netmon_site_info{kind=~"ward|commune"'
    return [
        variable("district", "District (former)", f"label_values({sites}}}, district)"),
        variable("link_type", "Link type", f'label_values({sites}, district=~"$district"}}, link_type)'),
        variable("isp", "ISP",
                 f'label_values({sites}, district=~"$district", link_type=~"$link_type"}}, isp)'),
    ]


def site_variable() -> dict[str, Any]:
    """One center, listed by its Vietnamese name while the value is the slug used in every query.

    ``query_result`` prints labels in alphabetical order, so ``name`` comes before ``site``.
    """
    query = f'query_result(netmon_site_info{{kind=~"ward|commune", {SITE_FILTER}}})'
    return variable("site", "Service center", query, regex='/name="(?<text>[^"]+)".*site="(?<value>[^"]+)"/',
                    multi=False)


def dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]],
              tags: tuple[str, ...] = (), time_from: str = "now-6h", refresh: str = "1m") -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["netmon", *tags],
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "timezone": "browser", "time": {"from": time_from, "to": "now"}, "refresh": refresh,
        "templating": {"list": variables},
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"title": "Other netmon dashboards", "type": "dashboards", "tags": ["netmon"],
                   "asDropdown": True, "includeVars": True, "keepTime": True}],
        "panels": layout(panels),
    }


def layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Flow panels into rows 24 units wide; a panel that does not fit starts a new row."""
    out: list[dict[str, Any]] = []
    x, y, row_height = 0, 0, 0
    for number, p in enumerate(panels, start=1):
        if x + p.width > 24:
            x, y, row_height = 0, y + row_height, 0
        refs = "ABCDEFGHIJ"
        defaults: dict[str, Any] = {"unit": p.unit, **p.defaults} if p.unit else dict(p.defaults)
        out.append({
            "id": number, "type": p.type, "title": p.title, "description": p.description,
            "datasource": PROMETHEUS, "gridPos": {"x": x, "y": y, "w": p.width, "h": p.height},
            "targets": [q.target(refs[i]) for i, q in enumerate(p.queries)],
            "fieldConfig": {"defaults": defaults, "overrides": p.overrides},
            "options": p.options, "transformations": p.transformations, "pluginVersion": GRAFANA_VERSION,
        })
        x, row_height = x + p.width, max(row_height, p.height)
    return out
