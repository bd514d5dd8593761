"""Yizhan web app: a thin Flask shell over :mod:`geo` (app factory, blueprints, errors).

Routes parse a request, call :mod:`geo`, and render HTML or JSON. ``create_app`` follows the
Flask tutorial's factory: defaults, then the ``YIZHAN_*`` settings, then ``test_config``.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from geo.errors import YizhanError
from geo.geocode import build_geocoder
from geo.index import LiveIndex
from geo.settings import Settings
from geo.store import StationRepository
from webapp.ratelimit import RateLimiter

LOGGER = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app.

    ``test_config`` may set ``DATABASE_URL``, ``SETTINGS`` (a :class:`Settings` replacing the
    environment's) and any Flask option.
    """
    app = Flask(__name__, instance_relative_config=False)
    settings = (test_config or {}).get("SETTINGS") or Settings.from_env()
    settings.register_taxonomy()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        DATABASE_URL=settings.database,
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    repo = StationRepository.from_url(app.config["DATABASE_URL"])
    if not repo.schema_ready():
        repo.init_schema()  # first run on a fresh database
    app.extensions["yizhan"] = {
        "settings": settings,
        "repo": repo,
        "index": LiveIndex(repo),
        "geocoder": build_geocoder(settings),
        "geocode_limiter": RateLimiter(settings.geocode_rate_per_minute),
    }

    from webapp import api, public

    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    _register_errors(app)
    _register_headers(app, settings)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _register_errors(app: Flask) -> None:
    @app.errorhandler(YizhanError)
    def _yizhan_error(exc: YizhanError):
        if _wants_json():
            response = jsonify(exc.to_dict())
            if "retry_after" in exc.details:
                response.headers["Retry-After"] = str(exc.details["retry_after"])
            return response, exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            body = {
                "error": {"code": exc.name.lower().replace(" ", "_"), "message": exc.description}
            }
            return jsonify(body), exc.code
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - a bug, logged with its trace
        LOGGER.exception("unhandled error on %s", request.path)
        if _wants_json():
            return jsonify({"error": {"code": "internal_error", "message": "internal error"}}), 500
        return render_template("error.html", status=500, message="服务器内部错误"), 500


def _register_headers(app: Flask, settings: Settings) -> None:
    tile_origin = ""
    if settings.tile_url:
        parts = urlsplit(settings.tile_url.replace("{s}", "a"))
        tile_origin = f"{parts.scheme}://{parts.netloc.replace('a.', '*.', 1)}"
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

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", csp)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
