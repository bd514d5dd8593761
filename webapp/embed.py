"""The embeddable map: ``/embed`` (a light locator page for iframes) and ``/embed/builder``.

``/embed`` renders the locator partial (``_locator.html``) with ``embed=True`` and the view,
filters, language and controls taken from strictly validated query parameters
(:data:`EMBED_PARAMS`, the same :class:`~webapp.params.Param` declarations as the API's); a
bad or unknown parameter gives a friendly 400 page naming it (still framable, so the
embedding site shows the reason).

Framing policy (applied by ``webapp._register_headers``): responses of :data:`FRAMABLE`
endpoints send ``Content-Security-Policy: frame-ancestors 'self' <YIZHAN_EMBED_ORIGINS>`` and
no ``X-Frame-Options``; every other page keeps ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``. ``'self'`` is always allowed so the builder's preview works.
The same allow-list goes to ``embed.js``, which posts its messages only to a parent whose
origin is on it (never to ``"*"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from flask import Blueprint, jsonify, render_template, request, url_for

from geo.errors import InvalidParameter, ValidationError
from geo.models import KINDS, SERVICES
from geo.regions import MAX_CANDIDATES, Region, resolve_region
from webapp.params import KIND, REGION, SERVICE, Param, choice, parse_args
from webapp.services import services

bp = Blueprint("embed", __name__, url_prefix="/embed")

#: Endpoints whose pages may be framed by the allow-listed origins (the embed page) or that
#: the embed loads inside its frame (scripts, styles, the offline outlines): no
#: X-Frame-Options on these.
FRAMABLE = frozenset({"embed.embed", "static", "public.counties", "public.basemap"})
#: Controls the locator partial knows, in display order.
CONTROLS = ("search", "locate", "filters", "list", "lang", "basemaps")
#: What an embed shows when ``controls`` is not given: the basics, no language/basemap switch.
DEFAULT_CONTROLS = ("search", "locate", "filters", "list")
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
    svc = services(app)
    svc.embed_origins = parse_origins(svc.settings.embed_origins)
    app.register_blueprint(bp)


# -- parameters ---------------------------------------------------------------------------


def _control(raw: str) -> str:
    name = raw.strip().lower()
    if name not in (*CONTROLS, "none"):
        raise ValidationError(
            f"unknown control {name[:40]!r}; allowed: {', '.join(CONTROLS)}, none"
        )
    return name


LANG = Param("lang", "string", "Language.", parse=choice(LANGS, "lang"), default="zh", once=True)

#: The parameters of ``/embed``, in the order they are checked.
EMBED_PARAMS: tuple[Param, ...] = (
    replace(REGION, once=True),
    KIND,
    SERVICE,
    LANG,
    Param(
        "lat", "number", "Latitude of the view.", minimum=-90, maximum=90, max_length=100, once=True
    ),
    Param(
        "lon",
        "number",
        "Longitude of the view.",
        minimum=-180,
        maximum=180,
        max_length=100,
        once=True,
    ),
    Param(
        "zoom",
        "integer",
        "Zoom of the view.",
        minimum=ZOOM_RANGE[0],
        maximum=ZOOM_RANGE[1],
        once=True,
    ),
    Param("controls", "codes", "Controls shown, or none.", parse=_control),
    Param(
        "height",
        "integer",
        "Fixed height (px).",
        minimum=HEIGHT_RANGE[0],
        maximum=HEIGHT_RANGE[1],
        once=True,
    ),
)
PARAMETERS = tuple(p.name for p in EMBED_PARAMS)


@dataclass
class EmbedOptions:
    """What an ``/embed`` URL asks for, validated."""

    region: Region | None = None
    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    lang: str = "zh"
    view: dict | None = None  # {"lat", "lon", "zoom"}
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    height: int | None = None

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
    """Validate the query parameters of ``/embed`` (:data:`EMBED_PARAMS`).

    Raises
    ------
    InvalidParameter
        Naming the first bad or unknown parameter.
    """
    a = parse_args(EMBED_PARAMS, args)
    opts = EmbedOptions(region=a["region"], kinds=a["kind"], services=a["service"], lang=a["lang"])
    lat, lon, zoom = a["lat"], a["lon"], a["zoom"]
    if (lat is None) != (lon is None):
        raise InvalidParameter("lat" if lat is None else "lon", "lat and lon go together")
    if lat is not None:
        opts.view = {"lat": lat, "lon": lon, "zoom": int(zoom or DEFAULT_ZOOM)}
    elif zoom is not None:
        raise InvalidParameter("zoom", "needs lat and lon")
    if "controls" in args:
        names = a["controls"]
        opts.controls = () if "none" in names else tuple(c for c in CONTROLS if c in names)
    opts.height = a["height"]
    return opts


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
        region=opts.region,
        view=opts.view,
        embed=True,
        scroll_wheel_zoom=False,  # until the map is clicked (locator.js)
    )
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
            "origins": list(services().embed_origins),
            "fullMapUrl": full_map,
            "height": opts.height,
        },
    )


def _problem(exc: InvalidParameter) -> dict:
    """What a bad parameter is, for people: its name, the value given (at most 100 characters)
    and, for an ambiguous region, the candidates (``[{code, name}]``)."""
    value = request.args.get(exc.parameter, "")[:100]
    candidates: list = []
    if exc.parameter == "region" and value:
        try:
            resolve_region(value)
        except ValidationError as again:
            candidates = list(again.details.get("candidates") or [])[:MAX_CANDIDATES]
    return {"parameter": exc.parameter, "value": value, "candidates": candidates}


def _error_page(exc: InvalidParameter) -> str:
    """The 400 page naming the bad parameter (its value and candidates as data attributes)."""
    detail = exc.message.split(": ", 1)[-1]
    return render_template(
        "embed.html",
        error={"detail": detail, **_problem(exc)},
        builder_url=url_for("embed.builder"),
        embed_config=None,
        demo=False,
    )


@bp.get("/builder/check")
def builder_check():
    """Whether ``/embed`` accepts this query (:func:`parse_options`), as JSON, always 200.

    ``{"ok": true}`` or ``{"ok": false, "parameter", "value", "candidates"}``: the builder asks
    before it loads the preview or offers a snippet, so a bad region never reaches either.
    """
    try:
        parse_options(request.args)
    except InvalidParameter as exc:
        return jsonify({"ok": False, **_problem(exc)})
    return jsonify({"ok": True})


@bp.get("/builder")
def builder():
    """The embed-code builder: a form, a live preview of ``/embed`` and the snippet.

    ``?lang=en`` gives its messages in English. With the allow-list empty (the default) it says,
    before the snippet, that every other site will be refused and how to fill the list.
    """
    base = request.host_url.rstrip("/")
    lang = parse_args((LANG,), request.args, strict=False, lenient=True)["lang"]
    return render_template(
        "embed_builder.html",
        lang=lang,
        origins=services().embed_origins,
        kinds=list(KINDS.values()),
        services=list(SERVICES.values()),
        controls=CONTROLS,
        default_controls=DEFAULT_CONTROLS,
        embed_url=base + url_for("embed.embed"),
    )
