"""Regions: one answer to "which unit is this, and where is it?" for every layer.

A region is the whole country (``100000``, 全国), a province, prefecture, county or township
named by its code (6-digit GB/T 2260, 9- or 12-digit NBS) or by its name (full, short or
former, via :mod:`geo.gazetteer`). The country is not a unit of the gazetteer: it is
:data:`NATIONAL`, whose outline is the union of every bundled county outline (cached).
:func:`resolve_region` turns such text into a :class:`Region`; the region gives its outline
(the union of the bundled county outlines), its bounds and its counties. A name several units
share is refused with the candidates listed (``details["candidates"]``), never guessed.

Before this module the same question was answered in the locator, the embed, the planner
pages and the demand builders, and the copies disagreed; they all call this one now.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError
from geo.gazetteer import LEVELS, Division, Gazetteer, default_gazetteer

#: Levels a region can be (villages are too small to plan or map by).
REGION_LEVELS: tuple[str, ...] = ("country", "province", "prefecture", "county", "township")
#: Levels that have outlines in the bundled data (townships have none, see geo.gazetteer).
OUTLINE_LEVELS: tuple[str, ...] = ("country", "province", "prefecture", "county")
#: The GB/T 2260 code of the whole country.
NATIONAL_CODE = "100000"
#: The whole country as a region (not a unit of the gazetteer, whose top level is province).
NATIONAL = Division(code=NATIONAL_CODE, level="country", name="中华人民共和国")
#: Names that mean the whole country.
NATIONAL_NAMES = frozenset({"中华人民共和国", "中国", "全国", "china", "national"})
#: How many candidates an ambiguity error lists.
MAX_CANDIDATES = 8
#: Degrees added around a township's position when it stands for its bounds.
TOWNSHIP_PAD_DEG = 0.02


def _gaz(gazetteer: Gazetteer | None) -> Gazetteer:
    return gazetteer if gazetteer is not None else default_gazetteer()


def clean_code(value: object) -> str:
    """An admin code as text: NFKC, no spaces or Excel ``'`` prefix, no trailing ``.0``."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lstrip("'")
    text = re.sub(r"\s+", "", text)
    return re.sub(r"\.0+$", "", text)


def code_key(code: str) -> str:
    """An admin code in the gazetteer's form: a 12-digit code of a county or higher
    (``…000000``) as its 6-digit form, a 9-digit township code as 12 digits."""
    if re.fullmatch(r"\d{12}", code) and code.endswith("000000"):
        return code[:6]
    if re.fullmatch(r"\d{9}", code):
        return code + "000"  # NBS township code without its 3 trailing zeros
    return code


@dataclass(frozen=True)
class Region:
    """A resolved admin unit with its place in the hierarchy."""

    division: Division
    full_name: str

    @property
    def code(self) -> str:
        return self.division.code

    @property
    def name(self) -> str:
        return self.division.name

    @property
    def level(self) -> str:
        return self.division.level

    @property
    def has_outline(self) -> bool:
        return self.level in OUTLINE_LEVELS and _has_counties(default_gazetteer(), self.code)

    def counties(self, gazetteer: Gazetteer | None = None) -> gpd.GeoDataFrame:
        """The bundled county outlines making up this region (see :func:`region_counties`)."""
        return region_counties(self.code, gazetteer)

    def polygon(self, gazetteer: Gazetteer | None = None) -> BaseGeometry:
        """The region's outline (WGS-84), see :func:`region_polygon`."""
        return region_polygon(self.code, gazetteer)

    def bounds(self, gazetteer: Gazetteer | None = None) -> list[float] | None:
        """``[min_lon, min_lat, max_lon, max_lat]``, see :func:`region_bounds`."""
        return region_bounds(self.code, gazetteer)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "full_name": self.full_name,
            "level": self.level,
        }


def full_name(division: Division, gazetteer: Gazetteer | None = None) -> str:
    """``广西壮族自治区柳州市融水苗族自治县``: the unit's name after its ancestors'."""
    if division.code == NATIONAL_CODE:
        return division.name
    return "".join(d.name for d in _gaz(gazetteer).path(division).values())


def resolve_region(
    value: object,
    *,
    levels: tuple[str, ...] = REGION_LEVELS,
    gazetteer: Gazetteer | None = None,
    field: str = "region",
) -> Region:
    """A region from its code (6, 9 or 12 digits) or name (full, short or former).

    Parameters
    ----------
    value
        The code or name as a user typed it (spaces, full-width digits, an Excel ``'``
        prefix and a trailing ``.0`` are tolerated).
    levels
        Levels accepted; a unit of another level is refused with a message saying so.
    field
        The parameter name reported in the error.

    Raises
    ------
    ValidationError
        ``details["reason"]`` is ``empty``, ``unknown_code``, ``unknown_name``, ``level``
        or ``ambiguous``; an ambiguous name lists ``details["candidates"]`` (code, full name).
    """
    gaz = _gaz(gazetteer)
    text = clean_code(value) if value is not None else ""
    if not text:
        raise ValidationError("no region given", field=field, reason="empty")
    if (text.isdigit() and code_key(text) == NATIONAL_CODE) or text.lower() in NATIONAL_NAMES:
        if NATIONAL.level not in levels:
            raise ValidationError(
                f"{text} {NATIONAL.name} is the whole country; give a {' or '.join(levels)}",
                field=field,
                reason="level",
                text=text,
                level=NATIONAL.level,
            )
        return Region(NATIONAL, NATIONAL.name)
    if text.isdigit():
        code = code_key(text)
        unit = gaz.get(code)
        if unit is None:
            raise ValidationError(
                f"no admin unit has the code {text}", field=field, reason="unknown_code", text=text
            )
        if unit.level not in levels:
            raise ValidationError(
                f"{text} {unit.name} is a {unit.level}; give a {' or '.join(levels)}",
                field=field,
                reason="level",
                text=text,
                level=unit.level,
            )
        return Region(unit, full_name(unit, gaz))
    found = [d for d in gaz.lookup(text) if d.level in levels]
    if not found:
        raise ValidationError(
            f"unknown admin unit {text!r}", field=field, reason="unknown_name", text=text
        )
    if len(found) > 1:
        found = _outermost(found)
    if len(found) > 1:
        candidates = [{"code": d.code, "name": full_name(d, gaz)} for d in found]
        listed = "; ".join(f"{c['name']} {c['code']}" for c in candidates[:MAX_CANDIDATES])
        more = f" (+{len(found) - MAX_CANDIDATES} more)" if len(found) > MAX_CANDIDATES else ""
        raise ValidationError(
            f"{text!r} names {len(found)} admin units: {listed}{more}; give the code",
            field=field,
            reason="ambiguous",
            text=text,
            candidates=candidates,
        )
    return Region(found[0], full_name(found[0], gaz))


def _outermost(found: list[Division]) -> list[Division]:
    """Drop candidates inside another candidate: ``融水`` names the county 融水苗族自治县 and
    its seat 融水镇; the county contains the town, so the name means the county."""
    codes = {d.code for d in found}
    return [d for d in found if not any(d.ancestor(lv) in codes for lv in LEVELS if lv != d.level)]


def outline_code(code: object, field: str = "code") -> str:
    """A 6-digit code of a unit with an outline (province, prefecture, county).

    Raises :class:`ValidationError` for township codes (no outlines are bundled) and text
    that is not an admin code.
    """
    text = code_key(clean_code(code))
    if re.fullmatch(r"\d{12}", text):
        raise ValidationError(
            f"{text} is a township code; townships have no outlines, use the county "
            f"{text[:6]} or give a polygon",
            field=field,
        )
    if not re.fullmatch(r"\d{6}", text):
        raise ValidationError(f"{code!r} is not a 6-digit admin code", field=field)
    return text


def _county_rows(gaz: Gazetteer, code: str) -> gpd.GeoDataFrame:
    c = gaz.counties
    if code == NATIONAL_CODE:
        return c
    return c[(c["code"] == code) | (c["prefecture_code"] == code) | (c["province_code"] == code)]


def _has_counties(gaz: Gazetteer, code: str) -> bool:
    return not _county_rows(gaz, code).empty


def region_counties(code: object, gazetteer: Gazetteer | None = None) -> gpd.GeoDataFrame:
    """The bundled county outlines (rows of ``gazetteer.counties``) making up a region.

    ``code`` is a 6-digit province, prefecture or county code. Raises
    :class:`ValidationError` for unknown codes, township codes and units without outline.
    """
    gaz = _gaz(gazetteer)
    code = outline_code(code)
    rows = _county_rows(gaz, code)
    if rows.empty:
        division = gaz.by_code.get(code)
        if division is None:
            raise ValidationError(f"unknown admin code {code}", field="code")
        raise ValidationError(
            f"{code} {division.name} has no outline in the bundled data", field="code"
        )
    return rows.copy()


def region_polygon(code: object, gazetteer: Gazetteer | None = None) -> BaseGeometry:
    """The outline (WGS-84 shapely geometry) of the country, a province, prefecture or county.

    The union of its county outlines; cached per code (the country's takes about 10 s once
    per process).
    """
    return _region_polygon(_gaz(gazetteer), outline_code(code))


@lru_cache(maxsize=64)
def _region_polygon(gaz: Gazetteer, code: str) -> BaseGeometry:
    geom = region_counties(code, gaz).geometry.union_all()
    shapely.prepare(geom)
    return geom


def region_bounds(code: object, gazetteer: Gazetteer | None = None) -> list[float] | None:
    """``[min_lon, min_lat, max_lon, max_lat]`` of a region, or ``None`` when unknown.

    From the outlines for a province, prefecture or county; otherwise (a township, or a unit
    without outline) from the approximate positions of the unit and its units, a township
    alone padded by :data:`TOWNSHIP_PAD_DEG`.
    """
    gaz = _gaz(gazetteer)
    code = code_key(clean_code(code))
    bounds = _region_bounds(gaz, code)
    return list(bounds) if bounds is not None else None


@lru_cache(maxsize=512)
def _region_bounds(gaz: Gazetteer, code: str) -> list[float] | None:
    division = NATIONAL if code == NATIONAL_CODE else gaz.get(code)
    if division is None:
        return None
    if division.level in OUTLINE_LEVELS:
        counties = _county_rows(gaz, code)
        if not counties.empty:
            return [round(float(v), 5) for v in counties.total_bounds]
    df = gaz.frame
    col = f"{division.level}_code" if division.level not in ("township", "village") else "code"
    rows = df[(df[col] == code) | (df["code"] == code)] if col in df else df[df["code"] == code]
    rows = rows[rows["lon"].notna() & rows["lat"].notna()]
    if rows.empty:
        return None
    pad = TOWNSHIP_PAD_DEG if division.level == "township" else 0.0
    return [
        round(float(rows["lon"].min()) - pad, 5),
        round(float(rows["lat"].min()) - pad, 5),
        round(float(rows["lon"].max()) + pad, 5),
        round(float(rows["lat"].max()) + pad, 5),
    ]


def as_region_geometry(region: object, gazetteer: Gazetteer | None = None) -> BaseGeometry:
    """A polygonal WGS-84 geometry from a code, a shapely geometry or a GeoSeries/frame."""
    if isinstance(region, Region):
        return region.polygon(gazetteer)
    if isinstance(region, (str, int, np.integer)):
        return region_polygon(str(region), gazetteer)
    if isinstance(region, (gpd.GeoDataFrame, gpd.GeoSeries)):
        series = region.geometry if isinstance(region, gpd.GeoDataFrame) else region
        if series.crs is not None and not series.crs.equals("EPSG:4326"):
            series = series.to_crs("EPSG:4326")
        region = series.union_all()
    if not isinstance(region, BaseGeometry):
        raise ValidationError(
            "region must be a 6-digit admin code or a WGS-84 polygon", field="region"
        )
    if region.geom_type == "GeometryCollection":
        region = shapely.union_all(
            [g for g in shapely.get_parts(region) if g.geom_type in ("Polygon", "MultiPolygon")]
        )
    if region.is_empty or region.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(
            f"region must be a non-empty polygon, not {region.geom_type}", field="region"
        )
    if not region.is_valid:
        region = shapely.make_valid(region)
    shapely.prepare(region)
    return region


__all__ = [
    "LEVELS",
    "NATIONAL",
    "NATIONAL_CODE",
    "OUTLINE_LEVELS",
    "REGION_LEVELS",
    "Region",
    "as_region_geometry",
    "clean_code",
    "full_name",
    "outline_code",
    "region_bounds",
    "region_counties",
    "region_polygon",
    "resolve_region",
]
