"""Amap (高德) Web Service geocoding: ``/v3/geocode/geo`` and reverse ``/v3/geocode/regeo``.

What this module relies on (read for this implementation; the request and answer shapes
below are exactly those documented):

* Amap, "地理/逆地理编码" Web Service guide, https://lbs.amap.com/api/webservice/guide/api/georegeo
  (mirrored with the full tables at https://apifox.com/apidoc/project-759159/api-14546468 and
  ``api-14551463``): ``GET {base}/v3/geocode/geo`` with ``key`` (Web-service key), ``address``
  (structured address), optional ``city`` (Chinese name, pinyin, citycode or adcode; county-
  level cities are not supported), ``output=JSON``; answer ``status`` ("1" success, "0"
  failure), ``info`` ("OK" or the error), ``infocode``, ``count``, ``geocodes[]`` with
  ``formatted_address``, ``country``, ``province``, ``city``, ``citycode``, ``district``,
  ``township``, ``street``, ``number``, ``adcode``, ``location`` ("lon,lat", Amap coordinates
  = **GCJ-02**) and ``level`` (the match level). Reverse: ``GET {base}/v3/geocode/regeo``
  with ``location`` ("lon,lat", GCJ-02, at most 6 decimals), ``extensions=base``; answer
  ``regeocode.formatted_address`` and ``regeocode.addressComponent`` (``province``, ``city``,
  ``district``, ``adcode``, ``township``, ``towncode``, ``streetNumber``).
* Amap, "地理编码接口优化公告" (2023-12-07), https://lbs.amap.com/news/geocoder_api: the
  current list of levels: 国家, 省, 市, 区县, 开发区, 乡镇, 村庄, 热点商圈, 道路, 道路交叉路口,
  兴趣点, 门牌号, 单元号, 楼层 (reserved), 房间 (reserved), 公交地铁站点, 门址, 小巷 (reserved),
  住宅区, 未知 ("未确认级别的POI"). The older guide names the station level "公交站台、地铁站".
* Amap, "错误码说明", https://lbs.amap.com/api/webservice/guide/tools/info (rows 10000-10015
  read there; the rest of the table, 10016-10045, 20000-20012 and 3xxxx, read from several
  independent transcriptions of the same page, which agree).

Not confirmed by the documentation, and how it is handled:

* Empty fields: real answers carry ``[]`` instead of ``""`` for empty text fields
  (``"township":[]``, ``"city":[]``); every field is read with :func:`text_field`.
* "No result": an answer ``status="1"`` with ``count="0"`` and ``geocodes=[]`` (observed in
  public client tests; the guide does not show it) → :class:`GeocodeNotFound`.
* ``30001 ENGINE_RESPONSE_DATA_ERROR`` is reported (not documented) for input the engine
  cannot parse; it is a non-retryable :class:`ProviderError` (retrying the same text would
  fail again and spend quota; the chain falls back to the next provider).
* Amap gives no match score: ``confidence`` is the documented mapping
  :data:`LEVEL_CONFIDENCE` of the level.

Mapping (:data:`LEVEL_PRECISION`): 门牌号/门址/兴趣点/单元号/楼层/房间/住宅区/公交地铁站点 →
``exact``; 道路/道路交叉路口/小巷/热点商圈 → ``street``; 村庄 → ``village``; 乡镇 →
``township``; 区县/开发区 → ``county``; 市 → ``prefecture``; 省/国家 → :class:`GeocodeNotFound`
(too coarse); 未知 and levels not in the list → ``unknown``.

Codes: ``adcode`` (GB/T 2260, 6 digits) gives ``province_code`` (``XX0000``), and
``prefecture_code`` (``XXXX00``) except for the municipalities (11, 12, 31, 50) and the
county-level units directly under a province (``XX90XX``), which have none (as in
``data/gazetteer``); ``county_code`` is the adcode when it is a county (does not end in
``00``). Names: ``province``, ``prefecture`` (``city``, when it differs from the province),
``county`` (``district``), ``township``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

import requests

from geo.crs import gcj02_to_wgs84, in_china, wgs84_to_gcj02
from geo.errors import GeocodeNotFound, ProviderError
from geo.geocode._http import (
    HttpClient,
    Retry,
    ServiceGeocoder,
    check_lon_lat,
    next_midnight,
    parse_float,
    text_field,
)
from geo.geocode.base import GeocodeResult
from geo.models import Precision

LOGGER = logging.getLogger(__name__)

__all__ = ["LEVEL_CONFIDENCE", "LEVEL_PRECISION", "AmapGeocoder", "admin_codes"]

#: Amap ``level`` → precision. ``None``: too coarse to be a position (GeocodeNotFound).
LEVEL_PRECISION: dict[str, Precision | None] = {
    "门牌号": Precision.EXACT,
    "门址": Precision.EXACT,
    "兴趣点": Precision.EXACT,
    "单元号": Precision.EXACT,
    "楼层": Precision.EXACT,
    "房间": Precision.EXACT,
    "住宅区": Precision.EXACT,
    "公交地铁站点": Precision.EXACT,
    "公交站台、地铁站": Precision.EXACT,
    "道路": Precision.STREET,
    "道路交叉路口": Precision.STREET,
    "小巷": Precision.STREET,
    "热点商圈": Precision.STREET,
    "村庄": Precision.VILLAGE,
    "乡镇": Precision.TOWNSHIP,
    "区县": Precision.COUNTY,
    "开发区": Precision.COUNTY,
    "市": Precision.PREFECTURE,
    "省": None,
    "国家": None,
    "未知": Precision.UNKNOWN,
}

#: Confidence by precision (Amap gives no score). A door number or a named POI is usually
#: right to within tens of metres; a road or business area only says which street; admin
#: levels give the unit's representative point.
LEVEL_CONFIDENCE: dict[Precision, float] = {
    Precision.EXACT: 0.9,
    Precision.STREET: 0.7,
    Precision.VILLAGE: 0.6,
    Precision.TOWNSHIP: 0.5,
    Precision.COUNTY: 0.4,
    Precision.PREFECTURE: 0.2,
    Precision.UNKNOWN: 0.3,
}

# infocode → (what it means, kind). Kinds: "key" (the key/account cannot be used: stop),
# "quota" (daily quota: stop until 00:00 China time), "throttle"/"busy" (retry with backoff),
# "input" (the request/text was refused: not retryable), "engine" (engine failure: retry),
# "nodata" (see the module docstring: not retryable).
_INFOCODES: dict[str, tuple[str, str]] = {
    "10001": ("the key is wrong or has expired", "key"),
    "10002": ("the key may not use this service (or the URL path is wrong)", "key"),
    "10003": ("the daily quota of the key is used up", "quota"),
    "10004": ("too many requests per minute", "throttle"),
    "10005": ("the server's IP is not on the key's whitelist", "key"),
    "10006": ("the domain bound to the key is invalid", "key"),
    "10007": ("the digital signature was rejected", "key"),
    "10008": ("the MD5 security code was rejected", "key"),
    "10009": ("the key belongs to another platform (a Web-service key is needed)", "key"),
    "10010": ("too many requests from this IP (blocked until Amap support lifts it)", "key"),
    "10011": ("the service does not accept HTTPS for this key", "key"),
    "10012": ("insufficient privileges", "key"),
    "10013": ("the key was deleted", "key"),
    "10014": ("QPS limit exceeded", "throttle"),
    "10015": ("single-machine QPS limit exceeded", "throttle"),
    "10016": ("the server is overloaded", "busy"),
    "10017": ("the requested resource is unavailable", "busy"),
    "10019": ("the service's total QPS limit was exceeded", "throttle"),
    "10020": ("the key's QPS limit for this service was exceeded", "throttle"),
    "10021": ("the account's QPS limit for this service was exceeded", "throttle"),
    "10026": ("the account is blocked", "key"),
    "10029": ("the key's daily quota for abroad queries is used up", "quota"),
    "10041": ("the key's permission for this interface has expired", "key"),
    "10044": ("the account's daily quota is used up", "quota"),
    "10045": ("the account's daily quota for abroad queries is used up", "quota"),
    "20000": ("invalid request parameters", "input"),
    "20001": ("a required parameter is missing", "input"),
    "20002": ("illegal request protocol", "input"),
    "20003": ("unknown error", "input"),
    "20011": ("the position is abroad and the key has no abroad permission", "input"),
    "20012": ("the query contains illegal content", "input"),
    "30000": ("the engine answered an error", "engine"),
    "30001": ("the engine could not process the address", "nodata"),
    "30002": ("the engine connection timed out", "engine"),
    "30003": ("the engine timed out", "engine"),
}

_MUNICIPALITIES = {"11", "12", "31", "50"}


def admin_codes(adcode: str) -> dict[str, str]:
    """Province, prefecture and county codes derived from a 6-digit ``adcode``.

    Returns ``{}`` for anything that is not 6 digits. See the module docstring for the rules.
    """
    adcode = adcode.strip()
    if len(adcode) != 6 or not adcode.isdigit() or adcode.startswith("00"):
        return {}
    codes = {"province_code": adcode[:2] + "0000"}
    if adcode.endswith("0000"):
        return codes
    if adcode[:2] not in _MUNICIPALITIES and adcode[2:4] != "90":
        codes["prefecture_code"] = adcode[:4] + "00"
    if not adcode.endswith("00"):
        codes["county_code"] = adcode
    return codes


class AmapGeocoder(ServiceGeocoder):
    """Geocoder backed by the Amap Web Service API (GCJ-02 converted to WGS-84).

    Parameters
    ----------
    key
        Amap Web-service key (never logged).
    base_url
        Service root; a test or a proxy may replace it.
    timeout_s, retries, min_interval_s
        Per-attempt timeout, retries after the first attempt, smallest interval between
        requests (Amap limits queries per second per key and per account).
    user_agent
        User-Agent header (default ``Yizhan/<version>``).
    session
        A ``requests.Session`` to use.
    cache
        Optional :class:`~geo.geocode.cache.GeocodeCache`.
    sleep, clock, rng
        Injectable for tests (see :class:`~geo.geocode._http.HttpClient`).
    """

    name = "amap"

    def __init__(
        self,
        key: str,
        base_url: str = "https://restapi.amap.com",
        timeout_s: float = 5.0,
        retries: int = 2,
        min_interval_s: float = 0.05,
        user_agent: str | None = None,
        session: requests.Session | None = None,
        *,
        cache=None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not key or not str(key).strip():
            raise ValueError("an Amap Web-service key is required")
        self._key = str(key).strip()
        self.base_url = base_url.rstrip("/")
        super().__init__(
            HttpClient(
                self.name,
                user_agent=user_agent,
                timeout_s=timeout_s,
                retries=retries,
                min_interval_s=min_interval_s,
                session=session,
                sleep=sleep,
                clock=clock,
                rng=rng,
            ),
            cache=cache,
        )

    def __repr__(self) -> str:
        return f"AmapGeocoder(base_url={self.base_url!r})"

    # -- answer checks -------------------------------------------------------------------------
    def _check(self, data: dict) -> None:
        status = text_field(data.get("status"))
        if status == "1":
            return
        info = text_field(data.get("info")) or "no info"
        code = text_field(data.get("infocode"))
        if status != "0":
            raise ProviderError(
                f"amap: answered an unknown status {status!r} ({info})",
                provider=self.name,
                retryable=False,
            )
        meaning, kind = _INFOCODES.get(code, ("undocumented error", "input"))
        label = f"{code} {info}".strip()
        if kind in ("throttle", "busy", "engine"):
            raise Retry(f"{meaning} ({label})", code=code)
        if kind == "quota":
            reset = next_midnight()
            error = ProviderError(
                f"amap: {meaning} ({label}); Amap lifts the block at 00:00 China time "
                f"({reset.isoformat()}), so this provider is not retried before then",
                provider=self.name,
                retryable=False,
                code=code,
                retry_at=reset.isoformat(),
            )
            wait_s = (reset - datetime.now(UTC)).total_seconds()
            raise self._stop(error, max(wait_s, 0.0))
        error = ProviderError(
            f"amap: {meaning} ({label})", provider=self.name, retryable=False, code=code
        )
        if kind == "key":
            raise self._stop(error)
        raise error

    # -- geocoding -----------------------------------------------------------------------------
    def _lookup(self, address: str, city: str | None) -> GeocodeResult:
        params = {"key": self._key, "address": address}
        if city:
            params["city"] = city
        params["output"] = "JSON"
        data = self._http.get_json(
            f"{self.base_url}/v3/geocode/geo", params, expect=dict, check=self._check
        )
        geocodes = data.get("geocodes")
        if geocodes in (None, []) or text_field(data.get("count")) == "0":
            raise GeocodeNotFound(
                f"amap: no match for {address!r}", provider=self.name, reason="no_match"
            )
        if not isinstance(geocodes, list) or not all(isinstance(g, dict) for g in geocodes):
            raise ProviderError(
                "amap: answered `geocodes` of an unexpected shape",
                provider=self.name,
                retryable=False,
            )
        parsed = [self._parse(g) for g in geocodes]
        first, precision = parsed[0]
        if precision is None:
            level = text_field(geocodes[0].get("level"))
            raise GeocodeNotFound(
                f"amap: the match is too coarse (level {level})",
                provider=self.name,
                reason="too_coarse",
            )
        if len(parsed) > 1:
            first.ambiguous = True
            first.candidates = [
                {
                    "formatted": r.formatted,
                    "lon": r.lon,
                    "lat": r.lat,
                    "precision": (p or Precision.UNKNOWN).value,
                    "level": text_field(g.get("level")),
                    "county_code": r.codes.get("county_code", ""),
                }
                for (r, p), g in zip(parsed, geocodes, strict=True)
            ]
        return first

    def _parse(self, g: dict) -> tuple[GeocodeResult, Precision | None]:
        raw = text_field(g.get("location"))
        parts = raw.split(",")
        lon = parse_float(parts[0]) if len(parts) == 2 else None
        lat = parse_float(parts[1]) if len(parts) == 2 else None
        lon, lat = check_lon_lat(self.name, lon, lat, raw)
        wgs_lon, wgs_lat = gcj02_to_wgs84(lon, lat)
        level = text_field(g.get("level"))
        if level in LEVEL_PRECISION:
            precision = LEVEL_PRECISION[level]
        else:
            LOGGER.info("amap: undocumented level %r treated as unknown", level)
            precision = Precision.UNKNOWN
        codes = admin_codes(text_field(g.get("adcode")))
        names = {}
        province = text_field(g.get("province"))
        prefecture = text_field(g.get("city"))
        for key, value in (
            ("province", province),
            ("prefecture", prefecture if prefecture != province else ""),
            ("county", text_field(g.get("district"))),
            ("township", text_field(g.get("township"))),
        ):
            if value:
                names[key] = value
        rest = text_field(g.get("street")) + text_field(g.get("number"))
        result = GeocodeResult(
            lon=float(wgs_lon),
            lat=float(wgs_lat),
            precision=precision or Precision.UNKNOWN,
            provider=self.name,
            confidence=LEVEL_CONFIDENCE[precision or Precision.UNKNOWN],
            codes=codes,
            names=names,
            formatted=text_field(g.get("formatted_address")),
            rest=rest,
        )
        return result, precision

    # -- reverse geocoding ---------------------------------------------------------------------
    def reverse(self, lon: float, lat: float) -> GeocodeResult:
        """The admin units at a WGS-84 position (Amap ``/v3/geocode/regeo``, ``extensions=base``).

        The position is converted to GCJ-02 for the request; the result keeps the given
        WGS-84 position, with ``precision`` ``township`` when Amap names the township
        (``towncode``), else ``county``. Not cached.

        Raises
        ------
        GeocodeNotFound
            Outside China's service area (no request), or Amap names no admin unit there.
        ProviderError
            As for :meth:`geocode`.
        """
        lon_f, lat_f = parse_float(lon), parse_float(lat)
        lon_f, lat_f = check_lon_lat(self.name, lon_f, lat_f, (lon, lat))
        if not in_china(lon_f, lat_f):
            raise GeocodeNotFound(
                f"amap: ({lon_f:.5f}, {lat_f:.5f}) is outside China's service area",
                provider=self.name,
            )
        self._raise_if_stopped()
        g_lon, g_lat = wgs84_to_gcj02(lon_f, lat_f)
        params = {
            "key": self._key,
            "location": f"{g_lon:.6f},{g_lat:.6f}",
            "extensions": "base",
            "output": "JSON",
        }
        data = self._http.get_json(
            f"{self.base_url}/v3/geocode/regeo", params, expect=dict, check=self._check
        )
        regeo = data.get("regeocode")
        component = regeo.get("addressComponent") if isinstance(regeo, dict) else None
        if not isinstance(component, dict):
            raise ProviderError(
                "amap: answered `regeocode` of an unexpected shape",
                provider=self.name,
                retryable=False,
            )
        codes = admin_codes(text_field(component.get("adcode")))
        if not codes:
            raise GeocodeNotFound(
                f"amap: no admin unit at ({lon_f:.5f}, {lat_f:.5f})", provider=self.name
            )
        towncode = text_field(component.get("towncode"))
        if towncode.isdigit() and len(towncode) in (9, 12):
            codes["township_code"] = towncode
        names = {}
        province = text_field(component.get("province"))
        prefecture = text_field(component.get("city"))
        for key, value in (
            ("province", province),
            ("prefecture", prefecture if prefecture != province else ""),
            ("county", text_field(component.get("district"))),
            ("township", text_field(component.get("township"))),
        ):
            if value:
                names[key] = value
        street = component.get("streetNumber")
        rest = ""
        if isinstance(street, dict):
            rest = text_field(street.get("street")) + text_field(street.get("number"))
        precision = Precision.TOWNSHIP if "township_code" in codes else Precision.COUNTY
        return GeocodeResult(
            lon=lon_f,
            lat=lat_f,
            precision=precision,
            provider=self.name,
            confidence=LEVEL_CONFIDENCE[precision],
            codes=codes,
            names=names,
            formatted=text_field(regeo.get("formatted_address")),
            rest=rest,
        )
