"""Who may do what, and where: roles, their permissions, and areas (admin codes).

A user has one :class:`Role` and zero or more *areas*. An area is the code of an admin unit of
the bundled gazetteer (:mod:`geo.gazetteer`): a province (``450000``), prefecture
(``450200`` 柳州市), county (``450225`` 融水苗族自治县) or township (``450225100000`` 融水镇;
the 9-digit NBS form ``450225100`` is accepted and stored as 12 digits). An area *covers* a
station when it equals one of the station's province, prefecture, county or township codes, so
a prefecture reviewer covers every county of the prefecture. A user with no areas covers
everything (administrators; planner users from before roles existed); editors, reviewers and
read-only staff must have at least one area (:func:`check_user_areas`).

:data:`PERMISSIONS` is the one table of what each role may do; the web layer
(``webapp.manage.requires``) and the CLI ask :func:`allowed`. No Flask here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from types import SimpleNamespace
from typing import TYPE_CHECKING, Protocol

from geo.errors import ValidationError

if TYPE_CHECKING:
    from geo.gazetteer import Gazetteer

# geo.regions (geopandas, the gazetteer) is imported where an area is checked, so that the
# user store and the CLI's start do not pay for it.


class Role(StrEnum):
    """A user's role (stored as its value)."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    EDITOR = "editor"
    PLANNER = "planner"
    STAFF = "staff"


#: What a role may do: ``view_manage`` (the ``/manage/`` pages, read-only), ``edit``
#: (create/edit/close stations in the user's areas), ``review`` (approve others' changes in
#: the user's areas; never one's own), ``plan`` (the planner pages), ``manage_users``.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"view_manage", "edit", "review", "plan", "manage_users"}),
    Role.REVIEWER: frozenset({"view_manage", "edit", "review", "plan"}),
    Role.EDITOR: frozenset({"view_manage", "edit"}),
    Role.PLANNER: frozenset({"plan"}),
    Role.STAFF: frozenset({"view_manage"}),
}
#: Every permission name (the keys the web layer's ``requires`` accepts).
PERMISSION_NAMES: frozenset[str] = frozenset().union(*PERMISSIONS.values())
#: Role of a user created without one, and of users from before roles (migration 0007).
DEFAULT_ROLE = Role.PLANNER
#: Roles that must be given at least one area.
AREA_ROLES = frozenset({Role.REVIEWER, Role.EDITOR, Role.STAFF})
#: Role names in Chinese (pages, CLI listing).
ROLE_ZH = {
    Role.ADMIN: "管理员",
    Role.REVIEWER: "审核员",
    Role.EDITOR: "编辑",
    Role.PLANNER: "规划人员",
    Role.STAFF: "只读人员",
}
#: Admin levels an area may be.
AREA_LEVELS = ("province", "prefecture", "county", "township")
#: The station fields an area code is compared with.
_STATION_CODES = ("province_code", "prefecture_code", "county_code", "township_code")


class _HasCodes(Protocol):
    province_code: str | None
    prefecture_code: str | None
    county_code: str | None
    township_code: str | None


class _HasRole(Protocol):
    role: str
    areas: Sequence[str]


def parse_role(value: object) -> Role:
    """A :class:`Role` from its code or Chinese name; :class:`ValidationError` otherwise."""
    text = str(value or "").strip().lower()
    for role in Role:
        if text in (role.value, ROLE_ZH[role]):
            return role
    names = ", ".join(r.value for r in Role)
    raise ValidationError(f"unknown role {value!r}: one of {names}", field="role")


def allowed(role: object, permission: str) -> bool:
    """Whether ``role`` has ``permission`` (an unknown role has none)."""
    if permission not in PERMISSION_NAMES:
        raise ValueError(f"unknown permission {permission!r}")
    try:
        return permission in PERMISSIONS[Role(str(role))]
    except ValueError:
        return False


def area_code(value: object, gazetteer: Gazetteer | None = None) -> str:
    """The canonical code of an area (a province, prefecture, county or township code of the
    bundled gazetteer); :class:`ValidationError` with a clear message otherwise.

    Only codes are accepted (a name could be ambiguous and an area is a permission).
    """
    from geo.regions import clean_code, resolve_region

    text = clean_code(value) if value is not None else ""
    if not text.isdigit():
        raise ValidationError(
            f"区域必须是行政区划代码：{text!r} 不是 (an area is an admin code, not {text!r})",
            field="area",
            reason="not_a_code",
        )
    try:
        region = resolve_region(text, levels=AREA_LEVELS, gazetteer=gazetteer, field="area")
    except ValidationError as exc:
        raise ValidationError(
            f"区域代码 {text} 无效：{exc.message} (unknown area code {text})",
            field="area",
            reason=exc.details.get("reason"),
        ) from None
    return region.code


def area_level(code: object, gazetteer: Gazetteer | None = None) -> str:
    """``province``, ``prefecture``, ``county`` or ``township`` of an area code."""
    from geo.regions import resolve_region

    return resolve_region(area_code(code, gazetteer), levels=AREA_LEVELS, gazetteer=gazetteer).level


def area_name(code: object, gazetteer: Gazetteer | None = None) -> str:
    """The area's full name (``广西壮族自治区柳州市融水苗族自治县``), or ``""`` if unknown."""
    from geo.regions import resolve_region

    try:
        return resolve_region(code, levels=AREA_LEVELS, gazetteer=gazetteer).full_name
    except ValidationError:
        return ""


def _key(code: object) -> str:
    """A code in the gazetteer's form (6 digits to county, 12 digits for townships)."""
    from geo.regions import clean_code, code_key

    return code_key(clean_code(code)) if code not in (None, "") else ""


def area_forms(area: object) -> tuple[str, ...]:
    """The forms a station's stored code takes when it is ``area``: the code in the
    gazetteer's form, and for a township also its 9-digit form (``()`` for no code)."""
    key = _key(area)
    if not key:
        return ()
    return (key, key[:9]) if len(key) == 12 else (key,)


def covers(area: str, station: _HasCodes) -> bool:
    """Whether ``area`` (an admin code) covers ``station``: the code equals one of the
    station's province, prefecture, county or township codes (9- and 12-digit township
    codes compare equal)."""
    key = _key(area)
    if not key:
        return False
    return any(_key(getattr(station, f, None)) == key for f in _STATION_CODES)


def areas_cover(areas: Iterable[str], station: _HasCodes) -> bool:
    """Whether any of ``areas`` covers ``station``; no areas at all covers everything."""
    areas = list(areas)
    return not areas or any(covers(a, station) for a in areas)


def user_covers(user: _HasRole, station: _HasCodes) -> bool:
    """Whether ``user``'s areas cover ``station`` (a user without areas covers all)."""
    return areas_cover(user.areas, station)


def filter_to_areas(stations: Iterable, areas: Iterable[str]) -> list:
    """The stations ``areas`` cover (all of them when ``areas`` is empty)."""
    areas = list(areas)
    return [s for s in stations if areas_cover(areas, s)]


def point_covered(areas: Iterable[str], lon: float | None, lat: float | None, gazetteer) -> bool:
    """Whether ``areas`` cover the county that the point lies in (by the gazetteer's county
    outlines), so a record cannot claim an area its coordinates are not in. A township area
    is finer than the outlines: its county must be the point's. ``True`` without areas (all),
    without a point or a gazetteer, or where the gazetteer has no county (the stated codes
    decide there)."""
    areas = list(areas)
    if not areas or gazetteer is None or lon is None or lat is None:
        return True
    import numpy as np

    found = gazetteer.county_codes_at(np.array([float(lon)]), np.array([float(lat)])).tolist()[0]
    county = gazetteer.get(found) if found else None
    if county is None:
        return True
    codes = {f"{level}_code": d.code for level, d in gazetteer.path(county).items()}
    place = SimpleNamespace(**{f: codes.get(f) for f in _STATION_CODES})
    for area in areas:
        key = _key(area)
        if len(key) > 6:  # a township: the outline decides only its county
            if _key(codes.get("county_code")) == key[:6]:
                return True
        elif covers(area, place):
            return True
    return False


def check_user_areas(role: Role, areas: Sequence[str]) -> None:
    """Refuse an editor, reviewer or staff user without an area (they would cover all)."""
    if role in AREA_ROLES and not areas:
        raise ValidationError(
            f"角色 {role.value} 至少需要一个区域 (role {role.value} needs at least one --area)",
            field="area",
            reason="area_required",
        )


def area_condition(areas: Iterable[str], table=None):
    """A SQLAlchemy condition on the ``stations`` table (or a table with the same code
    columns): rows that ``areas`` cover, :func:`covers` in SQL. ``None`` for no areas (all).
    A township area matches the 12- and 9-digit forms of ``township_code``."""
    import sqlalchemy as sa

    if table is None:
        from geo.store.schema import stations as table
    areas = list(areas)
    if not areas:
        return None
    terms = []
    for area in areas:
        key = _key(area)
        if not key:
            continue
        terms += [table.c[f] == key for f in _STATION_CODES[:3]]
        terms.append(table.c.township_code.in_(area_forms(area)))
    return sa.or_(*terms) if terms else sa.false()


def county_status_counts(engine, areas: Sequence[str]) -> list[dict]:
    """Per county covered by ``areas`` (all counties for no areas): its code, name and the
    number of stations by status, ``[{"county_code", "county", "open", "closed", "planned",
    "total"}]`` ordered by code (stations without a county last, under ``""``)."""
    import sqlalchemy as sa

    from geo.store.schema import stations

    query = sa.select(
        stations.c.county_code, stations.c.county, stations.c.status, sa.func.count()
    ).group_by(stations.c.county_code, stations.c.county, stations.c.status)
    condition = area_condition(areas)
    if condition is not None:
        query = query.where(condition)
    rows: dict[str, dict] = {}
    with engine.connect() as conn:
        for code, name, status, n in conn.execute(query):
            row = rows.setdefault(
                code or "",
                {
                    "county_code": code or "",
                    "county": "",
                    "open": 0,
                    "closed": 0,
                    "planned": 0,
                    "total": 0,
                },
            )
            row["county"] = row["county"] or (name or "")
            if status in ("open", "closed", "planned"):
                row[status] += int(n)
            row["total"] += int(n)
    return sorted(rows.values(), key=lambda r: (r["county_code"] == "", r["county_code"]))
