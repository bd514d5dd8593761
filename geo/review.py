"""Records a planner should review: imprecise positions and coordinates that contradict
the stated county.

A station is listed when its position is known only to the county or prefecture (or not at
all), or when its coordinates fall outside the county its record states — by code, or by name
(县区=融水 read under the stated province and prefecture) — a typical sign of a
GCJ-02 (Amap/Tencent) coordinate declared as WGS-84, or of mistyped digits; the hint says
which when converting the original coordinate from GCJ-02 would put it in the stated county.

Townships (:func:`township_conflicts`): a stated township code that is no township of the
stated county, a stated township name that is not the stated code's, or that names no
township of the county — exact, from the gazetteer's codes and names (short and former names
count); and a position inside another township's outline when the deployment supplies
township outlines (:func:`geo.gazetteer.use_township_outlines`). Without outlines no township
position is checked: the gazetteer's township positions are bounding-box centres (a quarter
of the townships have none), too rough to say a point is in another township. Measured on
the exact analogue one level up (Guangxi's county outlines and seats, 22,200 seeded points
inside their counties): 22% of the points are nearer another county's seat of the same
prefecture, and even "over 30 km from its own seat and 3 times nearer another" still fires
for 0.4% of correctly placed points — with seat points better than bounding-box centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo import crs as _crs
from geo.crs import CoordSystem
from geo.geocode.base import precision_rank
from geo.models import Precision, Station

if TYPE_CHECKING:
    from geo.gazetteer import Division, TownshipOutlines


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


@dataclass
class TownshipConflict:
    """The township contradictions of one station (:func:`township_conflicts`)."""

    station_id: str
    reasons: list[str] = field(default_factory=list)
    #: The township the record states (by code, else by a name unique in its county).
    stated: Division | None = None
    #: Whether a reason comes from the deployment's township outlines (the position).
    by_outline: bool = False


def _unit(d: Division) -> str:
    return f"{d.name}（{d.code}）"


def _record_county(s: Station, gazetteer, found_code: str) -> tuple[Division | None, str]:
    """The county to read the township under: the stated one (code, else names), else the
    one the coordinates are in; and how to call it in a reason."""
    stated = gazetteer.get(str(s.county_code)) if s.county_code else None
    if stated is None or stated.level != "county":
        stated = gazetteer.stated_county(s.province, s.prefecture, s.county)
    if stated is not None:
        return stated, "所述县区"
    found = gazetteer.get(found_code) if found_code else None
    return found, "坐标所在县区"


def township_conflict(
    s: Station,
    gazetteer,
    found_county_code: str = "",
    found_townships: frozenset[str] = frozenset(),
) -> TownshipConflict:
    """The township contradictions of one station (see :func:`township_conflicts`).

    ``found_county_code`` is the county the coordinates are in (used when the record states
    none); ``found_townships`` the codes of the township outlines containing the point
    (empty: not checked).
    """
    out = TownshipConflict(s.id)
    county, called = _record_county(s, gazetteer, found_county_code)
    guessed = (s.extra or {}).get("township_source") == "nearest"  # filled on import, not stated
    code_unit = None if guessed else gazetteer.township(s.township_code)
    name = (s.township or "").strip()
    if guessed and name:
        filled = gazetteer.township(s.township_code)
        if filled is not None and gazetteer.township_has_name(filled, name):
            name = ""  # the name was filled with the guess too
    if code_unit is not None:
        if county is not None and code_unit.county_code != county.code:
            home = gazetteer.get(code_unit.county_code)
            out.reasons.append(
                f"所述乡镇代码 {s.township_code}（{code_unit.name}）属于 "
                f"{_unit(home) if home else code_unit.county_code}，不在{called} {_unit(county)} 内"
            )
        if name and not gazetteer.township_has_name(code_unit, name):
            reason = f"所述乡镇名称 {name} 与所述乡镇代码 {s.township_code}（{code_unit.name}）不符"
            others = gazetteer.townships_named(code_unit.county_code, name)
            if others:
                reason += "；该名称是 " + "、".join(_unit(d) for d in others[:3])
            out.reasons.append(reason)
        out.stated = code_unit
    elif name and county is not None and gazetteer.townships_of(county.code):
        named = gazetteer.townships_named(county.code, name)
        if not named:
            out.reasons.append(
                f"所述乡镇 {name} 不是{called} {_unit(county)} 现有的乡镇"
                "（地名库中该县区没有此名称或简称；如是撤并前的旧名，请改为现名）"
            )
        elif len(named) == 1:
            out.stated = named[0]
    if out.stated is not None and found_townships and out.stated.code not in found_townships:
        found = sorted(found_townships)[0]
        unit = gazetteer.township(found)
        out.reasons.append(
            f"所述乡镇 {_unit(out.stated)}，坐标却在 "
            f"{_unit(unit) if unit else found + '（地名库中无此代码）'} 的边界内"
            "（依据部署提供的乡镇边界）"
        )
        out.by_outline = True
    return out


def township_conflicts(
    stations: Sequence[Station], gazetteer, outlines: TownshipOutlines | None = None
) -> dict[str, TownshipConflict]:
    """The stations whose stated township contradicts their county, their own code or name,
    or (with ``outlines``) their coordinates, by id; stations without a contradiction are
    absent.

    Certain contradictions only: codes and names are compared with the gazetteer (short and
    former names, and another township suffix, count as the same name); an unknown code says
    nothing; a township code the import guessed from the position
    (``extra["township_source"] == "nearest"``) is not a statement. Positions are compared
    only with ``outlines`` (a point outside every outline is not checked).
    """
    located = [s for s in stations if s.lon is not None and s.lat is not None]
    xs = np.array([s.lon for s in located], dtype=float)
    ys = np.array([s.lat for s in located], dtype=float)
    counties: dict[int, str] = {}
    towns: dict[int, frozenset[str]] = {}
    if located:
        counties = dict(
            zip(map(id, located), gazetteer.county_codes_at(xs, ys).tolist(), strict=True)
        )
        if outlines is not None:
            towns = dict(zip(map(id, located), outlines.codes_at(xs, ys), strict=True))
    out = {}
    for s in stations:
        if not (s.township or s.township_code):
            continue
        found = township_conflict(
            s, gazetteer, counties.get(id(s)) or "", towns.get(id(s), frozenset())
        )
        if found.reasons:
            out[s.id] = found
    return out


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
