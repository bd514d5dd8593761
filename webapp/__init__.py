"""Yizhan web app: a thin Flask shell over :mod:`geo` (app factory, blueprints, headers).

Routes parse a request (:mod:`webapp.params`), call :mod:`geo`, and render HTML or JSON
(:mod:`webapp.errors` holds the one error handler and the JSON-twin rule). ``create_app``
follows the Flask tutorial's factory: defaults, then the ``YIZHAN_*`` settings
(:class:`webapp.settings.WebSettings`), then ``test_config``; what routes need is one
:class:`webapp.services.Services` object.
"""

from __future__ import annotations

import gzip
import secrets

import orjson
from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from geo.geocode import build_geocoder
from geo.index import LiveIndex
from geo.store import StationRepository
from webapp import errors
from webapp.ratelimit import RateLimiter
from webapp.services import EXTENSION, Services, services
from webapp.settings import WebSettings


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app.

    ``test_config`` may set ``DATABASE_URL``, ``SETTINGS`` (a :class:`WebSettings` replacing
    the environment's; a library :class:`geo.settings.Settings` gets the web defaults) and any
    Flask option.
    """
    app = Flask(__name__, instance_relative_config=False)
    given = (test_config or {}).get("SETTINGS")
    settings = WebSettings.of(given) if given is not None else WebSettings.from_env()
    settings.register_taxonomy()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        DATABASE_URL=settings.database,
        JSON_AS_ASCII=False,
        # The ceiling of every request body (also waitress's max_request_body_size in
        # `yizhan serve`); _register_body_limits lowers it for routes without uploads.
        MAX_CONTENT_LENGTH=settings.upload_body_bytes,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.json = OrjsonProvider(app)
    app.session_interface = LazyCookieSessionInterface()

    repo = StationRepository.from_url(app.config["DATABASE_URL"])
    if not repo.schema_ready():
        repo.init_schema()  # first run on a fresh database
    app.extensions[EXTENSION] = Services(
        settings=settings,
        repo=repo,
        # YIZHAN_INDEX_MAX_STATIONS: above it nearest and bbox are left to the database
        index=LiveIndex(repo, max_stations=settings.index_max_stations),
        geocoder=build_geocoder(settings),
        geocode_limiter=RateLimiter(
            settings.geocode_rate_per_minute, name="geocode", engine=repo.engine
        ),
    )

    from webapp import api, ogc, public

    app.register_blueprint(api.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(public.bp)
    from webapp import assets

    assets.init_app(app)  # /static/vendor/leaflet/…: the Leaflet files of geo.assets
    from webapp import planner

    planner.init_app(app)  # /planner/…: login, session cookie flags, CSRF, job runner
    from webapp import manage

    manage.init_app(app)  # /manage/…: the registry workspace (login and session: planner)
    from webapp import embed

    embed.init_app(app)  # validates YIZHAN_EMBED_ORIGINS; /embed, /embed/builder
    from webapp import signals

    signals.init_app(app)  # demand signals (issue 15 item 8): recorder, /signals/navigate
    _register_favicon(app)
    errors.register(app)
    _register_body_limits(app, settings)
    _register_headers(app, settings)
    _register_compression(app)
    _trust_proxies(app, settings.trusted_proxies)
    return app


#: How long browsers keep the icon (s): 30 days; it changes with a release at most.
FAVICON_MAX_AGE_S = 30 * 24 * 3600


def _register_favicon(app: Flask) -> None:
    """``/favicon.ico``: the product's icon (``static/favicon.ico``, 4 KB, read once), cached
    for :data:`FAVICON_MAX_AGE_S`. Browsers ask for it on a site's first page whatever the page
    links; without it each first visit logs a 404 in the console. Every template links it."""
    from pathlib import Path

    from flask import Response

    assert app.static_folder is not None
    icon = (Path(app.static_folder) / "favicon.ico").read_bytes()

    def favicon() -> Response:
        resp = Response(icon, mimetype="image/vnd.microsoft.icon")
        resp.cache_control.public = True
        resp.cache_control.max_age = FAVICON_MAX_AGE_S
        return resp

    app.add_url_rule("/favicon.ico", "favicon", favicon)


def _trust_proxies(app: Flask, count: int) -> None:
    """Behind ``count`` reverse proxies, take the client's address, scheme and host from the
    last ``count`` ``X-Forwarded-For``/``-Proto``/``-Host`` values (werkzeug's ``ProxyFix``),
    so rate limits key on the client, not on the proxy. With 0 the headers are ignored."""
    if count < 0:
        raise ValueError("YIZHAN_TRUSTED_PROXIES must be 0 or more")
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson's encoder: UTF-8 (no ``\\u`` escapes), keys in
    insertion order, NaN/inf as ``null``; types orjson does not know (dates, Decimal, UUID,
    ``__html__``) go to Flask's own default, so they encode exactly as before.

    GeoJSON answers of a few hundred stations are most of a map request's time; orjson
    encodes them about ten times faster than the standard library.
    """

    ensure_ascii = False
    sort_keys = False
    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def dumps(self, obj, **kwargs) -> str:
        if kwargs:  # indent=…, sort_keys=…: the standard library's encoder
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=self._OPTIONS).decode()

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=self.default, option=self._OPTIONS)
        return self._app.response_class(body, mimetype=self.mimetype)


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without their cost on requests that carry no cookie.

    Flask opens a session for every request: it builds an itsdangerous serializer (a key
    derivation) even when there is no cookie to read, and saving looks up the cookie's name,
    domain and path even when the session stayed empty. Public API requests never send the
    planner's cookie, so here a request without it gets an empty session at once and an empty,
    unchanged session is saved as nothing (``Vary: Cookie`` still added when it was read).
    The serializer is built once per secret key. Requests with the cookie, and any session
    written to, go through Flask's own code unchanged.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple, object] = {}

    def get_signing_serializer(self, app: Flask):  # type: ignore[override]
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        found = self._serializers.get(key)
        if found is None:
            found = self._serializers[key] = super().get_signing_serializer(app)
        return found

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:  # type: ignore[override]
        name = self.get_cookie_name(app)
        if name not in request.environ.get("HTTP_COOKIE", "") or not request.cookies.get(name):
            if not app.secret_key:
                return None  # Flask's null session, as without a cookie before
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:  # type: ignore[override]
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def _register_body_limits(app: Flask, settings: WebSettings) -> None:
    """Refuse a request body over its route's limit (``413``) before anything reads it.

    Routes taking files (:data:`webapp.planner.UPLOAD_ENDPOINTS`) allow
    :attr:`WebSettings.upload_body_bytes`, every other route
    :attr:`WebSettings.form_body_bytes`. A declared ``Content-Length`` over the limit is
    refused at once; a body without one (chunked) is cut at the limit when it is read
    (Werkzeug's ``max_content_length``).
    """
    from webapp.planner import UPLOAD_ENDPOINTS

    @app.before_request
    def _body_limit():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        upload = request.endpoint in UPLOAD_ENDPOINTS
        limit = min(
            settings.upload_body_bytes if upload else settings.form_body_bytes,
            app.config.get("MAX_CONTENT_LENGTH") or settings.upload_body_bytes,
        )
        request.max_content_length = limit
        size = request.content_length
        if size is not None and size > limit:
            abort(
                413,
                f"请求过大：{_size(size)}，上限 {_size(limit)}"
                + ("（上传文件请小于 YIZHAN_PLANNER_MAX_UPLOAD_MB）" if upload else "")
                + f" (request body too large: {size} bytes, limit {limit})",
            )
        return None


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB"


def _register_headers(app: Flask, settings: WebSettings) -> None:
    from webapp.public import tile_origins

    tile_origin = " ".join(tile_origins(settings))  # exactly the YIZHAN_BASEMAPS tile origins
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: {tile_origin}".strip(),
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )

    # Framing: the embed may be framed by itself and the allow-list (no X-Frame-Options);
    # every other page refuses it (webapp/embed.py).
    from webapp.embed import frame_ancestors, is_framable

    embed_csp = csp.replace(
        "frame-ancestors 'none'",
        "frame-ancestors " + frame_ancestors(services(app).embed_origins),
    )

    # Header sets fixed at start-up: one pass over the response's headers per request.
    always = (
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    )
    by_case = {
        # (is HTML, framable) -> headers added when the response has not set them
        (True, True): (*always, ("Content-Security-Policy", embed_csp)),
        (True, False): (*always, ("Content-Security-Policy", csp), ("X-Frame-Options", "DENY")),
        (False, True): always,
        (False, False): (*always, ("X-Frame-Options", "DENY")),  # JSON opened in a frame
    }

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        wanted = by_case[_mimetype(response) == "text/html", is_framable(request.endpoint)]
        present = {key.lower() for key, _ in headers.items()}
        for key, value in wanted:
            if key.lower() not in present:
                headers.add(key, value)
        return response


def _mimetype(response) -> str:
    """The response's media type without parameters (``Response.mimetype``, parsed once)."""
    ctype = response.headers.get("Content-Type")
    return ctype.split(";", 1)[0].strip().lower() if ctype else ""


#: Text types gzipped when the client accepts it (waitress and Flask send them as they are).
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/geo+json",
        "image/svg+xml",
    }
)


def _register_compression(app: Flask, min_bytes: int = 600, level: int = 6) -> None:
    """Gzip text responses for clients that accept it (``Accept-Encoding: gzip``).

    Responses already encoded (the pre-gzipped outlines), partial, streamed from a generator or
    smaller than ``min_bytes`` are left alone. A compressed response's ETag becomes weak
    (``W/"…"``), so a revalidation still matches the file's ETag and gets its 304.
    """

    @app.after_request
    def _gzip(response):
        mimetype = _mimetype(response)
        if mimetype not in COMPRESSIBLE:
            return response
        headers = response.headers
        if "Vary" in headers:
            response.vary.add("Accept-Encoding")
        else:
            headers["Vary"] = "Accept-Encoding"
        # Most API clients send no Accept-Encoding (or not gzip): skip parsing it.
        accepted = request.environ.get("HTTP_ACCEPT_ENCODING", "")
        if (
            response.status_code != 200
            or ("gzip" not in accepted.lower() and "*" not in accepted)
            or "Content-Encoding" in headers
            or request.accept_encodings["gzip"] <= 0
            or (response.is_streamed and not response.direct_passthrough)
        ):
            return response
        size = response.content_length
        if size is not None and size < min_bytes and not response.direct_passthrough:
            return response
        response.direct_passthrough = False  # send_file: read the file to compress it
        body = response.get_data()
        if len(body) < min_bytes:
            return response
        response.set_data(gzip.compress(body, compresslevel=level, mtime=0))
        headers["Content-Encoding"] = "gzip"
        headers.pop("Accept-Ranges", None)  # ranges of the file, not of this body
        etag, _weak = response.get_etag()
        if etag:
            response.set_etag(etag, weak=True)
        return response
