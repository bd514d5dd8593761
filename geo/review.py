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
Each reason is a :class:`Reason`: a stable code (:data:`REASON_CODES`) and params, which the
web pages say in their language (``review.reason.<code>``), and the sentence the CLI and
``/api/review`` print (English; the township reasons Chinese).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo import crs as _crs
from geo.crs import CoordSystem
from geo.geocode.base import precision_rank
from geo.models import Precision, Station

if TYPE_CHECKING:
    from geo.gazetteer import Division, TownshipOutlines


#: Codes of the reasons about the position's precision only (the rest are contradictions).
POSITION_CODES = frozenset(
    {"no_coordinates", "coarse_county", "coarse_prefecture", "coarse_unknown"}
)
#: Every reason code made here (``review.reason.<code>`` in the web catalogue, zh and en);
#: :mod:`geo.review_queue` adds ``duplicate``, ``stale`` and ``stale_never``.
REASON_CODES = POSITION_CODES | {
    "county_conflict",
    "county_conflict_gcj02",
    "county_code_conflict",
    "county_code_conflict_gcj02",
    "township_code_county",
    "township_code_county_found",
    "township_name_code",
    "township_guess_name",
    "township_name_code_others",
    "township_unknown",
    "township_unknown_found",
    "township_outline",
    "township_outline_unknown",
}


@dataclass(frozen=True)
class Reason:
    """Why a station is listed: a stable ``code``, the ``params`` that fill its sentence
    (``review.reason.<code>`` in :data:`webapp.planner_text.MESSAGES`, zh and en, the same
    ``{placeholders}``), and ``text``, the sentence the CLI and ``/api/review`` print
    (English; the township reasons in Chinese, as they always were)."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def position_only(self) -> bool:
        """Whether the reason is about the position's precision only (no contradiction)."""
        return self.code in POSITION_CODES

    def to_dict(self) -> dict[str, object]:
        """``{"code", "params"}`` (JSON ``reason_codes``)."""
        return {"code": self.code, "params": dict(self.params)}


@dataclass
class ReviewItem:
    """One station to review and why (``details``: the reasons with their codes)."""

    id: str
    name: str
    details: list[Reason] = field(default_factory=list)
    precision: str = ""
    stated_county_code: str | None = None
    found_county_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    #: The original coordinate's readings that lie in the stated county
    #: (:func:`stated_county_readings`), for a station whose county contradicts its position.
    readings: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        """The reasons' sentences (:attr:`Reason.text`)."""
        return [r.text for r in self.details]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "reasons": self.reasons,
            "reason_codes": [r.to_dict() for r in self.details],
            "precision": self.precision,
            "stated_county_code": self.stated_county_code,
            "found_county_code": self.found_county_code,
            "lon": self.lon,
            "lat": self.lat,
        }


def stated_county_readings(
    stations: Sequence[Station], gazetteer
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per station id: its original coordinate, declared WGS-84, read as GCJ-02 and as
    BD-09 (the usual mistakes with coordinates copied from Amap or Baidu), for each reading
    that lies in the county its record states (``{"gcj02": (lon, lat), "bd09": …}``, WGS-84).
    Vectorised: one conversion and one county lookup per system for all ``stations``."""
    todo = [
        s
        for s in stations
        if s.orig_crs is CoordSystem.WGS84
        and s.orig_lon is not None
        and s.orig_lat is not None
        and s.county_code
    ]
    out: dict[str, dict[str, tuple[float, float]]] = {}
    if not todo:
        return out
    lon = np.array([s.orig_lon for s in todo], dtype=float)
    lat = np.array([s.orig_lat for s in todo], dtype=float)
    stated = np.array([str(s.county_code) for s in todo], dtype=object)
    for system, convert in (("gcj02", _crs.gcj02_to_wgs84), ("bd09", _crs.bd09_to_wgs84)):
        x, y = convert(lon, lat)
        x, y = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
        codes = np.asarray(gazetteer.county_codes_at(x, y), dtype=object)
        for i in np.flatnonzero(codes == stated):
            out.setdefault(todo[i].id, {})[system] = (float(x[i]), float(y[i]))
    return out


def looks_like_gcj02_declared_wgs84(s: Station, gazetteer) -> bool:
    """Whether reading the station's original WGS-84 coordinate as GCJ-02 would put it in
    the county its record states (the usual mistake with coordinates copied from Amap)."""
    return "gcj02" in stated_county_readings([s], gazetteer).get(s.id, {})


def county_conflict_reason(stated, found) -> str:
    """The reason given when a record's stated county is not where its position is."""
    return (
        f"stated county {stated.name} but the position is in {found.name} "
        f"({stated.code} stated, {found.code} found)"
    )


_GCJ02_HINT = ": likely a GCJ-02 coordinate declared as WGS-84"


def county_conflict(stated, found, gcj02: bool = False) -> Reason:
    """:func:`county_conflict_reason` as a :class:`Reason` (``gcj02``: with the GCJ-02 hint)."""
    text = county_conflict_reason(stated, found) + (_GCJ02_HINT if gcj02 else "")
    params = {
        "stated": stated.name,
        "found": found.name,
        "stated_code": stated.code,
        "found_code": found.code,
    }
    return Reason("county_conflict_gcj02" if gcj02 else "county_conflict", params, text)


@dataclass
class TownshipConflict:
    """The township contradictions of one station (:func:`township_conflicts`)."""

    station_id: str
    details: list[Reason] = field(default_factory=list)
    #: The township the record states (by code, else by a name unique in its county).
    stated: Division | None = None
    #: Whether a reason comes from the deployment's township outlines (the position).
    by_outline: bool = False

    @property
    def reasons(self) -> list[str]:
        """The reasons' sentences (Chinese, :attr:`Reason.text`)."""
        return [r.text for r in self.details]


def _unit(d: Division) -> str:
    return f"{d.name}（{d.code}）"


def _record_county(s: Station, gazetteer, found_code: str) -> tuple[Division | None, bool]:
    """The county to read the township under: the stated one (code, else names), else the
    one the coordinates are in; and whether it is the stated one."""
    stated = gazetteer.get(str(s.county_code)) if s.county_code else None
    if stated is None or stated.level != "county":
        stated = gazetteer.stated_county(s.province, s.prefecture, s.county)
    if stated is not None:
        return stated, True
    found = gazetteer.get(found_code) if found_code else None
    return found, False


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
    county, is_stated = _record_county(s, gazetteer, found_county_code)
    called = "所述县区" if is_stated else "坐标所在县区"
    suffix = "" if is_stated else "_found"
    guessed = (s.extra or {}).get("township_source") == "nearest"  # filled on import, not stated
    code_unit = None if guessed else gazetteer.township(s.township_code)
    name = (s.township or "").strip()
    if guessed and name:
        filled = gazetteer.township(s.township_code)
        if filled is not None and gazetteer.township_has_name(filled, name):
            name = ""  # the name was filled with the guess too
        elif filled is not None:
            # The record names one township and carries the code of another, which an
            # import guessed from the position (the stored record publishes both).
            out.details.append(
                Reason(
                    "township_guess_name",
                    {"name": name, "township_code": str(s.township_code), "township": filled.name},
                    f"乡镇代码 {s.township_code}（{filled.name}）是按位置估计的（非所述），"
                    f"与所述乡镇名称 {name} 不符",
                )
            )
    if code_unit is not None:
        if county is not None and code_unit.county_code != county.code:
            home = gazetteer.get(code_unit.county_code)
            out.details.append(
                Reason(
                    "township_code_county" + suffix,
                    {
                        "township_code": str(s.township_code),
                        "township": code_unit.name,
                        "home": home.name if home else "",
                        "home_code": code_unit.county_code,
                        "county": county.name,
                        "county_code": county.code,
                    },
                    f"所述乡镇代码 {s.township_code}（{code_unit.name}）属于 "
                    f"{_unit(home) if home else code_unit.county_code}，"
                    f"不在{called} {_unit(county)} 内",
                )
            )
        if name and not gazetteer.township_has_name(code_unit, name):
            params = {
                "name": name,
                "township_code": str(s.township_code),
                "township": code_unit.name,
            }
            reason = f"所述乡镇名称 {name} 与所述乡镇代码 {s.township_code}（{code_unit.name}）不符"
            others = gazetteer.townships_named(code_unit.county_code, name)
            if others:
                params["others"] = "、".join(_unit(d) for d in others[:3])
                reason += "；该名称是 " + params["others"]
            out.details.append(
                Reason(
                    "township_name_code_others" if others else "township_name_code",
                    params,
                    reason,
                )
            )
        out.stated = code_unit
    elif name and county is not None and gazetteer.townships_of(county.code):
        named = gazetteer.townships_named(county.code, name)
        if not named:
            out.details.append(
                Reason(
                    "township_unknown" + suffix,
                    {"name": name, "county": county.name, "county_code": county.code},
                    f"所述乡镇 {name} 不是{called} {_unit(county)} 现有的乡镇"
                    "（地名库中该县区没有此名称或简称；如是撤并前的旧名，请改为现名）",
                )
            )
        elif len(named) == 1:
            out.stated = named[0]
    if out.stated is not None and found_townships and out.stated.code not in found_townships:
        found = sorted(found_townships)[0]
        unit = gazetteer.township(found)
        params = {
            "stated": out.stated.name,
            "stated_code": out.stated.code,
            "found": unit.name if unit else "",
            "found_code": found,
        }
        out.details.append(
            Reason(
                "township_outline" if unit else "township_outline_unknown",
                params,
                f"所述乡镇 {_unit(out.stated)}，坐标却在 "
                f"{_unit(unit) if unit else found + '（地名库中无此代码）'} 的边界内"
                "（依据部署提供的乡镇边界）",
            )
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
    # The GCJ-02 / BD-09 readings of the stations whose position is not in their stated
    # county code, in one vectorised pass (per station this dominated the queue's time).
    readings = stated_county_readings(
        [s for s in located if found[id(s)] and s.county_code and found[id(s)] != s.county_code],
        gazetteer,
    )
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
            item.details.append(Reason("no_coordinates", {}, "no coordinates"))
        elif precision_rank(s.precision) > coarse:
            level = s.precision.value
            item.details.append(
                Reason(f"coarse_{level}", {}, f"position known only to the {level}")
            )
        code = found.get(id(s)) or None
        item.found_county_code = code
        named = gazetteer.stated_county(s.province, s.prefecture, s.county) if code else None
        here = gazetteer.get(code) if code else None
        if code and s.county_code and code != s.county_code:
            item.readings = readings.get(s.id, {})
        elif named is not None and here is not None and named.code != code:
            item.readings = stated_county_readings([s], gazetteer).get(s.id, {})
        if named is not None and here is not None and named.code != code:
            gcj02 = "gcj02" in item.readings
            item.details.append(county_conflict(named, here, gcj02))
        elif code and s.county_code and code != s.county_code:
            here = gazetteer.get(code)
            stated = gazetteer.get(s.county_code)
            gcj02 = "gcj02" in item.readings
            params = {
                "found": here.name if here else code,
                "found_code": code,
                "stated": stated.name if stated else s.county_code,
                "stated_code": s.county_code,
            }
            text = (
                f"coordinates fall in {params['found']} ({code}), not in "
                f"the stated {params['stated']} ({s.county_code})"
            )
            item.details.append(
                Reason(
                    "county_code_conflict_gcj02" if gcj02 else "county_code_conflict",
                    params,
                    text + (_GCJ02_HINT if gcj02 else ""),
                )
            )
        if item.details:
            items.append(item)
    return items
