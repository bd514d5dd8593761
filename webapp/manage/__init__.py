"""The registry workspace (``/manage/…``): county and township union staff keep their stations.

Wave 1 (issue 15 item 1) has the base: the blueprint, its access rules and two pages, the
dashboard (``/manage/``: the user's areas and, per county in them, stations by status) and
user administration (``/manage/users``, :mod:`webapp.manage.users`). Wave 2 adds editing,
upload, review, approval and history pages on this base.

Login and session are the planner's (:mod:`webapp.auth`): the same login form
(``/planner/login``, which sends a user who may not plan on to ``/manage/``), the same cookie,
CSRF token and revocation. Every page has a JSON twin (``?format=json`` or ``Accept:
application/json``); writes are ``POST`` with the CSRF token. Access:

- anonymous: page → redirect to the login form; JSON twin → ``401``;
- :func:`requires` ``(permission)`` on each view: a role without the permission
  (:data:`geo.access.PERMISSIONS`) gets ``403`` (:class:`geo.errors.Forbidden`) before
  anything is read or written;
- areas: :func:`require_covers` refuses (``403``) a station outside the user's areas.

Answers are never cached (``Cache-Control: no-store``). Text comes from the planner's
catalogue (:mod:`webapp.planner_text`, ``manage.*`` keys), Chinese first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, g, jsonify, render_template

from geo import access
from geo.errors import Conflict, Forbidden
from webapp import auth, planner_text
from webapp.errors import wants_json
from webapp.services import services

bp = Blueprint("manage", __name__, url_prefix="/manage")

#: Every write route of ``/manage/``: (endpoint, URL with ``{user}`` for a user name, the
#: permission it needs). The security suite (tests/security/test_manage.py) tries each one
#: without CSRF and without the permission; wave 2 adds its routes here.
WRITE_ROUTES: list[tuple[str, str, str]] = [
    ("manage.users", "/manage/users", "manage_users"),
    ("manage.user", "/manage/users/{user}", "manage_users"),
    # approval (issue 15 item 5, webapp/manage/changes.py)
    ("manage.approve", "/manage/changes/1/approve", "review"),
    ("manage.reject", "/manage/changes/1/reject", "review"),
    ("manage.withdraw", "/manage/changes/1/withdraw", "edit"),
    # review queue (issue 15 item 4)
    ("manage.review_decide", "/manage/review/stale:S1", "edit"),
    # stations on a map, history and revert (issue 15 items 2 and 6; webapp/manage/stations.py)
    ("manage.station_new", "/manage/stations/new", "edit"),
    ("manage.station", "/manage/stations/S1", "edit"),
    ("manage.station_close", "/manage/stations/S1/close", "edit"),
    ("manage.station_reopen", "/manage/stations/S1/reopen", "edit"),
    ("manage.station_delete", "/manage/stations/S1/delete", "edit"),
    ("manage.station_revert", "/manage/stations/S1/revert", "edit"),
    # upload (issue 15 item 3): a well-formed preview token nobody holds
    ("manage.upload", "/manage/upload", "edit"),
    ("manage.upload_commit", "/manage/upload/" + "T" * 32 + "/commit", "edit"),
    ("manage.upload_cancel", "/manage/upload/" + "T" * 32 + "/cancel", "edit"),
]


def init_app(app: Flask) -> None:
    """Register ``/manage/`` (the session cookie flags and login are the planner's)."""
    # each module registers its routes on bp
    from webapp.manage import changes, liuyou, review, signals, stations, upload, users  # noqa: F401

    app.register_blueprint(bp)


@bp.before_request
def _guard():
    # The cookie first: an anonymous POST is refused with its body unread.
    auth.begin_request()
    refused = auth.login_required()
    if refused is not None:
        return refused
    auth.check_csrf()
    return None


bp.after_request(auth.no_store)


def requires(permission: str) -> Callable:
    """Decorator: the view runs only for a user whose role has ``permission``; others get
    ``403`` (JSON under the twin rule) before the view reads or writes anything."""
    if permission not in access.PERMISSION_NAMES:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if g.user is None or not g.user.can(permission):
                raise Forbidden(auth.text("manage.forbidden"), permission=permission)
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorate


def require_covers(station) -> None:
    """``403`` unless the user's areas cover ``station`` (:func:`geo.access.user_covers`)."""
    if g.user is None or not access.user_covers(g.user, station):
        raise Forbidden(auth.text("manage.out_of_area"))


def role_name(role: str) -> str:
    """A role in the page's language."""
    return auth.text(f"manage.role.{role}") if role in set(access.Role) else str(role)


def area_label(code: str) -> str:
    """``450225 融水苗族自治县``-like label of an area (its full name), or the code alone."""
    name = access.area_name(code)
    return f"{code} {name}" if name else code


def render(template: str, data: dict, status: int = 200, **html: Any):
    """``data`` as JSON under the twin rule, else ``template`` with ``data`` and ``html``."""
    if wants_json():
        return jsonify(data), status
    return render_template(template, **data, **html), status


def reason_text(issue: Any) -> str:
    """A validation issue's reason in the page's language
    (:func:`webapp.planner_text.reason_text`)."""
    return planner_text.reason_text(issue, auth.page_lang())


def review_reason_text(reason: Any, fallback: str = "") -> str:
    """A review queue reason (``{code, params}``) in the page's language
    (:func:`webapp.planner_text.review_reason_text`); ``fallback`` for an unknown code."""
    return planner_text.review_reason_text(reason, auth.page_lang(), fallback)


def field_reason(field: str | None, issue: Any) -> str:
    """``名称：<reason>`` of one validation issue in the page's language (the field's Chinese
    name on a Chinese page, its code on an English one)."""
    from geo.records.audit import field_label

    lang = auth.page_lang()
    label = field_label(field, lang) if field else ""
    return planner_text.field_reason(label, issue, lang)


def conflict_message(exc: Conflict) -> str:
    """A :class:`geo.errors.Conflict` in the page's language, from its details: a station
    changed since the version the user saw (who, when, which fields), or a change already
    decided; any other conflict's message is the web layer's own (already in the page's
    language)."""
    from webapp.planner import china_time_text

    lang = auth.page_lang()
    details = exc.details
    if details.get("station_id") and "current_version" in details:
        return planner_text.conflict_text(details, lang, china_time_text)
    if details.get("decided_state"):  # a review item decided meanwhile
        return planner_text.text(
            "manage.queue.decided_meanwhile",
            lang,
            actor=details.get("decided_by") or "",
            at=china_time_text(details.get("decided_at")),
            state=planner_text.text(f"manage.review.state.{details['decided_state']}", lang),
            reason=details.get("decided_reason") or "—",
        )
    if details.get("change_id") and details.get("state"):
        state = str(details["state"])
        return planner_text.text(
            "manage.words.change_decided",
            lang,
            change_id=details["change_id"],
            state=planner_text.text(f"manage.changes.state.{state}", lang),
        )
    return exc.message


def error_dict(exc: Any) -> dict:
    """``exc.to_dict()`` with a :class:`Conflict`'s message in the page's language."""
    body = exc.to_dict()
    if isinstance(exc, Conflict):
        body["error"]["message"] = conflict_message(exc)
    return body


def error_message(exc: Any) -> str:
    """An error's message for a page: a :class:`Conflict` in the page's language."""
    return conflict_message(exc) if isinstance(exc, Conflict) else str(exc.message)


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict):
    """Every ``/manage/`` route: a :class:`Conflict` nobody caught answers ``409`` with its
    error dict (JSON twin; ``message`` in the page's language) or the error page with the
    conflict in the page's language — never a generic error."""
    if wants_json():
        return jsonify(error_dict(exc)), 409
    return render_template("planner/error.html", status=409, message=conflict_message(exc)), 409


@bp.app_context_processor
def _template_globals():
    return {
        "role_name": role_name,
        "area_label": area_label,
        "reason_text": reason_text,
        "review_reason_text": review_reason_text,
        "field_reason": field_reason,
    }


@bp.get("/")
@requires("view_manage")
def index():
    """The dashboard: the user's areas and, per county in them, stations by status."""
    user = g.user
    counts = access.county_status_counts(services().repo.engine, user.areas)
    data = {
        "user": user.name,
        "role": user.role,
        "permissions": sorted(access.PERMISSIONS[access.Role(user.role)]),
        "areas": [{"code": c, "name": access.area_name(c)} for c in user.areas],
        "counties": counts,
        "total": sum(r["total"] for r in counts),
    }
    return render("manage/index.html", data)
