"""Nominatim (OpenStreetMap) geocoding: ``GET {base}/search?q=…&format=jsonv2…``.

What this module relies on:

* Nominatim, "Search queries", https://nominatim.org/release-docs/latest/api/Search/
  (``docs/api/Search.md``): free-form ``q``; ``format=jsonv2``; ``addressdetails=1``;
  ``limit`` (default 10, at most 50); ``countrycodes`` (ISO 3166-1 alpha-2 list);
  ``accept-language`` (overrides the HTTP header).
* Nominatim, "Place Output", https://nominatim.org/release-docs/latest/api/Output/
  (``docs/api/Output.md``): the search answer is a JSON **array** of places with ``lat`` and
  ``lon`` (strings, WGS-84), ``display_name``, ``class``/``type`` (``category`` in jsonv2),
  ``importance``, ``address`` (labels ``country``, ``country_code``, ``state``, ``county``,
  ``city``, ``town``, ``village``, ``suburb``, ``road``, ``house_number`` …). jsonv2 adds
  ``place_rank``; current servers also send ``addresstype`` and ``name`` (shown in the
  current Output page and in client libraries' type definitions).
* Nominatim, "Place Ranking", https://nominatim.org/release-docs/latest/customize/Ranking/:
  search/address ranks 4 country, 5-9 state, 10-12 county, 13-16 city, 17-18 town, 19
  village/suburb, 20 hamlet/neighbourhood, 21-25 blocks/localities, 26-27 street, 28-30 POI
  or house number.
* OSMF, "Nominatim Usage Policy", https://operations.osmfoundation.org/policies/nominatim/:
  at most 1 request per second (for the whole application), a User-Agent or Referer that
  identifies the application (stock library User-Agents are refused), attribution
  ("© OpenStreetMap contributors", ODbL), results must be cached, bulk geocoding is
  discouraged.
* Errors: clients that break the policy are blocked with HTTP 403 (the OSM sysadmins in
  https://github.com/twain47/Nominatim/issues/284); the geocoder does not retry and stops
  sending requests. HTTP 429 for throttling is not stated on the pages read; 429, 5xx and
  timeouts are retried generically (``Retry-After`` honoured). A JSON object with ``error``
  (newer servers' error format, not documented on the pages read) is a non-retryable error.

Choices:

* On the public server (``nominatim.openstreetmap.org``) ``min_interval_s`` below 1.0 is
  refused, and a cache should be passed; for imports of many addresses use a self-hosted
  instance (``base_url``).
* Precision comes from ``place_rank`` (:func:`precision_for_rank`); ranks below 10 (country,
  state) are too coarse. A 13-16 rank (city) is taken as ``prefecture`` although it may be a
  county-level city: the coarser reading is the safe one.
* ``importance`` measures how prominent a place is, not how well it matches, so it is not
  used as ``confidence``; :data:`RANK_CONFIDENCE` maps the precision instead (lower than
  Amap's: OSM's coverage of Chinese door numbers is sparse).
* A ``city`` is appended to ``q`` (``"德润路12号, 柳州市"``) unless the address contains it.
* Names (best effort, no codes: OSM gives no GB/T 2260 codes): ``province`` ← ``state``,
  ``prefecture`` ← ``city``, ``county`` ← ``county`` / ``city_district`` / ``district``,
  ``township`` ← ``town`` / ``suburb``, ``village`` ← ``village`` / ``hamlet``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from urllib.parse import urlsplit

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

__all__ = ["PUBLIC_HOST", "RANK_CONFIDENCE", "NominatimGeocoder", "precision_for_rank"]

#: Host of the OSMF public server, whose usage policy allows at most 1 request per second.
PUBLIC_HOST = "nominatim.openstreetmap.org"

#: Confidence by precision (Nominatim gives no match score).
RANK_CONFIDENCE: dict[Precision, float] = {
    Precision.EXACT: 0.8,
    Precision.STREET: 0.6,
    Precision.VILLAGE: 0.5,
    Precision.TOWNSHIP: 0.4,
    Precision.COUNTY: 0.3,
    Precision.PREFECTURE: 0.2,
    Precision.UNKNOWN: 0.2,
}

_NAME_KEYS = {
    "province": ("state",),
    "prefecture": ("city",),
    "county": ("county", "city_district", "district"),
    "township": ("town", "suburb"),
    "village": ("village", "hamlet"),
}


def precision_for_rank(rank: int | None) -> Precision | None:
    """Precision for a Nominatim ``place_rank``; ``None`` when too coarse (below 10)."""
    if rank is None:
        return Precision.UNKNOWN
    if rank >= 28:
        return Precision.EXACT
    if rank >= 26:
        return Precision.STREET
    if rank >= 19:
        return Precision.VILLAGE
    if rank >= 17:
        return Precision.TOWNSHIP
    if rank >= 13:
        return Precision.PREFECTURE
    if rank >= 10:
        return Precision.COUNTY
    return None


class NominatimGeocoder(ServiceGeocoder):
    """Geocoder backed by a Nominatim server (WGS-84).

    Parameters
    ----------
    base_url
        Server root: the OSMF public server by default, or a self-hosted instance.
    user_agent
        User-Agent identifying the application (default ``Yizhan/<version>``); the usage
        policy asks for contact details in it (see ``default_user_agent(contact)``).
    min_interval_s
        Smallest interval between requests; at least 1.0 on the public server.
    timeout_s, retries, session, cache, sleep, clock, rng
        As for :class:`~geo.geocode.amap.AmapGeocoder`.
    language
        ``accept-language`` sent (``zh``: Chinese names).

    Raises
    ------
    ValueError
        ``min_interval_s < 1`` with the public server.
    """

    name = "nominatim"

    def __init__(
        self,
        base_url: str = "https://nominatim.openstreetmap.org",
        user_agent: str | None = None,
        min_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        retries: int = 2,
        session: requests.Session | None = None,
        *,
        cache=None,
        language: str = "zh",
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        host = (urlsplit(self.base_url).hostname or "").lower()
        if host == PUBLIC_HOST and min_interval_s < 1.0:
            raise ValueError(
                "the public Nominatim server allows at most 1 request per second "
                f"(usage policy); min_interval_s={min_interval_s!r} is too small"
            )
        self.language = language
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
        return f"NominatimGeocoder(base_url={self.base_url!r})"

    @staticmethod
    def query(address: str, city: str | None) -> str:
        """The ``q`` sent: the address, then ``, city`` unless it already contains the city."""
        if city and city not in address:
            return f"{address}, {city}"
        return address

    def _lookup(self, address: str, city: str | None) -> GeocodeResult:
        params = {
            "q": self.query(address, city),
            "format": "jsonv2",
            "addressdetails": "1",
            "limit": "1",
            "countrycodes": "cn",
            "accept-language": self.language,
        }
        try:
            data = self._http.get_json(
                f"{self.base_url}/search",
                params,
                expect=(list, dict),
                status_messages={
                    403: "refused the client (blocked: check the User-Agent and the usage policy)"
                },
            )
        except ProviderError as exc:
            if exc.details.get("status") == 403:
                raise self._stop(exc) from None
            raise
        if isinstance(data, dict):
            error = data.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(
                f"nominatim: answered an error ({text_field(message) or 'no message'})",
                provider=self.name,
                retryable=False,
            )
        if not data:
            raise GeocodeNotFound(
                f"nominatim: no match for {address!r}", provider=self.name, reason="no_match"
            )
        place = data[0]
        if not isinstance(place, dict):
            raise ProviderError(
                "nominatim: answered a place of an unexpected shape",
                provider=self.name,
                retryable=False,
            )
        lon, lat = parse_float(place.get("lon")), parse_float(place.get("lat"))
        lon, lat = check_lon_lat(self.name, lon, lat, (place.get("lon"), place.get("lat")))
        rank = parse_float(place.get("place_rank"))
        precision = precision_for_rank(int(rank) if rank is not None else None)
        if precision is None:
            kind = text_field(place.get("addresstype")) or text_field(place.get("type"))
            raise GeocodeNotFound(
                f"nominatim: the match is too coarse ({kind or 'rank'} {int(rank or 0)})",
                provider=self.name,
                reason="too_coarse",
            )
        address_parts = place.get("address")
        names: dict[str, str] = {}
        if isinstance(address_parts, dict):
            for key, labels in _NAME_KEYS.items():
                for label in labels:
                    value = text_field(address_parts.get(label))
                    if value:
                        names[key] = value
                        break
            rest = text_field(address_parts.get("road")) + text_field(
                address_parts.get("house_number")
            )
        else:
            rest = ""
        return GeocodeResult(
            lon=lon,
            lat=lat,
            precision=precision,
            provider=self.name,
            confidence=RANK_CONFIDENCE[precision],
            names=names,
            formatted=text_field(place.get("display_name")),
            rest=rest,
        )
