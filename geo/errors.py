"""Error hierarchy: each error knows its HTTP status and a user-facing message.

Errors subclass the built-in exception that fits (``ValueError``, ``LookupError``) so library
callers can catch them without knowing Yizhan; the web layer maps ``status`` to the response
and renders ``to_dict()`` as JSON under ``/api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.records.issues import ImportReport


class YizhanError(Exception):
    """Base class. ``status`` is the HTTP status a web layer should answer with."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def to_dict(self) -> dict:
        """JSON body: ``{"error": {"code", "message", ...details}}``."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class ValidationError(YizhanError, ValueError):
    """A value that does not pass validation (a record field, a parameter)."""

    status = 400
    code = "invalid_value"

    def __init__(self, message: str, field: str | None = None, **details: object) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class InvalidParameter(ValidationError):
    """A bad request parameter; ``parameter`` names it."""

    code = "invalid_parameter"

    def __init__(self, parameter: str, message: str) -> None:
        YizhanError.__init__(self, f"{parameter}: {message}", parameter=parameter)
        self.field = parameter
        self.parameter = parameter


class NotFound(YizhanError, LookupError):
    """A thing asked for by id does not exist."""

    status = 404
    code = "not_found"


class ImportRefused(YizhanError, ValueError):
    """A whole import was refused (strict mode with rejected rows, unreadable file)."""

    status = 422
    code = "import_refused"
    #: The import's report, set when a strict import is refused for its rejected rows.
    report: ImportReport | None = None


class FileFormatError(ImportRefused):
    """A file that cannot be read as the format it claims to be."""

    code = "bad_file"


class GeocodeNotFound(YizhanError, LookupError):
    """No position for an address (the message says why: empty, too coarse, unknown …)."""

    status = 404
    code = "geocode_not_found"


class ProviderError(YizhanError, RuntimeError):
    """An online service failed: down, slow, out of quota, bad key, or answered garbage.

    ``retryable`` says whether trying again later may help (timeouts, 5xx, throttling).
    """

    status = 502
    code = "provider_error"

    def __init__(self, message: str, provider: str, retryable: bool = False, **details):
        super().__init__(message, provider=provider, **details)
        self.provider = provider
        self.retryable = retryable


class RateLimited(YizhanError):
    """Too many requests from one client (HTTP 429)."""

    status = 429
    code = "rate_limited"


class Conflict(YizhanError):
    """A write based on an outdated version (HTTP 409); ``details["changes"]`` lists what
    changed since (version, fields, actor, time, reason)."""

    status = 409
    code = "conflict"


class Forbidden(YizhanError, PermissionError):
    """The user's role or areas do not allow this (HTTP 403); nothing was done."""

    status = 403
    code = "forbidden"
