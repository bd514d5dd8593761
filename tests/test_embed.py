"""The embeddable map on the server side: allow-list, framing headers, parameters, builder.

Flask test client on a real database with the demo registry (SQLite and PostgreSQL); the
browser side (framing by another origin, postMessage) is in ``tests/browser/test_embed.py``.
"""

from __future__ import annotations

import gzip
import json
import re
from html import unescape
from pathlib import Path

import pytest

import support
from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer
from webapp import create_app
from webapp.embed import DEFAULT_CONTROLS, parse_origins
from webapp.settings import WebSettings

UNION = "https://www.example-union.org.cn"
ORIGINS = f"{UNION}, http://127.0.0.1:8123  https://*.gh.example.cn"
STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"


# the tests that open a database (``app``, ``db_url``) run on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_backends


def make_app(db_url: str, origins: str = ORIGINS, demo: bool = True):
    env = {"YIZHAN_EMBED_ORIGINS": origins, "YIZHAN_BASEMAPS": "offline"}
    return support.make_app(db_url, env, demo=demo)


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def app(request, tmp_path_factory):
    with support.module_database(request, tmp_path_factory.mktemp("embed")) as db_url:
        application = make_app(db_url)
        yield application
        support.close_app(application)


@pytest.fixture
def client(app):
    return app.test_client()


def config(response, block: str = "yz-config") -> dict:
    html = response.get_data(as_text=True)
    m = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', html, re.S)
    assert m, f"no #{block} in the page"
    return json.loads(m.group(1))


def frame_ancestors(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    found = [d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors")]
    assert len(found) == 1, csp
    return found[0]


# -- the allow-list ------------------------------------------------------------------------


def test_origins_are_normalised():
    assert parse_origins("") == ()
    assert parse_origins("  ") == ()
    assert parse_origins(
        "HTTPS://WWW.Example-Union.org.cn/, https://www.example-union.org.cn:443 "
        "http://intranet.gh:8080,http://127.0.0.1:80\nhttps://*.gh.example.cn"
    ) == (
        UNION,
        "http://intranet.gh:8080",
        "http://127.0.0.1",
        "https://*.gh.example.cn",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "https://*",
        "https://*.cn",
        "www.example.cn",
        "ftp://example.cn",
        "https://example.cn/path",
        "https://example.cn/?q=1",
        "https://user@example.cn",
        "https://exa mple.cn",
        "https://ex*ample.cn",
        "https://example.cn:99999",
        "https://[::1]",
        "javascript:alert(1)",
        "'self'",
    ],
)
def test_bad_origins_are_refused(bad):
    with pytest.raises(ValidationError) as err:
        parse_origins(f"{UNION} {bad}")
    assert "YIZHAN_EMBED_ORIGINS" in err.value.message


def test_a_bad_allow_list_stops_the_app(tmp_path):
    settings = WebSettings.from_env({"YIZHAN_EMBED_ORIGINS": "https://example.cn/embed"})
    with pytest.raises(ValidationError, match="YIZHAN_EMBED_ORIGINS"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SETTINGS": settings})


# -- framing headers -----------------------------------------------------------------------


def test_embed_may_be_framed_by_self_and_the_allow_list(client):
    r = client.get("/embed")
    assert r.status_code == 200
    assert "X-Frame-Options" not in r.headers
    assert frame_ancestors(r).split() == [
        "frame-ancestors",
        "'self'",
        UNION,
        "http://127.0.0.1:8123",
        "https://*.gh.example.cn",
    ]
    directives = dict(
        d.strip().split(" ", 1) for d in r.headers["Content-Security-Policy"].split(";")
    )
    assert directives["script-src"] == "'self'"  # the rest of the policy is the site's own
    assert directives["connect-src"] == "'self'"


def test_embed_error_page_is_framable_too(client):
    r = client.get("/embed?zoom=99")
    assert r.status_code == 400
    assert "X-Frame-Options" not in r.headers
    assert UNION in frame_ancestors(r)


@pytest.mark.parametrize(
    "path",
    ["/", "/stations/DEMO-LZ-LA-001", "/embed/builder", "/no-such-page", "/embed/nope"],
)
def test_every_other_page_refuses_framing(client, path):
    r = client.get(path)
    assert r.mimetype == "text/html", path
    assert r.headers["X-Frame-Options"] == "DENY", path
    assert frame_ancestors(r) == "frame-ancestors 'none'", path


@pytest.mark.parametrize("path", ["/api/stations?limit=1", "/api/nosuch", "/healthz"])
def test_api_responses_refuse_framing(client, path):
    r = client.get(path)
    assert r.mimetype.endswith("json"), path
    assert r.headers["X-Frame-Options"] == "DENY", path


def test_assets_the_embed_loads_send_no_x_frame_options(client):
    for path in ("/static/js/embed.js", "/static/css/embed.css", "/data/basemap.geojson"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "X-Frame-Options" not in r.headers, path
        r.close()


def test_empty_allow_list_keeps_only_self(db_url):
    app = make_app(db_url, origins="", demo=False)
    try:
        r = app.test_client().get("/embed")
        assert r.status_code == 200  # a direct visit still works
        assert frame_ancestors(r) == "frame-ancestors 'self'"
        assert "X-Frame-Options" not in r.headers
        assert config(r, "yz-embed-config")["origins"] == []
    finally:
        support.close_app(app)


# -- the page and its parameters -----------------------------------------------------------


def test_embed_defaults(client):
    r = client.get("/embed")
    html = r.get_data(as_text=True)
    cfg = config(r)
    assert cfg["embed"] is True
    assert cfg["scrollWheelZoom"] is False
    assert cfg["controls"] == list(DEFAULT_CONTROLS)
    assert cfg["lang"] == "zh" and cfg["kinds"] == [] and cfg["view"] is None
    assert config(r, "yz-embed-config")["origins"] == [
        UNION,
        "http://127.0.0.1:8123",
        "https://*.gh.example.cn",
    ]
    # demo data labelled, the full map one click away (new tab, no opener)
    assert 'id="yz-demo-banner"' in html and "演示数据" in html
    link = re.search(r'<a class="yz-embed-full"[^>]*>', html).group(0)
    assert 'href="/"' in link and 'target="_blank"' in link and 'rel="noopener"' in link
    # light: only the locator's own scripts and embed.js, no builder or other libraries
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts[-1] == "/static/js/embed.js"
    assert not [s for s in scripts if "builder" in s or "//" in s]
    assert 'id="yz-hint"' not in html and 'id="yz-share"' not in html  # compact partial


def test_embed_parameters_reach_the_locator(client):
    r = client.get(
        "/embed?region=450200&kind=rest_stop,法律援助服务站&service=drinking_water"
        "&lang=en&lat=24.33&lon=109.41&zoom=11&controls=search,list&height=520"
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    cfg = config(r)
    assert cfg["region"] == "450200"
    west, south, east, north = cfg["regionBounds"]
    assert west < 109.41 < east and south < 24.33 < north  # Liuzhou
    assert cfg["kinds"] == ["rest_stop", "legal_aid"]
    assert cfg["services"] == ["drinking_water"]
    assert cfg["lang"] == "en"
    assert cfg["view"] == {"lat": 24.33, "lon": 109.41, "zoom": 11}
    assert cfg["controls"] == ["search", "list"]
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "--yz-embed-height: 520px" in html and "yz-embed--fixed" in html
    assert config(r, "yz-embed-config")["height"] == 520
    # the partial shows only the chosen controls
    assert 'id="yz-search"' in html and 'id="yz-locate"' not in html
    assert 'id="yz-kind"' not in html
    # "open full map" carries the same view and filters to /
    href = unescape(re.search(r'class="yz-embed-full" id="yz-embed-full" href="([^"]+)"', html)[1])
    assert href.startswith("/?")
    for part in ("region=450200", "lat=24.33", "lon=109.41", "zoom=11", "lang=en"):
        assert part in href, href


def test_region_by_name_and_township(client):
    cfg = config(client.get("/embed?region=柳州市"))
    assert cfg["region"] == "450200"
    assert cfg["regionName"] == "柳州市"
    town = next(d for d in default_gazetteer().units if d.level == "township" and d.lon)
    cfg = config(client.get(f"/embed?region={town.code}"))
    assert cfg["region"] == town.code
    w, s, e, n = cfg["regionBounds"]
    assert w < town.lon < e and s < town.lat < n


@pytest.mark.parametrize(
    ("query", "kinds", "services"),
    [
        ("kind=legal_aid&service=drinking_water", ["legal_aid"], ["drinking_water"]),
        ("kind=法律援助服务站&service=饮水", ["legal_aid"], ["drinking_water"]),
        ("kind=律师站，工会爱心驿站", ["legal_aid", "rest_stop"], []),
    ],
)
def test_kind_and_service_accept_codes_and_aliases(client, query, kinds, services):
    r = client.get("/embed?" + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    cfg = config(r)
    assert cfg["kinds"] == kinds and cfg["services"] == services


def test_controls_none_shows_the_map_only(client):
    r = client.get("/embed?controls=none")
    assert r.status_code == 200
    assert config(r)["controls"] == []
    html = r.get_data(as_text=True)
    assert 'id="yz-search"' not in html and 'id="yz-locate"' not in html


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("kind=nosuchkind", "kind"),
        ("service=teleport", "service"),
        ("lang=fr", "lang"),
        ("lat=24.3", "lon"),
        ("lon=109.4", "lat"),
        ("lat=abc&lon=109", "lat"),
        ("lat=95&lon=109", "lat"),
        ("lat=nan&lon=109", "lat"),
        ("lat=24&lon=109&zoom=30", "zoom"),
        ("lat=24&lon=109&zoom=1.5", "zoom"),
        ("zoom=10", "zoom"),
        ("controls=search,teleport", "controls"),
        ("height=50", "height"),
        ("height=tall", "height"),
        ("region=999999", "region"),
        ("region=没有这个地方", "region"),
        ("region=城关镇", "region"),
        ("region=450200&region=450100", "region"),
        ("bbox=1,2,3,4", "bbox"),
    ],
)
def test_bad_parameters_give_a_clear_page(client, query, parameter):
    r = client.get("/embed?" + query)
    assert r.status_code == 400, query
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert f'data-parameter="{parameter}"' in html, html
    assert f"参数 <code>{parameter}</code> 无效" in html
    assert 'id="yz-config"' not in html  # no map on a bad URL
    assert "/embed/builder" in html  # where to make a good one


def test_ambiguous_region_lists_the_candidates(client):
    html = unescape(client.get("/embed?region=城关镇").get_data(as_text=True))
    assert "give the code" in html
    assert re.search(r"城关镇 \d{12}", html)


def test_parameter_text_is_shown_as_text(client):
    evil = "<img src=x onerror=alert(1)>"
    r = client.get("/embed", query_string={"kind": evil})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert evil not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# -- the builder ---------------------------------------------------------------------------


def test_builder_page(client):
    r = client.get("/embed/builder")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert config(r, "yz-builder-config") == {
        "embedUrl": "http://localhost/embed",
        "checkUrl": "/embed/builder/check",
    }
    assert re.search(r"<textarea[^>]*id=\"yz-b-code\"[^>]*readonly", html)
    assert '<iframe id="yz-b-preview"' in html and 'src="/embed"' in html
    for origin in (UNION, "http://127.0.0.1:8123", "https://*.gh.example.cn"):
        assert f"<code>{origin}</code>" in html
    assert "YIZHAN_EMBED_ORIGINS" in html
    for control in DEFAULT_CONTROLS:
        assert re.search(rf'value="{control}"\s+checked', html), control
    assert "/static/js/embed_builder.js" in html


def test_builder_with_empty_allow_list_says_so(db_url):
    app = make_app(db_url, origins="", demo=False)
    try:
        html = app.test_client().get("/embed/builder").get_data(as_text=True)
        assert "列表为空" in html
        # the warning stands before the snippet and says how to fill the list
        warning = html.index('id="yz-b-no-origins"')
        assert warning < html.index('id="yz-b-code"')
        box = html[warning : html.index("</div>", warning)]
        assert "拒绝" in box and "YIZHAN_EMBED_ORIGINS" in box and "README" in box
        # the snippet box and the copy button start disabled (the settings are checked first)
        assert re.search(r'<textarea[^>]*id="yz-b-code"[^>]*disabled', html)
        assert re.search(r'<button[^>]*id="yz-b-copy"[^>]*disabled', html)
    finally:
        support.close_app(app)


def test_builder_with_origins_has_no_refusal_warning(client):
    assert 'id="yz-b-no-origins"' not in client.get("/embed/builder").get_data(as_text=True)


def test_builder_language(client):
    assert '<html lang="zh-CN">' in client.get("/embed/builder").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/embed/builder?lang=en").get_data(as_text=True)
    assert client.get("/embed/builder?lang=xx").status_code == 200


def test_builder_is_in_one_language(client):
    """No English subtitles beside the Chinese labels; kinds and services in the page language;
    every heading, legend and label a catalogue key (embed_builder.js applies ?lang)."""
    zh = client.get("/embed/builder").get_data(as_text=True)
    en = client.get("/embed/builder?lang=en").get_data(as_text=True)
    assert '<span lang="en">' not in zh and "yz-builder-en" not in zh
    assert "Embed the station map" not in zh
    assert "> 工会爱心驿站</label>" in zh and "> 饮水</label>" in zh
    assert "> Drinking water</label>" in en and "饮水</label>" not in en
    for key in (
        "builderHeading",
        "builderRegion",
        "builderKinds",
        "builderServices",
        "builderWidth",
        "builderHeight",
        "builderPreview",
        "builderControl.list",
    ):
        assert f'data-i18n="{key}"' in zh


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("region=450200&kind=rest_stop", {"ok": True}),
        (
            "region=火星市",
            {"ok": False, "parameter": "region", "value": "火星市", "candidates": []},
        ),
        ("height=5", {"ok": False, "parameter": "height", "value": "5", "candidates": []}),
    ],
)
def test_builder_check_answers_like_the_embed(client, query, answer):
    r = client.get("/embed/builder/check?" + query)
    assert r.status_code == 200 and r.get_json() == answer
    assert (client.get("/embed?" + query).status_code == 200) == answer["ok"]


def test_builder_check_lists_the_candidates_of_an_ambiguous_region(client):
    answer = client.get("/embed/builder/check?region=朝阳区").get_json()
    assert answer["ok"] is False and answer["parameter"] == "region"
    codes = {c["code"] for c in answer["candidates"]}
    assert {"110105", "220104"} <= codes


# -- compression (the embed's weight) ------------------------------------------------------


def test_text_assets_are_gzipped_when_accepted(client):
    path = STATIC.parents[1] / "geo" / "assets" / "leaflet" / "leaflet.js"  # geo.assets
    raw = path.read_bytes()
    r = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip, br"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["Vary"]
    body = r.get_data()
    assert gzip.decompress(body) == raw
    assert len(body) < len(raw) / 2
    assert int(r.headers["Content-Length"]) == len(body)
    etag = r.headers["ETag"]
    assert etag.startswith('W/"')
    r.close()
    # revalidation with the weak ETag still gets a 304
    again = client.get(
        "/static/vendor/leaflet/leaflet.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": etag},
    )
    assert again.status_code == 304
    again.close()

    plain = client.get("/static/vendor/leaflet/leaflet.js")
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data() == raw
    plain.close()

    page = client.get("/embed", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b'id="yz-config"' in gzip.decompress(page.get_data())


def test_small_and_binary_responses_are_not_gzipped(client):
    r = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in r.headers  # smaller than the threshold
    r = client.get(
        "/static/vendor/leaflet/images/marker-icon.png", headers={"Accept-Encoding": "gzip"}
    )
    assert "Content-Encoding" not in r.headers
    r.close()
    r = client.get("/api/stations", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in r.headers


def test_bad_value_is_carried_as_data_never_as_markup(client):
    evil = '"><img src=x onerror=alert(1)>'
    r = client.get("/embed", query_string={"region": evil})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and evil not in html
    value = re.search(r'data-value="([^"]*)"', html).group(1)
    assert unescape(value) == evil
    candidates = re.search(r'data-candidates="([^"]*)"', html).group(1)
    assert json.loads(unescape(candidates)) == []
    answer = client.get("/embed/builder/check", query_string={"region": evil})
    assert answer.mimetype == "application/json" and answer.get_json()["value"] == evil
