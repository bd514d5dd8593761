"""One error handler for the whole app, and the one JSON-twin rule.

:func:`wants_json` decides between JSON and HTML for every answer: JSON under ``/api`` and
``/ogc``, and on any page asked with ``?format=json`` or an ``Accept`` header that prefers
``application/json`` over ``text/html`` (the pages' data twins). :func:`register` installs the
handlers: a :class:`geo.errors.YizhanError` answers with its status and message, an HTTP
error with its code, the database gone away (connection refused or lost: a
``sqlalchemy.exc.OperationalError`` or a disconnect) a 503 with ``Retry-After``, anything else
with a logged 500; as ``{"error": {"code", "message", …}}`` JSON or as the error page (the
planner's own page for ``/planner/…``). Nothing is kept broken: the engine's pool replaces dead
connections (``pool_pre_ping``), so the next request after the database returns answers.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from geo.errors import YizhanError

LOGGER = logging.getLogger(__name__)

#: Path prefixes that always answer JSON (the public API and OGC API - Features).
JSON_PREFIXES = ("/api", "/ogc")


#: What a request answers while the database is unreachable (503), and when to try again.
DATABASE_DOWN_EN = "the database is temporarily unavailable; please try again in a moment"
DATABASE_DOWN_ZH = "数据库暂时无法连接，请稍后再试。(The database is temporarily unavailable.)"
DATABASE_RETRY_AFTER_S = 5


def _json_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in JSON_PREFIXES)


def wants_json() -> bool:
    """The JSON twin rule: ``/api``/``/ogc``, ``?format=json`` or ``Accept`` preferring JSON."""
    if _json_path(request.path) or request.args.get("format") == "json":
        return True
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json"])
    return best == "application/json" and accept[best] > accept["text/html"]


def _page(status: int, message: str):
    template = "planner/error.html" if request.blueprint in ("planner", "manage") else "error.html"
    return render_template(template, status=status, message=message), status


def register(app: Flask) -> None:
    """Install the app's error handlers (JSON or HTML by :func:`wants_json`)."""

    @app.errorhandler(YizhanError)
    def _yizhan_error(exc: YizhanError):
        if wants_json():
            response = app.make_response((jsonify(exc.to_dict()), exc.status))
        else:
            response = app.make_response(_page(exc.status, exc.message))
        if "retry_after" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if wants_json():
            code = exc.name.lower().replace(" ", "_")
            return jsonify({"error": {"code": code, "message": exc.description}}), exc.code
        return _page(exc.code or 500, exc.description or "")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
            return _unexpected(exc)
        LOGGER.error("database unavailable on %s: %s", request.path, exc.orig)
        if wants_json():
            body = {"error": {"code": "database_unavailable", "message": DATABASE_DOWN_EN}}
            response = app.make_response((jsonify(body), 503))
        else:
            response = app.make_response(_page(503, DATABASE_DOWN_ZH))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - a bug, logged with its trace
        LOGGER.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify({"error": {"code": "internal_error", "message": "internal error"}}), 500
        return _page(500, "服务器内部错误")
