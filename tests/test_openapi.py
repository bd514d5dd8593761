"""The OpenAPI document matches the API: valid, complete, and fuzzed with schemathesis."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from geo.models import KINDS, Term, register_kind
from support import ROOT, close_app

# the document and the fuzzing run against the app on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_backends


def _document(client) -> dict:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return r.get_json()


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_document_is_valid_openapi(client):
    doc = _document(client)
    validate(doc)
    assert doc["openapi"].startswith("3.0")


def test_every_public_route_is_documented_and_vice_versa(app, client):
    doc = _document(client)
    routes = {
        _flask_to_openapi(r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/api", "/ogc")) and "GET" in r.methods
    }
    assert routes == set(doc["paths"])
    assert {
        "/api/openapi.json",
        "/api/clusters",
        "/ogc/collections/{collectionId}/items",
        "/ogc/api",
    } <= routes


def _param_cases(doc: dict):
    for path, item in doc["paths"].items():
        op = item["get"]
        query = [p for p in op["parameters"] if p["in"] == "query"]
        url = re.sub(r"\{[^}]+\}", "stations", path)
        yield path, url, query


def test_documented_parameters_are_exactly_the_accepted_ones(loaded):
    """Each documented parameter is accepted; one more, not documented, is refused."""
    doc = _document(loaded)
    for path, url, query in _param_cases(doc):
        names = [p["name"] for p in query]
        for p in query:
            assert loaded.get(url, query_string={p["name"]: ""}).status_code != 500
        r = loaded.get(url, query_string={"not_documented": "1"})
        assert r.status_code == 400, path
        assert r.get_json()["error"]["parameter"] == "not_documented"
        allowed = r.get_json()["error"]["message"].split("allowed:")[-1]
        assert sorted(n.strip() for n in allowed.split(",") if n.strip()) == sorted(names), path


def test_bounds_and_enumerations_come_from_the_running_settings(db_url):
    from webapp import create_app
    from webapp.settings import WebSettings

    register_kind(Term("night_shelter", "夜间庇护点", "Night shelter"))
    try:
        app = create_app({"DATABASE_URL": db_url, "SETTINGS": WebSettings(nearest_max_k=7)})
        doc = _document(app.test_client())
        params = {p["name"]: p for p in doc["paths"]["/api/nearest"]["get"]["parameters"]}
        assert params["k"]["schema"]["maximum"] == 7
        assert "night_shelter" in params["kind"]["schema"]["items"]["enum"]
        assert params["mode"]["schema"]["enum"] == ["walk", "ebike", "car"]
        r = app.test_client().get("/api/nearest?lon=109&lat=24&k=8")
        assert r.status_code == 400 and "7" in r.get_json()["error"]["message"]
        close_app(app)
    finally:
        KINDS.pop("night_shelter", None)


def test_error_responses_are_documented(client):
    doc = _document(client)
    for path, item in doc["paths"].items():
        responses = item["get"]["responses"]
        assert "400" in responses, path
        assert responses["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    geocode = doc["paths"]["/api/geocode"]["get"]["responses"]
    assert "Retry-After" in geocode["429"]["headers"]
    assert "ETag" in doc["paths"]["/api/stations"]["get"]["responses"]["200"]["headers"]


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_responses_match_the_schema(loaded, app):
    """Fuzz every operation against the document: no 5xx, every response conforms."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            # identity: the WSGI transport does not decode the gzip the app sends otherwise
            case.call_and_validate(checks=checks, headers={"Accept-Encoding": "identity"})

        fuzz()


@pytest.mark.slow
def test_schemathesis_on_the_ogc_api_definition(loaded, app):
    """The OGC API definition (/ogc/api: servers /ogc, relative paths) is valid and fuzzed the
    same way: no 5xx, every response as documented."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    doc = loaded.get("/ogc/api").get_json()
    validate(doc)
    assert doc["servers"][0]["url"] == "http://localhost/ogc"
    schema = schemathesis.openapi.from_wsgi("/ogc/api", app)
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7  # schemathesis leaves out the document it was loaded from
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            case.call_and_validate(checks=checks, headers={"Accept-Encoding": "identity"})

        fuzz()


def test_api_ogc_and_openapi_import_no_circle():
    # openapi builds from webapp.endpoints' registry; api and ogc import endpoints and params,
    # never each other, and nothing imports webapp.api but the app factory.
    import os
    import subprocess
    import sys

    code = (
        "import sys, webapp.openapi, webapp.ogc, webapp.endpoints, webapp.params;"
        "print('webapp.api' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "False"


def test_facilities_in_the_station_api_the_collection_and_ogc_match_the_schema(app, client):
    """A station's 六有 facility codes are in /api/stations/<id>, the /api/stations features
    and the OGC items, and each feature validates against the documented StationFeature."""
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    from geo.models import Station
    from webapp.services import services

    services(app).repo.save(
        [
            Station(
                id="FAC-1",
                name="设施站",
                kind="rest_stop",
                lon=108.3,
                lat=22.8,
                facilities=("drinking_water", "toilet"),
            ),
            Station(id="FAC-2", name="无设施站", kind="rest_stop", lon=108.4, lat=22.9),
        ]
    )
    doc = _document(client)
    resource = Resource.from_contents(doc, default_specification=DRAFT4)
    registry = Registry().with_resource("urn:yizhan-api", resource)
    feature_schema = {"$ref": "urn:yizhan-api#/components/schemas/StationFeature"}
    assert doc["components"]["schemas"]["StationProperties"]["properties"]["facilities"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "六有 facility codes (the facility taxonomy; empty when none known).",
    }
    one = client.get("/api/stations/FAC-1").get_json()
    bulk = {f["id"]: f for f in client.get("/api/stations").get_json()["features"]}
    ogc_items = client.get("/ogc/collections/stations/items?f=json").get_json()["features"]
    ogc = {f["id"]: f for f in ogc_items}
    ogc_one = client.get("/ogc/collections/stations/items/FAC-1?f=json").get_json()
    for feature in (one, bulk["FAC-1"], ogc["FAC-1"], ogc_one):
        assert feature["properties"]["facilities"] == ["drinking_water", "toilet"]
        OAS30Validator(feature_schema, registry=registry).validate(feature)
    for feature in (bulk["FAC-2"], ogc["FAC-2"]):
        assert feature["properties"]["facilities"] == []
    # a pending change's facilities are not published: the API reads approved data only
    import dataclasses

    from geo.store.changes import ChangeStore

    repo = services(app).repo
    pending = dataclasses.replace(repo.get("FAC-1"), facilities=("wifi",))
    ChangeStore(repo).propose("edit", pending, base_version=1, author="ed", reason="加无线网络")
    for url in ("/api/stations/FAC-1", "/ogc/collections/stations/items/FAC-1?f=json"):
        facilities = client.get(url).get_json()["properties"]["facilities"]
        assert facilities == ["drinking_water", "toilet"]
    bad = {**one, "properties": {**one["properties"], "facilities": "toilet"}}
    with pytest.raises(Exception, match="is not of type 'array'"):
        OAS30Validator(feature_schema, registry=registry).validate(bad)
