"""The logged-in session shared by the planner (``/planner/``) and the registry workspace
(``/manage/``): one login form, one session cookie, one CSRF token, one revocation check.

Both blueprints call :func:`begin_request` first in their ``before_request``: it takes the
page language from ``?lang=`` or the session and loads ``g.user`` from the session, checking
the user's session version (:meth:`geo.store.UserRepository.session_valid`), so a logout, a new
password or disabling the user ends every copy of the cookie for both. Then
:func:`login_required` answers an anonymous request (401 JSON, or a redirect to the planner's
login form with ``next``), :func:`check_csrf` refuses a POST without the session's token
(hidden field ``csrf_token`` or header ``X-CSRFToken``, compared in constant time), and
:func:`no_store` marks every answer uncacheable. :func:`safe_next` allows only local
``/planner/`` and ``/manage/`` paths after a login.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import abort, g, jsonify, redirect, request, session, url_for

from webapp import planner_text
from webapp.errors import wants_json
from webapp.services import services

#: Path prefixes a login may send the user on to (``next``).
NEXT_PREFIXES = ("/planner/", "/manage/")


def users():
    """The user store of this app's database."""
    from geo.store import UserRepository

    return UserRepository(services().repo.engine)


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def page_lang() -> str:
    """The page's language: ``?lang=`` (remembered in the session), else the session's
    choice, else Chinese."""
    return getattr(g, "lang", None) or planner_text.lang_of(session.get("lang"))


def text(key: str, **params) -> str:
    """The catalogue's (:mod:`webapp.planner_text`) string of ``key`` in the page's language."""
    return planner_text.text(key, page_lang(), **params)


def begin_request() -> None:
    """Set ``g.lang`` and ``g.user`` (``None`` unless a valid session names an enabled user).

    Only the cookie is read: the body of an anonymous POST stays unread.
    """
    g.user = None
    asked = request.args.get("lang")
    if asked:
        session["lang"] = planner_text.lang_of(asked)
    g.lang = planner_text.lang_of(session.get("lang"))
    name = session.get("user")
    if name:
        # Removed, disabled, logged out or new password since this cookie was issued: the
        # session version no longer matches, and the cookie is worth nothing.
        user = users().session_valid(name, session.get("ver"))
        if user is None:
            session.pop("user", None)
            session.pop("ver", None)
        else:
            g.user = user


def login_required():
    """``None`` when a user is logged in; else the answer to send: ``401`` JSON for a JSON
    twin, a redirect to the login form (back here afterwards) for a page."""
    if g.user is not None:
        return None
    if wants_json():
        return jsonify({"error": {"code": "unauthorized", "message": text("login.required")}}), 401
    return redirect(url_for("planner.login", next=request.full_path.rstrip("?")))


def check_csrf() -> None:
    """Abort with ``400`` when a POST does not carry the session's CSRF token."""
    if request.method != "POST":
        return
    token = session.get("csrf") or ""
    if not token:  # no session token: nothing can match, the body stays unread
        abort(400, text("csrf"))
    sent = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent.encode(), token.encode()):
        abort(400, text("csrf"))


def no_store(response):
    """Nothing a logged-in page answers (pages, JSON twins, downloads, the login form) may be
    kept by a browser or a proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"  # HTTP/1.0 caches
    response.vary.add("Cookie")
    return response


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a local planner or manage path, else ``default``."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(NEXT_PREFIXES):
        return default
    return target


def start_session(user) -> str:
    """Log ``user`` in: a fresh session (and CSRF token), the language kept; returns the
    new CSRF token."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["user"] = user.name
    session["ver"] = user.session_version
    return csrf_token()


def end_session() -> None:
    """Log out: every saved copy of the cookie ends too (the session version moves on)."""
    if g.user is not None:
        users().end_sessions(g.user.name)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
