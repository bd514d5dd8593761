"""OGC API - Features - Part 1: Core (OGC 17-069r4) for the stations, at ``/ogc``.

Conformance classes: Core, GeoJSON and OpenAPI 3.0. The API definition is its own document,
``/ogc/api`` (``service-desc``; :func:`webapp.openapi.build_ogc_document`: ``servers`` is the
absolute ``/ogc`` URL of the request, paths are relative to it), with an HTML view at
``/ogc/api.html`` (``service-doc``); both are generated from the same parameter declarations
that check the requests. One collection, ``stations``, in CRS84 (WGS-84 lon/lat). Items take:

* ``bbox``: 4 numbers, or 6 with a height range (validated, then ignored)
  (/req/core/fc-bbox-definition A–D); west > east crosses the antimeridian and is answered
  as the two boxes on either side (/req/core/fc-bbox-response);
* ``limit``: 1 to ``YIZHAN_API_MAX_LIMIT`` (the documented maximum); a larger value is
  answered with the maximum, not an error (/req/core/fc-limit-response, part C in 17-069r4:
  "shall not result in an error (instead use the maximum as the parameter value)";
  /per/core/fc-limit-response-2 lets a server return fewer features); 0 or less is a 400;
* ``offset`` (paging with ``next``/``prev`` links), ``datetime`` (on ``updated_at``;
  /req/core/fc-time-definition, /req/core/fc-time-response) and the property filters
  ``kind``, ``service``, ``county_code``, ``status`` (/rec/core/fc-filters).

``limit``, ``bbox`` and ``datetime`` are declared ``style: form, explode: false`` as the
standard's fragments say. A query parameter the API definition does not list is answered with
400 (/req/core/query-param-unknown), an invalid value too (/req/core/query-param-invalid).

Responses are JSON (``f=json``, or ``Accept: application/json``); features are
``application/geo+json`` unless ``application/json`` is asked for. HTML is offered only for
the API definition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import numpy as np
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template_string,
    request,
    url_for,
)

from geo.errors import InvalidParameter, NotFound
from geo.geojson import stations_geojson, stations_geojson_bytes
from webapp.endpoints import OPENAPI_MEDIA_TYPE, endpoint, station_mask
from webapp.openapi import build_ogc_document
from webapp.params import KIND, OFFSET, SERVICE, STATUS, Param, setting
from webapp.services import services

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTION_ID = "stations"
GEOJSON = "application/geo+json"
JSON = "application/json"

F = Param(
    "f", "string", "Response format (JSON only; also chosen by Accept).", enum=lambda: ["json"]
)
ITEMS_LIMIT = Param(
    "limit",
    "integer",
    "Features per page; `next` links to the following page. A value above the maximum "
    "(YIZHAN_API_MAX_LIMIT) is answered with the maximum, not an error.",
    minimum=1,
    maximum=setting("api_max_limit"),
    default=lambda s: min(100, s.api_max_limit),
    clamp=True,
    form=True,
)
BBOX = Param(
    "bbox",
    "ogc_bbox",
    "west,south,east,north in CRS84 (WGS-84 lon/lat degrees), or "
    "west,south,min_height,east,north,max_height (heights checked, then ignored). "
    "west > east crosses the antimeridian.",
)
COUNTY_CODE = Param("county_code", "string", "County code (6 digits), e.g. 450203.", max_length=12)
DATETIME = Param(
    "datetime",
    "string",
    "Instant or interval (RFC 3339, `..` for an open end) matched against `updated_at`.",
    max_length=100,
    form=True,
)
COLLECTION = (("collectionId", "Collection id: `stations`."),)


@bp.after_request
def _vary(response):
    response.headers.add("Vary", "Accept")
    return response


def _url(endpoint_name: str, **values) -> str:
    return url_for(endpoint_name, _external=True, **values)


def _feature_media_type() -> str:
    """``application/geo+json`` unless the client asks for plain JSON only."""
    best = request.accept_mimetypes.best_match([GEOJSON, JSON], default=GEOJSON)
    return best or GEOJSON


def _json(doc: dict, media_type: str = JSON):
    resp = jsonify(doc)
    resp.mimetype = media_type
    return resp


def _links(self_endpoint: str, **values) -> list[dict]:
    return [
        {
            "href": _url(self_endpoint, **values),
            "rel": "self",
            "type": JSON,
            "title": "this document",
        }
    ]


@endpoint(bp, "", F, response="LandingPage", cache="static", tags=("ogc",))
def landing(a):
    """OGC API - Features landing page: links to the API definition, conformance and data."""
    return _json(
        {
            "title": "Yizhan 驿站 stations",
            "description": "Trade-union service stations (WGS-84). Demo data is illustrative.",
            "links": [
                *_links("ogc.landing"),
                {
                    "href": _url("ogc.api_definition"),
                    "rel": "service-desc",
                    "type": OPENAPI_MEDIA_TYPE,
                    "title": "the API definition (OpenAPI 3.0)",
                },
                {
                    "href": _url("ogc.api_definition_html"),
                    "rel": "service-doc",
                    "type": "text/html",
                    "title": "the API definition (HTML)",
                },
                {
                    "href": _url("ogc.conformance"),
                    "rel": "conformance",
                    "type": JSON,
                    "title": "conformance classes",
                },
                {
                    "href": _url("ogc.collections"),
                    "rel": "data",
                    "type": JSON,
                    "title": "the collections",
                },
            ],
        }
    )


@endpoint(bp, "/conformance", F, response="Conformance", cache="static", tags=("ogc",))
def conformance(a):
    """The conformance classes this API implements."""
    return _json({"conformsTo": CONFORMANCE})


def _api_document() -> dict:
    return build_ogc_document(services().settings, _url("ogc.landing"))


@endpoint(
    bp,
    "/api",
    F,
    response="OpenAPI",
    media_type=OPENAPI_MEDIA_TYPE,
    cache="static",
    tags=("ogc",),
)
def api_definition(a):
    """The API definition of this OGC API - Features (OpenAPI 3.0, servers: this URL)."""
    return _json(_api_document(), OPENAPI_MEDIA_TYPE)


_API_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ doc.info.title }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}td,th{border:1px solid #ccc;
padding:.2em .5em;text-align:left;vertical-align:top}table{border-collapse:collapse}</style>
</head><body>
<h1>{{ doc.info.title }}</h1>
<p>{{ doc.info.description }}</p>
<p>Server: <code>{{ doc.servers[0].url }}</code> ·
<a href="{{ json_url }}">OpenAPI 3.0 (JSON)</a></p>
{% for path, item in doc.paths.items() %}{% set op = item["get"] %}
<h2><code>GET {{ path }}</code></h2>
<p>{{ op.summary }}</p>
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>schema</th>
<th>description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p["in"] }}</td>
<td><code>{{ p.schema | tojson }}</code></td><td>{{ p.description }}</td></tr>{% endfor %}
</table>{% endif %}
<p>Responses: {% for code, r in op.responses.items() %}<b>{{ code }}</b> {{ r.description }}
{%- if r.content %} ({{ r.content | join(", ") }}){% endif %}{% if not loop.last %}; {% endif %}
{%- endfor %}</p>
{% endfor %}
</body></html>
"""


@endpoint(bp, "/api.html", response="Html", media_type="text/html", cache="static", tags=("ogc",))
def api_definition_html(a):
    """The API definition of this OGC API - Features as an HTML page."""
    html = render_template_string(
        _API_HTML, doc=_api_document(), json_url=_url("ogc.api_definition")
    )
    return current_app.response_class(html, mimetype="text/html")


def _collection_doc() -> dict:
    index, _ = g.snapshot
    if len(index):
        extent = [
            float(np.min(index.lon)),
            float(np.min(index.lat)),
            float(np.max(index.lon)),
            float(np.max(index.lat)),
        ]
    else:
        extent = [-180.0, -90.0, 180.0, 90.0]
    return {
        "id": COLLECTION_ID,
        "title": "服务站点 Service stations",
        "description": "Trade-union service stations: rest stops, legal-aid posts, "
        "village service points, workers' homes … (WGS-84; demo data illustrative, "
        "positions approximate).",
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [extent], "crs": CRS84}},
        "links": [
            {
                "href": _url("ogc.collection", collectionId=COLLECTION_ID),
                "rel": "self",
                "type": JSON,
                "title": "this collection",
            },
            {
                "href": _url("ogc.items", collectionId=COLLECTION_ID),
                "rel": "items",
                "type": GEOJSON,
                "title": "the stations",
            },
        ],
    }


def _check_collection(collection_id: str) -> None:
    if collection_id != COLLECTION_ID:
        raise NotFound(f"no collection {collection_id[:64]!r}; there is 'stations'")


@endpoint(bp, "/collections", F, response="Collections", cache="data", tags=("ogc",))
def collections(a):
    """The feature collections (one: the stations)."""
    return _json({"links": _links("ogc.collections"), "collections": [_collection_doc()]})


@endpoint(
    bp,
    "/collections/<collectionId>",
    F,
    response="Collection",
    errors=(400, 404),
    cache="data",
    path_params=COLLECTION,
    tags=("ogc",),
)
def collection(a, collectionId: str):
    """One collection: its extent (CRS84) and links to its items."""
    _check_collection(collectionId)
    return _json(_collection_doc())


def _parse_datetime(raw: str | None):
    """``(start, end)`` (UTC, either may be ``None`` for open) from an instant or interval."""
    if not raw:
        return None

    def one(text: str) -> datetime | None:
        if text in ("", ".."):
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            message = f"not an RFC 3339 date-time: {text[:40]!r}"
            raise InvalidParameter("datetime", message) from None
        return value.replace(tzinfo=value.tzinfo or UTC)

    if "/" in raw:
        start_s, _, end_s = raw.partition("/")
        start, end = one(start_s), one(end_s)
        if start and end and start > end:
            raise InvalidParameter("datetime", "the interval ends before it starts")
        return start, end
    instant = one(raw)
    if instant is None:
        raise InvalidParameter("datetime", "an instant cannot be '..'")
    return instant, instant


@endpoint(
    bp,
    "/collections/<collectionId>/items",
    F,
    BBOX,
    ITEMS_LIMIT,
    OFFSET,
    DATETIME,
    KIND,
    SERVICE,
    COUNTY_CODE,
    STATUS,
    response="OgcFeatureCollection",
    media_type=GEOJSON,
    errors=(400, 404),
    cache="data",
    path_params=COLLECTION,
    tags=("ogc",),
)
def items(a, collectionId: str):
    """Stations of the collection as GeoJSON, filtered and paged (ordered by id)."""
    _check_collection(collectionId)
    index, _ = g.snapshot
    now = datetime.now(UTC)
    idx = station_mask(index, a["kind"], a["service"], a["status"], a["bbox"])
    st = index.stations
    if a["county_code"]:
        idx = idx[[st[i].county_code == a["county_code"] for i in idx.tolist()]]
    interval = _parse_datetime(a["datetime"])
    if interval is not None:
        start, end = interval
        idx = idx[
            [
                st[i].updated_at is not None
                and (start is None or st[i].updated_at >= start)
                and (end is None or st[i].updated_at <= end)
                for i in idx.tolist()
            ]
        ]
    limit, offset = a["limit"], a["offset"]
    page = [st[i] for i in idx[offset : offset + limit].tolist()]
    media = _feature_media_type()
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
    base = _url("ogc.items", collectionId=COLLECTION_ID)

    def page_link(rel: str, at: int) -> dict:
        q = urlencode([*query, ("offset", str(at))]) if at else urlencode(query)
        return {"href": f"{base}?{q}" if q else base, "rel": rel, "type": media}

    links = [{**page_link("self", offset), "title": "this page"}]
    if offset + limit < len(idx):
        links.append({**page_link("next", offset + limit), "title": "next page"})
    if offset > 0:
        links.append({**page_link("prev", max(0, offset - limit)), "title": "previous page"})
    links.append(
        {
            "href": _url("ogc.collection", collectionId=COLLECTION_ID),
            "rel": "collection",
            "type": JSON,
            "title": "the collection",
        }
    )
    # The cached per-station encodings of /api/stations (geo.geojson.stations_geojson_bytes).
    body = stations_geojson_bytes(
        page,
        at=now,
        cache=index.properties_cache,
        numberMatched=len(idx),
        numberReturned=len(page),
        timeStamp=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        links=links,
    )
    return Response(body, mimetype=media)


@endpoint(
    bp,
    "/collections/<collectionId>/items/<featureId>",
    F,
    response="OgcFeature",
    media_type=GEOJSON,
    errors=(400, 404),
    path_params=(*COLLECTION, ("featureId", "Station id.")),
    tags=("ogc",),
)
def item(a, collectionId: str, featureId: str):
    """One station as a GeoJSON Feature."""
    _check_collection(collectionId)
    s = services().repo.get(featureId)
    if s is None:
        raise NotFound(f"no station with id {featureId[:64]!r}", id=featureId[:64])
    feature = stations_geojson([s], at=datetime.now(UTC))["features"][0]
    feature["links"] = [
        {
            "href": _url("ogc.item", collectionId=COLLECTION_ID, featureId=s.id),
            "rel": "self",
            "type": GEOJSON,
        },
        {
            "href": _url("ogc.collection", collectionId=COLLECTION_ID),
            "rel": "collection",
            "type": JSON,
        },
    ]
    return _json(feature, _feature_media_type())
