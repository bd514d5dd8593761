"""Web parameters: one declaration (:class:`Param`) for every route's query and form fields.

A :class:`Param` says how to read and check one parameter and how to document it. The same
objects validate the JSON API and OGC requests (a bad or unknown parameter gives 400 naming
it), configure the embed page (strict, a friendly 400 page), restore the locator's share
links (lenient: a bad value is dropped, never an error on a public page) and read the
planner's forms (messages in Chinese); :mod:`webapp.openapi` builds the API document from
them, so the document and the checks cannot drift apart.

Kinds, services, statuses, modes and regions are parsed by :mod:`geo.models` and
:mod:`geo.regions`, so every path accepts the same codes, Chinese names and aliases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geo.errors import InvalidParameter, ValidationError
from geo.models import (
    KINDS,
    MODES,
    SERVICES,
    STATUS_TERMS,
    parse_kind,
    parse_mode,
    parse_service,
    parse_status,
)
from geo.regions import REGION_LEVELS, Region, resolve_region

#: Largest value of ``offset`` (larger offsets are refused; any offset past the end is fine).
MAX_OFFSET = 10**9
#: Separators of a list parameter's items (ASCII and full-width comma).
LIST_SEPARATORS = re.compile(r"[,，]")

Bound = float | int | Callable[[Any], Any] | None


def setting(name: str) -> Callable[[Any], Any]:
    """A bound read from the app's settings at request (or document) time."""
    return lambda settings: getattr(settings, name)


def choice(values: Sequence[str] | Callable[[], Sequence[str]], what: str) -> Callable:
    """A parser accepting one of ``values`` (case-insensitive), returning it lower-cased."""

    def parse(raw: str) -> str:
        allowed = values() if callable(values) else values
        text = raw.strip().lower()
        if text not in allowed:
            raise ValidationError(f"{what} must be one of {', '.join(allowed)}")
        return text

    return parse


def _parse_status(value: str) -> str:
    return parse_status(value).value


def region_parser(levels: tuple[str, ...] = REGION_LEVELS) -> Callable[[str], Region]:
    """A parser of a region code or name (:func:`geo.regions.resolve_region`)."""
    return lambda raw: resolve_region(raw, levels=levels)


@dataclass(frozen=True)
class Param:
    """One query or form parameter: how to read and check it, and how to document it.

    ``type`` is ``number``, ``integer``, ``boolean``, ``string``, ``bbox``, ``ogc_bbox`` or
    ``codes`` (a list, comma-separated or repeated, each item parsed by ``parse``; its
    documented enumeration comes from ``enum`` at document time, so extra kinds appear). A
    ``string`` with ``parse`` is parsed by it (its :class:`ValidationError` becomes the
    parameter's error), else checked against ``enum``. ``minimum`` / ``maximum`` / ``default``
    may be callables of the settings. ``clamp`` answers a number above ``maximum`` with the
    maximum instead of refusing it. ``form`` documents ``style: form, explode: false`` (a
    single value, a list comma-separated). ``once`` refuses a repeated parameter. ``label``
    and ``invalid_zh`` word the Chinese messages of the planner's forms.

    ``bbox`` is ``min_lon,min_lat,max_lon,max_lat`` with min ≤ max. ``ogc_bbox`` is the bbox
    of OGC API - Features (OGC 17-069r4, /req/core/fc-bbox-definition): four numbers, or six
    with the minimum and maximum height (checked, then ignored: stations have no height), in
    CRS84; a west edge greater than the east edge is a box across the antimeridian (read as
    the two boxes on either side of it). Both read as ``(west, south, east, north)``.
    """

    name: str
    type: str
    description: str = ""
    required: bool = False
    minimum: Bound = None
    maximum: Bound = None
    default: object = None
    enum: Callable[[], Sequence[str]] | None = None
    parse: Callable[[str], Any] | None = None
    max_length: int | None = None
    once: bool = False
    clamp: bool = False
    form: bool = False
    label: str = ""
    invalid_zh: str | None = None

    def bound(self, value, settings):
        return value(settings) if callable(value) else value

    # -- reading ---------------------------------------------------------------------------

    def read(self, args: Mapping, settings=None, *, lenient: bool = False, lang: str = "en"):
        """The parsed value from ``args`` (a request's ``MultiDict``).

        Raises :class:`InvalidParameter` (``lang="en"``) or a :class:`ValidationError` with
        a Chinese message and ``field`` (``lang="zh"``); with ``lenient`` a bad value gives
        the default instead (and a bad item of a list is dropped).
        """
        try:
            return self._read(args, settings, lenient, lang)
        except ValidationError:
            if lenient:
                return self.bound(self.default, settings)
            raise

    def _fail(self, reason: str, en: str, lang: str, **values) -> ValidationError:
        if lang != "zh":
            return InvalidParameter(self.name, en)
        label = self.label or self.name
        zh = (
            {
                "missing": self.invalid_zh or f"请填写{label}",
                "number": f"{label}：“{values.get('raw', '')}”不是有效的数字",
                "finite": f"{label}：必须是有限的数字",
                "low": f"{label}：不能小于 {values.get('lo', 0):g}",
                "high": f"{label}：不能大于 {values.get('hi', 0):g}",
            }.get(reason)
            or self.invalid_zh
            or f"{label}：{en}"
        )
        return ValidationError(zh, field=self.name)

    def _parse_one(self, raw: str, lang: str):
        try:
            return self.parse(raw)  # type: ignore[misc]
        except ValidationError as exc:
            if lang == "zh":
                if self.invalid_zh:
                    raise ValidationError(self.invalid_zh, field=self.name) from None
                details = {k: v for k, v in exc.details.items() if k != "field"}
                raise ValidationError(exc.message, field=self.name, **details) from None
            raise InvalidParameter(self.name, exc.message) from None

    def _read(self, args: Mapping, settings, lenient: bool, lang: str):
        getlist = getattr(args, "getlist", None)
        values = getlist(self.name) if getlist else ([args[self.name]] if self.name in args else [])
        if self.type == "codes":
            out = []
            for raw in values:
                for part in filter(None, (p.strip() for p in LIST_SEPARATORS.split(raw))):
                    try:
                        out.append(self._parse_one(part[:60], lang) if self.parse else part)
                    except ValidationError:
                        if not lenient:
                            raise
            return tuple(dict.fromkeys(out))
        if self.once and len(values) > 1:
            raise self._fail("once", "given more than once", lang)
        raw = values[0] if values else ""
        if self.max_length is not None and len(raw) > self.max_length:
            raise self._fail("length", f"longer than {self.max_length} characters", lang)
        raw = raw.strip()
        if not raw:
            if self.required:
                raise self._fail("missing", "is required", lang)
            return self.bound(self.default, settings)
        lo, hi = self.bound(self.minimum, settings), self.bound(self.maximum, settings)
        if self.type in ("number", "integer"):
            return self._number(raw, lo, hi, lang)
        if self.type == "boolean":
            low = raw.lower()
            if low in ("0", "false", "no"):
                return False
            if low in ("1", "true", "yes"):
                return True
            raise self._fail("boolean", "must be 1/true or 0/false", lang)
        if self.type == "bbox":
            return self._bbox(raw, lang)
        if self.type == "ogc_bbox":
            return self._ogc_bbox(raw, lang)
        if self.parse is not None:
            return self._parse_one(raw, lang)
        if self.enum is not None and raw not in self.enum():
            raise self._fail("enum", f"must be one of {', '.join(self.enum())}", lang)
        return raw

    def _number(self, raw: str, lo, hi, lang: str) -> float | int:
        integer = self.type == "integer"
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            what = "an integer" if integer else "a number"
            raise self._fail("number", f"not {what}: {raw[:40]!r}", lang, raw=raw) from None
        if not math.isfinite(value):
            raise self._fail("finite", "must be a finite number", lang)
        if self.clamp and hi is not None and value > hi:
            value = hi
        if lo is not None and hi is not None and not lo <= value <= hi:
            low = value < lo
            raise self._fail(
                "low" if low else "high", f"must be between {lo} and {hi}", lang, lo=lo, hi=hi
            )
        if lo is not None and value < lo:
            raise self._fail("low", f"must be at least {lo}", lang, lo=lo)
        if hi is not None and value > hi:
            raise self._fail("high", f"must be at most {hi}", lang, hi=hi)
        return value

    def _bbox(self, raw: str, lang: str) -> tuple[float, float, float, float]:
        try:
            x0, y0, x1, y1 = (float(v) for v in raw.split(","))
        except ValueError:
            raise self._fail("bbox", "must be min_lon,min_lat,max_lon,max_lat", lang) from None
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or not (
            -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
        ):
            raise self._fail(
                "bbox",
                "must be min_lon,min_lat,max_lon,max_lat within -180..180 / -90..90 with min ≤ max",
                lang,
            )
        return x0, y0, x1, y1

    def _ogc_bbox(self, raw: str, lang: str) -> tuple[float, float, float, float]:
        shape = (
            "must be 4 numbers (west,south,east,north) or 6 "
            "(west,south,min_height,east,north,max_height) in CRS84"
        )
        try:
            values = [float(v) for v in raw.split(",")]
        except ValueError:
            raise self._fail("bbox", shape, lang) from None
        if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
            raise self._fail("bbox", shape, lang)
        if len(values) == 6:
            x0, y0, z0, x1, y1, z1 = values
            if z0 > z1:
                raise self._fail("bbox", "the minimum height is above the maximum", lang)
        else:
            x0, y0, x1, y1 = values
        if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            raise self._fail(
                "bbox",
                "must lie within -180..180 / -90..90 with south ≤ north "
                "(west > east crosses the antimeridian)",
                lang,
            )
        return x0, y0, x1, y1

    # -- documenting -----------------------------------------------------------------------

    def schema(self, settings) -> dict:
        """The OpenAPI 3.0 parameter object."""
        lo, hi = self.bound(self.minimum, settings), self.bound(self.maximum, settings)
        default = self.bound(self.default, settings)
        out: dict = {"name": self.name, "in": "query", "required": self.required}
        if self.type == "codes":
            items: dict = {"type": "string"}
            if self.enum is not None:
                items["enum"] = list(self.enum())
            schema: dict = {"type": "array", "items": items}
            out["explode"] = True
            out["style"] = "form"
        elif self.type == "bbox":
            schema = {
                "type": "array",
                "minItems": 4,
                "maxItems": 4,
                "items": {"type": "number", "minimum": -180, "maximum": 180},
            }
            out["explode"] = False
            out["style"] = "form"
        elif self.type == "ogc_bbox":
            schema = {
                "type": "array",
                "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
                "items": {"type": "number"},
            }
        elif self.type == "boolean":
            schema = {"type": "boolean"}
        elif self.type in ("number", "integer"):
            schema = {"type": self.type, "minimum": lo, "maximum": hi}
        else:
            schema = {"type": "string"}
            if self.enum is not None:
                schema["enum"] = list(self.enum())
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        if default is not None and self.type != "codes":
            schema["default"] = default
        if self.form or self.type == "ogc_bbox":
            out["style"] = "form"
            out["explode"] = False
        out["schema"] = schema
        out["description"] = self.description
        return out


def check_unknown(args: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse parameters a route does not declare (typos would otherwise be ignored)."""
    allowed = list(allowed)
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise InvalidParameter(unknown[0], f"unknown parameter; allowed: {', '.join(allowed)}")


def parse_args(
    params: Sequence[Param],
    args: Mapping,
    settings=None,
    *,
    strict: bool = True,
    lenient: bool = False,
    lang: str = "en",
) -> dict:
    """``{name: value}`` of ``params`` read from ``args``.

    ``strict`` refuses undeclared parameters; ``lenient`` drops bad values (see
    :meth:`Param.read`); ``lang="zh"`` words the errors in Chinese (forms).
    """
    if strict:
        check_unknown(args, (p.name for p in params))
    return {p.name: p.read(args, settings, lenient=lenient, lang=lang) for p in params}


# -- declarations shared by the API, OGC, the embed, the locator and the planner ------------

KIND = Param(
    "kind",
    "codes",
    "Station kinds: codes (or Chinese names / aliases), comma-separated or repeated.",
    enum=lambda: list(KINDS),
    parse=parse_kind,
)
SERVICE = Param(
    "service",
    "codes",
    "Required services (all of them): codes or Chinese names, comma-separated or repeated.",
    enum=lambda: list(SERVICES),
    parse=parse_service,
)
STATUS = Param(
    "status",
    "codes",
    "Operating status: open, closed, planned (or 运营中 / 已关闭 / 筹建中).",
    enum=lambda: list(STATUS_TERMS),
    parse=_parse_status,
)
MODE = Param(
    "mode",
    "string",
    "Travel mode for the crow-fly time estimate (`minutes`): code or Chinese name.",
    enum=lambda: list(MODES),
    parse=parse_mode,
    default="walk",
)
OPEN_NOW = Param(
    "open_now", "boolean", "Only stations open now (China time); unknown hours are excluded."
)
BBOX = Param(
    "bbox",
    "bbox",
    "min_lon,min_lat,max_lon,max_lat (WGS-84 degrees, min ≤ max; the whole world is fine).",
)
COUNTY = Param("county", "string", "County code (450203) or county name.", max_length=64)
LIMIT = Param(
    "limit",
    "integer",
    "Page size (YIZHAN_API_MAX_LIMIT at most).",
    minimum=0,
    maximum=setting("api_max_limit"),
    default=lambda s: min(1000, s.api_max_limit),
)
OFFSET = Param(
    "offset",
    "integer",
    "Features to skip (paging); past the end gives an empty page.",
    minimum=0,
    maximum=MAX_OFFSET,
    default=0,
)
LON = Param("lon", "number", "Longitude, WGS-84 degrees.", required=True, minimum=-180, maximum=180)
LAT = Param("lat", "number", "Latitude, WGS-84 degrees.", required=True, minimum=-90, maximum=90)
REGION = Param(
    "region",
    "string",
    "Province, prefecture, county or township: code (6, 9 or 12 digits) or name.",
    parse=region_parser(),
    max_length=100,
)
