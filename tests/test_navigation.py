"""Navigation deep links: each provider's coordinate system and lat/lon order, names encoded."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import pytest

from geo.crs import bd09_to_wgs84, distance_m, gcj02_to_wgs84, wgs84_to_gcj02
from geo.navigation import amap_url, baidu_url, navigation_links, tencent_url

# (name, WGS-84 lon, lat): the project's places (DESIGN §3 measured offsets there)
PLACES = [
    ("柳州", 109.4155, 24.3255),
    ("百色", 106.6183, 23.9020),
    ("定边", 107.6012, 37.5940),
]
NASTY = '驿站 & <b>"A"</b>;title:x#?=%+'


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


@pytest.mark.parametrize("place, lon, lat", PLACES)
def test_amap_is_wgs84_lon_first(place, lon, lat):
    url = amap_url(lon, lat, place)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/marker")
    q = dict(_query(url))
    assert q["coordinate"] == "wgs84"
    x, y = (float(v) for v in q["position"].split(","))
    assert x > y, "Amap wants lon,lat (longitude first)"
    assert distance_m(x, y, lon, lat) < 1.0
    assert q["name"] == place
    assert q["callnative"] == "1"


@pytest.mark.parametrize("place, lon, lat", PLACES)
def test_baidu_is_bd09_lat_first(place, lon, lat):
    url = baidu_url(lon, lat, place)
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("api.map.baidu.com", "/marker")
    q = dict(_query(url))
    assert q["coord_type"] == "bd09ll"
    assert q["output"] == "html" and q["src"] and q["title"] == place and q["content"]
    first, second = (float(v) for v in q["location"].split(","))
    assert first < second, "Baidu wants lat,lng (latitude first)"
    # the coordinate is really BD-09: sent as is it would be ~1 km off; converted back, exact
    assert distance_m(second, first, lon, lat) > 300
    wlon, wlat = bd09_to_wgs84(second, first)
    assert distance_m(wlon, wlat, lon, lat) < 1.0


@pytest.mark.parametrize("place, lon, lat", PLACES)
def test_tencent_is_gcj02_lat_first(place, lon, lat):
    url = tencent_url(lon, lat, place, "某路 1 号")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("apis.map.qq.com", "/uri/v1/marker")
    q = parse_qs(parts.query)
    assert q["referer"] == ["webapp.yizhan.locator"]
    fields = dict(f.split(":", 1) for f in q["marker"][0].split(";"))
    assert fields["title"] == place and fields["addr"] == "某路 1 号"
    first, second = (float(v) for v in fields["coord"].split(","))
    assert first < second, "Tencent wants lat,lng (latitude first)"
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert distance_m(second, first, glon, glat) < 1.0
    assert distance_m(second, first, lon, lat) > 300, "GCJ-02, not WGS-84"
    wlon, wlat = gcj02_to_wgs84(second, first)
    assert distance_m(wlon, wlat, lon, lat) < 1.0


def test_parameter_order_is_stable():
    lon, lat = PLACES[0][1:]
    assert [k for k, _ in _query(amap_url(lon, lat, "a"))] == [
        "position",
        "name",
        "src",
        "coordinate",
        "callnative",
    ]
    assert [k for k, _ in _query(baidu_url(lon, lat, "a"))] == [
        "location",
        "title",
        "content",
        "coord_type",
        "output",
        "src",
    ]
    assert [k for k, _ in _query(tencent_url(lon, lat, "a"))] == ["marker", "referer"]


def test_names_are_url_encoded_and_cannot_break_out():
    lon, lat = PLACES[0][1:]
    links = navigation_links(lon, lat, NASTY, address="地址;addr:evil")
    assert [link.provider for link in links] == ["amap", "baidu", "tencent"]
    for link in links:
        raw_query = urlsplit(link.url).query
        for ch in '<>"# ':
            assert ch not in raw_query, (link.provider, ch)
    amap = dict(_query(links[0].url))
    assert amap["name"] == NASTY and amap["coordinate"] == "wgs84"
    baidu = dict(_query(links[1].url))
    assert baidu["title"] == NASTY and baidu["content"] == "地址;addr:evil"
    # Tencent: ';' and ':' separate the marker's fields, so they are replaced in the text
    marker = unquote(parse_qs(urlsplit(links[2].url).query)["marker"][0])
    fields = marker.split(";")
    assert [f.split(":", 1)[0] for f in fields] == ["coord", "title", "addr"]
    assert "<b>" in fields[1] and "#?=%+" in fields[1]


def test_outside_china_is_not_shifted():
    lon, lat = 2.3522, 48.8566  # Paris: no GCJ-02/BD-09 offsets apply
    q = dict(_query(baidu_url(lon, lat, "Paris")))
    first, second = (float(v) for v in q["location"].split(","))
    assert distance_m(second, first, lon, lat) < 1.0


def test_empty_name_gets_a_placeholder():
    assert dict(_query(amap_url(109.4, 24.3, "")))["name"] == ""
    links = navigation_links(109.4, 24.3, "  ")
    assert dict(_query(links[0].url))["name"] == "站点"
