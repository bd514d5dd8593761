"""Tianditu (天地图) geocoding: ``GET {base}/geocoder?ds={"keyWord": …}&tk=KEY``.

What this module relies on:

* Tianditu, "地理编码查询" (geocoding interface),
  http://lbs.tianditu.gov.cn/server/geocodinginterface.html (as transcribed in public notes,
  e.g. https://blog.csdn.net/mcband/article/details/134915002): request parameter
  ``keyWord`` (the address), sent as the JSON object ``ds={"keyWord":"…"}``, and the key as
  ``tk``; answer ``status`` ("0" normal, "101" empty result, "404" error), ``msg`` ("ok" when
  normal), ``location`` with ``lon``, ``lat`` (always returned), ``level`` (category name, not
  always returned) and ``typeRound`` (only for the surroundings query, not used). The page's
  own example answer also carries ``location.score`` (100), ``location.keyWord`` (the
  address as matched) and ``searchVersion``.
* Coordinates are CGCS2000 (Tianditu's national frame), treated as WGS-84 (DESIGN §3): they
  are used unchanged.

Not confirmed by the documentation, and how it is handled:

* The ``level`` vocabulary is not documented. Values seen in published answers: 门址 (door
  address) and 兴趣点 (point of interest), both mapped to ``exact``; 地名地址 (place-name
  address), whose extent is unknown; it and any other level map to ``unknown``.
* ``score`` is documented only by example (100 for an exact match); it is read as 0–100 and
  used as ``confidence = score / 100``. Without a score, :data:`LEVEL_CONFIDENCE` applies.
* Key and quota errors of the geocoder are not documented. Public client code reports
  HTTP 403 from Tianditu's (tile) services for a wrong or exhausted key; so any 401/403 is a
  non-retryable :class:`ProviderError` and the geocoder sends no further requests. A 403
  body is not parsed (its format is unknown). ``status`` "404" is a
  non-retryable error carrying ``msg``; an unknown status likewise.
* There is no ``city`` parameter: when a ``city`` is given and does not already occur in the
  address, it is prefixed to the key word (``柳州市`` + ``德润路12号``), which is how the
  service is told where to look.
* Tianditu returns no admin codes or names: ``codes`` and ``names`` stay empty;
  ``formatted`` is ``location.keyWord``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable

import requests

from geo.errors import GeocodeNotFound, ProviderError
from geo.geocode._http import (
    HttpClient,
    ServiceGeocoder,
    check_lon_lat,
    parse_float,
    text_field,
)
from geo.geocode.base import GeocodeResult
from geo.models import Precision

LOGGER = logging.getLogger(__name__)

__all__ = ["LEVEL_CONFIDENCE", "LEVEL_PRECISION", "TiandituGeocoder"]

#: Tianditu ``level`` → precision (only levels seen in published answers; others: unknown).
LEVEL_PRECISION: dict[str, Precision] = {
    "门址": Precision.EXACT,
    "兴趣点": Precision.EXACT,
}

#: Confidence by precision when the answer has no ``score``.
LEVEL_CONFIDENCE: dict[Precision, float] = {
    Precision.EXACT: 0.8,
    Precision.UNKNOWN: 0.3,
}


class TiandituGeocoder(ServiceGeocoder):
    """Geocoder backed by the Tianditu geocoding API (CGCS2000, used as WGS-84).

    Parameters
    ----------
    key
        Tianditu server key (``tk``; never logged).
    base_url
        Service root; a test or a proxy may replace it.
    timeout_s, retries, min_interval_s, user_agent, session, cache, sleep, clock, rng
        As for :class:`~geo.geocode.amap.AmapGeocoder`.
    """

    name = "tianditu"

    def __init__(
        self,
        key: str,
        base_url: str = "https://api.tianditu.gov.cn",
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
            raise ValueError("a Tianditu key (tk) is required")
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
        return f"TiandituGeocoder(base_url={self.base_url!r})"

    @staticmethod
    def key_word(address: str, city: str | None) -> str:
        """The ``keyWord`` sent: ``city`` prefixed unless the address already contains it."""
        if city and city not in address:
            return city + address
        return address

    def _check(self, data: dict) -> None:
        status = text_field(data.get("status"))
        if status == "0":
            return
        msg = text_field(data.get("msg")) or "no message"
        if status == "101":
            raise GeocodeNotFound(
                f"tianditu: no match ({msg})", provider=self.name, reason="no_match"
            )
        what = "answered an error" if status == "404" else f"answered status {status!r}"
        raise ProviderError(
            f"tianditu: {what} ({msg})", provider=self.name, retryable=False, code=status
        )

    def _lookup(self, address: str, city: str | None) -> GeocodeResult:
        key_word = self.key_word(address, city)
        params = {
            "ds": json.dumps({"keyWord": key_word}, ensure_ascii=False, separators=(",", ":")),
            "tk": self._key,
        }
        try:
            data = self._http.get_json(
                f"{self.base_url}/geocoder",
                params,
                expect=dict,
                check=self._check,
                status_messages={
                    401: "refused the key",
                    403: "refused the key (wrong key, wrong key type or quota used up)",
                },
            )
        except ProviderError as exc:
            if exc.details.get("status") in (401, 403):
                raise self._stop(exc) from None
            raise
        location = data.get("location")
        if not isinstance(location, dict):
            raise ProviderError(
                "tianditu: answered status 0 without a `location` object",
                provider=self.name,
                retryable=False,
            )
        lon, lat = parse_float(location.get("lon")), parse_float(location.get("lat"))
        lon, lat = check_lon_lat(self.name, lon, lat, (location.get("lon"), location.get("lat")))
        level = text_field(location.get("level"))
        precision = LEVEL_PRECISION.get(level, Precision.UNKNOWN)
        score = parse_float(location.get("score"))
        if score is not None:
            confidence = min(max(score / 100.0, 0.0), 1.0)
        else:
            confidence = LEVEL_CONFIDENCE[precision]
        return GeocodeResult(
            lon=lon,
            lat=lat,
            precision=precision,
            provider=self.name,
            confidence=confidence,
            formatted=text_field(location.get("keyWord")) or key_word,
        )
