"""Server side of the public pages: locator config, station page, basemaps and the CSP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from geo.crs import _CHINA_OUTLINE
from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer
from geo.models import Station
from geo.navigation import navigation_links
from support import close_app
from webapp import create_app
from webapp.public import basemap_layers, hours_summary, tile_origins
from webapp.services import services
from webapp.settings import WebSettings

ROOT = Path(__file__).resolve().parent.parent
XSS = "<img src=x onerror=alert(1)>"

# the pages that read stations (``app``/``client`` of tests/conftest.py) run on SQLite and on
# PostgreSQL
pytestmark = pytest.mark.both_backends


def _station(**kw) -> Station:
    base = dict(
        id="t-1",
        name="柳北区测试驿站",
        kind="rest_stop",
        lon=109.4155,
        lat=24.3255,
        services=("drinking_water", "toilet"),
        address="柳州市柳北区雅儒路 1 号",
        hours="每天 08:00-19:00",
        phone="0772-1234567",
        union="柳州市总工会",
        precision="street",
        demo=True,
        updated_at=datetime(2026, 3, 1, 4, 0, tzinfo=UTC),
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture
def seeded(app):
    repo = services(app).repo
    repo.save([_station(), _station(id="t-xss", name=XSS, lon=109.42, lat=24.33, phone=None)])
    return app


def _config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="yz-config">(.*?)</script>', html, re.S)
    assert m, "no #yz-config"
    return json.loads(m.group(1))


# -- basemaps and the CSP -----------------------------------------------------------------


def test_default_basemap_is_offline_and_csp_allows_no_tile_origin(client):
    layers = basemap_layers(WebSettings.from_env({}))
    assert [layer["id"] for layer in layers] == ["offline"]
    assert tile_origins(WebSettings.from_env({})) == []
    csp = client.get("/").headers["Content-Security-Policy"]
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img == "img-src 'self' data:"


def test_configured_basemaps_and_exact_csp_origins(db_url):
    settings = WebSettings.from_env(
        {},
        database_url=db_url,
        basemaps="osm,tianditu,amap,offline",
        tianditu_key="KEY&x",
        map_approval="GS(2024)0000号",
        icp="桂ICP备00000000号",
    )
    layers = basemap_layers(settings)
    assert [layer["id"] for layer in layers] == ["osm", "tianditu", "amap", "offline"]
    amap = layers[2]
    assert amap["crs"] == "gcj02" and "style=8" in amap["url"]
    tdt = layers[1]
    assert "/vec_w/wmts?" in tdt["url"] and "/cva_w/wmts?" in tdt["overlay_url"]
    assert "tk=KEY%26x" in tdt["url"] and "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in tdt["url"]
    origins = tile_origins(settings)
    assert origins == sorted(
        ["https://tile.openstreetmap.org"]
        + [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
        + [f"https://webrd0{i}.is.autonavi.com" for i in range(1, 5)]
    )
    app = create_app({"SETTINGS": settings, "TESTING": True})
    resp = app.test_client().get("/")
    img = next(
        d for d in resp.headers["Content-Security-Policy"].split("; ") if d.startswith("img-src")
    )
    assert img.split()[1:] == ["'self'", "data:", *origins]
    html = resp.get_data(as_text=True)
    cfg = _config(html)
    assert cfg["basemap"] == "osm" and cfg["approval"] == "GS(2024)0000号"
    assert "GS(2024)0000号" in html and "桂ICP备00000000号" in html
    assert 'href="https://beian.miit.gov.cn/"' in html
    close_app(app)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"basemaps": "osm,bing"}, "unknown basemap"),
        ({"basemaps": "tianditu"}, "YIZHAN_TIANDITU_KEY"),
        ({"basemaps": "custom", "tile_url": ""}, "YIZHAN_TILE_URL"),
    ],
)
def test_bad_basemap_configuration_is_a_clear_error(env, message):
    with pytest.raises(ValidationError, match=message):
        basemap_layers(WebSettings.from_env({}, **env))


# -- the locator page ----------------------------------------------------------------------


def test_locator_page_config_defaults(seeded):
    html = seeded.test_client().get("/").get_data(as_text=True)
    cfg = _config(html)
    assert cfg["lang"] == "zh" and cfg["embed"] is False and cfg["scrollWheelZoom"] is True
    assert cfg["controls"] == ["search", "locate", "filters", "list", "lang", "basemaps"]
    assert cfg["demo"] is True and cfg["stationCount"] == 2
    assert cfg["apiBase"] == "/api" and cfg["stationUrl"] == "/stations/__ID__"
    assert '<html lang="zh-CN">' in html
    for element in (
        "yz-q",
        "yz-locate",
        "yz-kind",
        "yz-mode",
        "yz-open-now",
        "yz-results",
        "yz-lang",
    ):
        assert f'id="{element}"' in html, element


def test_locator_share_parameters_are_restored_and_bad_ones_ignored(seeded):
    client = seeded.test_client()
    resp = client.get(
        "/?lang=en&kind=legal_aid,nonsense&service=toilet&open_now=1&mode=car"
        "&lat=24.3&lon=109.4&zoom=13&station=t-1&region=450200"
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    cfg = _config(html)
    assert '<html lang="en">' in html
    assert cfg["lang"] == "en" and cfg["kinds"] == ["legal_aid"] and cfg["services"] == ["toilet"]
    assert cfg["openNow"] is True and cfg["mode"] == "car" and cfg["station"] == "t-1"
    assert cfg["view"] == {"lat": 24.3, "lon": 109.4, "zoom": 13.0}
    # Liuzhou (450200) from the bundled outlines
    w, s, e, n = cfg["regionBounds"]
    assert 108.5 < w < 109.5 < e < 110.5 and 23.5 < s < 24.5 < n < 26.5
    bad = client.get("/?lat=abc&lon=999&zoom=x&lang=fr&mode=boat&region=12&kind=%3Cb%3E")
    assert bad.status_code == 200
    cfg = _config(bad.get_data(as_text=True))
    assert cfg["view"] is None and cfg["lang"] == "zh" and cfg["mode"] == "ebike"  # the default
    assert cfg["region"] is None and cfg["kinds"] == []


def test_region_unknown_code_is_dropped(seeded):
    # geo.regions resolves the region: an unknown code is a bad value, dropped on the page.
    cfg = _config(seeded.test_client().get("/?region=990000").get_data(as_text=True))
    assert cfg["region"] is None and cfg["regionBounds"] is None


def test_region_by_name_and_township_like_the_embed(seeded):
    client = seeded.test_client()
    cfg = _config(client.get("/?region=柳州市").get_data(as_text=True))
    assert cfg["region"] == "450200" and cfg["regionName"] == "柳州市"
    w, s, e, n = cfg["regionBounds"]
    assert 108.5 < w < 109.5 < e < 110.5 and 23.5 < s < 24.5 < n < 26.5
    town = next(d for d in default_gazetteer().units if d.level == "township" and d.lon)
    cfg = _config(client.get(f"/?region={town.code}").get_data(as_text=True))
    assert cfg["region"] == town.code
    w, s, e, n = cfg["regionBounds"]
    assert w < town.lon < e and s < town.lat < n
    # an ambiguous name is dropped (the page never guesses)
    assert _config(client.get("/?region=城关镇").get_data(as_text=True))["region"] is None


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("kind=legal_aid", ["legal_aid"]),
        ("kind=法律援助服务站", ["legal_aid"]),
        ("kind=律师站,工会爱心驿站", ["legal_aid", "rest_stop"]),
        ("kind=法律援助服务站&kind=legal_aid", ["legal_aid"]),
        ("kind=律师站，nonsense", ["legal_aid"]),
    ],
)
def test_locator_kind_accepts_codes_and_aliases(seeded, query, kinds):
    # The locator used to drop /?kind=法律援助服务站 while the embed and the API took it.
    cfg = _config(seeded.test_client().get("/?" + query).get_data(as_text=True))
    assert cfg["kinds"] == kinds


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("service=toilet&mode=car", (["toilet"], "car")),
        ("service=如厕&mode=驾车", (["toilet"], "car")),
        ("mode=电动车", ([], "ebike")),
    ],
)
def test_locator_services_and_modes_accept_aliases(seeded, query, expected):
    cfg = _config(seeded.test_client().get("/?" + query).get_data(as_text=True))
    assert (cfg["services"], cfg["mode"]) == expected


# -- the station page ----------------------------------------------------------------------


def test_station_page_shows_everything_a_worker_needs(seeded):
    resp = seeded.test_client().get("/stations/t-1")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<title>【演示数据】柳北区测试驿站 · 工会爱心驿站 · 驿站</title>" in html
    desc = re.search(r'<meta name="description" content="([^"]*)">', html).group(1)
    assert "柳北区测试驿站" in unescape(desc) and "每天 08:00-19:00" in unescape(desc)
    assert 'href="tel:07721234567"' in html and "0772-1234567" in html
    assert "饮水" in html and "如厕" in html and "柳州市总工会" in html
    assert "2026-03-01" in html and "街道级" in html and "演示数据" in html
    for link in navigation_links(109.4155, 24.3255, "柳北区测试驿站", "柳州市柳北区雅儒路 1 号"):
        assert f'href="{link.url.replace("&", "&amp;")}"' in html, link.provider
    back = re.search(r'id="yz-back" href="([^"]*)"', html).group(1)
    assert unescape(back).startswith("/?lat=24.325500&lon=109.415500&zoom=15&station=t-1")
    assert re.search(r'id="yz-open-state"[^>]*>\s*现在(未)?开放', html)


def _visible_text(html: str) -> str:
    body = html.split("<body", 1)[1]
    body = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def test_station_page_has_no_jargon_and_navigation_comes_first(seeded):
    html = seeded.test_client().get("/stations/t-1").get_data(as_text=True)
    text = _visible_text(html)
    for word in ("GeoJSON", "BD-09", "GCJ-02", "WGS-84", "API"):
        assert word not in text, word
    # the data link stays, plainly labelled, in the footer
    assert re.search(r'<footer[^>]*>\s*<a [^>]*href="/api/stations/t-1"[^>]*>数据下载</a>', html)
    assert html.index('id="yz-navlinks"') < html.index('class="yz-station-facts"')
    assert 'id="yz-status-warning"' not in html


def test_station_page_in_english(seeded):
    html = seeded.test_client().get("/stations/t-1?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<title>[Demo] 柳北区测试驿站 · Rest stop for outdoor workers · Yizhan</title>" in html
    services_html = re.search(r'id="yz-station-services">(.*?)</ul>', html, re.S).group(1)
    assert "Drinking water" in services_html and "饮水" not in services_html
    assert ">Amap<" in html and ">Baidu Maps<" in html and "高德地图<" not in html
    back = unescape(re.search(r'id="yz-back" href="([^"]*)"', html).group(1))
    assert "lang=en" in back
    # the station's own Chinese text is marked as data (a name, not translated) in Chinese
    assert '<dd id="yz-union" translate="no" lang="zh-CN">柳州市总工会</dd>' in html
    assert re.search(r'<h1 class="yz-station-name" id="yz-station-name" translate="no"', html)
    # a bad language is ignored, not an error
    assert seeded.test_client().get("/stations/t-1?lang=xx").status_code == 200


@pytest.mark.parametrize(
    ("status", "word"), [("closed", "此站点已关闭"), ("planned", "此站点筹建中")]
)
def test_inactive_station_warns_before_navigation(app, status, word):
    services(app).repo.save([_station(id="t-off", status=status)])
    html = app.test_client().get("/stations/t-off").get_data(as_text=True)
    warning = html.index('id="yz-status-warning"')
    assert word in html[warning : warning + 300]
    assert warning < html.index('id="yz-navlinks"')
    assert 'class="yz-navlinks yz-navlinks--inactive"' in html
    assert html.count('aria-describedby="yz-status-warning"') == 3


def test_station_page_404_is_a_friendly_page(seeded):
    resp = seeded.test_client().get("/stations/does-not-exist")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert "页面不存在" in html and "does-not-exist" in html and 'href="/"' in html
    api = seeded.test_client().get("/api/stations/does-not-exist")
    assert api.status_code == 404 and api.is_json


# -- the JSON twin rule (webapp.errors.wants_json) ----------------------------------------


@pytest.mark.parametrize(
    "ask", [{"query_string": {"format": "json"}}, {"headers": {"Accept": "application/json"}}]
)
def test_pages_have_json_twins(seeded, ask):
    client = seeded.test_client()
    station = client.get("/stations/t-1", **ask)
    assert station.status_code == 200 and station.mimetype == "application/geo+json"
    doc = station.get_json()
    assert doc["id"] == "t-1" and doc["type"] == "Feature"
    assert doc["properties"] == client.get("/api/stations/t-1").get_json()["properties"]
    assert {"open", "text_zh", "text_en"} <= set(doc["hours_summary"])
    assert doc["navigation"]
    missing = client.get("/stations/does-not-exist", **ask)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    query = {**ask.get("query_string", {}), "kind": "法律援助服务站"}
    locator = client.get("/", query_string=query, headers=ask.get("headers"))
    assert locator.is_json and locator.get_json()["kinds"] == ["legal_aid"]


def test_browsers_get_html(seeded):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    resp = seeded.test_client().get("/stations/t-1", headers={"Accept": accept})
    assert resp.mimetype == "text/html"


def test_station_text_with_markup_is_escaped(seeded):
    html = seeded.test_client().get("/stations/t-xss").get_data(as_text=True)
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    "hours, at, open_, zh",
    [
        (
            "每天 08:00-19:00",
            datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
            True,
            "现在开放 · 19:00 关闭",
        ),
        (
            "每天 08:00-19:00",
            datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            False,
            "现在未开放 · 明天 08:00 开放",
        ),
        (
            "每天 08:00-19:00",
            datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
            False,
            "现在未开放 · 08:00 开放",
        ),
        (
            "周一至周五 09:00-17:00",
            datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
            False,
            "现在未开放 · 周一 09:00 开放",
        ),
        ("24小时", datetime(2026, 11, 23, 2, 0, tzinfo=UTC), True, "现在开放 · 24 小时"),
        ("", datetime(2026, 11, 23, 2, 0, tzinfo=UTC), None, "开放时间未知"),
    ],
)
def test_hours_summary(hours, at, open_, zh):
    summary = hours_summary(_station(hours=hours), at)
    assert summary["open"] is open_ and summary["text_zh"] == zh
    assert summary["text_en"]


def test_closed_station_is_never_open():
    summary = hours_summary(_station(status="closed"), datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    assert summary == {"open": False, "text_zh": "已关闭", "text_en": "Closed"}


def test_crs_js_uses_the_same_outline_as_geo_crs():
    js = (ROOT / "webapp/static/js/crs.js").read_text(encoding="utf-8")
    m = re.search(r"var OUTLINE =\n(.*?);\n", js, re.S)
    text = "".join(re.findall(r"'([^']*)'", m.group(1)))
    assert " ".join(text.split()) == " ".join(_CHINA_OUTLINE.split())


def test_favicon_is_served_with_a_long_cache(app):
    """Browsers ask for /favicon.ico on a site's first page; a 404 there is a console error."""
    resp = app.test_client().get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert resp.cache_control.max_age >= 7 * 24 * 3600
    html = app.test_client().get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico">' in html and 'href="data:,"' not in html
