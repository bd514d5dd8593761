"""Domain model: stations, their kinds and services, and result records.

This module owns the vocabulary of Yizhan (DESIGN §2). Kinds and services form an *open*
taxonomy: the built-in entries below can be extended by a deployment through
:func:`register_kind` / :func:`register_service` (or the ``YIZHAN_EXTRA_KINDS`` /
``YIZHAN_EXTRA_SERVICES`` settings), so a code is a plain string validated against the
registry rather than a closed :class:`enum.Enum`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from geo.crs import CoordSystem
from geo.errors import ValidationError
from geo.hours import OpeningHours


@dataclass(frozen=True)
class Term:
    """One entry of an open taxonomy (a station kind or a service).

    Attributes
    ----------
    code
        Stable ASCII code used in storage, URLs and the API (``rest_stop``).
    zh, en
        Display labels.
    aliases
        Other spellings accepted on import (Chinese names used by unions, English words).
    """

    code: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


class StationKind(StrEnum):
    """Built-in station kinds (DESIGN §2)."""

    REST_STOP = "rest_stop"
    LEGAL_AID = "legal_aid"
    VILLAGE_POINT = "village_point"
    WORKERS_HOME = "workers_home"
    MIGRANT_STATION = "migrant_station"
    LIAISON_STATION = "liaison_station"
    ASSISTANCE_CENTRE = "assistance_centre"


class Service(StrEnum):
    """Built-in services a station may offer (DESIGN §2)."""

    DRINKING_WATER = "drinking_water"
    HOT_MEAL = "hot_meal"
    TOILET = "toilet"
    REST = "rest"
    CHARGING = "charging"
    BATTERY_SWAP = "battery_swap"
    FIRST_AID = "first_aid"
    AED = "aed"
    COOLING_HEATING = "cooling_heating"
    RAIN_GEAR = "rain_gear"
    READING = "reading"
    LEGAL_ADVICE = "legal_advice"
    NURSING_ROOM = "nursing_room"


class Status(StrEnum):
    """Operating status of a station."""

    OPEN = "open"
    CLOSED = "closed"
    PLANNED = "planned"


class Precision(StrEnum):
    """How precisely a station's position is known, finest first."""

    EXACT = "exact"
    STREET = "street"
    VILLAGE = "village"
    TOWNSHIP = "township"
    COUNTY = "county"
    PREFECTURE = "prefecture"
    UNKNOWN = "unknown"


class TravelMode(StrEnum):
    """How a worker travels to a station (DESIGN §5); speeds live in :mod:`geo.travel`."""

    WALK = "walk"
    EBIKE = "ebike"
    CAR = "car"


#: Travel modes with their display labels: the one definition every layer reads.
MODE_TERMS: dict[str, Term] = {
    "walk": Term("walk", "步行", "walking", ("步行", "走路", "foot")),
    "ebike": Term("ebike", "电动自行车", "e-bike", ("电动车", "电瓶车", "e-bike", "bike")),
    "car": Term("car", "汽车", "car", ("驾车", "开车", "driving", "drive")),
}
#: Mode codes in display order.
MODES: tuple[str, ...] = tuple(MODE_TERMS)


def parse_mode(value: object, field_name: str = "mode") -> str:
    """A travel mode code from its code or label; :class:`ValidationError` otherwise."""
    text = str(value or "").strip().lower()
    for term in MODE_TERMS.values():
        if text == term.code or text in (term.zh, term.en.lower()) or text in term.aliases:
            return term.code
    raise ValidationError(
        f"unknown travel mode {value!r}; use one of {', '.join(MODES)}", field=field_name
    )


KINDS: dict[str, Term] = {}
SERVICES: dict[str, Term] = {}
STATUS_TERMS: dict[str, Term] = {
    "open": Term("open", "运营中", "open", ("开放", "正常", "在用", "运行", "启用", "active")),
    "closed": Term("closed", "已关闭", "closed", ("关闭", "停用", "撤销", "暂停", "inactive")),
    "planned": Term("planned", "筹建中", "planned", ("规划", "拟建", "在建", "筹建")),
}


def register_kind(term: Term) -> None:
    """Add (or replace) a station kind in the open taxonomy."""
    KINDS[term.code] = term
    _NAME_INDEX.clear()


def register_service(term: Term) -> None:
    """Add (or replace) a service in the open taxonomy."""
    SERVICES[term.code] = term
    _NAME_INDEX.clear()


#: Per registry: normalised name/alias → code, rebuilt when the taxonomy changes.
_NAME_INDEX: dict[int, tuple[int, dict[str, str]]] = {}


for _t in (
    Term(
        StationKind.REST_STOP,
        "工会爱心驿站",
        "Rest stop for outdoor workers",
        (
            "爱心驿站",
            "户外劳动者服务站点",
            "户外劳动者服务站",
            "工会驿站",
            "暖心驿站",
            "驿站",
            "rest stop",
            "rest station",
        ),
    ),
    Term(
        StationKind.LEGAL_AID,
        "法律援助服务站",
        "Legal-aid post",
        (
            "工会法律援助服务站",
            "律师站",
            "律师工作站",
            "维权服务站",
            "法律服务站",
            "法援站",
            "legal aid",
            "lawyer station",
        ),
    ),
    Term(
        StationKind.VILLAGE_POINT,
        "村级工会服务点",
        "Village service point",
        ("村级服务点", "工会服务点", "village point"),
    ),
    Term(StationKind.WORKERS_HOME, "职工之家", "Workers' home", ("职工之家", "workers home")),
    Term(
        StationKind.MIGRANT_STATION,
        "农民工工作站",
        "Migrant-worker station",
        ("农民工服务站", "农民工维权站", "migrant station"),
    ),
    Term(
        StationKind.LIAISON_STATION,
        "人大代表联络站",
        "Deputies' liaison station",
        ("代表联络站", "联络站", "liaison station"),
    ),
    Term(
        StationKind.ASSISTANCE_CENTRE,
        "帮扶服务站",
        "Assistance centre",
        ("帮扶中心", "困难职工帮扶中心", "帮扶站", "assistance center"),
    ),
):
    register_kind(_t)

for _t in (
    Term(Service.DRINKING_WATER, "饮水", "Drinking water", ("喝水", "热水", "饮用水", "water")),
    Term(Service.HOT_MEAL, "热饭", "Food heating", ("微波炉", "加热", "热饭菜", "microwave")),
    Term(Service.TOILET, "如厕", "Toilet", ("厕所", "卫生间", "洗手间")),
    Term(Service.REST, "休息", "Rest area", ("歇脚", "休憩", "座椅")),
    Term(Service.CHARGING, "充电", "Phone charging", ("手机充电", "充电宝")),
    Term(Service.BATTERY_SWAP, "换电", "E-bike battery swap", ("电动车充电", "电瓶车充电")),
    Term(Service.FIRST_AID, "药箱", "First-aid kit", ("医药箱", "急救箱", "常用药品")),
    Term(Service.AED, "AED", "AED defibrillator", ("除颤仪", "自动体外除颤器")),
    Term(
        Service.COOLING_HEATING,
        "纳凉/取暖",
        "Cooling and warming",
        ("纳凉", "取暖", "避暑", "空调", "防暑降温"),
    ),
    Term(Service.RAIN_GEAR, "雨具", "Rain gear", ("雨伞", "雨衣", "避雨")),
    Term(Service.READING, "阅读", "Reading", ("书报", "图书", "职工书屋")),
    Term(
        Service.LEGAL_ADVICE,
        "法律咨询",
        "Legal advice",
        ("法律援助", "法律服务", "维权咨询", "legal aid"),
    ),
    Term(
        Service.NURSING_ROOM,
        "爱心妈咪小屋",
        "Nursing room",
        ("妈咪小屋", "母婴室", "哺乳室", "nursing"),
    ),
):
    register_service(_t)


def _norm_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "").replace("_", "")


def _names(registry: dict[str, Term]) -> dict[str, str]:
    cached = _NAME_INDEX.get(id(registry))
    if cached is not None and cached[0] == len(registry):
        return cached[1]
    names: dict[str, str] = {}
    for term in registry.values():
        for name in (term.code, term.zh, term.en, *term.aliases):
            names.setdefault(_norm_key(name), term.code)
    _NAME_INDEX[id(registry)] = (len(registry), names)
    return names


#: Whether this process has read the configured extra kinds and services (see _lookup).
_ENV_TAXONOMY_READ = False


def register_taxonomy_text(kinds: str = "", services: str = "") -> None:
    """Register extra kinds and services written ``code:中文名:English name;…`` (the form of
    ``YIZHAN_EXTRA_KINDS`` / ``YIZHAN_EXTRA_SERVICES``).

    Raises
    ------
    ValidationError
        If an entry is not ``code:中文名:English name``.
    """
    for text, register, field_name in (
        (kinds, register_kind, "extra_kinds"),
        (services, register_service, "extra_services"),
    ):
        for item in filter(None, (s.strip() for s in (text or "").split(";"))):
            parts = [p.strip() for p in item.split(":")]
            if len(parts) != 3 or not all(parts):
                raise ValidationError(
                    f"taxonomy entry {item!r} must be code:中文名:English name",
                    field=field_name,
                )
            code, zh, en = parts
            register(Term(code, zh, en))


def _read_env_taxonomy() -> bool:
    """Register the extra kinds and services of the environment, once per process.

    A process that never configured the taxonomy (a spawned worker, a pool started by a
    library) still knows the deployment's kinds; ``True`` if this call read them. The
    variables are the settings ``YIZHAN_EXTRA_KINDS`` / ``YIZHAN_EXTRA_SERVICES``
    (:mod:`geo.settings`, which imports this module, not the reverse).
    """
    global _ENV_TAXONOMY_READ
    if _ENV_TAXONOMY_READ:
        return False
    _ENV_TAXONOMY_READ = True
    register_taxonomy_text(
        os.environ.get("YIZHAN_EXTRA_KINDS", ""), os.environ.get("YIZHAN_EXTRA_SERVICES", "")
    )
    return True


def _lookup(registry: dict[str, Term], value: str, what: str, field_name: str) -> str:
    key = _norm_key(value)
    if not key:
        raise ValidationError(f"{what} is empty", field=field_name)
    names = _names(registry)
    if key not in names and _read_env_taxonomy():
        names = _names(registry)
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.5)
    hint = ""
    if close:
        best = registry[names[close[0]]]
        hint = f"; did you mean {best.zh} ({best.code})?"
    raise ValidationError(f"unknown {what} {value!r}{hint}", field=field_name)


def lookup_term(registry: dict[str, Term], value: str, what: str, field_name: str) -> str:
    """The code in ``registry`` (any open taxonomy, e.g. :data:`geo.liuyou.FACILITIES`) for a
    code, label or alias; :class:`ValidationError` suggesting the closest otherwise."""
    return _lookup(registry, value, what, field_name)


def parse_kind(value: str) -> str:
    """Return the kind code for a code, a label or an alias; suggest the closest if unknown.

    Raises
    ------
    ValidationError
        If ``value`` names no known kind (the message suggests the closest one).
    """
    return _lookup(KINDS, value, "kind", "kind")


def parse_service(value: str) -> str:
    """Return the service code for a code, label or alias (see :func:`parse_kind`)."""
    return _lookup(SERVICES, value, "service", "services")


def parse_services(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split a service list (``"饮水、热饭;充电"`` or an iterable) into sorted unique codes."""
    if value is None:
        return ()
    if isinstance(value, str):
        # "纳凉/取暖" is one label, so protect it before splitting on "/".
        text = unicodedata.normalize("NFKC", value).replace("纳凉/取暖", "纳凉")
        parts = re.split(r"[、;；|/,，\s]+", text)
    else:
        parts = [str(p).strip() for p in value]
    codes = {parse_service(p) for p in parts if p.strip()}
    return tuple(sorted(codes))


def parse_status(value: str | None) -> Status:
    """Return a :class:`Status` from a code or a Chinese label; empty means ``open``."""
    if value is None or not str(value).strip():
        return Status.OPEN
    return Status(_lookup(STATUS_TERMS, str(value), "status", "status"))


@dataclass(slots=True)
class Station:
    """One union service station, with its position in WGS-84 (EPSG:4326).

    Attributes
    ----------
    id
        Stable identifier, unique in the registry (given by the union or derived).
    name, name_en
        Display names (Chinese, optional English).
    kind
        A code from :data:`KINDS`.
    services
        Codes from :data:`SERVICES`, sorted.
    lon, lat
        Canonical WGS-84 coordinates (``None`` while not geocoded).
    orig_lon, orig_lat, orig_crs
        The coordinate as given and its declared system, kept for audit.
    precision
        How precisely ``lon``/``lat`` are known.
    hours
        Opening hours text in the syntax of :mod:`geo.hours`.
    """

    id: str
    name: str
    kind: str
    lon: float | None = None
    lat: float | None = None
    name_en: str | None = None
    services: tuple[str, ...] = ()
    address: str | None = None
    province_code: str | None = None
    province: str | None = None
    prefecture_code: str | None = None
    prefecture: str | None = None
    county_code: str | None = None
    county: str | None = None
    township_code: str | None = None
    township: str | None = None
    village_code: str | None = None
    village: str | None = None
    orig_lon: float | None = None
    orig_lat: float | None = None
    orig_crs: CoordSystem | None = None
    precision: Precision = Precision.UNKNOWN
    hours: str | None = None
    phone: str | None = None
    union: str | None = None
    status: Status = Status.OPEN
    demo: bool = False
    source: str | None = None
    notes: str | None = None
    updated_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # -- history (issue 15 item 6, migration 0008_history) ---------------------------------
    #: The stored version: 1 when created, +1 on every change (0: not stored yet). Not part
    #: of equality: a station read back equals the one saved.
    version: int = field(default=0, compare=False)
    # -- 六有 (issue 15 item 7; geo/liuyou.py owns their meaning) --------------------------
    #: Facility codes of :data:`geo.liuyou.FACILITIES`, sorted.
    facilities: tuple[str, ...] = ()
    #: Manual 六有 checks (:data:`geo.liuyou.CHECKS`): ``{"sign"|"rules"|"manager": bool}``;
    #: a check not present is unknown.
    liuyou: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept plain strings from library callers; store the enums.
        if self.orig_crs is not None and not isinstance(self.orig_crs, CoordSystem):
            self.orig_crs = CoordSystem.parse(self.orig_crs)
        self.precision = Precision(self.precision)
        self.status = Status(self.status)
        self.services = tuple(self.services)

    @property
    def opening_hours(self) -> OpeningHours:
        """The parsed opening hours; empty or unreadable text means unknown, never closed."""
        try:
            return OpeningHours.parse(self.hours)
        except ValidationError:
            return OpeningHours(self.hours or "", None)

    def is_open(self, at: datetime | None = None) -> bool | None:
        """Whether the station is open at ``at`` (default now), evaluated in China time.

        Returns ``None`` when the hours are unknown; ``False`` when the station is not
        operating (closed or planned) whatever its hours.
        """
        if self.status is not Status.OPEN:
            return False
        return self.opening_hours.is_open(at)

    @property
    def kind_term(self) -> Term:
        return KINDS.get(self.kind) or Term(self.kind, self.kind, self.kind)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (enums as their values, times ISO 8601)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, StrEnum):
                v = v.value
            elif isinstance(v, datetime):
                v = v.isoformat()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


@dataclass(frozen=True)
class Nearby:
    """A station found by a spatial query, with its great-circle distance in metres."""

    station: Station
    distance_m: float
