"""Public pages: the locator map (``/``) and the bundled offline outlines it draws."""

from __future__ import annotations

import statistics

from flask import Blueprint, current_app, render_template, send_file, url_for

from geo.settings import DATA_DIR

bp = Blueprint("public", __name__)
COUNTIES = DATA_DIR / "admin" / "counties.geojson"


@bp.get("/")
def index():
    """The locator: stations on a map, nearest-station search."""
    ctx = current_app.extensions["yizhan"]
    settings = ctx["settings"]
    stations = ctx["index"].get().stations
    if stations:
        center = [
            statistics.median(s.lon for s in stations),
            statistics.median(s.lat for s in stations),
        ]
    else:
        center = [108.3, 23.5]  # Guangxi, where the demo registry is
    return render_template(
        "index.html",
        demo=any(s.demo for s in stations),
        station_count=len(stations),
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        center=center,
        zoom=7,
        api_base=url_for("api.stations").rsplit("/", 1)[0],
        outlines_url=url_for("public.counties") if COUNTIES.exists() else "",
    )


@bp.get("/data/counties.geojson")
def counties():
    """County outlines (WGS-84) bundled in ``data/``: an offline base layer."""
    return send_file(
        COUNTIES, mimetype="application/geo+json", max_age=86400, conditional=True, etag=True
    )


@bp.get("/healthz")
def healthz():
    repo = current_app.extensions["yizhan"]["repo"]
    return {"status": "ok", "stations": repo.count()}
