"""The review queue under ``/manage/review`` (issue 15 item 4); the queue itself, its checks
and its decisions are :mod:`geo.review_queue`.

- ``GET /manage/review``: the open items of the user's areas (``?kind=`` one of
  coarse/conflict/duplicate/stale, ``?state=`` one of the states or ``all``), with counts per
  county. JSON twin: ``{"items": [...], "counts": [...], "kind", "state"}``.
- ``GET /manage/review/<key>``: one item — its reasons, its stations, candidate positions.
- ``POST /manage/review/<key>`` (``action=accept|fix|merge|dismiss``, ``reason``; ``fix``:
  ``candidate`` (index) or ``lon``/``lat``; ``merge``: ``keep``; ``versions``: the JSON
  ``{station id: version}`` of the item's stations as the user saw them — the page sends
  them, ``fix`` and ``merge`` require them): decide it (permission ``edit``). A station
  outside the user's areas is refused with ``403`` and nothing written; a bad field ``400``
  naming it; a station changed since the versions seen ``409`` with what changed, by whom,
  when (the page shows the item again with its current versions; JSON: the error dict).
"""

from __future__ import annotations

from flask import g, jsonify, redirect, request, url_for

from geo import review_queue
from geo.errors import Conflict, Forbidden, NotFound, ValidationError
from geo.gazetteer import default_gazetteer, township_outlines_name
from geo.records.audit import field_label
from geo.store.changes import needs_approval
from webapp import auth
from webapp.errors import wants_json
from webapp.manage import bp, error_dict, render, requires
from webapp.services import services


def _limits() -> dict:
    s = services().settings
    return {"stale_days": s.stale_days, "duplicate_radius_m": s.duplicate_radius_m}


def area_queue(areas, stations=None) -> list[review_queue.QueueItem]:
    """Every item (any state) of ``areas`` with the deployment's limits (``stations``: the
    stations of ``areas`` when the caller has read them)."""
    return review_queue.queue(
        services().repo,
        areas,
        default_gazetteer(),
        states=None,
        kinds=None,
        stations=stations,
        **_limits(),
    )


def dashboard_counts(areas) -> list[dict]:
    """Open items per county of ``areas`` (the dashboard partial)."""
    return review_queue.county_counts(area_queue(areas))


@bp.app_context_processor
def _review_globals():
    return {"review_counts": dashboard_counts}


@bp.get("/review")
@requires("view_manage")
def review():
    """The queue of my areas, filtered by kind and state."""
    kind = request.args.get("kind") or ""
    state = request.args.get("state") or "open"
    if kind and kind not in review_queue.KINDS:
        raise ValidationError(auth.text("manage.review.bad_filter"), field="kind")
    if state != "all" and state not in review_queue.STATES:
        raise ValidationError(auth.text("manage.review.bad_filter"), field="state")
    items = area_queue(g.user.areas)
    shown = [
        i for i in items if (not kind or i.kind == kind) and (state == "all" or i.state == state)
    ]
    data = {
        "kind": kind,
        "state": state,
        "kinds": list(review_queue.KINDS),
        "states": list(review_queue.STATES),
        "items": [i.to_dict() for i in shown],
        "counts": review_queue.county_counts(items),
        "township_outlines": township_outlines_name(),  # TOWN: None = unchecked
    }
    return render("manage/review.html", data)


def _station_dicts(stations) -> list[dict]:
    return [
        {
            "id": s.id,
            "name": s.name,
            "county": s.county or "",
            "county_code": s.county_code or "",
            "township": s.township or "",
            "address": s.address or "",
            "lon": s.lon,
            "lat": s.lat,
            "precision": s.precision.value,
            "version": s.version,
            "updated_at": s.updated_at.isoformat() if s.updated_at else None,
        }
        for s in stations
    ]


def _item_page(
    key: str,
    status: int = 200,
    error: str | None = None,
    field: str | None = None,
    conflict: dict | None = None,
):
    try:
        item, stations = review_queue.get_item(
            services().repo, default_gazetteer(), key, g.user.areas, **_limits()
        )
    except NotFound:
        if conflict is None:
            raise
        item, stations = None, []  # the change meanwhile settled the item: say what it was
    data = {
        "item": item.to_dict() if item else None,
        "stations": _station_dicts(stations),
        "can_edit": g.user.can("edit"),
        "can_change": _can_change(),
        "conflict": conflict,
    }
    return render(
        "manage/review_item.html",
        data,
        status,
        error=error,
        error_field=field,
        label=_label,
        config=_map_config(item, stations) if item else {},
    )


def _map_config(item, stations) -> dict:
    """The item map's data (JSON in the page; texts come as data attributes): the stations,
    the candidate positions (numbered as the list), where the pin starts, whether it moves,
    and the map base the station editor uses (``webapp.manage.stations._map_base``)."""
    from webapp.manage.stations import _map_base

    pinned = [s for s in stations if s.lon is not None and s.lat is not None]
    return {
        "stations": [{"id": s.id, "name": s.name, "lon": s.lon, "lat": s.lat} for s in pinned],
        "candidates": [
            {"n": n + 1, "source": c.source, "lon": c.lon, "lat": c.lat}
            for n, c in enumerate(item.candidates)
        ],
        "pin": [item.lon, item.lat] if item.lon is not None and item.lat is not None else None,
        "editable": _can_change() and item.kind != "duplicate",
        **_map_base(),
    }


def _can_change() -> bool:
    """May the user fix or merge (change stations) here: an editor with approval off, a
    reviewer or an administrator (with approval on an editor's changes wait for a reviewer,
    so the item page offers editors only accept and dismiss)."""
    return bool(g.user.can("edit")) and not needs_approval(
        g.user, bool(services().settings.approval)
    )


def _label(name: str) -> str:
    """A field's name in the page's language (Chinese: the import's header)."""
    return field_label(name, auth.page_lang())


@bp.get("/review/<path:key>")
@requires("view_manage")
def review_item(key: str):
    """One item: its reasons, stations and candidate positions."""
    return _item_page(key)


@bp.post("/review/<path:key>")
@requires("edit")
def review_decide(key: str):
    """Decide an item (accept, fix, merge, dismiss); out of area: 403, nothing written."""
    form = request.form
    if form.get("action") in ("fix", "merge") and not _can_change():
        # Fix and merge change stations: with approval on they are a reviewer's to do, as
        # every other change of an editor waits for one (accept and dismiss change nothing).
        raise Forbidden(auth.text("manage.review.needs_reviewer"), permission="review")
    try:
        item = review_queue.apply(
            services().repo,
            default_gazetteer(),
            key,
            form.get("action") or "",
            actor=g.user.name,
            areas=g.user.areas,
            reason=form.get("reason") or "",
            lon=form.get("lon"),
            lat=form.get("lat"),
            candidate=form.get("candidate"),
            keep=form.get("keep"),
            versions=form.get("versions"),
            seen_state=form.get("state") or None,
            **_limits(),
        )
    except Conflict as exc:
        if wants_json():
            return jsonify(error_dict(exc)), 409
        error = exc.to_dict()["error"]
        for c in error.get("changes") or []:
            c["labels"] = [_label(str(f)) for f in c.get("fields") or []]
        return _item_page(key, 409, conflict=error)
    except ValidationError as exc:
        if wants_json():
            return jsonify(exc.to_dict()), 400
        return _item_page(key, 400, exc.message, exc.field)
    if wants_json():
        return jsonify({"item": item.to_dict()})
    return redirect(url_for("manage.review", done=item.state), 303)
