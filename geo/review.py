"""Records a planner should review: imprecise positions and coordinates that contradict
the stated county.

A station is listed when its position is known only to the county or prefecture (or not at
all), or when its coordinates fall outside the county its record states — by code, or by name
(县区=融水 read under the stated province and prefecture) — a typical sign of a
GCJ-02 (Amap/Tencent) coordinate declared as WGS-84, or of mistyped digits; the hint says
which when converting the original coordinate from GCJ-02 would put it in the stated county.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from geo import crs as _crs
from geo.crs import CoordSystem
from geo.geocode.base import precision_rank
from geo.models import Precision, Station


@dataclass
class ReviewItem:
    """One station to review and why."""

    id: str
    name: str
    reasons: list[str] = field(default_factory=list)
    precision: str = ""
    stated_county_code: str | None = None
    found_county_code: str | None = None
    lon: float | None = None
    lat: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def looks_like_gcj02_declared_wgs84(s: Station, gazetteer) -> bool:
    """Whether reading the station's original WGS-84 coordinate as GCJ-02 would put it in
    the county its record states (the usual mistake with coordinates copied from Amap)."""
    if (
        s.orig_crs is not CoordSystem.WGS84
        or s.orig_lon is None
        or s.orig_lat is None
        or not s.county_code
    ):
        return False
    gx, gy = _crs.gcj02_to_wgs84(s.orig_lon, s.orig_lat)
    return gazetteer.county_codes_at(gx, gy)[0] == s.county_code


def county_conflict_reason(stated, found) -> str:
    """The reason given when a record's stated county is not where its position is."""
    return (
        f"stated county {stated.name} but the position is in {found.name} "
        f"({stated.code} stated, {found.code} found)"
    )


def review_stations(stations: Sequence[Station], gazetteer) -> list[ReviewItem]:
    """The stations to review, in input order (see the module docstring)."""
    located = [s for s in stations if s.lon is not None]
    found = {}
    if located:
        codes = gazetteer.county_codes_at(
            np.array([s.lon for s in located]), np.array([s.lat for s in located])
        )
        found = {id(s): c for s, c in zip(located, codes.tolist(), strict=True)}
    items = []
    coarse = precision_rank(Precision.TOWNSHIP)
    for s in stations:
        item = ReviewItem(
            s.id,
            s.name,
            precision=s.precision.value,
            stated_county_code=s.county_code,
            lon=s.lon,
            lat=s.lat,
        )
        if s.lon is None:
            item.reasons.append("no coordinates")
        elif precision_rank(s.precision) > coarse:
            item.reasons.append(f"position known only to the {s.precision.value}")
        code = found.get(id(s)) or None
        item.found_county_code = code
        named = gazetteer.stated_county(s.province, s.prefecture, s.county) if code else None
        here = gazetteer.get(code) if code else None
        if named is not None and here is not None and named.code != code:
            reason = county_conflict_reason(named, here)
            if looks_like_gcj02_declared_wgs84(s, gazetteer):
                reason += ": likely a GCJ-02 coordinate declared as WGS-84"
            item.reasons.append(reason)
        elif code and s.county_code and code != s.county_code:
            here = gazetteer.get(code)
            stated = gazetteer.get(s.county_code)
            reason = (
                f"coordinates fall in {here.name if here else code} ({code}), not in "
                f"the stated {stated.name if stated else s.county_code} "
                f"({s.county_code})"
            )
            if looks_like_gcj02_declared_wgs84(s, gazetteer):
                reason += ": likely a GCJ-02 coordinate declared as WGS-84"
            item.reasons.append(reason)
        if item.reasons:
            items.append(item)
    return items
