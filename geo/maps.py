"""folium map builders shared by reports, the CLI and notebooks, working offline.

folium links Leaflet, jQuery and Bootstrap from CDNs. Maps built here link nothing: Leaflet
(the only library these maps use) is embedded from the copy vendored in
``webapp/static/vendor`` as ``data:`` URIs, so a saved ``map.html`` opens on an intranet.
"""

from __future__ import annotations

import base64
from pathlib import Path

import folium

VENDOR = Path(__file__).resolve().parent.parent / "webapp" / "static" / "vendor" / "leaflet"

#: Colours of the travel-time bands (minutes), fastest first.
BAND_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]


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
    m.default_js = [("leaflet", _data_uri(VENDOR / "leaflet.js", "text/javascript"))]
    m.default_css = [("leaflet_css", _data_uri(VENDOR / "leaflet.css", "text/css"))]
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
