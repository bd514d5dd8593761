"""The abstract tests of OGC API - Features - Part 1: Core (OGC 17-069r4, Annex A) that apply
to /ogc, one test function per abstract test, named by its identifier
(``/conf/core/fc-limit-response`` → ``test_ats_core_fc_limit_response``).

Like the OGC conformance suite, the tests start from the landing page, find the API definition
through its ``service-desc`` link and build every request from the definition's ``servers``
and ``paths``. Classes: Core (A.2), GeoJSON (A.3), OpenAPI 3.0 (A.6). Not applicable: HTML and
GML (not offered), ``/conf/core/fc-md-extent-multi`` (one extent), features without geometry
in ``/conf/core/fc-bbox-response`` (every station has a position).
"""

from __future__ import annotations

import http.client
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from shapely.geometry import box, shape

from geo.records import import_registry
from support import DATA
from webapp.services import services

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
MAX_LIMIT = 3  # small, so that 7 stations need several pages and `limit` can exceed it


@pytest.fixture
def ogc(db_url):
    """A test client over the 7 stations of ``tests/data``, with at most 3 features a page."""
    from webapp import create_app
    from webapp.settings import WebSettings

    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "SETTINGS": WebSettings(api_max_limit=MAX_LIMIT),
        }
    )
    repo = services(app).repo
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    yield app.test_client()
    repo.engine.dispose()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _get(client, url: str, query: dict | None = None, **kw):
    target = _path(url) + (("&" if "?" in url else "?") + urlencode(query) if query else "")
    return client.get(target, **kw)


def _link(doc: dict, rel: str, media_type: str | None = None) -> dict:
    links = [
        link
        for link in doc["links"]
        if link["rel"] == rel and (media_type is None or link.get("type") == media_type)
    ]
    assert links, f"no {rel} link"
    return links[0]


def _api(client) -> dict:
    """The API definition, found as the suite finds it: the landing page's service-desc."""
    landing = client.get("/ogc").get_json()
    r = _get(client, _link(landing, "service-desc", OPENAPI_JSON)["href"])
    assert r.status_code == 200
    return r.get_json()


def _url(api: dict, path: str, **params: str) -> str:
    """A request URL from the definition: the server URL and a path template filled in."""
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    return api["servers"][0]["url"].rstrip("/") + path


def _items_path(api: dict) -> str:
    (path,) = [p for p in api["paths"] if p.endswith("/items")]
    return path


def _items_url(api: dict) -> str:
    return _url(api, _items_path(api), collectionId="stations")


def _param(api: dict, path: str, name: str) -> dict:
    (param,) = [p for p in api["paths"][path]["get"]["parameters"] if p["name"] == name]
    return param


def _conforms(api: dict, schema: dict, instance) -> None:
    """``instance`` validates against an OpenAPI 3.0 schema of the definition."""
    OAS30Validator({**schema, "components": api["components"]}).validate(instance)


def _response_schema(api: dict, path: str, status: str = "200", media: str | None = None):
    content = api["paths"][path]["get"]["responses"][status]["content"]
    return content[media or next(iter(content))]["schema"]


def _all_features(client, api: dict) -> list[dict]:
    """Every feature, by following `next` links (the page size is at most MAX_LIMIT)."""
    out: list[dict] = []
    url = _items_url(api)
    while url:
        doc = _get(client, url).get_json()
        out += doc["features"]
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), "")
    return out


# -- A.2 Core -----------------------------------------------------------------------------------


def test_ats_core_http(live_server):
    """/conf/core/http: the server speaks HTTP 1.1."""
    parts = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", "/ogc")
        response = conn.getresponse()
        response.read()
        assert response.version == 11 and response.status == 200
    finally:
        conn.close()


def test_ats_core_root_op(ogc):
    """/conf/core/root-op: GET on the landing page (with or without the trailing slash)."""
    api = _api(ogc)
    assert _get(ogc, _url(api, "/")).status_code == 200
    assert ogc.get("/ogc").status_code == 200


def test_ats_core_root_success(ogc):
    """/conf/core/root-success: the landing page's schema and its links."""
    api = _api(ogc)
    r = _get(ogc, _url(api, "/"))
    doc = r.get_json()
    _conforms(api, _response_schema(api, "/"), doc)
    rels = {link["rel"] for link in doc["links"]}
    assert {"service-desc", "service-doc"} & rels
    assert {"conformance", "data", "self"} <= rels


def test_ats_core_api_definition_op(ogc):
    """/conf/core/api-definition-op: GET on the service-desc link."""
    landing = ogc.get("/ogc").get_json()
    href = _link(landing, "service-desc")["href"]
    r = _get(ogc, href, headers={"Accept": OPENAPI_JSON})
    assert r.status_code == 200


def test_ats_core_api_definition_success(ogc):
    """/conf/core/api-definition-success: an OpenAPI 3.0 document in its media type."""
    landing = ogc.get("/ogc").get_json()
    r = _get(ogc, _link(landing, "service-desc")["href"])
    assert r.headers["Content-Type"] == OPENAPI_JSON
    validate(r.get_json())


def test_ats_core_conformance_op(ogc):
    """/conf/core/conformance-op: GET /conformance."""
    api = _api(ogc)
    assert "/conformance" in api["paths"]
    assert _get(ogc, _url(api, "/conformance")).status_code == 200


def test_ats_core_conformance_success(ogc):
    """/conf/core/conformance-success: conformsTo lists Core (and the classes tested here)."""
    api = _api(ogc)
    doc = _get(ogc, _url(api, "/conformance")).get_json()
    _conforms(api, _response_schema(api, "/conformance"), doc)
    assert {CORE, GEOJSON_CLASS, OAS30} <= set(doc["conformsTo"])


def test_ats_core_crs84(ogc):
    """/conf/core/crs84: geometries in CRS84 (lon within ±180, lat within ±90, in the extent)."""
    api = _api(ogc)
    col = _get(ogc, _url(api, "/collections/{collectionId}", collectionId="stations")).get_json()
    assert col["extent"]["spatial"]["crs"] == CRS84
    (west, south, east, north) = col["extent"]["spatial"]["bbox"][0]
    for f in _all_features(ogc, api):
        lon, lat = f["geometry"]["coordinates"][:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert west <= lon <= east and south <= lat <= north


def test_ats_core_fc_md_op(ogc):
    """/conf/core/fc-md-op: GET /collections."""
    api = _api(ogc)
    assert _get(ogc, _url(api, "/collections")).status_code == 200


def test_ats_core_fc_md_success(ogc):
    """/conf/core/fc-md-success: /collections has links and collections, per its schema."""
    api = _api(ogc)
    doc = _get(ogc, _url(api, "/collections")).get_json()
    _conforms(api, _response_schema(api, "/collections"), doc)
    assert doc["collections"] and doc["links"]


def test_ats_core_fc_md_links(ogc):
    """/conf/core/fc-md-links: a self link (with its media type)."""
    api = _api(ogc)
    doc = _get(ogc, _url(api, "/collections")).get_json()
    self_link = _link(doc, "self")
    assert self_link["type"] == "application/json"
    assert _path(self_link["href"]) == _path(_url(api, "/collections"))


def test_ats_core_fc_md_items(ogc):
    """/conf/core/fc-md-items: each collection has an id and the metadata the schema asks."""
    api = _api(ogc)
    doc = _get(ogc, _url(api, "/collections")).get_json()
    schema = {"$ref": "#/components/schemas/Collection"}
    for col in doc["collections"]:
        _conforms(api, schema, col)
        assert col["id"] and col["itemType"] == "feature"


def test_ats_core_fc_md_items_links(ogc):
    """/conf/core/fc-md-items-links: each collection links its items (GeoJSON)."""
    api = _api(ogc)
    doc = _get(ogc, _url(api, "/collections")).get_json()
    for col in doc["collections"]:
        items = _link(col, "items", GEOJSON)
        assert _get(ogc, items["href"]).status_code == 200


def test_ats_core_fc_md_extent(ogc):
    """/conf/core/fc-md-extent: the spatial extent contains every feature (CRS84)."""
    api = _api(ogc)
    col = _get(ogc, _url(api, "/collections/{collectionId}", collectionId="stations")).get_json()
    (bbox,) = col["extent"]["spatial"]["bbox"]
    assert len(bbox) in (4, 6)
    extent = box(*bbox[:2], *bbox[-3:-1]) if len(bbox) == 6 else box(*bbox)
    for f in _all_features(ogc, api):
        assert extent.covers(shape(f["geometry"]))


def test_ats_core_sfc_md_op(ogc):
    """/conf/core/sfc-md-op: GET /collections/{collectionId} for each collection."""
    api = _api(ogc)
    for col in _get(ogc, _url(api, "/collections")).get_json()["collections"]:
        url = _url(api, "/collections/{collectionId}", collectionId=col["id"])
        assert _get(ogc, url).status_code == 200


def test_ats_core_sfc_md_success(ogc):
    """/conf/core/sfc-md-success: the collection as in /collections."""
    api = _api(ogc)
    for col in _get(ogc, _url(api, "/collections")).get_json()["collections"]:
        url = _url(api, "/collections/{collectionId}", collectionId=col["id"])
        one = _get(ogc, url).get_json()
        _conforms(api, _response_schema(api, "/collections/{collectionId}"), one)
        assert one == col


def test_ats_core_fc_op(ogc):
    """/conf/core/fc-op: GET on the items of each collection."""
    api = _api(ogc)
    r = _get(ogc, _items_url(api))
    assert r.status_code == 200 and r.mimetype == GEOJSON


def test_ats_core_fc_bbox_definition(ogc):
    """/conf/core/fc-bbox-definition: `bbox` as the standard's OpenAPI fragment."""
    api = _api(ogc)
    p = _param(api, _items_path(api), "bbox")
    assert p["in"] == "query" and p["required"] is False
    assert p["style"] == "form" and p["explode"] is False
    schema = p["schema"]
    assert schema["type"] == "array" and schema["items"]["type"] == "number"
    sizes = sorted((o["minItems"], o["maxItems"]) for o in schema["oneOf"])
    assert sizes == [(4, 4), (6, 6)]


@pytest.mark.parametrize(
    "bbox, boxes",
    [
        ("109.3,24.2,109.5,24.4", [(109.3, 24.2, 109.5, 24.4)]),
        ("100,20,120,40", [(100, 20, 120, 40)]),
        ("-180,-90,180,90", [(-180, -90, 180, 90)]),
        ("109.3,24.2,-10,109.5,24.4,8848", [(109.3, 24.2, 109.5, 24.4)]),  # with heights
        # West > east: across the antimeridian, two boxes.
        ("100,20,-170,40", [(100, 20, 180, 40), (-180, 20, -170, 40)]),
        ("170,-90,-170,90", [(170, -90, 180, 90), (-180, -90, -170, 90)]),
        ("109.45,20,109.35,40", [(109.45, 20, 180, 40), (-180, 20, 109.35, 40)]),
    ],
)
def test_ats_core_fc_bbox_response(ogc, bbox, boxes):
    """/conf/core/fc-bbox-response: only (and all) features intersecting the box, in CRS84."""
    api = _api(ogc)
    everything = _all_features(ogc, api)
    area = [box(*b) for b in boxes]
    expected = {
        f["id"] for f in everything if any(a.intersects(shape(f["geometry"])) for a in area)
    }
    got: set[str] = set()
    url = _items_url(api) + "?" + urlencode({"bbox": bbox})
    while url:
        r = _get(ogc, url)
        assert r.status_code == 200, r.get_json()
        doc = r.get_json()
        got |= {f["id"] for f in doc["features"]}
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), "")
    assert got == expected


def test_ats_core_fc_limit_definition(ogc):
    """/conf/core/fc-limit-definition: `limit` as the standard's OpenAPI fragment."""
    api = _api(ogc)
    p = _param(api, _items_path(api), "limit")
    assert p["in"] == "query" and p["required"] is False
    assert p["style"] == "form" and p["explode"] is False
    schema = p["schema"]
    assert schema["type"] == "integer" and schema["minimum"] == 1
    assert schema["maximum"] == MAX_LIMIT and 1 <= schema["default"] <= MAX_LIMIT


def test_ats_core_fc_limit_response(ogc):
    """/conf/core/fc-limit-response: at most `limit` features, at most the maximum, and a
    `limit` above the maximum is not an error (the maximum is used)."""
    api = _api(ogc)
    maximum = _param(api, _items_path(api), "limit")["schema"]["maximum"]
    for limit in (1, 2, maximum):
        doc = _get(ogc, _items_url(api), {"limit": limit}).get_json()
        assert len(doc["features"]) <= min(limit, maximum)
    for limit in (maximum + 1, 10**6, 10**12):
        r = _get(ogc, _items_url(api), {"limit": limit})
        assert r.status_code == 200, r.get_json()
        doc = r.get_json()
        assert len(doc["features"]) == maximum == doc["numberReturned"]
        # Paging goes on from the page actually returned.
        nxt = _path(_link(doc, "next")["href"])
        assert f"offset={maximum}" in nxt


def test_ats_core_fc_time_definition(ogc):
    """/conf/core/fc-time-definition: `datetime` as the standard's OpenAPI fragment."""
    api = _api(ogc)
    p = _param(api, _items_path(api), "datetime")
    assert p["in"] == "query" and p["required"] is False
    assert p["schema"]["type"] == "string"
    assert p["style"] == "form" and p["explode"] is False


def test_ats_core_fc_time_response(ogc):
    """/conf/core/fc-time-response: only features whose time is in the instant or interval."""
    api = _api(ogc)
    stamps = {
        f["id"]: datetime.fromisoformat(f["properties"]["updated_at"])
        for f in _all_features(ogc, api)
    }
    first = min(stamps.values())
    last = max(stamps.values())
    second = timedelta(seconds=1)

    def iso(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    cases = {
        f"{iso(first - second)}/{iso(last + second)}": set(stamps),
        f"../{iso(first - second)}": set(),
        f"{iso(last + second)}/..": set(),
        f"{iso(first)}/..": set(stamps),
        iso(first): {k for k, v in stamps.items() if v == first},
    }
    for value, expected in cases.items():
        got: set[str] = set()
        url = _items_url(api) + "?" + urlencode({"datetime": value})
        while url:
            doc = _get(ogc, url).get_json()
            got |= {f["id"] for f in doc["features"]}
            url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), "")
        assert got == expected, value


def test_ats_core_fc_response(ogc):
    """/conf/core/fc-response: a FeatureCollection per the definition's schema."""
    api = _api(ogc)
    r = _get(ogc, _items_url(api))
    doc = r.get_json()
    assert doc["type"] == "FeatureCollection" and isinstance(doc["features"], list)
    _conforms(api, _response_schema(api, _items_path(api), media=GEOJSON), doc)


def test_ats_core_fc_links(ogc):
    """/conf/core/fc-links: self (with its type) and next while more features remain."""
    api = _api(ogc)
    doc = _get(ogc, _items_url(api), {"limit": 2}).get_json()
    self_link = _link(doc, "self")
    assert self_link["type"] == GEOJSON and "limit=2" in self_link["href"]
    seen, pages = [f["id"] for f in doc["features"]], 1
    while any(link["rel"] == "next" for link in doc["links"]):
        doc = _get(ogc, _link(doc, "next")["href"]).get_json()
        seen += [f["id"] for f in doc["features"]]
        pages += 1
    assert len(seen) == len(set(seen)) == 7 and pages == math.ceil(7 / 2)


def test_ats_core_fc_timeStamp(ogc):
    """/conf/core/fc-timeStamp: the time the response was generated (RFC 3339)."""
    api = _api(ogc)
    before = datetime.now(UTC).replace(microsecond=0)
    doc = _get(ogc, _items_url(api)).get_json()
    after = datetime.now(UTC)
    stamp = datetime.fromisoformat(doc["timeStamp"].replace("Z", "+00:00"))
    assert before <= stamp <= after


def test_ats_core_fc_numberMatched(ogc):
    """/conf/core/fc-numberMatched: the number of features matching, over all pages."""
    api = _api(ogc)
    for query in ({}, {"bbox": "109.3,24.2,109.5,24.4"}, {"kind": "legal_aid"}):
        doc = _get(ogc, _items_url(api), query).get_json()
        total = 0
        while True:
            total += len(doc["features"])
            nxt = [link for link in doc["links"] if link["rel"] == "next"]
            if not nxt:
                break
            doc = _get(ogc, nxt[0]["href"]).get_json()
        assert doc["numberMatched"] == total, query


def test_ats_core_fc_numberReturned(ogc):
    """/conf/core/fc-numberReturned: the number of features in the response."""
    api = _api(ogc)
    for query in ({}, {"limit": 1}, {"offset": 6}, {"offset": 99}):
        doc = _get(ogc, _items_url(api), query).get_json()
        assert doc["numberReturned"] == len(doc["features"])


def test_ats_core_f_op(ogc):
    """/conf/core/f-op: GET on each feature by its id."""
    api = _api(ogc)
    (path,) = [p for p in api["paths"] if p.endswith("/items/{featureId}")]
    for f in _all_features(ogc, api):
        url = _url(api, path, collectionId="stations", featureId=f["id"])
        assert _get(ogc, url).status_code == 200


def test_ats_core_f_success(ogc):
    """/conf/core/f-success: a Feature per the schema, the same as in the collection."""
    api = _api(ogc)
    (path,) = [p for p in api["paths"] if p.endswith("/items/{featureId}")]
    for f in _all_features(ogc, api):
        one = _get(ogc, _url(api, path, collectionId="stations", featureId=f["id"])).get_json()
        _conforms(api, _response_schema(api, path, media=GEOJSON), one)
        assert one["type"] == "Feature" and one["id"] == f["id"]
        assert one["geometry"] == f["geometry"]


def test_ats_core_f_links(ogc):
    """/conf/core/f-links: self (its own URL) and collection links."""
    api = _api(ogc)
    (path,) = [p for p in api["paths"] if p.endswith("/items/{featureId}")]
    url = _url(api, path, collectionId="stations", featureId="T-002")
    one = _get(ogc, url).get_json()
    assert _path(_link(one, "self")["href"]) == _path(url)
    collection = _link(one, "collection")["href"]
    assert _path(collection) == _path(
        _url(api, "/collections/{collectionId}", collectionId="stations")
    )


def test_ats_core_query_param_unknown(ogc):
    """/conf/core/query-param-unknown: a parameter the definition does not list is a 400."""
    api = _api(ogc)
    for path in api["paths"]:
        url = _url(api, path, collectionId="stations", featureId="T-002")
        r = _get(ogc, url, {"not_in_the_definition": "1"})
        assert r.status_code == 400, path


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"bbox": "1,2,3"},
        {"bbox": "1,2,3,4,5"},
        {"bbox": "a,b,c,d"},
        {"bbox": "0,50,10,40"},
        {"bbox": "0,0,5,10,10,-5"},
        {"bbox": "0,-91,10,10"},
        {"datetime": "tomorrow"},
        {"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"},
        {"offset": "-1"},
    ],
)
def test_ats_core_query_param_invalid(ogc, query):
    """/conf/core/query-param-invalid: an invalid value of a listed parameter is a 400."""
    api = _api(ogc)
    r = _get(ogc, _items_url(api), query)
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == next(iter(query))


# -- A.3 GeoJSON --------------------------------------------------------------------------------


def test_ats_geojson_definition(ogc):
    """/conf/geojson/definition: items and a feature are offered as application/geo+json."""
    api = _api(ogc)
    for path in api["paths"]:
        if path.endswith(("/items", "/items/{featureId}")):
            assert GEOJSON in api["paths"][path]["get"]["responses"]["200"]["content"]


def test_ats_geojson_content(ogc):
    """/conf/geojson/content: RFC 7946 objects with the links as a foreign member; plain
    JSON when asked for, per the same schema."""
    api = _api(ogc)
    r = _get(ogc, _items_url(api))
    assert r.mimetype == GEOJSON
    doc = r.get_json()
    assert doc["type"] == "FeatureCollection" and "links" in doc
    for f in doc["features"]:
        assert f["type"] == "Feature" and set(f) >= {"geometry", "properties"}
        geom = shape(f["geometry"])  # a valid RFC 7946 geometry
        assert geom.geom_type == "Point" and geom.is_valid
    one = _get(ogc, _link(doc, "self")["href"].split("?")[0] + "/T-002")
    assert one.mimetype == GEOJSON and one.get_json()["type"] == "Feature"
    assert {"self", "collection"} <= {link["rel"] for link in one.get_json()["links"]}
    plain = _get(ogc, _items_url(api), headers={"Accept": "application/json"})
    assert plain.mimetype == "application/json"
    _conforms(api, _response_schema(api, _items_path(api), media=GEOJSON), plain.get_json())


# -- A.6 OpenAPI 3.0 ----------------------------------------------------------------------------


def test_ats_oas30_oas_definition_1(ogc):
    """/conf/oas30/oas-definition-1: the definition in JSON (service-desc) and HTML
    (service-doc)."""
    landing = ogc.get("/ogc").get_json()
    desc = _get(ogc, _link(landing, "service-desc", OPENAPI_JSON)["href"])
    assert desc.status_code == 200 and desc.headers["Content-Type"] == OPENAPI_JSON
    doc = _get(ogc, _link(landing, "service-doc", "text/html")["href"])
    assert doc.status_code == 200 and doc.mimetype == "text/html"
    html = doc.get_data(as_text=True)
    for path in desc.get_json()["paths"]:
        assert f"GET {path}" in html


def test_ats_oas30_oas_definition_2(ogc):
    """/conf/oas30/oas-definition-2: the JSON definition is valid OpenAPI 3.0, with a server
    (absolute, the landing page's own URL) and paths relative to it."""
    api = _api(ogc)
    validate(api)
    assert api["openapi"].startswith("3.0.")
    (server,) = api["servers"]
    assert server["url"] == _link(ogc.get("/ogc").get_json(), "self")["href"]
    assert urlsplit(server["url"]).scheme in ("http", "https")
    assert "/" in api["paths"] and not any(p.startswith("/ogc") for p in api["paths"])


def _sample_requests(ogc, api: dict):
    """(path, url, expected status) for every operation: answered, refused and not found."""
    for path in api["paths"]:
        url = _url(api, path, collectionId="stations", featureId="T-002")
        yield path, url, 200
        yield path, url + "?not_in_the_definition=1", 400
        if "{collectionId}" in path:
            yield path, _url(api, path, collectionId="nope", featureId="T-002"), 404
        if "{featureId}" in path:
            yield path, _url(api, path, collectionId="stations", featureId="nope"), 404


def test_ats_oas30_oas_impl(ogc):
    """/conf/oas30/oas-impl: every path of the definition is implemented as described: status
    200, a declared media type, a body per the declared schema."""
    api = _api(ogc)
    for path, url, status in _sample_requests(ogc, api):
        if status != 200:
            continue
        r = _get(ogc, url)
        assert r.status_code == 200, path
        content = api["paths"][path]["get"]["responses"]["200"]["content"]
        media = r.headers["Content-Type"].split(";")[0]
        declared = {m.split(";")[0]: m for m in content}
        assert media in declared, (path, media)
        if media != "text/html":
            _conforms(api, content[declared[media]]["schema"], r.get_json())


def test_ats_oas30_completeness(ogc):
    """/conf/oas30/completeness: every status code and response the API gives is described."""
    api = _api(ogc)
    for path, url, _ in _sample_requests(ogc, api):
        r = _get(ogc, url)
        responses = api["paths"][path]["get"]["responses"]
        assert str(r.status_code) in responses, (path, r.status_code)
        media = r.headers["Content-Type"].split(";")[0]
        assert media in {m.split(";")[0] for m in responses[str(r.status_code)]["content"]}


def test_ats_oas30_exception_codes(ogc):
    """/conf/oas30/exception-codes: the error codes the API gives are described, with the
    error schema."""
    api = _api(ogc)
    for path, url, status in _sample_requests(ogc, api):
        if status == 200:
            continue
        r = _get(ogc, url)
        assert r.status_code == status, (path, url)
        described = api["paths"][path]["get"]["responses"][str(status)]
        _conforms(api, described["content"]["application/json"]["schema"], r.get_json())


def test_ats_oas30_security(ogc):
    """/conf/oas30/security: no security scheme is declared, and none is needed."""
    api = _api(ogc)
    assert "security" not in api and "securitySchemes" not in api["components"]
    for path in api["paths"]:
        assert "security" not in api["paths"][path]["get"]
        url = _url(api, path, collectionId="stations", featureId="T-002")
        assert _get(ogc, url).status_code == 200
