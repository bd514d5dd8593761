"""JSON/GeoJSON API under ``/api`` (WGS-84, RFC 7946).

Every route declares its query parameters once, as :class:`~webapp.params.Param` objects given
to :func:`webapp.endpoints.endpoint`; the same objects validate the request (a bad or unknown
parameter gives 400 with a JSON error that names it, never a 500) and build the OpenAPI
document (:mod:`webapp.openapi`), so the two cannot drift apart.

Station data carries a weak ``ETag`` made from the registry revision and the query, so
``If-None-Match`` gives ``304``; the read-only API answers CORS requests from any origin
(``Access-Control-Allow-Origin: *``, no cookies are involved).
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime

import numpy as np
import orjson
from flask import Blueprint, Response, g, jsonify, request

from geo.clusters import x_to_lon, y_to_lat
from geo.coverage import default_minutes_cap
from geo.errors import InvalidParameter, NotFound
from geo.gazetteer import default_gazetteer
from geo.geocode import MAX_ADDRESS_CHARS
from geo.geojson import stations_geojson, stations_geojson_bytes
from geo.index import DatabaseIndex, Filter
from geo.models import KINDS, MODE_TERMS, MODES, SERVICES
from geo.review import review_stations
from geo.travel.crowfly import CrowflyModel
from webapp.endpoints import (
    DATA_MAX_AGE_S,
    ENDPOINTS,
    OPENAPI_MEDIA_TYPE,
    endpoint,
    station_mask,
)
from webapp.openapi import build_document
from webapp.params import (
    BBOX,
    COUNTY,
    KIND,
    LAT,
    LIMIT,
    LON,
    MODE,
    OFFSET,
    OPEN_NOW,
    SERVICE,
    STATUS,
    Param,
    setting,
)
from webapp.services import services as app_services
from webapp.signals import recorder as signal_recorder

bp = Blueprint("api", __name__, url_prefix="/api")

#: ``/api/clusters`` returns single stations when the bbox holds at most this many.
CLUSTER_MAX_STATIONS = 500
#: ... or when the map is zoomed in at least this far (up to the page-size maximum).
CLUSTER_MIN_ZOOM = 15
#: Headers a cross-origin script may read, and ask to send.
CORS_EXPOSE = "ETag, Retry-After, Link, Content-Length"
CORS_ALLOW_HEADERS = "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since"

#: The one-hour service circle (minutes): the coverage reports' default threshold
#: (:func:`geo.coverage.compute_coverage` ``max_minutes``). A place whose nearest station is
#: further is not served; ``/api/nearest`` says so (``served``).
SERVICE_MINUTES = 60.0
#: Beyond this many minutes a travel time is no estimate worth showing (the coverage reports'
#: cap, :func:`geo.coverage.default_minutes_cap` of the circle: 4 h); pages show distance only.
MINUTES_CAP = default_minutes_cap([SERVICE_MINUTES])

#: Travel-model names in labels (``CrowflyModel.name``).
MODEL_LABELS = {"crowfly": ("直线估算", "straight-line estimate")}
#: How a mode reads as an activity where its term's name does not ("汽车" → "驾车").
_ACTIVITY = {"car": ("驾车", "driving")}


def mode_label(mode: str, model: str = "crowfly") -> tuple[str, str]:
    """``(zh, en)``: a travel mode (:data:`geo.models.MODE_TERMS`) under a travel model."""
    term = MODE_TERMS[mode]
    zh, en = _ACTIVITY.get(mode, (term.zh, term.en))
    model_zh, model_en = MODEL_LABELS[model]
    return f"{zh}，{model_zh}", f"{en}, {model_en}"


#: Travel-mode labels for ``/api/nearest``'s ``travel`` member (crow-fly model).
MODE_LABELS = {mode: mode_label(mode) for mode in MODES}


def _geojson(features: dict, **members):
    resp = jsonify({**features, **members})
    resp.mimetype = "application/geo+json"
    return resp


@bp.after_app_request
def _cors(response):
    """CORS for the read-only public API and OGC endpoints only (never pages or cookies)."""
    path = request.path
    if not (path.startswith("/api/") or path == "/ogc" or path.startswith("/ogc/")):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


# -- routes -----------------------------------------------------------------------------


@endpoint(
    bp,
    "/stations",
    KIND,
    SERVICE,
    COUNTY,
    BBOX,
    OPEN_NOW,
    STATUS,
    LIMIT,
    OFFSET,
    response="StationCollection",
    media_type="application/geo+json",
    cache="data",
)
def stations(a):
    """Stations as GeoJSON, filtered and paged (ordered by id)."""
    now = datetime.now(UTC)
    # The index while it is current; the database while it is being built or too large.
    source = app_services().index.source()
    if isinstance(source, DatabaseIndex):
        f = Filter.of(
            a["kind"], a["service"], statuses=a["status"], open_at=now if a["open_now"] else None
        )
        page, matched = source.page(f, a["bbox"], a["county"], a["offset"], a["limit"])
    else:
        idx = station_mask(
            source,
            a["kind"],
            a["service"],
            a["status"],
            a["bbox"],
            a["county"],
            a["open_now"],
            now,
        )
        page = [source.stations[i] for i in idx[a["offset"] : a["offset"] + a["limit"]].tolist()]
        matched = len(idx)
    body = stations_geojson_bytes(
        page,
        at=now,
        cache=source.properties_cache,
        numberMatched=matched,
        numberReturned=len(page),
    )
    return Response(body, mimetype="application/geo+json")


@endpoint(
    bp,
    "/stations/<station_id>",
    response="StationFeature",
    media_type="application/geo+json",
    errors=(400, 404),
    path_params=(("station_id", "Station id."),),
)
def station(a, station_id: str):
    """One station as a GeoJSON Feature."""
    s = app_services().repo.get(station_id)
    if s is None:
        raise NotFound(f"no station with id {station_id[:64]!r}", id=station_id[:64])
    return _geojson(stations_geojson([s], at=datetime.now(UTC))["features"][0])


@endpoint(
    bp,
    "/nearest",
    LON,
    LAT,
    Param(
        "k",
        "integer",
        "How many stations (YIZHAN_NEAREST_MAX_K at most; more is refused with 400).",
        minimum=1,
        maximum=setting("nearest_max_k"),
        default=5,
    ),
    KIND,
    SERVICE,
    OPEN_NOW,
    Param(
        "max_distance_m",
        "number",
        "Only stations within this great-circle distance (metres).",
        minimum=0,
        maximum=20_037_509,
    ),
    MODE,
    # demand signals (issue 15 item 8): where the locator's point came from
    Param(
        "origin",
        "string",
        "Where the point came from: `search` (an address search) or `locate` (the device's "
        "position). Given, the answer is counted on its H3 cell (about 5 km²) and day as a "
        "demand signal for planners (no position is stored; YIZHAN_DEMAND_SIGNALS). "
        "Default: not counted.",
        enum=lambda: ["search", "locate"],
    ),
    response="NearestCollection",
    media_type="application/geo+json",
)
def nearest(a):
    """The k nearest operating stations to a point, quickest first, with distance and time."""
    now = datetime.now(UTC)
    f = Filter.of(a["kind"], a["service"], open_at=now if a["open_now"] else None)
    # The index while it is current; the database while it is being built or too large.
    source = app_services().index.source()
    hits = source.nearest(a["lon"], a["lat"], a["k"], f, max_distance_m=a["max_distance_m"])
    model = CrowflyModel(a["mode"])
    minutes = model.minutes_for([h.distance_m for h in hits]).tolist()
    order = sorted(range(len(hits)), key=lambda i: (minutes[i], hits[i].distance_m))
    # Served: the quickest station is inside the one-hour circle (issue 12 item 5).
    served = bool(minutes) and min(minutes) <= SERVICE_MINUTES
    if a["origin"]:  # a demand signal: the point's H3 cell and day only (issue 15 item 8)
        signal_recorder().record_point(a["origin"], a["lon"], a["lat"], served)
    # The cached per-station encodings of /api/stations, with distance and minutes added.
    body = stations_geojson_bytes(
        [hits[i].station for i in order],
        at=now,
        cache=source.properties_cache,
        extra_properties=[
            {"distance_m": round(hits[i].distance_m, 1), "minutes": round(minutes[i], 1)}
            for i in order
        ],
        numberReturned=len(hits),
        query={"lon": a["lon"], "lat": a["lat"], "k": a["k"], "mode": model.mode},
        travel=_travel_member(model),
        served=served,
    )
    return Response(body, mimetype="application/geo+json")


def _travel_member(model: CrowflyModel) -> dict:
    """``/api/nearest``'s ``travel`` member: the model, its speed and its labels."""
    label_zh, label_en = mode_label(model.mode, model.name)
    return {
        "mode": model.mode,
        "model": model.name,
        "label_zh": label_zh,
        "label_en": label_en,
        "speed_kmh": model.speed_kph,
        "circuity": model.circuity,
        "service_minutes": SERVICE_MINUTES,
        "minutes_cap": MINUTES_CAP,
    }


@endpoint(
    bp,
    "/clusters",
    Param(
        "bbox",
        "bbox",
        "The map view: min_lon,min_lat,max_lon,max_lat (WGS-84 degrees, min ≤ max).",
        required=True,
    ),
    Param(
        "zoom",
        "number",
        "The map's zoom level (Web-Mercator, 256-pixel tiles; fractions are floored).",
        required=True,
        minimum=0,
        maximum=24,
    ),
    KIND,
    SERVICE,
    STATUS,
    OPEN_NOW,
    response="ClusterCollection",
    media_type="application/geo+json",
    cache="data",
)
def clusters(a):
    """Stations in a map view, or grid clusters of them when there are too many to draw."""
    index, _ = g.snapshot
    now = datetime.now(UTC)
    f = Filter.of(
        a["kind"], a["service"], statuses=a["status"], open_at=now if a["open_now"] else None
    )
    keep = index.mask(f, a["bbox"])
    total = int(keep.sum())
    limit = app_services().settings.api_max_limit
    if total <= CLUSTER_MAX_STATIONS or (a["zoom"] >= CLUSTER_MIN_ZOOM and total <= limit):
        chosen = [index.stations[i] for i in np.flatnonzero(keep).tolist()]
        body = stations_geojson_bytes(
            chosen,
            at=now,
            cache=index.properties_cache,
            total=total,
            clustered=False,
            numberReturned=len(chosen),
        )
        return Response(body, mimetype="application/geo+json")
    c = index.clusters(a["bbox"], a["zoom"], f, keep=keep)
    features = [  # rounded as arrays: hundreds of clusters per answer
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"cluster": True, "count": n, "bbox": box},
        }
        for x, y, n, box in zip(
            np.round(c.lon, 6).tolist(),
            np.round(c.lat, 6).tolist(),
            c.count.tolist(),
            np.round(c.bbox, 6).tolist(),
            strict=True,
        )
    ]
    return _geojson(
        {"type": "FeatureCollection", "features": features},
        total=total,
        clustered=True,
        numberReturned=len(features),
    )


#: Seconds a tile fetched with the current ``rev`` may be reused (its URL changes with the data).
TILE_MAX_AGE_S = 86_400
#: Deepest tile zoom served (single stations from ``geo.clusters.MAX_ZOOM + 1`` on).
TILE_MAX_ZOOM = 24
_FC_HEAD = b'{"type":"FeatureCollection","features":['


@endpoint(
    bp,
    "/clusters/<z>/<x>/<y>",
    KIND,
    SERVICE,
    STATUS,
    Param(
        "rev",
        "string",
        "The registry revision the client last saw (the answer's `revision`); with the "
        "current one the tile may be cached for a day.",
        max_length=40,
    ),
    response="ClusterCollection",
    media_type="application/geo+json",
    errors=(400,),
    path_params=(
        ("z", "Tile zoom (Web-Mercator XYZ, 0–24)."),
        ("x", "Tile column (0 … 2^z − 1, west to east)."),
        ("y", "Tile row (0 … 2^z − 1, north to south)."),
    ),
)
def cluster_tile(a, z: str, x: str, y: str):
    """Clusters and single stations in one map tile (supercluster hierarchy per revision)."""
    return _cluster_tile(a, _tile_number("z", z), _tile_number("x", x), _tile_number("y", y))


def _cluster_tile(a, z: int, x: int, y: int):
    if not 0 <= z <= TILE_MAX_ZOOM:
        raise InvalidParameter("z", f"must be between 0 and {TILE_MAX_ZOOM}")
    for name, v in (("x", x), ("y", y)):
        if not 0 <= v < 2**z:
            raise InvalidParameter(name, f"must be between 0 and {2**z - 1} at zoom {z}")
    index, revision = app_services().index.snapshot()
    f = Filter.of(a["kind"], a["service"], statuses=a["status"])
    key = f"{revision}|{z}/{x}/{y}|{sorted(f.kinds)}|{sorted(f.services)}|{sorted(f.statuses)}"
    etag = hashlib.sha1(key.encode()).hexdigest()[:24]
    max_age = TILE_MAX_AGE_S if a["rev"] == str(revision) else DATA_MAX_AGE_S
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
    else:
        resp = Response(_tile_body(index, revision, f, z, x, y), mimetype="application/geo+json")
    resp.set_etag(etag)
    resp.cache_control.public = True
    resp.cache_control.max_age = max_age
    return resp


def _tile_number(name: str, text: str) -> int:
    """A tile coordinate from the path: decimal digits only, else 400 naming it."""
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise InvalidParameter(name, "must be a whole number")
    return int(text)


# The tile route handles its own (strong, long-lived) caching; the document says so.
ENDPOINTS[-1] = dataclasses.replace(ENDPOINTS[-1], cache="tile")


def _tile_body(index, revision, f: Filter, z: int, x: int, y: int) -> bytes:
    """The GeoJSON bytes of tile ``z/x/y``: cluster features, then single stations."""
    hierarchy, ids = index.hierarchy(f)
    level = hierarchy.level(z)
    pos = level.tile(z, x, y)
    counts = level.count[pos]
    multi = counts > 1
    cpos = pos[multi]
    lon = np.round(x_to_lon(level.x[cpos]), 6).tolist()
    lat = np.round(y_to_lat(level.y[cpos]), 6).tolist()
    clusters = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [cx, cy]},
            "properties": {
                "cluster": True,
                "cluster_id": f"{level.zoom}-{p}",
                "count": n,
                "point_count": n,
                "bbox": box,
            },
        }
        for cx, cy, n, p, box in zip(
            lon,
            lat,
            level.count[cpos].tolist(),
            cpos.tolist(),
            np.round(level.bbox[cpos], 6).tolist(),
            strict=True,
        )
    ]
    singles = [index.stations[i] for i in ids[level.station[pos[~multi]]].tolist()]
    body = stations_geojson_bytes(
        singles,
        at=datetime.now(UTC),
        cache=index.properties_cache,
        total=int(counts.sum()),
        clustered=bool(clusters),
        numberReturned=len(clusters) + len(singles),
        tile=[z, x, y],
        revision=str(revision),
    )
    if not clusters:
        return body
    assert body.startswith(_FC_HEAD)  # stations_geojson_bytes' frame
    rest = body[len(_FC_HEAD) :]
    encoded = b",".join(orjson.dumps(c) for c in clusters)
    return _FC_HEAD + encoded + (b"," if singles else b"") + rest


@endpoint(bp, "/kinds", response="Taxonomy", cache="static")
def kinds(a):
    """The station kinds (open taxonomy) with Chinese and English labels."""
    return jsonify([{"code": t.code, "zh": t.zh, "en": t.en} for t in KINDS.values()])


@endpoint(bp, "/services", response="Taxonomy", cache="static")
def services(a):
    """The services a station may offer, with Chinese and English labels."""
    return jsonify([{"code": t.code, "zh": t.zh, "en": t.en} for t in SERVICES.values()])


@endpoint(
    bp,
    "/geocode",
    Param(
        "q",
        "string",
        f"Address text (Chinese); more than {MAX_ADDRESS_CHARS} characters is refused.",
        required=True,
        max_length=MAX_ADDRESS_CHARS,
    ),
    Param("city", "string", "City that narrows the search.", max_length=40),
    response="GeocodeResult",
    errors=(400, 404, 429),
    rate_limit="geocode_limiter",
)
def geocode(a):
    """Geocode address text for the locator's search box (rate-limited per client).

    ``recognised`` names the unit whose position is given; ``partial`` is true when part of
    the text (``rest``) could not be placed, so the position is only that unit's. "Not found"
    answers 404 with ``error.reason`` (:data:`geo.geocode.base.NOT_FOUND_REASONS`).
    """
    result = app_services().geocoder.geocode(a["q"], a["city"])
    return jsonify(
        {
            "status": "ok",
            **result.to_dict(),
            "recognised": result.recognised(),
            "partial": result.partial(),
        }
    )


@endpoint(bp, "/reverse", LON, LAT, response="ReverseResult", errors=(400, 404))
def reverse(a):
    """Admin units of a point: county from the outlines, nearest township (approximate)."""
    result = default_gazetteer().reverse(a["lon"], a["lat"])
    if result is None:
        raise NotFound("the point is outside the bundled county outlines")
    return jsonify(
        {
            "status": "ok",
            "codes": result.codes(),
            "names": result.names(),
            "township_approximate": True,
            "township_distance_m": result.township_distance_m,
        }
    )


@endpoint(bp, "/review", response="Review")
def review(a):
    """Stations to review: imprecise positions, coordinates outside the stated county."""
    items = review_stations(app_services().index.get().stations, default_gazetteer())
    return jsonify({"count": len(items), "items": [i.to_dict() for i in items]})


@endpoint(bp, "/openapi.json", response="OpenAPI", cache="static", media_type=OPENAPI_MEDIA_TYPE)
def openapi(a):
    """This API's OpenAPI 3.0 document (generated from the routes' parameter declarations)."""
    resp = jsonify(build_document(app_services().settings))
    resp.content_type = OPENAPI_MEDIA_TYPE
    return resp
