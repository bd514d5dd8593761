"""The one GeoJSON serialiser (RFC 7946, WGS-84): stations for the API, the maps and exports.

* :func:`stations_geojson` gives a FeatureCollection as data; by default each feature carries the
  display properties of :func:`station_properties` (labels, ``open_now``/``closes_at`` at one
  instant, ``distance_m`` when distances are given); an export passes its own ``properties``
  (the export record, :func:`geo.records.export.station_record`).
* :func:`stations_geojson_bytes` writes the same display features as JSON bytes, fast: the
  time-independent part of each feature is encoded once and cached by station id.
* :func:`point_geometry`, :func:`feature` and :func:`feature_collection` build the plain
  objects, for any other layer (clusters, outlines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from geo.hours import CHINA_TZ
from geo.models import SERVICES, Station

__all__ = [
    "FEATURE_CACHE_MAX",
    "feature",
    "feature_collection",
    "point_geometry",
    "station_properties",
    "stations_geojson",
    "stations_geojson_bytes",
]


def point_geometry(lon: float | None, lat: float | None) -> dict | None:
    """A GeoJSON Point, or ``None`` (a null geometry) without a position."""
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


def feature(geometry: dict | None, properties: dict, id: object = None) -> dict:
    """A GeoJSON Feature (``id`` left out when ``None``)."""
    out: dict = {"type": "Feature"}
    if id is not None:
        out["id"] = id
    out["geometry"] = geometry
    out["properties"] = properties
    return out


def feature_collection(features: list[dict], **members: object) -> dict:
    """A GeoJSON FeatureCollection; ``members`` (``total``, ``numberReturned`` …) are added."""
    return {"type": "FeatureCollection", "features": features, **members}


def stations_geojson(
    stations: Iterable[Station],
    *,
    at: datetime | None = None,
    distances: Iterable[float] | None = None,
    properties: Callable[[Station], dict] | None = None,
) -> dict:
    """Stations as a FeatureCollection (WGS-84 points; a station without one has none).

    Parameters
    ----------
    stations
        The stations, in the order wanted.
    at
        The instant of ``open_now``/``closes_at`` (now by default; one for the whole answer).
    distances
        Metres to each station, added as ``distance_m`` (display properties only).
    properties
        Builds each feature's properties instead of :func:`station_properties` (an export
        passes its record builder).
    """
    features = []
    dist = iter(distances) if distances is not None else None
    at = at or datetime.now(UTC)  # one instant for the whole answer
    hours_memo: dict = {}  # stations share a few hours texts: evaluate each once per answer
    for s in stations:
        if properties is not None:
            props = properties(s)
        else:
            props = station_properties(s, at, hours_memo)
            if dist is not None:
                props["distance_m"] = round(float(next(dist)), 1)
        features.append(feature(point_geometry(s.lon, s.lat), props, s.id))
    return feature_collection(features)


FEATURE_CACHE_MAX = 300_000


def station_properties(s: Station, at: datetime | None = None, memo: dict | None = None) -> dict:
    """Display properties of a station for the API and map popups.

    ``memo`` (a dict kept by the caller for one instant ``at``) caches the opening-hours
    evaluation by hours text and status.
    """
    props = _static_properties(s)
    props["open_now"], props["closes_at"] = _hours_state(s, at, memo)
    return props


def _hours_state(s: Station, at: datetime | None, memo: dict | None) -> tuple:
    key = (s.hours, s.status)
    state = memo.get(key) if memo is not None else None
    if state is None:
        closes = s.opening_hours.closes_at(at) if s.status.value == "open" else None
        state = (s.is_open(at), closes.strftime("%H:%M") if closes else None)
        if memo is not None:
            memo[key] = state
    return state


_MINUTE_MEMO: tuple[datetime | None, dict] = (None, {})


def _minute_memo(at: datetime) -> dict:
    """The hours-state memo shared by every answer within ``at``'s minute.

    Opening hours have minute resolution, so whether a station is open (and when it closes)
    is the same for every instant of one minute; the memo is replaced when the minute moves.
    """
    global _MINUTE_MEMO
    minute = at.replace(second=0, microsecond=0)
    current, memo = _MINUTE_MEMO
    if current != minute:
        memo = {}
        _MINUTE_MEMO = (minute, memo)  # one assignment: threads see the old or the new pair
    return memo


def stations_geojson_bytes(
    stations: Iterable[Station],
    at: datetime | None = None,
    cache: dict | None = None,
    extra_properties: Iterable[dict] | None = None,
    **members,
) -> bytes:
    """The display FeatureCollection of :func:`stations_geojson` as JSON bytes (UTF-8).

    Each feature's time-independent part is encoded once (orjson) and kept in ``cache`` by
    station id — a dict owned by whoever owns the stations (the server's index) and dropped
    with them — so a map panning over a 200,000-station registry re-encodes nothing but
    ``open_now``/``closes_at``. ``extra_properties`` (one dict per station, e.g.
    ``distance_m``) are added to each feature's properties; ``members`` are added to the
    collection object.
    """
    import orjson

    at = at or datetime.now(UTC)
    memo = _minute_memo(at)
    cache = {} if cache is None else cache
    parts = []
    extras = iter(extra_properties) if extra_properties is not None else None
    for s in stations:
        head = cache.get(s.id)
        if head is None:
            props = _static_properties(s)
            del props["open_now"], props["closes_at"]
            encoded = orjson.dumps(feature(point_geometry(s.lon, s.lat), props, s.id))
            head = encoded[:-2]  # left open: the dynamic properties follow
            if len(cache) >= FEATURE_CACHE_MAX:
                cache.clear()
            cache[s.id] = head
        open_now, closes = _hours_state(s, at, memo)
        parts.append(
            head
            + b',"open_now":'
            + (b"null" if open_now is None else b"true" if open_now else b"false")
            + b',"closes_at":'
            + (b'"' + closes.encode() + b'"' if closes else b"null")
            + (b"," + orjson.dumps(next(extras))[1:-1] if extras is not None else b"")
            + b"}}"
        )
    tail = b"".join(b"," + orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in members.items())
    return b'{"type":"FeatureCollection","features":[' + b",".join(parts) + b"]" + tail + b"}"


def _static_properties(s: Station) -> dict:
    term = s.kind_term
    return {
        "id": s.id,
        "name": s.name,
        "name_en": s.name_en,
        "kind": s.kind,
        "kind_label": term.zh,
        "kind_label_en": term.en,
        "services": list(s.services),
        "service_labels": [SERVICES[c].zh if c in SERVICES else c for c in s.services],
        "facilities": list(s.facilities),  # 六有 facility codes (geo.liuyou.FACILITIES)
        "address": s.address,
        "province": s.province,
        "prefecture": s.prefecture,
        "county": s.county,
        "township": s.township,
        "village": s.village,
        "province_code": s.province_code,
        "prefecture_code": s.prefecture_code,
        "county_code": s.county_code,
        "township_code": s.township_code,
        "hours": s.hours,
        "open_now": None,  # filled per answer
        "closes_at": None,
        "phone": s.phone,
        "union": s.union,
        "status": s.status.value,
        "demo": s.demo,
        "precision": s.precision.value,
        "source": s.source,
        "updated_at": s.updated_at.astimezone(CHINA_TZ).isoformat() if s.updated_at else None,
        "lon": s.lon,
        "lat": s.lat,
    }
