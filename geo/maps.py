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


def offline_map(
    location: tuple[float, float],
    zoom_start: int = 8,
    tiles: str | None = None,
    attribution: str | None = None,
) -> folium.Map:
    """A folium map whose only library, Leaflet, is embedded (no CDN, no tiles by default).

    ``location`` is ``(lat, lon)`` as folium expects.
    """
    m = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True)
    m.default_js = [("leaflet", _data_uri(LEAFLET_DIR / "leaflet.js", "text/javascript"))]
    m.default_css = [("leaflet_css", _data_uri(LEAFLET_DIR / "leaflet.css", "text/css"))]
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
