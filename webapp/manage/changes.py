"""Approval pages under ``/manage/changes`` (issue 15 item 5): the reviewer's queue, the
editor's own changes with their decisions, one change field by field, approve / reject.

- ``GET /manage/changes``: pending changes in the user's areas (users who may review) and the
  changes the user proposed, with state, reviewer and comment. JSON twin: ``{"approval",
  "can_review", "queue": [...], "mine": [...]}``.
- ``GET /manage/changes/<id>``: the change field by field (before / after / now), and on a
  small map when the position changes; a reviewer of the area sees the approve / reject form.
  Shown to its author and to users whose areas cover it; others get ``403``.
- ``POST /manage/changes/<id>/approve`` (``comment`` optional), ``/reject`` (``comment``
  required), ``/withdraw`` (the author): CSRF token, ``review`` (or ``edit`` to withdraw)
  permission; decisions are atomic (:class:`geo.store.changes.ChangeStore`). Refusals:
  ``403`` (own change, outside the areas), ``409`` (decided already, or the station changed
  since: the answer says what changed; the change stays pending), ``400`` (no comment).
  ``GET`` of these routes goes back to the change (JSON twin: the change).

The store and its rules are :mod:`geo.store.changes`; this module only shows and forwards.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, redirect, request, url_for

from geo import access
from geo.errors import Conflict, Forbidden, ValidationError
from geo.records.audit import ACTION_LABELS, field_label
from geo.store.changes import Change, ChangeStore, station_of
from webapp import auth
from webapp.errors import wants_json
from webapp.manage import bp, error_dict, error_message, render, requires
from webapp.services import services


def _store() -> ChangeStore:
    return ChangeStore(services().repo)


def _covers(change: Change) -> bool:
    return access.user_covers(g.user, station_of(change.record))


def _may_decide(change: Change) -> bool:
    user = g.user
    return (
        change.state == "pending"
        and user.can("review")
        and user.name != change.author
        and _covers(change)
    )


def _action_label(action: str) -> str:
    zh, en = ACTION_LABELS.get(action, (action, action))
    return en if auth.page_lang() == "en" else zh


def _summary(change: Change) -> dict[str, Any]:
    """A change for the lists (no full record)."""
    data = change.to_dict()
    data.pop("record")
    data["fields"] = sorted(data.pop("changes"))
    data["action_label"] = _action_label(change.action)
    data["url"] = url_for("manage.change", change_id=change.id)
    return data


@bp.get("/changes")
@requires("view_manage")
def changes():
    """The reviewer's queue (pending in my areas) and my own changes."""
    store, user = _store(), g.user
    can_review = user.can("review")
    queue = store.pending(user.areas) if can_review else []
    data = {
        "approval": bool(services().settings.approval),
        "can_review": can_review,
        "queue": [_summary(c) | {"own": c.author == user.name} for c in queue],
        "mine": [_summary(c) for c in store.mine(user.name)],
    }
    return render("manage/changes.html", data)


def _detail(change: Change, **extra: Any) -> dict[str, Any]:
    """The change field by field with the station as stored now."""
    now, current_version = _store().current_record(change.station_id)
    rows = [
        {
            "field": field,
            "label": field_label(field, auth.page_lang()),
            "before": before,
            "after": after,
            "now": now.get(field) if now is not None else None,
        }
        for field, (before, after) in sorted(change.changes.items())
    ]
    position = None
    if change.moved:
        old_lon, old_lat = (change.changes.get(k, [None, None])[0] for k in ("lon", "lat"))
        position = {
            "before": [
                old_lon if old_lon is not None else change.record.get("lon"),
                old_lat if old_lat is not None else change.record.get("lat"),
            ],
            "after": [change.record.get("lon"), change.record.get("lat")],
        }
        if None in position["before"]:
            position["before"] = None
    data = change.to_dict()
    data["action_label"] = _action_label(change.action)
    return {
        "change": data,
        "rows": rows,
        "current_version": current_version,
        "stale": current_version != change.base_version,
        "position": position,
        "may_decide": _may_decide(change),
        "may_withdraw": change.state == "pending" and change.author == g.user.name,
        "superseded_by": _store().successor(change),
        **extra,
    }


def _visible(change_id: int) -> Change:
    change = _store().get(change_id)  # NotFound: 404
    if change.author != g.user.name and not _covers(change):
        raise Forbidden(auth.text("manage.out_of_area"))
    return change


@bp.get("/changes/<int:change_id>")
@requires("view_manage")
def change(change_id: int):
    """One change: the diff field by field, the map when the position changes."""
    return _render_change(_detail(_visible(change_id)))


def _page_extra() -> dict[str, Any]:
    """The small map's configuration: the locator's basemaps and county outlines."""
    from webapp.public import COUNTIES, basemap_layers

    return {
        "basemaps": basemap_layers(services().settings),
        "outlines_url": url_for("public.basemap") if COUNTIES.exists() else "",
    }


def _render_change(data: dict[str, Any], status: int = 200):
    extra = _page_extra()
    map_config = {
        "basemaps": extra["basemaps"],
        "outlinesUrl": extra["outlines_url"],
        "position": data.get("position"),
        "labels": {
            "before": auth.text("manage.changes.before"),
            "after": auth.text("manage.changes.after"),
        },
    }
    return render("manage/change.html", data, status, map_config=map_config)


def _refused(change_id: int, exc: Conflict | ValidationError, status: int):
    """The change page (or JSON) with the refusal; nothing was written."""
    if wants_json():
        return jsonify(error_dict(exc)), status
    change = _store().get(change_id)
    data = _detail(change, error=error_message(exc), conflict=exc.details.get("changes") or [])
    return _render_change(data, status)


def _back(change_id: int):
    """``GET`` of a decision route: the change (JSON twin) or back to its page."""
    change = _visible(change_id)
    if wants_json():
        return jsonify({"change": _summary(change)})
    return redirect(url_for("manage.change", change_id=change.id), 303)


def _decided(change: Change):
    if wants_json():
        return jsonify({"change": _summary(change)})
    return redirect(url_for("manage.change", change_id=change.id), 303)


def _decide(change_id: int, action: str):
    """One decision route: ``GET`` goes back to the change; ``POST`` asks the store to
    ``approve`` or ``reject`` (atomic; see :class:`ChangeStore`) with the comment and answers
    with the decided change, or the refusal (``409`` conflict, ``400`` bad comment) with
    nothing written."""
    if request.method == "GET":
        return _back(change_id)
    decide = {"approve": ChangeStore.approve, "reject": ChangeStore.reject}[action]
    try:
        done = decide(_store(), change_id, g.user, request.form.get("comment") or "")
    except Conflict as exc:
        return _refused(change_id, exc, 409)
    except ValidationError as exc:
        return _refused(change_id, exc, 400)
    return _decided(done)


@bp.route("/changes/<int:change_id>/approve", methods=["GET", "POST"])
@requires("review")
def approve(change_id: int):
    """Approve: the change is written (atomic with its state) or refused as a whole."""
    return _decide(change_id, "approve")


@bp.route("/changes/<int:change_id>/reject", methods=["GET", "POST"])
@requires("review")
def reject(change_id: int):
    """Reject with a comment; the station is untouched."""
    return _decide(change_id, "reject")


@bp.route("/changes/<int:change_id>/withdraw", methods=["GET", "POST"])
@requires("edit")
def withdraw(change_id: int):
    """The author takes back a pending change."""
    if request.method == "GET":
        return _back(change_id)
    try:
        done = _store().withdraw(change_id, g.user.name)
    except Conflict as exc:
        return _refused(change_id, exc, 409)
    return _decided(done)


@bp.app_context_processor
def _pending_counts():
    def pending_changes() -> list[dict[str, Any]]:
        """Pending changes per county in the user's areas (the dashboard's partial)."""
        user = g.get("user")
        if user is None or not (user.can("review") or user.can("edit")):
            return []
        rows = _store().pending_counts(user.areas)
        for row in rows:
            row["name"] = access.area_name(row["county_code"]) if row["county_code"] else ""
        return rows

    return {"pending_changes": pending_changes}
