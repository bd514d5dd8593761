"""The embeddable map: ``/embed`` (a light locator page for iframes) and ``/embed/builder``.

``/embed`` renders the locator partial (``_locator.html``) with ``embed=True`` and the view,
filters, language and controls taken from strictly validated query parameters; a bad parameter
gives a friendly 400 page naming it (still framable, so the embedding site shows the reason).

Framing policy (applied by ``webapp._register_headers``): responses of :data:`FRAMABLE`
endpoints send ``Content-Security-Policy: frame-ancestors 'self' <YIZHAN_EMBED_ORIGINS>`` and
no ``X-Frame-Options``; every other page keeps ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``. ``'self'`` is always allowed so the builder's preview works.
The same allow-list goes to ``embed.js``, which posts its messages only to a parent whose
origin is on it (never to ``"*"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, current_app, render_template, request, url_for

from geo.errors import InvalidParameter, ValidationError
from geo.gazetteer import LEVELS, Division, default_gazetteer
from geo.models import KINDS, SERVICES, parse_kind, parse_service

bp = Blueprint("embed", __name__, url_prefix="/embed")

#: Endpoints whose pages may be framed by the allow-listed origins (the embed page) or that
#: the embed loads inside its frame (scripts, styles, the offline outlines): no
#: X-Frame-Options on these.
FRAMABLE = frozenset({"embed.embed", "static", "public.counties", "public.basemap"})
#: Controls the locator partial knows, in display order.
CONTROLS = ("search", "locate", "filters", "list", "lang", "basemaps")
#: What an embed shows when ``controls`` is not given: the basics, no language/basemap switch.
DEFAULT_CONTROLS = ("search", "locate", "filters", "list")
PARAMETERS = ("region", "kind", "service", "lang", "lat", "lon", "zoom", "controls", "height")
LANGS = ("zh", "en")
ZOOM_RANGE = (3, 18)
HEIGHT_RANGE = (200, 2000)
DEFAULT_ZOOM = 12
SETTING = "YIZHAN_EMBED_ORIGINS"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(
    rf"^(?P<scheme>https?)://(?P<star>\*\.)?(?P<host>{_LABEL}(?:\.{_LABEL})*)"
    r"(?::(?P<port>\d{1,5}))?/?$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origins(text: str) -> tuple[str, ...]:
    """The allow-list of ``YIZHAN_EMBED_ORIGINS``: normalised, validated origins.

    Each item is ``scheme://host[:port]`` with scheme ``http`` or ``https`` (lower-cased, a
    default port and one trailing ``/`` dropped) or ``scheme://*.domain[:port]`` for every
    subdomain of ``domain`` (which needs at least two labels: ``*.cn`` is refused). Paths,
    queries, user names, a bare ``*`` and IPv6 literals are refused.

    Raises
    ------
    ValidationError
        Naming the first item that is not such an origin.
    """
    origins: list[str] = []
    for item in filter(None, re.split(r"[\s,]+", text or "")):
        m = _ORIGIN.match(item.lower())
        if not m:
            raise ValidationError(
                f"{SETTING}: {item!r} is not an origin: write scheme://host[:port] (http or "
                "https, no path, query or wildcard other than a leading `*.`), e.g. "
                "https://www.example-union.org.cn",
                field=SETTING,
            )
        scheme, star, host, port = m["scheme"], m["star"] or "", m["host"], m["port"]
        if star and "." not in host:
            raise ValidationError(
                f"{SETTING}: {item!r} is too broad: `*.` must be followed by a domain with at "
                "least two labels (https://*.example.cn)",
                field=SETTING,
            )
        if port is not None:
            if not 1 <= int(port) <= 65535:
                raise ValidationError(f"{SETTING}: {item!r}: port out of range", field=SETTING)
            port = None if int(port) == _DEFAULT_PORTS[scheme] else str(int(port))
        origin = f"{scheme}://{star}{host}" + (f":{port}" if port else "")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """The CSP ``frame-ancestors`` sources of the embed: this site and the allow-list."""
    return " ".join(("'self'", *origins))


def is_framable(endpoint: str | None) -> bool:
    """Whether the page of ``endpoint`` may be framed by the allow-listed origins."""
    return endpoint in FRAMABLE


def init_app(app) -> None:
    """Validate the allow-list (a bad one stops the app from starting) and add the routes."""
    settings = app.extensions["yizhan"]["settings"]
    app.extensions["yizhan"]["embed_origins"] = parse_origins(settings.embed_origins)
    app.register_blueprint(bp)


def _origins() -> tuple[str, ...]:
    return current_app.extensions["yizhan"]["embed_origins"]


# -- parameters ---------------------------------------------------------------------------


@dataclass
class EmbedOptions:
    """What an ``/embed`` URL asks for, validated."""

    region: Division | None = None
    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    lang: str = "zh"
    view: dict | None = None  # {"lat", "lon", "zoom"}
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    height: int | None = None
    region_bounds: list[float] | None = field(default=None, repr=False)

    def query(self) -> dict[str, str]:
        """The same options as query parameters (for the "open full map" link)."""
        q: dict[str, str] = {}
        if self.region:
            q["region"] = self.region.code
        if self.kinds:
            q["kind"] = ",".join(self.kinds)
        if self.services:
            q["service"] = ",".join(self.services)
        if self.lang != "zh":
            q["lang"] = self.lang
        if self.view:
            q.update({k: str(self.view[k]) for k in ("lat", "lon", "zoom")})
        return q


def parse_options(args) -> EmbedOptions:
    """Validate the query parameters of ``/embed``.

    Raises
    ------
    InvalidParameter
        Naming the first bad or unknown parameter.
    """
    unknown = sorted(set(args) - set(PARAMETERS))
    if unknown:
        raise InvalidParameter(unknown[0], f"unknown parameter; allowed: {', '.join(PARAMETERS)}")
    opts = EmbedOptions()
    region = _single(args, "region")
    if region:
        opts.region = resolve_region(region)
        opts.region_bounds = region_bounds(opts.region)
    opts.kinds = _terms(args, "kind", parse_kind)
    opts.services = _terms(args, "service", parse_service)
    lang = _single(args, "lang").lower()
    if lang:
        if lang not in LANGS:
            raise InvalidParameter("lang", "must be zh or en")
        opts.lang = lang
    lat, lon = _number(args, "lat", -90, 90), _number(args, "lon", -180, 180)
    zoom = _number(args, "zoom", *ZOOM_RANGE, integer=True)
    if (lat is None) != (lon is None):
        raise InvalidParameter("lat" if lat is None else "lon", "lat and lon go together")
    if lat is not None:
        opts.view = {"lat": lat, "lon": lon, "zoom": int(zoom or DEFAULT_ZOOM)}
    elif zoom is not None:
        raise InvalidParameter("zoom", "needs lat and lon")
    if "controls" in args:
        opts.controls = _controls(args.getlist("controls"))
    height = _number(args, "height", *HEIGHT_RANGE, integer=True)
    opts.height = int(height) if height is not None else None
    return opts


def _single(args, name: str) -> str:
    values = args.getlist(name)
    if len(values) > 1:
        raise InvalidParameter(name, "given more than once")
    value = (values[0] if values else "").strip()
    if len(value) > 100:
        raise InvalidParameter(name, "too long")
    return value


def _number(args, name: str, lo: float, hi: float, integer: bool = False) -> float | None:
    raw = _single(args, name)
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise InvalidParameter(name, f"not {what}: {raw[:40]!r}") from None
    if not lo <= value <= hi:  # NaN fails this too
        raise InvalidParameter(name, f"must be between {lo} and {hi}")
    return value


def _terms(args, name: str, parse) -> tuple[str, ...]:
    codes: list[str] = []
    for raw in args.getlist(name):
        for part in filter(None, (p.strip() for p in re.split(r"[,，]", raw))):
            try:
                codes.append(parse(part[:60]))
            except ValidationError as exc:
                raise InvalidParameter(name, exc.message) from None
    return tuple(dict.fromkeys(codes))


def _controls(raw_values: list[str]) -> tuple[str, ...]:
    names = [p.strip().lower() for raw in raw_values for p in raw.split(",") if p.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in CONTROLS]
    if bad:
        raise InvalidParameter(
            "controls", f"unknown control {bad[0][:40]!r}; allowed: {', '.join(CONTROLS)}, none"
        )
    return tuple(c for c in CONTROLS if c in names)


def resolve_region(text: str) -> Division:
    """A province, prefecture, county or township by its code (6 or 12 digits) or name.

    Raises
    ------
    InvalidParameter
        Unknown code or name, or a name several units share (the message lists them).
    """
    gaz = default_gazetteer()
    if text.isdigit():
        unit = gaz.get(text) or (
            gaz.get(text[:6]) if len(text) == 12 and text.endswith("0" * 6) else None
        )
        if unit is None:
            raise InvalidParameter("region", f"no division has the code {text!r}")
        return unit
    found = [d for d in gaz.lookup(text) if d.level in LEVELS[:4]]
    if not found:
        raise InvalidParameter("region", f"unknown division {text!r}")
    if len(found) > 1:
        listed = "; ".join(f"{_full_name(gaz, d)} {d.code}" for d in found[:5])
        more = f" (+{len(found) - 5} more)" if len(found) > 5 else ""
        raise InvalidParameter(
            "region", f"{text!r} names {len(found)} divisions: {listed}{more}; give the code"
        )
    return found[0]


def _full_name(gaz, division: Division) -> str:
    return "".join(d.name for d in gaz.path(division).values())


def region_bounds(division: Division) -> list[float] | None:
    """``[min_lon, min_lat, max_lon, max_lat]`` of the positions of the unit and its units.

    Approximate: township positions are the centres of their bounding boxes (see
    :mod:`geo.gazetteer`); a township alone gives a small box around its position.
    """
    df = default_gazetteer().frame
    col = f"{division.level}_code" if division.level != "township" else "code"
    rows = df[(df[col] == division.code) | (df["code"] == division.code)]
    rows = rows[rows["lon"].notna() & rows["lat"].notna()]
    if rows.empty:
        return None
    pad = 0.02 if division.level == "township" else 0.0
    return [
        round(float(rows["lon"].min()) - pad, 5),
        round(float(rows["lat"].min()) - pad, 5),
        round(float(rows["lon"].max()) + pad, 5),
        round(float(rows["lat"].max()) + pad, 5),
    ]


# -- pages --------------------------------------------------------------------------------


@bp.get("")
def embed():
    """The map for iframes: same search and filters as ``/``, configured by the URL."""
    try:
        opts = parse_options(request.args)
    except InvalidParameter as exc:
        return _error_page(exc), 400
    from webapp.public import locator_config

    cfg = locator_config(
        lang=opts.lang,
        controls=list(opts.controls),
        kinds=list(opts.kinds),
        services=list(opts.services),
        region=opts.region.code if opts.region else None,
        view=opts.view,
        embed=True,
        scroll_wheel_zoom=False,  # until the map is clicked (locator.js)
    )
    if opts.region is not None:
        cfg["regionName"] = opts.region.name
        if not cfg.get("regionBounds"):  # townships: bounds from the gazetteer positions
            cfg["regionBounds"] = opts.region_bounds
    if not any(layer.get("id") == "offline" for layer in cfg.get("basemaps") or ()):
        cfg["outlinesUrl"] = ""  # light: the outlines (0.15 MB gzip) only as the offline basemap
    full_map = url_for("public.index", **opts.query())
    return render_template(
        "embed.html",
        locator_config=cfg,
        controls=list(opts.controls),
        embed=True,
        opts=opts,
        demo=bool(cfg.get("demo")),
        full_map_url=full_map,
        embed_config={
            "origins": list(_origins()),
            "fullMapUrl": full_map,
            "height": opts.height,
        },
    )


def _error_page(exc: InvalidParameter) -> str:
    detail = exc.message.split(": ", 1)[-1]
    return render_template(
        "embed.html",
        error={"parameter": exc.parameter, "detail": detail},
        builder_url=url_for("embed.builder"),
        embed_config=None,
        demo=False,
    )


@bp.get("/builder")
def builder():
    """The embed-code builder: a form, a live preview of ``/embed`` and the snippet."""
    base = request.host_url.rstrip("/")
    return render_template(
        "embed_builder.html",
        origins=_origins(),
        kinds=list(KINDS.values()),
        services=list(SERVICES.values()),
        controls=CONTROLS,
        default_controls=DEFAULT_CONTROLS,
        embed_url=base + url_for("embed.embed"),
    )
