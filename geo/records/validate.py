"""Row validation: raw registry rows into stations (WGS-84), every problem a :class:`RowIssue`.

Rules (each rejected row names its line, the field and the reason):

* ``name`` and ``kind`` are required; an unknown kind is rejected with the closest known one
  suggested.
* Coordinates must be numbers within range. A pair whose longitude looks like a Chinese
  latitude and whose latitude looks like a Chinese longitude is taken as swapped: it is fixed
  and a warning is reported (``fix_swapped=False`` rejects it instead).
* Coordinates are converted from their declared system (``坐标系`` column per row, else the
  file's ``crs``) to WGS-84; the original is kept for audit. A point outside China (the
  outline of :func:`geo.crs.in_china`) is rejected.
* Text is normalised: full-width digits and letters to ASCII (NFKC), stray spaces collapsed.
  Control characters (NUL, ESC, …) are removed from every text field, with a warning naming
  the row and the field (the row is kept).
* Unknown services, unreadable opening hours, malformed admin codes and unknown columns are
  warnings: the row is kept (unknown columns are kept in ``extra``).
* 六有 columns (设施 with 、 or ; between facilities, 统一标识, 制度上墙, 明确负责人 as 是/否):
  an unknown facility or a check that is not yes/no rejects the row; blank is unknown.
* Rows without coordinates are geocoded from their address when a geocoder is given; admin
  codes are filled (and checked) from the coordinates when a gazetteer is given.

One row is checked by :func:`_validate_row`, a sequence of small named steps (identity,
coordinates, services, status, demo flag, dates, hours, precision, admin codes, phone, original
coordinates, extra); the whole file is converted and placed by :func:`validate_rows`. Rows
without an id get a stable one (:func:`stable_id`) so re-importing a file updates rather than
duplicates.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from geo import crs as _crs
from geo.crs import CoordSystem
from geo.errors import ValidationError
from geo.hours import CHINA_TZ, OpeningHours
from geo.models import Precision, Station, parse_kind, parse_service, parse_status
from geo.records.issues import ImportReport, RowIssue
from geo.records.read import HEADER_ALIASES, RawRow
from geo.tables import normalise_text, strip_control

#: China's extent in WGS-84 degrees: a cheap test for "looks like a Chinese lon/lat" when
#: detecting swapped coordinates. The "outside China" check itself is :func:`geo.crs.in_china`.
CHINA_BOUNDS = (73.4, 3.8, 135.1, 53.6)

_CODE_LENGTHS = {
    "province_code": (6,),
    "prefecture_code": (6,),
    "county_code": (6,),
    "township_code": (9, 12),
    "village_code": (12,),
}
_TRUE = {"是", "true", "1", "yes", "y", "t", "演示", "示例"}
_FALSE = {"否", "false", "0", "no", "n", "f", ""}
_SERVICE_SEPARATORS = re.compile(r"[、;；|,，\s]+")
_TEXT_FIELDS = [k for k in HEADER_ALIASES if k != "extra"]
_PLACE_FIELDS = ("address", "province", "prefecture", "county", "township", "village")


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------
def _float(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not normalise_text(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = normalise_text(value).rstrip("°").strip()
    return float(text)  # ValueError for non-numbers


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = normalise_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _datetime(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = (
            normalise_text(value)
            .replace("/", "-")
            .replace("年", "-")
            .replace("月", "-")
            .replace("日", "")
        )
        if not text:
            return None
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)  # registries write China time
    return dt.astimezone(UTC)


def stable_id(name: str, kind: str, place: str) -> str:
    """A stable id for a row without one: a hash of name, kind and place."""
    digest = hashlib.sha1(f"{name}|{kind}|{place}".encode()).hexdigest()[:12]
    return f"S-{digest}"


@dataclass
class _Candidate:
    line: int
    station: Station
    in_lon: float | None
    in_lat: float | None
    crs: CoordSystem
    derived_id: bool
    geocoded: bool = False


def validate_rows(
    rows: Iterable[RawRow],
    crs: str | CoordSystem | None = "wgs84",
    fix_swapped: bool = True,
    duplicate_radius_m: float = 50.0,
    existing: Iterable[tuple[str, str, float | None, float | None]] = (),
    report: ImportReport | None = None,
    source: str | None = None,
    geocoder=None,
    gazetteer=None,
) -> tuple[list[Station], ImportReport]:
    """Validate raw rows into stations (WGS-84), recording every problem in the report.

    Parameters
    ----------
    rows
        Rows from :func:`read_raw`.
    crs
        Coordinate system of rows that have no ``坐标系`` value.
    fix_swapped
        Swap latitude/longitude given the wrong way round (with a warning) instead of
        rejecting the row.
    duplicate_radius_m
        Same-name rows closer than this are duplicates.
    existing
        ``(id, name, lon, lat)`` of stored stations, for the duplicate check.
    geocoder
        A :class:`geo.geocode.Geocoder` for rows without coordinates (their address and admin
        names are geocoded); without one such rows are rejected.
    gazetteer
        A :class:`geo.gazetteer.Gazetteer` for reverse geocoding: missing admin codes are
        filled from the coordinates, and a stated county that disagrees with them is warned.
    """
    report = report or ImportReport(source=source or "<rows>", format="rows")
    default_crs = CoordSystem.parse(crs) if crs else CoordSystem.WGS84
    candidates: list[_Candidate] = []
    for row in rows:
        report.rows += 1
        cand = _validate_row(row, default_crs, fix_swapped, report, geocoder is not None)
        if cand is not None:
            candidates.append(cand)
    if geocoder is not None:
        candidates = _geocode_candidates(candidates, geocoder, report)
    if not candidates:
        return [], report

    # Convert every coordinate system group in one vectorised call.
    lon = np.array([c.in_lon for c in candidates])
    lat = np.array([c.in_lat for c in candidates])
    systems = np.array([c.crs.value for c in candidates])
    for system in set(systems.tolist()):
        mask = systems == system
        lon[mask], lat[mask] = _crs.to_wgs84(lon[mask], lat[mask], system)
    inside = np.asarray(_crs.in_china(lon, lat), dtype=bool)

    kept: list[Station] = []
    for cand, x, y, ok in zip(candidates, lon.tolist(), lat.tolist(), inside.tolist(), strict=True):
        s = cand.station
        if not ok:
            report.rejected.append(
                RowIssue(
                    cand.line,
                    "lon",
                    "point is outside China's service area (mainland, Hong Kong, Macau): "
                    f"({x:.5f}, {y:.5f}); check the coordinates and their order",
                    f"{cand.in_lon}, {cand.in_lat}",
                    s.id,
                    s.name,
                    code="outside_china",
                    params={"lon": f"{x:.5f}", "lat": f"{y:.5f}"},
                )
            )
            continue
        s.lon, s.lat = round(x, 7), round(y, 7)
        if s.orig_lon is None and not cand.geocoded:
            s.orig_lon, s.orig_lat, s.orig_crs = cand.in_lon, cand.in_lat, cand.crs
        kept.append(s)
    lines = {id(c.station): c.line for c in candidates}
    if gazetteer is not None and kept:
        _reverse_fill(kept, lines, gazetteer, report)
    derived = {id(c.station) for c in candidates if c.derived_id}
    return _drop_duplicates(kept, lines, derived, existing, duplicate_radius_m, report), report


def _address_text(s: Station) -> str:
    """The text to geocode for a station: its admin names, then its address."""
    parts = [s.province, s.prefecture, s.county, s.township, s.village]
    admin = "".join(p for p in parts if p)
    address = s.address or ""
    return address if admin and address.startswith(admin[:2]) else admin + address


def _geocode_candidates(
    candidates: list[_Candidate], geocoder, report: ImportReport
) -> list[_Candidate]:
    """Geocode the candidates that have no coordinates; reject those that fail."""
    from geo.errors import GeocodeNotFound, ProviderError

    out = []
    for cand in candidates:
        if cand.in_lon is not None:
            out.append(cand)
            continue
        s = cand.station
        text = _address_text(s)
        try:
            result = geocoder.geocode(text)
        except (GeocodeNotFound, ProviderError) as exc:
            report.rejected.append(
                RowIssue(
                    cand.line,
                    "address",
                    f"no coordinates, and the address could not be geocoded: {exc.message}",
                    text,
                    s.id,
                    s.name,
                    code="geocode_failed",
                    params={"address": text},
                )
            )
            continue
        cand.in_lon, cand.in_lat, cand.crs = result.lon, result.lat, CoordSystem.WGS84
        cand.geocoded = True
        s.precision = result.precision
        s.extra = {**s.extra, "geocoded_by": result.provider}
        _fill_admin(s, result.codes, result.names)
        if result.precision.value in ("county", "prefecture"):
            report.warnings.append(
                RowIssue(
                    cand.line,
                    "address",
                    f"geocoded only to the {result.precision.value} "
                    f"({result.formatted}); the position is approximate: please review",
                    text,
                    s.id,
                    s.name,
                    code=(
                        "geocoded_county"
                        if result.precision.value == "county"
                        else "geocoded_prefecture"
                    ),
                    params={"formatted": str(result.formatted)},
                )
            )
        out.append(cand)
    return out


def _fill_admin(s: Station, codes: dict[str, str], names: dict[str, str]) -> None:
    """Fill the station's missing admin codes and names (never overwrite given ones)."""
    for level in ("province", "prefecture", "county", "township", "village"):
        code = codes.get(f"{level}_code")
        if code and not getattr(s, f"{level}_code"):
            setattr(s, f"{level}_code", code)
            if not getattr(s, level) and names.get(level):
                setattr(s, level, names[level])


def _reverse_fill(
    kept: list[Station], lines: dict[int, int], gazetteer, report: ImportReport
) -> None:
    """Fill missing admin codes from the coordinates; warn where the stated county disagrees.

    The stated county is the county code, else the county name read under the stated
    province and prefecture (县区=融水 is 融水苗族自治县); a name that disagrees with the
    coordinates is warned even when the code was filled or agrees. A row whose stated
    county disagrees keeps what it states (its codes are filled from the stated name) and
    is listed for review (:func:`geo.review.review_stations`).

    County and above come from the outlines (exact up to their simplification). A missing
    township is filled with the one whose approximate position is nearest within the
    county, and marked ``extra["township_source"] = "nearest"``.
    """
    from geo.review import county_conflict_reason, looks_like_gcj02_declared_wgs84

    lon = np.array([s.lon for s in kept])
    lat = np.array([s.lat for s in kept])
    found = gazetteer.county_codes_at(lon, lat)
    for s, code, x, y in zip(kept, found.tolist(), lon.tolist(), lat.tolist(), strict=True):
        county = gazetteer.get(code) if code else None
        if county is None:
            continue
        named = gazetteer.stated_county(s.province, s.prefecture, s.county)
        if named is not None and named.code != code:
            report.warnings.append(
                RowIssue(
                    lines[id(s)],
                    "county",
                    county_conflict_reason(named, county),
                    f"{s.county}; {x}, {y}",
                    s.id,
                    s.name,
                    code="county_conflict",
                    params={
                        "stated": named.name,
                        "found": county.name,
                        "stated_code": named.code,
                        "found_code": county.code,
                    },
                )
            )
            if not s.county_code:
                path = gazetteer.path(named)
                _fill_admin(
                    s,
                    {f"{lvl}_code": d.code for lvl, d in path.items()},
                    {lvl: d.name for lvl, d in path.items()},
                )
            continue
        if s.county_code and s.county_code != code and s.county_code in gazetteer.by_code:
            stated = gazetteer.get(s.county_code)
            hint = ""
            gcj02 = looks_like_gcj02_declared_wgs84(s, gazetteer)
            if gcj02:
                hint = (
                    "; it looks like a GCJ-02 (Amap/Tencent) coordinate declared as "
                    "WGS-84: set 坐标系 to gcj02"
                )
            report.warnings.append(
                RowIssue(
                    lines[id(s)],
                    "county_code",
                    f"the coordinates fall in {county.name} "
                    f"({code}), not in the stated {stated.name} ({s.county_code}){hint}",
                    f"{x}, {y}",
                    s.id,
                    s.name,
                    code="county_code_conflict_gcj02" if gcj02 else "county_code_conflict",
                    params={
                        "found": county.name,
                        "found_code": code,
                        "stated": stated.name,
                        "stated_code": s.county_code,
                    },
                )
            )
            continue
        # The county agrees (or is missing): fill the missing levels above and beside it
        # (province, prefecture), so an area of any level covers the station.
        path = gazetteer.path(county)
        _fill_admin(
            s,
            {f"{lvl}_code": d.code for lvl, d in path.items()},
            {lvl: d.name for lvl, d in path.items()},
        )
        if not s.township_code:
            # A stated township name that names one township of the county gives its code;
            # only without one is the nearest township position a guess (labelled so).
            named_towns = gazetteer.townships_named(code, s.township) if s.township else []
            if len(named_towns) == 1:
                s.township_code = named_towns[0].code
                s.extra = {**s.extra, "township_source": "name"}
            elif not s.township:
                rev = gazetteer.reverse_township(x, y, code)
                if rev is not None:
                    s.township_code, s.township = rev.code, rev.name
                    s.extra = {**s.extra, "township_source": "nearest"}
    # Township contradictions (issue 15 item 4): warned, not rejected; the review queue's check.
    from geo.gazetteer import township_outlines
    from geo.review import township_conflicts

    towns = township_conflicts(kept, gazetteer, township_outlines())
    for s in kept:
        found_town = towns.get(s.id)
        for why in found_town.details if found_town else ():
            # the review queue's reason (code and params) rides along, so a page renders
            # it in its own language (webapp.planner_text.reason_text)
            report.warnings.append(
                RowIssue(
                    lines[id(s)],
                    "township",
                    why.text,
                    s.township or s.township_code,
                    s.id,
                    s.name,
                    code="township_conflict",
                    params={"detail": why.text, "review_code": why.code, **why.params},
                )
            )


# --------------------------------------------------------------------------------------
# One row, step by step
# --------------------------------------------------------------------------------------
@dataclass
class _RowCheck:
    """The issues found in one row so far; each step adds to them."""

    line: int
    id: str | None
    name: str | None
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)

    def _issue(
        self, field_name: str, reason: str, value: object, code: str, params: dict[str, object]
    ) -> RowIssue:
        return RowIssue(
            self.line,
            field_name,
            reason,
            None if value is None else str(value),
            self.id,
            self.name,
            code=code,
            params={k: str(v) for k, v in params.items()},
        )

    def reject(
        self, field_name: str, reason: str, raw: object = None, /, *, code: str, **params: object
    ) -> None:
        """Reject the row: ``reason`` in English, ``code`` and ``params`` for the pages."""
        self.errors.append(self._issue(field_name, reason, raw, code, params))

    def warn(
        self, field_name: str, reason: str, raw: object = None, /, *, code: str, **params: object
    ) -> None:
        """Warn about the row (it is kept): as :meth:`reject`."""
        self.warnings.append(self._issue(field_name, reason, raw, code, params))


_HINT = re.compile(r"did you mean (.+) \((\w+)\)\?")


def _suggestion(message: str) -> str:
    """The ``did you mean 驿站 (yizhan)`` suggestion of a taxonomy error, or ``""``."""
    found = _HINT.search(message)
    return f"{found.group(1)} ({found.group(2)})" if found else ""


def _unknown_term(check: _RowCheck, field_name: str, what: str, exc: ValidationError, value):
    """Reject an unknown taxonomy term (kind, status, facility) with its suggestion."""
    hint = _suggestion(exc.message)
    check.reject(
        field_name,
        exc.message,
        value,
        code=f"{what}_unknown_hint" if hint else f"{what}_unknown",
        value=value,
        **({"suggestion": hint} if hint else {}),
    )


def _check_identity(v: dict, text: dict[str, str], check: _RowCheck) -> str | None:
    """Name and kind are required (the kind must be known); a feature must be a point."""
    if not text["name"]:
        check.reject("name", "name is missing", code="name_missing")
    kind = None
    if not text["kind"]:
        check.reject("kind", "kind is missing", code="kind_missing")
    else:
        try:
            kind = parse_kind(text["kind"])
        except ValidationError as exc:
            _unknown_term(check, "kind", "kind", exc, text["kind"])
    if "_geometry_error" in v:
        check.reject("geometry", str(v["_geometry_error"]), code="geometry_not_point")
    return kind


def _check_coordinates(
    v: dict,
    text: dict[str, str],
    check: _RowCheck,
    default_crs: CoordSystem,
    fix_swapped: bool,
    can_geocode: bool,
) -> tuple[float | None, float | None, CoordSystem, bool]:
    """Numbers, both or none, range, order and declared system.

    Returns ``(lon, lat, crs, geocode)``; ``geocode`` is true for a row without coordinates
    that has a place to geocode (and a geocoder to do it).
    """
    lon = lat = None
    try:
        lon = _float(v.get("lon"))
    except (TypeError, ValueError):
        check.reject("lon", "longitude is not a number", v.get("lon"), code="lon_not_number")
    try:
        lat = _float(v.get("lat"))
    except (TypeError, ValueError):
        check.reject("lat", "latitude is not a number", v.get("lat"), code="lat_not_number")
    coord_error = any(e.field in ("lon", "lat", "geometry") for e in check.errors)
    has_place = any(text[k] for k in _PLACE_FIELDS)
    geocode = lon is None and lat is None and not coord_error and can_geocode and has_place
    if lon is None and lat is None and not coord_error and not geocode:
        check.reject(
            "lon",
            "coordinates are missing (经度/纬度)"
            + ("" if has_place else ", and there is no address to geocode"),
            code="coordinates_missing" if has_place else "coordinates_missing_no_address",
        )
    elif (lon is None) != (lat is None) and not coord_error:
        check.reject(
            "lat" if lat is None else "lon",
            "only one of longitude/latitude is given",
            code="coordinates_half",
        )
    if lon is not None and lat is not None:
        x0, y0, x1, y1 = CHINA_BOUNDS
        looks_swapped = (y0 <= lon <= y1) and (x0 <= lat <= x1)
        if looks_swapped:
            if fix_swapped:
                check.warn(
                    "lon",
                    "longitude and latitude were swapped; fixed",
                    f"{lon}, {lat}",
                    code="swapped_fixed",
                )
                lon, lat = lat, lon
            else:
                check.reject(
                    "lon", "longitude and latitude look swapped", f"{lon}, {lat}", code="swapped"
                )
        elif not (-180 <= lon <= 180):
            check.reject("lon", "longitude out of range -180..180", lon, code="lon_range")
        elif not (-90 <= lat <= 90):
            check.reject("lat", "latitude out of range -90..90", lat, code="lat_range")
    row_crs = default_crs
    if text["crs"]:
        try:
            row_crs = CoordSystem.parse(text["crs"])
        except ValidationError as exc:
            check.reject("crs", exc.message, text["crs"], code="crs_unknown", value=text["crs"])
    return lon, lat, row_crs, geocode


def _check_services(raw: object, check: _RowCheck) -> list[str]:
    """Service codes from a list or a separated text; unknown ones are warned and dropped."""
    services: list[str] = []
    parts = (
        raw
        if isinstance(raw, list)
        else _SERVICE_SEPARATORS.split(normalise_text(raw).replace("纳凉/取暖", "纳凉"))
    )
    for part in parts:
        part = normalise_text(part)
        if not part:
            continue
        try:
            services.append(parse_service(part))
        except ValidationError:
            if "/" in part:  # "雨具/饮水" written with a slash
                sub = [p for p in part.split("/") if p]
                try:
                    services.extend(parse_service(p) for p in sub)
                    continue
                except ValidationError:
                    pass
            check.warn(
                "services",
                f"unknown service {part!r} ignored",
                part,
                code="service_unknown",
                value=part,
            )
    return services


def _check_status(text: dict[str, str], check: _RowCheck):
    """The operating status (open when blank)."""
    try:
        return parse_status(text["status"])
    except ValidationError as exc:
        _unknown_term(check, "status", "status", exc, text["status"])
        return None


def _check_demo(raw: object, check: _RowCheck) -> bool:
    """The demo flag: 是/否, yes/no, true/false, 1/0 (no when blank)."""
    try:
        return _bool(raw) if raw is not None else False
    except ValueError as exc:
        check.reject("demo", str(exc), raw, code="not_yes_no", value=raw)
        return False


def _check_updated(raw: object, check: _RowCheck) -> datetime | None:
    """The update time (China time unless stated) in UTC."""
    try:
        return _datetime(raw)
    except ValueError:
        check.reject(
            "updated_at",
            "not a date/time (use 2026-11-01 or 2026-11-01T08:00:00)",
            raw,
            code="not_datetime",
        )
        return None


def _check_hours(text: dict[str, str], check: _RowCheck) -> None:
    """Unreadable opening hours are kept as text with a warning (open-now unknown)."""
    if text["hours"]:
        try:
            OpeningHours.parse(text["hours"])
        except ValidationError as exc:
            check.warn(
                "hours",
                f"{exc.message}; kept as text, open-now unknown",
                text["hours"],
                code="hours_unreadable",
                value=text["hours"],
            )


def _check_precision(text: dict[str, str], check: _RowCheck) -> Precision:
    """The stated position precision (exact when blank, unknown when unreadable)."""
    if not text["precision"]:
        return Precision.EXACT
    try:
        return Precision(text["precision"].lower())
    except ValueError:
        check.warn(
            "precision",
            f"unknown precision {text['precision']!r}; "
            f"use one of {', '.join(p.value for p in Precision)}",
            text["precision"],
            code="precision_unknown",
            value=text["precision"],
            accepted=", ".join(p.value for p in Precision),
        )
        return Precision.UNKNOWN


def _check_admin_codes(text: dict[str, str], check: _RowCheck) -> dict[str, str | None]:
    """Admin codes of the right length (6, 9 or 12 digits); malformed ones are dropped."""
    codes: dict[str, str | None] = {}
    for fname, lengths in _CODE_LENGTHS.items():
        code = text[fname].replace(" ", "")
        if code.endswith(".0"):
            code = code[:-2]  # Excel numbers
        if code and not (code.isdigit() and len(code) in lengths):
            check.warn(
                fname,
                f"admin code must be {' or '.join(map(str, lengths))} digits; ignored",
                code,
                code="admin_code_length",
                digits="/".join(map(str, lengths)),
            )
            code = ""
        codes[fname] = code or None
    return codes


def _check_phone(text: dict[str, str], check: _RowCheck) -> str:
    """The phone text, warned when it has characters a phone number does not."""
    phone = text["phone"]
    if phone and not re.fullmatch(r"[0-9+\-() 转,，/、]+", phone):
        check.warn("phone", "phone number has unexpected characters", phone, code="phone_chars")
    return phone


def _check_original(v: dict, text: dict[str, str], check: _RowCheck) -> dict:
    """The audit columns of a re-imported export (original coordinates and system)."""
    if not text["orig_crs"]:
        return {}
    try:
        return {
            "orig_lon": _float(v.get("orig_lon")),
            "orig_lat": _float(v.get("orig_lat")),
            "orig_crs": CoordSystem.parse(text["orig_crs"]),
        }
    except (ValueError, ValidationError):
        check.warn(
            "orig_crs",
            "original coordinate columns unreadable; replaced",
            text["orig_crs"],
            code="orig_unreadable",
        )
        return {}


def _check_control(text: dict[str, str], check: _RowCheck) -> None:
    """Remove control characters (NUL, ESC …) from the text fields, warning per field."""
    for fname, value in text.items():
        clean, removed = strip_control(value)
        if removed:
            check.warn(
                fname,
                "control characters (NUL, ESC …) removed",
                repr(value),
                code="control_removed",
            )
            text[fname] = clean


def _check_extra(row: RawRow, check: _RowCheck) -> dict[str, str]:
    """Unknown columns plus an ``extra`` JSON object (kept as text when it is not one);
    control characters are removed from keys and values, with a warning."""
    extra = _check_extra_json(row, check)
    out: dict[str, str] = {}
    for key, value in extra.items():
        clean_key, removed_key = strip_control(str(key))
        clean, removed = strip_control("" if value is None else str(value))
        if removed_key or removed:
            check.warn(
                "extra",
                f"control characters removed from {clean_key!r}",
                repr(value),
                code="control_removed_extra",
                column=clean_key,
            )
        out[clean_key] = clean if isinstance(value, str) or removed else value
    return out


def _check_extra_json(row: RawRow, check: _RowCheck) -> dict[str, str]:
    extra = dict(row.extra)
    raw_extra = row.values.get("extra")
    if isinstance(raw_extra, dict):
        extra.update({str(k): normalise_text(x) for k, x in raw_extra.items()})
    elif normalise_text(raw_extra):
        try:
            extra.update({str(k): normalise_text(x) for k, x in json.loads(str(raw_extra)).items()})
        except (ValueError, AttributeError):
            check.warn(
                "extra",
                "extra is not a JSON object; kept as text",
                raw_extra,
                code="extra_not_json",
            )
            extra["extra"] = normalise_text(raw_extra)
    return extra


# 六有 (issue 15 item 7) ------------------------------------------------------------------
def _check_facilities(raw: object, text: dict[str, str], check: _RowCheck) -> tuple[str, ...]:
    """Facility codes (:data:`geo.liuyou.FACILITIES`) from a list or a separated text; an
    unknown facility rejects the row (a standard's facility list must be exact)."""
    from geo.liuyou import parse_facility

    parts = (
        [normalise_text(p) for p in raw]
        if isinstance(raw, list)
        else _SERVICE_SEPARATORS.split(text["facilities"])
    )
    codes: set[str] = set()
    for part in filter(None, parts):
        try:
            codes.add(parse_facility(part))
        except ValidationError as exc:
            _unknown_term(check, "facilities", "facility", exc, part)
    return tuple(sorted(codes))


def _check_liuyou(text: dict[str, str], check: _RowCheck) -> dict[str, bool]:
    """The manual 六有 checks: 是/否 each, blank is unknown (left out). A 负责人 column that
    holds a name records "manager named" (the name itself is not stored), with a warning."""
    checks: dict[str, bool] = {}
    for code in ("sign", "rules", "manager"):
        value = text[f"liuyou_{code}"]
        if not value:
            continue
        try:
            checks[code] = _bool(value)
        except ValueError:
            if code == "manager":
                checks[code] = True
                check.warn(
                    "liuyou_manager",
                    "负责人 given as a name: recorded as named, the name is not stored",
                    code="manager_named",
                )
            else:
                check.reject(
                    f"liuyou_{code}",
                    "not a yes/no value (是/否)",
                    value,
                    code="not_yes_no",
                    value=value,
                )
    return checks


def _validate_row(
    row: RawRow,
    default_crs: CoordSystem,
    fix_swapped: bool,
    report: ImportReport,
    can_geocode: bool = False,
) -> _Candidate | None:
    """One row into a candidate station, or ``None`` (its issues go to ``report``)."""
    v = row.values
    text = {k: normalise_text(v[k]) if k in v else "" for k in _TEXT_FIELDS}
    check = _RowCheck(row.line, None, None)
    _check_control(text, check)
    name = text["name"]
    check.id, check.name = text["id"] or None, name or None
    for issue in check.warnings:
        issue.id, issue.name = check.id, check.name

    kind = _check_identity(v, text, check)
    lon, lat, row_crs, geocode = _check_coordinates(
        v, text, check, default_crs, fix_swapped, can_geocode
    )
    services = _check_services(v.get("services"), check)
    status = _check_status(text, check)
    demo = _check_demo(v.get("demo"), check)
    updated = _check_updated(v.get("updated_at"), check)
    _check_hours(text, check)
    precision = _check_precision(text, check)
    codes = _check_admin_codes(text, check)
    phone = _check_phone(text, check)
    orig = _check_original(v, text, check)
    extra = _check_extra(row, check)
    facilities = _check_facilities(v.get("facilities"), text, check)  # 六有
    liuyou = _check_liuyou(text, check)

    report.warnings.extend(check.warnings)
    if check.errors:
        report.rejected.extend(check.errors)
        return None
    assert kind is not None and status is not None and (geocode or lon is not None)
    place = (
        codes["county_code"]
        or text["county"]
        or (f"{lon:.3f},{lat:.3f}" if lon is not None else text["address"])
    )
    station = Station(
        id=text["id"] or stable_id(name, kind, place),
        name=name,
        kind=kind,
        name_en=text["name_en"] or None,
        services=tuple(sorted(set(services))),
        address=text["address"] or None,
        province=text["province"] or None,
        prefecture=text["prefecture"] or None,
        county=text["county"] or None,
        township=text["township"] or None,
        village=text["village"] or None,
        precision=precision,
        hours=text["hours"] or None,
        phone=phone or None,
        union=text["union"] or None,
        status=status,
        demo=demo,
        source=text["source"] or None,
        notes=text["notes"] or None,
        updated_at=updated,
        extra=extra,
        province_code=codes["province_code"],
        prefecture_code=codes["prefecture_code"],
        county_code=codes["county_code"],
        township_code=codes["township_code"],
        village_code=codes["village_code"],
        **orig,
        facilities=facilities,
        liuyou=liuyou,
    )
    return _Candidate(row.line, station, lon, lat, row_crs, not text["id"])


# --------------------------------------------------------------------------------------
# Duplicates (the last validation step, over the whole file and the stored stations)
# --------------------------------------------------------------------------------------
def _name_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def _same_name_near(
    others: Iterable[tuple[str, float, float, str]],
    own_id: str,
    lon: float,
    lat: float,
    radius_m: float,
) -> tuple[str, float] | None:
    """The label and distance of the first of ``others`` (same-name ``(id, lon, lat, label)``)
    within ``radius_m`` of the point, not ``own_id``; ``None`` if there is none."""
    for other_id, x, y, label in others:
        if other_id == own_id:
            continue
        d = float(_crs.distance_m(lon, lat, x, y))
        if d <= radius_m:
            return label, d
    return None


def duplicate_pairs(
    stations: Iterable[tuple[str, str, float | None, float | None]], radius_m: float
) -> list[tuple[str, str, float]]:
    """Stored stations that the import's duplicate check would call duplicates of each other:
    ``(first id, second id, metres)`` for each pair with the same name (ignoring width, case
    and spaces) within ``radius_m``, in input order (the review queue, :mod:`geo.review_queue`).
    """
    by_name: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    pairs = []
    for sid, name, x, y in stations:
        if x is None or y is None:
            continue
        group = by_name[_name_key(name)]
        rest = list(group)
        while True:
            near = _same_name_near(rest, sid, x, y, radius_m)
            if near is None:
                break
            pairs.append((near[0], sid, near[1]))
            rest = rest[[r[3] for r in rest].index(near[0]) + 1 :]
        group.append((sid, x, y, sid))
    return pairs


def _drop_duplicates(
    stations: list[Station],
    lines: dict[int, int],
    derived: set[int],
    existing: Iterable[tuple[str, str, float | None, float | None]],
    radius_m: float,
    report: ImportReport,
) -> list[Station]:
    """Reject the same id twice, and the same name within ``radius_m`` of another station."""
    by_name: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    for sid, name, x, y in existing:
        if x is not None and y is not None:
            by_name[_name_key(name)].append((sid, x, y, f"stored station {sid}"))
    seen_ids: dict[str, int] = {}
    kept = []
    for s in stations:
        line = lines[id(s)]
        lon, lat = s.lon, s.lat
        assert lon is not None and lat is not None  # every validated station has a position
        if s.id in seen_ids:
            reason = (
                f"duplicate id (first on line {seen_ids[s.id]})"
                if id(s) not in derived
                else f"duplicate of line {seen_ids[s.id]}: same name, kind and place"
            )
            report.rejected.append(
                RowIssue(
                    line,
                    "id",
                    reason,
                    s.id,
                    s.id,
                    s.name,
                    code="duplicate_id" if id(s) not in derived else "duplicate_row",
                    params={"line": str(seen_ids[s.id])},
                )
            )
            continue
        near = _same_name_near(by_name.get(_name_key(s.name), ()), s.id, lon, lat, radius_m)
        dup = f"duplicate of {near[0]} with the same name, {near[1]:.0f} m away" if near else None
        if dup:
            assert near is not None
            report.rejected.append(
                RowIssue(
                    line,
                    "name",
                    dup,
                    s.name,
                    s.id,
                    s.name,
                    code="duplicate_near_stored"
                    if near[0].startswith("stored")
                    else "duplicate_near",
                    params={
                        "other": near[0].removeprefix("stored station ").removeprefix("line "),
                        "distance_m": f"{near[1]:.0f}",
                    },
                )
            )
            continue
        seen_ids[s.id] = line
        by_name[_name_key(s.name)].append((s.id, lon, lat, f"line {line}"))
        report.lines[s.id] = line
        kept.append(s)
    return kept
