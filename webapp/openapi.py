"""The OpenAPI 3.0 documents: the public API's (``GET /api/openapi.json``, every route of
``/api`` and ``/ogc``) and the OGC API - Features one (``GET /ogc/api``, :func:`build_ogc_document`:
only the ``/ogc`` routes, relative to an absolute ``servers`` URL, as OGC clients and the OGC
conformance suite expect).

Built from one place: the :class:`webapp.endpoints.Endpoint` records that
:func:`webapp.endpoints.endpoint` makes for every route of ``/api`` and ``/ogc`` (registered
when :mod:`webapp.api` and :mod:`webapp.ogc` are imported), with the very
:class:`webapp.params.Param` objects that validate requests. Bounds that are settings
(``limit``, ``k``) are read from the running app's settings, and the kind/service
enumerations from :mod:`geo.models` at build time, so extra kinds appear. This module imports
neither :mod:`webapp.api` nor :mod:`webapp.ogc` (the API serves the document it builds).
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.models import KINDS, MODES, SERVICES, STATUS_TERMS, Precision
from webapp.endpoints import ENDPOINTS, Endpoint
from webapp.settings import WebSettings

OPENAPI_VERSION = "3.0.3"

_NULLABLE_STR = {"type": "string", "nullable": True}
_ERRORS = {
    400: "Bad parameter: unknown, malformed or out of bounds (the error names it).",
    404: "Not found.",
    429: "Too many requests from this client; retry after `Retry-After` seconds.",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _station_properties() -> dict:
    string_fields = [
        *("name_en", "address", "province", "prefecture", "county", "township", "village"),
        *("province_code", "prefecture_code", "county_code", "township_code", "hours"),
        *("closes_at", "phone", "union", "source", "updated_at"),
    ]
    props: dict = {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "kind_label": {"type": "string"},
        "kind_label_en": {"type": "string"},
        "services": {"type": "array", "items": {"type": "string"}},
        "service_labels": {"type": "array", "items": {"type": "string"}},
        "facilities": {
            "type": "array",
            "items": {"type": "string"},
            "description": "六有 facility codes (the facility taxonomy; empty when none known).",
        },
        "open_now": {"type": "boolean", "nullable": True},
        "status": {"type": "string", "enum": list(STATUS_TERMS)},
        "demo": {"type": "boolean"},
        "precision": {"type": "string", "enum": [p.value for p in Precision]},
        "lon": {"type": "number", "nullable": True},
        "lat": {"type": "number", "nullable": True},
    }
    for name in string_fields:
        props[name] = dict(_NULLABLE_STR)
    props["kind"] = {"type": "string"}  # stored kinds may predate a taxonomy change
    return {
        "type": "object",
        "required": ["id", "name", "kind", "status"],
        "properties": props,
        "description": "Display properties of a station (labels in Chinese and English).",
    }


def components() -> dict:
    """The ``components.schemas`` of the document."""
    point = {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {
                "type": "array",
                "minItems": 2,
                "maxItems": 3,
                "items": {"type": "number"},
                "description": "[lon, lat] in WGS-84 degrees (RFC 7946).",
            },
        },
    }
    link = {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": _ref("Link")}
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {**point, "nullable": True},
            "properties": _ref("StationProperties"),
        },
    }
    nearest_props = {
        "allOf": [
            _ref("StationProperties"),
            {
                "type": "object",
                "required": ["distance_m", "minutes"],
                "properties": {
                    "distance_m": {"type": "number", "minimum": 0},
                    "minutes": {"type": "number", "minimum": 0},
                },
            },
        ]
    }
    cluster_feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": _ref("Point"),
            "properties": {
                "type": "object",
                "required": ["cluster", "count", "bbox"],
                "properties": {
                    "cluster": {"type": "boolean", "enum": [True]},
                    "count": {"type": "integer", "minimum": 1},
                    "point_count": {
                        "type": "integer",
                        "minimum": 2,
                        "description": "Tiles only: stations in the cluster (supercluster).",
                    },
                    "cluster_id": {
                        "type": "string",
                        "description": "Tiles only: zoom-position of the cluster in the hierarchy.",
                    },
                    "bbox": {
                        "type": "array",
                        "minItems": 4,
                        "maxItems": 4,
                        "items": {"type": "number"},
                        "description": "min_lon, min_lat, max_lon, max_lat of the members.",
                    },
                },
            },
        },
    }

    def collection(feature_schema: dict, **members) -> dict:
        return {
            "type": "object",
            "required": ["type", "features", *members],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": feature_schema},
                **members,
            },
        }

    count = {"type": "integer", "minimum": 0}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "parameter": {"type": "string"},
                        "retry_after": {"type": "integer"},
                    },
                }
            },
        },
        "Point": point,
        "Link": link,
        "StationProperties": _station_properties(),
        "StationFeature": feature,
        "StationCollection": collection(
            _ref("StationFeature"), numberMatched=count, numberReturned=count
        ),
        "NearestCollection": collection(
            {
                "allOf": [
                    _ref("StationFeature"),
                    {"type": "object", "properties": {"properties": nearest_props}},
                ]
            },
            numberReturned=count,
            travel={
                "type": "object",
                "required": ["mode", "model", "label_zh", "label_en", "speed_kmh", "circuity"],
                "properties": {
                    "mode": {"type": "string", "enum": list(MODES)},
                    "model": {"type": "string", "enum": ["crowfly"]},
                    "label_zh": {"type": "string"},
                    "label_en": {"type": "string"},
                    "speed_kmh": {"type": "number"},
                    "circuity": {"type": "number"},
                },
            },
            query={"type": "object"},
        ),
        "ClusterFeature": cluster_feature,
        "ClusterCollection": _with_optional(
            collection(
                {"anyOf": [_ref("StationFeature"), _ref("ClusterFeature")]},
                total=count,
                clustered={"type": "boolean"},
                numberReturned=count,
            ),
            # tiles only (/api/clusters/{z}/{x}/{y})
            tile={"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
            revision={"type": "string"},
        ),
        "Taxonomy": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "zh", "en"],
                "properties": {
                    "code": {"type": "string"},
                    "zh": {"type": "string"},
                    "en": {"type": "string"},
                },
            },
        },
        "GeocodeResult": {
            "type": "object",
            "required": ["status", "lon", "lat", "precision", "provider"],
            "properties": {
                "status": {"type": "string", "enum": ["ok"]},
                "lon": {"type": "number"},
                "lat": {"type": "number"},
                "precision": {"type": "string", "enum": [p.value for p in Precision]},
                "provider": {"type": "string"},
                "confidence": {"type": "number"},
                "codes": {"type": "object", "additionalProperties": {"type": "string"}},
                "names": {"type": "object", "additionalProperties": {"type": "string"}},
                "formatted": {"type": "string"},
                "rest": {"type": "string"},
                "ambiguous": {"type": "boolean"},
                "candidates": {"type": "array", "items": {"type": "object"}},
                "query": {"type": "string"},
            },
        },
        "ReverseResult": {
            "type": "object",
            "required": ["status", "codes", "names", "township_approximate"],
            "properties": {
                "status": {"type": "string", "enum": ["ok"]},
                "codes": {"type": "object"},
                "names": {"type": "object"},
                "township_approximate": {"type": "boolean"},
                "township_distance_m": {"type": "number", "nullable": True},
            },
        },
        "Review": {
            "type": "object",
            "required": ["count", "items"],
            "properties": {
                "count": count,
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "name", "reasons"],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                            "reason_codes": {
                                "type": "array",
                                "description": "Each reason's stable code and parameters "
                                "(the same order as reasons); pages render them in their "
                                "language.",
                                "items": {
                                    "type": "object",
                                    "required": ["code", "params"],
                                    "properties": {
                                        "code": {"type": "string"},
                                        "params": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "OpenAPI": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": {"type": "string"}},
        },
        "Html": {"type": "string", "description": "An HTML page."},
        # OGC API - Features (17-069r4) resources
        "LandingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": links,
            },
        },
        "Conformance": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "Collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": links,
                "extent": {"type": "object"},
                "itemType": {"type": "string"},
                "crs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {"type": "array", "items": _ref("Collection")},
            },
        },
        "OgcFeature": {
            "allOf": [
                _ref("StationFeature"),
                {"type": "object", "properties": {"links": links}},
            ]
        },
        "OgcFeatureCollection": collection(
            _ref("StationFeature"),
            numberMatched=count,
            numberReturned=count,
            timeStamp={"type": "string", "format": "date-time"},
            links=links,
        ),
    }


def _with_optional(schema: dict, **members: dict) -> dict:
    """``schema`` with more, optional, ``properties``."""
    schema["properties"].update(members)
    return schema


def _operation(e: Endpoint, settings: WebSettings) -> dict:
    params = [
        {
            "name": n,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0}
            if e.cache == "tile"
            else {"type": "string"},
            "description": d,
        }
        for n, d in e.path_params
    ] + [p.schema(settings) for p in e.params]
    ok: dict = {
        "description": "OK",
        "content": {e.media_type: {"schema": _ref(e.response)}},
    }
    if e.response == "OpenAPI":
        ok["content"] = {e.media_type: {"schema": _ref("OpenAPI")}}
    for alt in getattr(e, "alt_media_types", ()) or ():
        ok["content"][alt] = {"schema": _ref(e.response)}
    responses: dict = {"200": ok}
    if e.cache == "tile":  # webapp.api.cluster_tile: strong ETag, long life with ?rev=
        ok["headers"] = {
            "ETag": {
                "description": "Strong validator (registry revision, tile and filters); send "
                "it back in If-None-Match.",
                "schema": {"type": "string"},
            },
            "Cache-Control": {
                "description": "public, max-age=86400 when `rev` is the current revision, "
                "else a minute.",
                "schema": {"type": "string"},
            },
        }
        responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)."}
    elif e.cache:
        ok["headers"] = {
            "ETag": {
                "description": "Weak validator (registry revision and query); send it back "
                "in If-None-Match.",
                "schema": {"type": "string"},
            },
            "Cache-Control": {"schema": {"type": "string"}},
        }
        responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)."}
    for status in e.errors:
        r: dict = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        if status == 429:
            r["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[str(status)] = r
    op = {
        "operationId": e.operation_id,
        "summary": e.summary,
        "tags": list(e.tags),
        "parameters": params,
        "responses": responses,
    }
    return op


def build_document(settings: WebSettings, endpoints: Iterable[Endpoint] | None = None) -> dict:
    """The OpenAPI 3.0 document of ``endpoints`` (default: every route of ``/api`` and ``/ogc``
    registered so far, :data:`webapp.endpoints.ENDPOINTS`)."""
    paths: dict = {}
    for e in ENDPOINTS if endpoints is None else endpoints:
        paths.setdefault(e.path, {})["get"] = _operation(e, settings)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Yizhan 驿站 API",
            "version": "1.0.0",
            "description": (
                "Service stations of China's trade unions: JSON/GeoJSON in WGS-84 (RFC 7946), "
                "and OGC API - Features (Part 1: Core) for the stations collection. "
                "Unknown parameters give 400. Kinds known to this server: "
                + ", ".join(KINDS)
                + "; services: "
                + ", ".join(SERVICES)
                + "."
            ),
        },
        "tags": [
            {"name": "api", "description": "The locator's JSON/GeoJSON API."},
            {"name": "ogc", "description": "OGC API - Features - Part 1: Core."},
        ],
        "paths": paths,
        "components": {"schemas": components()},
    }


#: Where the OGC API - Features routes live (their paths in the OGC document are relative to it).
OGC_PREFIX = "/ogc"


def build_ogc_document(settings: WebSettings, server_url: str) -> dict:
    """The OpenAPI 3.0 document of the OGC API - Features at ``server_url`` (absolute, e.g.
    ``https://host/ogc``): the routes tagged ``ogc``, with paths relative to the server
    (``/``, ``/conformance``, ``/collections/{collectionId}/items`` …).

    OGC clients (GDAL's OAPIF driver, OWSLib) and the conformance suite read the API
    definition linked as ``service-desc`` from the landing page and build request URLs from
    ``servers`` and ``paths``; the document of the whole API (:func:`build_document`) has no
    server and ``/ogc/...`` paths, so they would find nothing there.
    """
    paths: dict = {}
    for e in ENDPOINTS:
        if "ogc" not in e.tags or not e.path.startswith(OGC_PREFIX):
            continue
        path = e.path[len(OGC_PREFIX) :] or "/"
        paths.setdefault(path, {})["get"] = _operation(e, settings)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Yizhan 驿站 OGC API - Features",
            "version": "1.0.0",
            "description": (
                "Service stations of China's trade unions as OGC API - Features - Part 1: Core "
                "(OGC 17-069r4; conformance classes Core, GeoJSON and OpenAPI 3.0), in CRS84. "
                "`limit` above its maximum is answered with the maximum (not an error); `bbox` "
                "takes 4 or 6 numbers and may cross the antimeridian (west > east). Unknown "
                "parameters give 400."
            ),
        },
        "servers": [{"url": server_url, "description": "this server"}],
        "tags": [{"name": "ogc", "description": "OGC API - Features - Part 1: Core."}],
        "paths": paths,
        "components": {"schemas": components()},
    }
