"""JSON/GeoJSON API under ``/api`` (WGS-84, RFC 7946).

Parameters are validated strictly: a bad or unknown parameter gives 400 with a JSON error that
names it, never a 500.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from geo.errors import InvalidParameter, NotFound, ValidationError
from geo.gazetteer import default_gazetteer
from geo.geocode import MAX_ADDRESS_CHARS
from geo.index import Filter
from geo.models import KINDS, SERVICES, parse_kind, parse_service
from geo.records import stations_geojson
from geo.review import review_stations
from geo.store import StationQuery

bp = Blueprint("api", __name__, url_prefix="/api")


def _ctx() -> dict:
    return current_app.extensions["yizhan"]


def check_params(*allowed: str) -> None:
    """Refuse parameters the endpoint does not know (typos would otherwise be ignored)."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise InvalidParameter(unknown[0], f"unknown parameter; allowed: {', '.join(allowed)}")


def float_param(name: str, lo: float, hi: float, required: bool = True) -> float | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        if required:
            raise InvalidParameter(name, "is required")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(name, f"not a number: {raw[:40]!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidParameter(name, f"must be between {lo} and {hi}")
    return value


def int_param(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(name, f"not an integer: {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise InvalidParameter(name, f"must be between {lo} and {hi}")
    return value


def bool_param(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InvalidParameter(name, "must be 1/true or 0/false")


def list_param(name: str, parse) -> tuple[str, ...]:
    values = []
    for raw in request.args.getlist(name):
        for part in raw.split(","):
            if part.strip():
                try:
                    values.append(parse(part.strip()))
                except ValidationError as exc:
                    raise InvalidParameter(name, exc.message) from None
    return tuple(dict.fromkeys(values))


def bbox_param(name: str = "bbox") -> tuple[float, float, float, float] | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in raw.split(","))
    except ValueError:
        raise InvalidParameter(name, "must be min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidParameter(
            name,
            "must be min_lon,min_lat,max_lon,max_lat within -180..180 / -90..90 with min ≤ max",
        )
    return x0, y0, x1, y1


def _geojson(features: dict, **members):
    resp = jsonify({**features, **members})
    resp.mimetype = "application/geo+json"
    return resp


@bp.get("/stations")
def stations():
    """Stations as GeoJSON, filtered and paged (ordered by id)."""
    check_params("kind", "service", "county", "bbox", "open_now", "status", "limit", "offset")
    settings = _ctx()["settings"]
    q = StationQuery(
        kinds=list_param("kind", parse_kind),
        services=list_param("service", parse_service),
        county=request.args.get("county", "").strip()[:64] or None,
        bbox=bbox_param(),
        statuses=list_param("status", _parse_status_code),
    )
    limit = int_param("limit", min(1000, settings.api_max_limit), 0, settings.api_max_limit)
    offset = int_param("offset", 0, 0, 10**9)
    now = datetime.now(UTC)
    repo = _ctx()["repo"]
    if bool_param("open_now"):
        everything, _ = repo.query(q)
        matched = [s for s in everything if s.is_open(now)]
        total, page = len(matched), matched[offset : offset + limit]
    else:
        page, total = repo.query(q, limit=limit, offset=offset)
    return _geojson(stations_geojson(page, at=now), numberMatched=total, numberReturned=len(page))


def _parse_status_code(value: str) -> str:
    from geo.models import parse_status

    return parse_status(value).value


@bp.get("/stations/<station_id>")
def station(station_id: str):
    """One station as a GeoJSON Feature."""
    check_params()
    s = _ctx()["repo"].get(station_id)
    if s is None:
        raise NotFound(f"no station with id {station_id[:64]!r}", id=station_id[:64])
    return _geojson(stations_geojson([s], at=datetime.now(UTC))["features"][0])


@bp.get("/nearest")
def nearest():
    """The k nearest operating stations to a point, nearest first, with ``distance_m``."""
    check_params("lon", "lat", "k", "kind", "service", "open_now", "max_distance_m")
    settings = _ctx()["settings"]
    lon = float_param("lon", -180, 180)
    lat = float_param("lat", -90, 90)
    k = int_param("k", 5, 1, settings.nearest_max_k)
    max_d = float_param("max_distance_m", 0, 20_037_509, required=False)
    now = datetime.now(UTC)
    f = Filter.of(
        list_param("kind", parse_kind),
        list_param("service", parse_service),
        open_at=now if bool_param("open_now") else None,
    )
    hits = _ctx()["index"].get().nearest(lon, lat, k, f, max_distance_m=max_d)
    fc = stations_geojson([h.station for h in hits], at=now, distances=[h.distance_m for h in hits])
    return _geojson(fc, numberReturned=len(hits), query={"lon": lon, "lat": lat, "k": k})


@bp.get("/kinds")
def kinds():
    """The station kinds (open taxonomy) with Chinese and English labels."""
    check_params()
    return jsonify([{"code": t.code, "zh": t.zh, "en": t.en} for t in KINDS.values()])


@bp.get("/services")
def services():
    """The services a station may offer, with Chinese and English labels."""
    check_params()
    return jsonify([{"code": t.code, "zh": t.zh, "en": t.en} for t in SERVICES.values()])


@bp.get("/geocode")
def geocode():
    """Geocode address text for the locator's search box (rate-limited per client)."""
    check_params("q", "city")
    ctx = _ctx()
    ctx["geocode_limiter"].check(request.remote_addr or "?")
    q = request.args.get("q", "")
    if len(q) > MAX_ADDRESS_CHARS:
        raise InvalidParameter("q", f"longer than {MAX_ADDRESS_CHARS} characters")
    city = request.args.get("city", "").strip()[:40] or None
    result = ctx["geocoder"].geocode(q, city)
    return jsonify({"status": "ok", **result.to_dict()})


@bp.get("/reverse")
def reverse():
    """Admin units of a point: county from the outlines, nearest township (approximate)."""
    check_params("lon", "lat")
    lon = float_param("lon", -180, 180)
    lat = float_param("lat", -90, 90)
    result = default_gazetteer().reverse(lon, lat)
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


@bp.get("/review")
def review():
    """Stations to review: imprecise positions, coordinates outside the stated county."""
    check_params()
    items = review_stations(_ctx()["index"].get().stations, default_gazetteer())
    return jsonify({"count": len(items), "items": [i.to_dict() for i in items]})
