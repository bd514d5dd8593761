"""Geocoding: providers behind one protocol, chosen by name in configuration.

``offline`` (the bundled gazetteer) needs nothing; ``amap``, ``tianditu`` and ``nominatim``
need their key or URL in the settings. :func:`build_geocoder` turns the ``YIZHAN_GEOCODERS``
list into a :class:`GeocoderChain`; the online providers share one persistent cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from geo.errors import ValidationError
from geo.geocode.base import MAX_ADDRESS_CHARS, Geocoder, GeocodeResult, precision_rank
from geo.geocode.chain import BatchRow, GeocoderChain, geocode_many
from geo.geocode.offline import OfflineGeocoder
from geo.settings import Settings


def _cache(s: Settings):
    """The persistent cache shared by the online providers (``None`` when disabled)."""
    if not s.geocode_cache:
        return None
    from geo.geocode.cache import GeocodeCache

    path = Path(s.instance_path) / "geocode-cache.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return GeocodeCache(path)


def _amap(s: Settings, cache) -> Geocoder:
    from geo.geocode.amap import AmapGeocoder

    if not s.amap_key:
        raise ValidationError("the amap geocoder needs YIZHAN_AMAP_KEY", field="geocoders")
    return AmapGeocoder(
        s.amap_key,
        base_url=s.amap_url,
        timeout_s=s.geocode_timeout_s,
        retries=s.geocode_retries,
        cache=cache,
    )


def _tianditu(s: Settings, cache) -> Geocoder:
    from geo.geocode.tianditu import TiandituGeocoder

    if not s.tianditu_key:
        raise ValidationError("the tianditu geocoder needs YIZHAN_TIANDITU_KEY", field="geocoders")
    return TiandituGeocoder(
        s.tianditu_key,
        base_url=s.tianditu_url,
        timeout_s=s.geocode_timeout_s,
        retries=s.geocode_retries,
        cache=cache,
    )


def _nominatim(s: Settings, cache) -> Geocoder:
    from geo.geocode.nominatim import NominatimGeocoder

    if not s.nominatim_user_agent:
        raise ValidationError(
            "the nominatim geocoder needs YIZHAN_NOMINATIM_USER_AGENT (its usage policy "
            "requires one)",
            field="geocoders",
        )
    return NominatimGeocoder(
        base_url=s.nominatim_url,
        user_agent=s.nominatim_user_agent,
        timeout_s=s.geocode_timeout_s,
        retries=s.geocode_retries,
        cache=cache,
    )


#: Provider name → factory taking the settings and the shared cache (a plugin registry).
PROVIDERS: dict[str, Callable[[Settings, object], Geocoder]] = {
    "offline": lambda s, cache: OfflineGeocoder(),
    "amap": _amap,
    "tianditu": _tianditu,
    "nominatim": _nominatim,
}


def build_geocoder(settings: Settings, names: str | None = None) -> GeocoderChain:
    """The chain of providers named in ``names`` (default ``settings.geocoders``)."""
    wanted = [n.strip().lower() for n in (names or settings.geocoders).split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PROVIDERS]
    if unknown or not wanted:
        raise ValidationError(
            f"unknown geocoder {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(PROVIDERS)}",
            field="geocoders",
        )
    cache = _cache(settings) if any(n != "offline" for n in wanted) else None
    return GeocoderChain(
        [PROVIDERS[n](settings, cache) for n in wanted], good_enough=settings.geocode_good_enough
    )


__all__ = [
    "MAX_ADDRESS_CHARS",
    "PROVIDERS",
    "BatchRow",
    "GeocodeResult",
    "Geocoder",
    "GeocoderChain",
    "OfflineGeocoder",
    "build_geocoder",
    "geocode_many",
    "precision_rank",
]
