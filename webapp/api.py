"""JSON/GeoJSON API under ``/api`` (WGS-84, RFC 7946).

Every route declares its query parameters once, as :class:`Param` objects given to
:func:`endpoint`; the same objects validate the request (a bad or unknown parameter gives 400
with a JSON error that names it, never a 500) and build the OpenAPI document
(:mod:`webapp.openapi`), so the two cannot drift apart.

Station data carries a weak ``ETag`` made from the registry revision and the query, so
``If-None-Match`` gives ``304``; the read-only API answers CORS requests from any origin
(``Access-Control-Allow-Origin: *``, no cookies are involved).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from flask import Blueprint, Response, current_app, g, jsonify, request

from geo.errors import InvalidParameter, NotFound, ValidationError
from geo.gazetteer import default_gazetteer
from geo.geocode import MAX_ADDRESS_CHARS
from geo.geojson import stations_geojson, stations_geojson_bytes
from geo.index import Filter, StationIndex
from geo.models import KINDS, SERVICES, STATUS_TERMS, parse_kind, parse_service, parse_status
from geo.review import review_stations
from geo.travel.base import MODES
from geo.travel.crowfly import CrowflyModel

bp = Blueprint("api", __name__, url_prefix="/api")

#: Largest value of ``offset`` (larger offsets are refused; any offset past the end is fine).
MAX_OFFSET = 10**9
#: ``/api/clusters`` returns single stations when the bbox holds at most this many.
CLUSTER_MAX_STATIONS = 500
#: ... or when the map is zoomed in at least this far (up to the page-size maximum).
CLUSTER_MIN_ZOOM = 15
#: Seconds browsers and proxies may reuse station data / the taxonomy and API document.
DATA_MAX_AGE_S = 60
STATIC_MAX_AGE_S = 3600
#: The media type of an OpenAPI 3.0 document in JSON (OGC API - Features, OAS30 class).
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
#: Headers a cross-origin script may read, and ask to send.
CORS_EXPOSE = "ETag, Retry-After, Link, Content-Length"
CORS_ALLOW_HEADERS = "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since"

#: Travel-mode labels for ``/api/nearest``'s ``travel`` member.
MODE_LABELS = {
    "walk": ("步行，直线估算", "walking, straight-line estimate"),
    "ebike": ("电动自行车，直线估算", "e-bike, straight-line estimate"),
    "car": ("驾车，直线估算", "driving, straight-line estimate"),
}


def _ctx() -> dict:
    return current_app.extensions["yizhan"]


# -- parameters -------------------------------------------------------------------------


def _setting(name: str) -> Callable:
    """A bound read from the app's settings at request (or document) time."""
    return lambda settings: getattr(settings, name)


@dataclass(frozen=True)
class Param:
    """One query parameter: how to read and check it, and how to document it.

    ``type`` is ``number``, ``integer``, ``boolean``, ``string``, ``bbox`` or ``codes`` (a
    list of taxonomy codes, comma-separated or repeated, parsed by ``parse``; its documented
    enumeration comes from ``enum`` at document time, so extra kinds appear). ``minimum`` /
    ``maximum`` / ``default`` may be callables of the :class:`geo.settings.Settings`.
    """

    name: str
    type: str
    description: str
    required: bool = False
    minimum: float | Callable | None = None
    maximum: float | Callable | None = None
    default: object = None
    enum: Callable[[], Sequence[str]] | None = None
    parse: Callable[[str], str] | None = None
    max_length: int | None = None

    def bound(self, value, settings):
        return value(settings) if callable(value) else value

    def read(self, args, settings):
        """The parsed value from ``args`` (a request's ``MultiDict``), or raise 400."""
        if self.type == "codes":
            values = []
            for raw in args.getlist(self.name):
                for part in raw.split(","):
                    if part.strip():
                        try:
                            values.append(self.parse(part.strip()))
                        except ValidationError as exc:
                            raise InvalidParameter(self.name, exc.message) from None
            return tuple(dict.fromkeys(values))
        raw = args.get(self.name, "")
        if self.max_length is not None and len(raw) > self.max_length:
            raise InvalidParameter(self.name, f"longer than {self.max_length} characters")
        raw = raw.strip()
        if not raw:
            if self.required:
                raise InvalidParameter(self.name, "is required")
            return self.bound(self.default, settings)
        lo, hi = self.bound(self.minimum, settings), self.bound(self.maximum, settings)
        if self.type == "number":
            return _number(self.name, raw, lo, hi)
        if self.type == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise InvalidParameter(self.name, f"not an integer: {raw[:40]!r}") from None
            if not lo <= value <= hi:
                raise InvalidParameter(self.name, f"must be between {lo} and {hi}")
            return value
        if self.type == "boolean":
            low = raw.lower()
            if low in ("0", "false", "no"):
                return False
            if low in ("1", "true", "yes"):
                return True
            raise InvalidParameter(self.name, "must be 1/true or 0/false")
        if self.type == "bbox":
            return _bbox(self.name, raw)
        if self.enum is not None and raw not in self.enum():
            raise InvalidParameter(self.name, f"must be one of {', '.join(self.enum())}")
        return raw

    def schema(self, settings) -> dict:
        """The OpenAPI 3.0 parameter object."""
        lo, hi = self.bound(self.minimum, settings), self.bound(self.maximum, settings)
        default = self.bound(self.default, settings)
        out: dict = {"name": self.name, "in": "query", "required": self.required}
        if self.type == "codes":
            schema = {"type": "array", "items": {"type": "string", "enum": list(self.enum())}}
            out["explode"] = True
            out["style"] = "form"
        elif self.type == "bbox":
            schema = {
                "type": "array",
                "minItems": 4,
                "maxItems": 4,
                "items": {"type": "number", "minimum": -180, "maximum": 180},
            }
            out["explode"] = False
            out["style"] = "form"
        elif self.type == "boolean":
            schema = {"type": "boolean"}
        elif self.type in ("number", "integer"):
            schema = {"type": self.type, "minimum": lo, "maximum": hi}
        else:
            schema = {"type": "string"}
            if self.enum is not None:
                schema["enum"] = list(self.enum())
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        if default is not None and self.type != "codes":
            schema["default"] = default
        out["schema"] = schema
        out["description"] = self.description
        return out


def _number(name: str, raw: str, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(name, f"not a number: {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidParameter(name, "must be a finite number")
    if not lo <= value <= hi:
        raise InvalidParameter(name, f"must be between {lo} and {hi}")
    return value


def _bbox(name: str, raw: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in raw.split(","))
    except ValueError:
        raise InvalidParameter(name, "must be min_lon,min_lat,max_lon,max_lat") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or not (
        -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    ):
        raise InvalidParameter(
            name,
            "must be min_lon,min_lat,max_lon,max_lat within -180..180 / -90..90 with min ≤ max",
        )
    return x0, y0, x1, y1


def _status_code(value: str) -> str:
    return parse_status(value).value


KIND = Param(
    "kind",
    "codes",
    "Station kinds: codes (or Chinese names / aliases), comma-separated or repeated.",
    enum=lambda: list(KINDS),
    parse=parse_kind,
)
SERVICE = Param(
    "service",
    "codes",
    "Required services (all of them): codes or Chinese names, comma-separated or repeated.",
    enum=lambda: list(SERVICES),
    parse=parse_service,
)
STATUS = Param(
    "status",
    "codes",
    "Operating status: open, closed, planned (or 运营中 / 已关闭 / 筹建中).",
    enum=lambda: list(STATUS_TERMS),
    parse=_status_code,
)
OPEN_NOW = Param(
    "open_now", "boolean", "Only stations open now (China time); unknown hours are excluded."
)
BBOX = Param(
    "bbox",
    "bbox",
    "min_lon,min_lat,max_lon,max_lat (WGS-84 degrees, min ≤ max; the whole world is fine).",
)
COUNTY = Param("county", "string", "County code (450203) or county name.", max_length=64)
LIMIT = Param(
    "limit",
    "integer",
    "Page size (YIZHAN_API_MAX_LIMIT at most).",
    minimum=0,
    maximum=_setting("api_max_limit"),
    default=lambda s: min(1000, s.api_max_limit),
)
OFFSET = Param(
    "offset",
    "integer",
    "Features to skip (paging); past the end gives an empty page.",
    minimum=0,
    maximum=MAX_OFFSET,
    default=0,
)
LON = Param("lon", "number", "Longitude, WGS-84 degrees.", required=True, minimum=-180, maximum=180)
LAT = Param("lat", "number", "Latitude, WGS-84 degrees.", required=True, minimum=-90, maximum=90)


# -- endpoints --------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A documented route: what :mod:`webapp.openapi` publishes about it."""

    path: str  # OpenAPI form, ``/api/stations/{station_id}``
    rule: str  # Flask form
    operation_id: str
    summary: str
    params: tuple[Param, ...]
    response: str  # a schema name in webapp.openapi.components
    media_type: str = "application/json"
    errors: tuple[int, ...] = (400,)
    cache: str | None = None  # "data" (revision ETag), "static" (content ETag) or None
    path_params: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ("api",)
    extra: dict = field(default_factory=dict)


#: Every documented route, in declaration order (this module's and :mod:`webapp.ogc`'s).
ENDPOINTS: list[Endpoint] = []


def check_params(*allowed: str) -> None:
    """Refuse parameters the endpoint does not know (typos would otherwise be ignored)."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise InvalidParameter(unknown[0], f"unknown parameter; allowed: {', '.join(allowed)}")


def endpoint(
    blueprint: Blueprint,
    rule: str,
    *params: Param,
    response: str,
    media_type: str = "application/json",
    errors: tuple[int, ...] = (400,),
    cache: str | None = None,
    path_params: tuple[tuple[str, str], ...] = (),
    tags: tuple[str, ...] = ("api",),
    strict: bool = True,
    rate_limit: str | None = None,
):
    """Register a GET route on ``blueprint`` with its parameters, and document it.

    The view is called as ``view(args, **path)`` with ``args`` the parsed parameters. With
    ``cache="data"`` the view works on the registry snapshot ``g.snapshot`` (index,
    revision), and a request whose ``If-None-Match`` matches gets ``304`` before any work.
    ``strict=False`` lets the view check unknown parameters itself (OGC property filters).
    ``rate_limit`` names the app's :class:`~webapp.ratelimit.RateLimiter` that every request
    (even a refused one) draws from, before anything else.
    """
    prefix = blueprint.url_prefix or ""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**path):
            if rate_limit:
                _ctx()[rate_limit].check(request.remote_addr or "?")
            if strict:
                check_params(*(p.name for p in params))
            settings = _ctx()["settings"]
            args = {p.name: p.read(request.args, settings) for p in params}
            if cache == "data":
                g.snapshot = _ctx()["index"].snapshot()
                etag = _etag(f"r{g.snapshot[1]}")
                if request.if_none_match.contains_weak(etag):
                    return _not_modified(etag, DATA_MAX_AGE_S)
                return _cacheable(view(args, **path), etag, DATA_MAX_AGE_S)
            response = view(args, **path)
            if cache == "static":
                response = current_app.make_response(response)
                etag = _etag(hashlib.sha1(response.get_data()).hexdigest())
                return _cacheable(response, etag, STATIC_MAX_AGE_S).make_conditional(request)
            return response

        blueprint.get(rule)(wrapper)
        full = prefix + rule
        ENDPOINTS.append(
            Endpoint(
                path=_openapi_path(full),
                rule=full,
                operation_id=f"{blueprint.name}_{view.__name__}",
                summary=(view.__doc__ or "").strip().splitlines()[0],
                params=params,
                response=response,
                media_type=media_type,
                errors=errors,
                cache=cache,
                path_params=path_params,
                tags=tags,
            )
        )
        return wrapper

    return decorate


def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _etag(version: str) -> str:
    """A weak validator for this path and query at ``version`` of the data."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    accept = request.headers.get("Accept", "") if request.path.startswith("/ogc") else ""
    digest = hashlib.sha1(f"{request.path}?{query}|{accept}".encode()).hexdigest()[:16]
    return f"{version}-{digest}"


def _cacheable(response, etag: str, max_age: int):
    response = current_app.make_response(response)
    response.set_etag(etag, weak=True)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def _not_modified(etag: str, max_age: int) -> Response:
    response = Response(status=304)
    response.set_etag(etag, weak=True)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


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


# -- station queries shared with the OGC collection --------------------------------------


def station_mask(
    index: StationIndex,
    kinds=(),
    services=(),
    statuses=(),
    bbox=None,
    county: str | None = None,
    open_now: bool = False,
    now: datetime | None = None,
) -> np.ndarray:
    """Indices (into ``index.stations``, id order) of the stations matching the filters.

    Vectorised on the index (:meth:`StationIndex.mask`); the county filter, which matches a
    code or a name, looks only at what is left.
    """
    f = Filter.of(kinds, services, statuses=statuses, open_at=now if open_now else None)
    idx = np.flatnonzero(index.mask(f, bbox))
    if county:
        st = index.stations
        idx = idx[[st[i].county_code == county or st[i].county == county for i in idx.tolist()]]
    return idx


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
    index, _ = g.snapshot
    now = datetime.now(UTC)
    idx = station_mask(
        index,
        a["kind"],
        a["service"],
        a["status"],
        a["bbox"],
        a["county"],
        a["open_now"],
        now,
    )
    page = [index.stations[i] for i in idx[a["offset"] : a["offset"] + a["limit"]].tolist()]
    body = stations_geojson_bytes(
        page,
        at=now,
        cache=index.properties_cache,
        numberMatched=len(idx),
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
    s = _ctx()["repo"].get(station_id)
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
        maximum=_setting("nearest_max_k"),
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
    Param(
        "mode",
        "string",
        "Travel mode for the crow-fly time estimate (`minutes`).",
        enum=lambda: list(MODES),
        default="walk",
    ),
    response="NearestCollection",
    media_type="application/geo+json",
)
def nearest(a):
    """The k nearest operating stations to a point, quickest first, with distance and time."""
    now = datetime.now(UTC)
    f = Filter.of(a["kind"], a["service"], open_at=now if a["open_now"] else None)
    index = _ctx()["index"].get()
    hits = index.nearest(a["lon"], a["lat"], a["k"], f, max_distance_m=a["max_distance_m"])
    model = CrowflyModel(a["mode"])
    minutes = model.minutes_for([h.distance_m for h in hits]).tolist()
    order = sorted(range(len(hits)), key=lambda i: (minutes[i], hits[i].distance_m))
    hits, minutes = [hits[i] for i in order], [minutes[i] for i in order]
    fc = stations_geojson(
        [h.station for h in hits],
        at=now,
        distances=[h.distance_m for h in hits],
    )
    for feature, m in zip(fc["features"], minutes, strict=True):
        feature["properties"]["minutes"] = round(m, 1)
    label_zh, label_en = MODE_LABELS[model.mode]
    travel = {
        "mode": model.mode,
        "model": model.name,
        "label_zh": label_zh,
        "label_en": label_en,
        "speed_kmh": model.speed_kph,
        "circuity": model.circuity,
    }
    query = {"lon": a["lon"], "lat": a["lat"], "k": a["k"], "mode": model.mode}
    return _geojson(fc, numberReturned=len(hits), query=query, travel=travel)


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
    limit = _ctx()["settings"].api_max_limit
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
    """Geocode address text for the locator's search box (rate-limited per client)."""
    result = _ctx()["geocoder"].geocode(a["q"], a["city"])
    return jsonify({"status": "ok", **result.to_dict()})


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
    items = review_stations(_ctx()["index"].get().stations, default_gazetteer())
    return jsonify({"count": len(items), "items": [i.to_dict() for i in items]})


@endpoint(bp, "/openapi.json", response="OpenAPI", cache="static", media_type=OPENAPI_MEDIA_TYPE)
def openapi(a):
    """This API's OpenAPI 3.0 document (generated from the routes' parameter declarations)."""
    from webapp.openapi import build_document

    resp = jsonify(build_document(_ctx()["settings"]))
    resp.content_type = OPENAPI_MEDIA_TYPE
    return resp
