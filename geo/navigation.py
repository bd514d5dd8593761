"""Navigation deep links: open a station in Amap, Baidu Maps or Tencent Maps (web or app).

Each provider's URI API wants its own coordinate system and its own lat/lon order; getting
either wrong puts the pin 500 m off (GCJ-02/BD-09 offsets in China) or in the ocean (swapped
order). Stations are stored in WGS-84 (DESIGN §3); this module converts per provider with
:mod:`geo.crs`. The links are web URLs: on a phone with the app installed they open the app,
otherwise the provider's mobile web map.

Amap (高德) — URI API "标注" ``https://uri.amap.com/marker``
    (lbs.amap.com/api/uri-api/guide/mobile-web/point). ``position=lon,lat`` (**longitude
    first**), ``name``, ``src``, ``coordinate=gaode|wgs84`` (default ``gaode`` = GCJ-02;
    ``wgs84`` = GPS coordinates), ``callnative=1`` tries the app. Amap accepts WGS-84
    explicitly, so the stored coordinate is sent unchanged with ``coordinate=wgs84``.
Baidu (百度) — URI API web "标注" ``https://api.map.baidu.com/marker``
    (lbsyun.baidu.com/index.php?title=uri/api/web). ``location=lat,lng`` (**latitude
    first**), ``title`` and ``content`` (required), ``output=html`` (required on the web),
    ``src`` (required: ``webapp.companyName.appName``), ``coord_type`` (default BD-09;
    ``bd09ll``, ``bd09mc``, ``gcj02``, ``wgs84``). Users report that the mobile pages ignore
    ``coord_type=wgs84``, so the coordinate is converted to BD-09 here and sent with
    ``coord_type=bd09ll``, which is Baidu's own system and its default.
Tencent (腾讯) — URI API v1 "标注" ``https://apis.map.qq.com/uri/v1/marker``
    (lbs.qq.com/webApi/uriV1/uriGuide/uriWebMarker). ``marker=coord:lat,lng;title:…;addr:…``
    (**latitude first**, in GCJ-02, Tencent's system), ``referer`` (required: the calling
    application's name or key). The whole ``marker`` value is URL-encoded, names included.

Every name is URL-encoded (``urllib.parse.quote``, UTF-8), so station text can never break
out of its parameter. Coordinates carry 6 decimals (about 0.1 m).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02

__all__ = ["SRC", "NavLink", "amap_url", "baidu_url", "navigation_links", "tencent_url"]

#: The ``src``/``referer`` the providers ask callers to identify themselves with.
SRC = "webapp.yizhan.locator"

_PROVIDERS = ("amap", "baidu", "tencent")


@dataclass(frozen=True)
class NavLink:
    """A deep link for one provider: its id, labels and URL."""

    provider: str
    label_zh: str
    label_en: str
    url: str


def _q(value: str) -> str:
    return quote(value, safe="")


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def amap_url(lon: float, lat: float, name: str, src: str = SRC) -> str:
    """Amap marker link: ``position=lon,lat`` in WGS-84 with ``coordinate=wgs84``."""
    params = [
        ("position", f"{_fmt(lon)},{_fmt(lat)}"),
        ("name", name),
        ("src", src),
        ("coordinate", "wgs84"),
        ("callnative", "1"),
    ]
    return "https://uri.amap.com/marker?" + urlencode(params, quote_via=quote, safe=",")


def baidu_url(lon: float, lat: float, name: str, address: str = "", src: str = SRC) -> str:
    """Baidu marker link: ``location=lat,lng`` in BD-09 with ``coord_type=bd09ll``."""
    blon, blat = wgs84_to_bd09(lon, lat)
    params = [
        ("location", f"{_fmt(blat)},{_fmt(blon)}"),
        ("title", name),
        ("content", address or name),
        ("coord_type", "bd09ll"),
        ("output", "html"),
        ("src", src),
    ]
    return "https://api.map.baidu.com/marker?" + urlencode(params, quote_via=quote, safe=",")


def tencent_url(lon: float, lat: float, name: str, address: str = "", src: str = SRC) -> str:
    """Tencent marker link: ``marker=coord:lat,lng;title:…;addr:…`` in GCJ-02."""
    glon, glat = wgs84_to_gcj02(lon, lat)
    # ';' and ':' delimit the marker's fields: strip them from the free text first.
    clean = str.maketrans({";": "，", ":": "：", "；": "，"})
    marker = (
        f"coord:{_fmt(glat)},{_fmt(glon)};title:{name.translate(clean)};"
        f"addr:{(address or '').translate(clean)}"
    )
    return f"https://apis.map.qq.com/uri/v1/marker?marker={_q(marker)}&referer={_q(src)}"


def navigation_links(
    lon: float, lat: float, name: str, address: str = "", src: str = SRC
) -> list[NavLink]:
    """Amap, Baidu and Tencent links for a station at WGS-84 ``lon``/``lat``, in that order.

    Parameters
    ----------
    lon, lat
        The station's WGS-84 position (degrees).
    name
        Its display name (any text; URL-encoded).
    address
        Shown by Baidu (``content``) and Tencent (``addr``); defaults to the name / empty.
    src
        How the links identify the caller (``src`` / ``referer``).
    """
    name = (name or "").strip() or "站点"
    return [
        NavLink("amap", "高德地图", "Amap", amap_url(lon, lat, name, src)),
        NavLink("baidu", "百度地图", "Baidu Maps", baidu_url(lon, lat, name, address, src)),
        NavLink("tencent", "腾讯地图", "Tencent Maps", tencent_url(lon, lat, name, address, src)),
    ]
