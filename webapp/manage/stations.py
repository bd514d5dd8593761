"""Stations of my area under ``/manage/stations`` (issue 15 items 2 and 6): list and search,
create, edit on a map, close, reopen, delete (soft), history and revert.

- ``GET /manage/stations``: the stations the user's areas cover; filters ``kind``,
  ``status``, ``liuyou`` (``complete`` / ``incomplete``, :func:`geo.liuyou.assess`),
  ``review`` (the review state, :data:`geo.store.changes.REVIEW_STATES`: ``pending``,
  ``rejected``, ``queue`` (an open item of the review queue), ``clear``), ``q`` (text in id,
  name, address, county, township); ``page`` (:data:`PAGE_SIZE` a page). Each row has its
  review state; ``review_counts`` counts the states over the other filters' result. The
  states come from one query of the changes and one reading of the review queue per page,
  never one per station.
- ``GET|POST /manage/stations/new``: the empty form; ``POST`` creates.
- ``GET|POST /manage/stations/<id>``: the edit form with the map; ``POST`` saves. The form
  shows the station's pending changes (``pending_changes``): the user's own (saving again
  supersedes it) with its fields before/after, and other users' (read-only).
- ``POST /manage/stations/<id>/close|reopen|delete``.
- ``GET /manage/stations/<id>/history``: every version with each field before/after, who,
  when, through what and why; ``POST /manage/stations/<id>/revert`` (``version``,
  ``base_version``, ``reason``) makes an earlier version current again (version-checked).
- ``GET /manage/convert?lon=&lat=&crs=``: a position in WGS-84, GCJ-02 and BD-09
  (:func:`geo.workspace.all_systems`: the conversion stays in :mod:`geo.crs`).

Every write goes through :func:`geo.workspace.submit` (or the repository's ``revert``);
a station outside the user's areas answers ``403`` before anything is written. Field
errors come back next to their fields (``400``); a conflict (``409``) shows what changed
since and keeps what the user typed. Every page has a JSON twin.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import g, redirect, request, url_for

from geo import access
from geo.crs import CoordSystem
from geo.errors import Conflict, Forbidden, InvalidParameter, NotFound, ValidationError
from geo.liuyou import FACILITIES, assess
from geo.models import KINDS, SERVICES, STATUS_TERMS, Precision, Station
from geo.records import station_record
from geo.records.audit import field_label
from geo.store.changes import REVIEW_STATES, Change, ChangeStore, needs_approval, station_of
from geo.store.history import parse_version
from geo.workspace import EDITABLE_FIELDS, SubmitResult, all_systems, submit
from webapp import auth
from webapp.errors import wants_json
from webapp.manage import bp, field_reason, render, require_covers, requires
from webapp.services import services

#: Stations per list page.
PAGE_SIZE = 50
#: List fields sent as repeated form values (checkboxes).
_LIST_FIELDS = ("services", "facilities")
#: Texts of the map script (``manage.stations.js.*``).
_JS_TEXTS = ("pin", "locating", "located", "locateFailed", "searching", "found", "demo")
#: The codes that place a station in an area.
_AREA_CODES = ("province_code", "prefecture_code", "county_code", "township_code")
#: Fields searched by ``q``.
_SEARCHED = ("id", "name", "address", "county", "township", "village")


def _repo():
    return services().repo


def _settings():
    return services().settings


def _choices() -> dict:
    """The form's choices (codes with Chinese and English names)."""
    return {
        "kinds": [{"code": t.code, "zh": t.zh, "en": t.en} for t in KINDS.values()],
        "services": [{"code": t.code, "zh": t.zh, "en": t.en} for t in SERVICES.values()],
        "facilities": [{"code": t.code, "zh": t.zh, "en": t.en} for t in FACILITIES.values()],
        "statuses": [{"code": t.code, "zh": t.zh, "en": t.en} for t in STATUS_TERMS.values()],
        "precisions": [p.value for p in Precision],
        "systems": [c.value for c in CoordSystem],
    }


def _label(name: str) -> str:
    """A field's name in the page's language (Chinese: the import's header, ``名称``)."""
    return field_label(name, auth.page_lang())


def _score(s: Station) -> int:
    return assess(s, _settings().liuyou()).score


# -- list ---------------------------------------------------------------------------------
@bp.get("/stations")
@requires("view_manage")
def stations():
    """My area's stations, filtered and paginated."""
    args = request.args
    kind, status = args.get("kind") or "", args.get("status") or ""
    liuyou, q = args.get("liuyou") or "", (args.get("q") or "").strip()[:80]
    review = args.get("review") or ""
    if review and review not in REVIEW_STATES:
        raise InvalidParameter("review", "must be one of " + ", ".join(REVIEW_STATES))
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        raise InvalidParameter("page", "must be a whole number") from None
    mine = access.filter_to_areas(_repo().all(), g.user.areas)
    found = list(mine)
    if kind:
        found = [s for s in found if s.kind == kind]
    if status:
        found = [s for s in found if s.status == status]
    if q:
        needle = q.lower()
        found = [
            s for s in found if any(needle in str(getattr(s, f) or "").lower() for f in _SEARCHED)
        ]
    scores = {s.id: _score(s) for s in found}
    if liuyou == "complete":
        found = [s for s in found if scores[s.id] == 6]
    elif liuyou == "incomplete":
        found = [s for s in found if scores[s.id] < 6]
    states = _review_states(found, mine)
    counts = dict.fromkeys(REVIEW_STATES, 0)
    for s in found:
        counts[states[s.id]] += 1
    if review:
        found = [s for s in found if states[s.id] == review]
    total = len(found)
    pages = max(1, -(-total // PAGE_SIZE))
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind,
            "status": s.status.value,
            "county": s.county or "",
            "township": s.township or "",
            "version": s.version,
            "liuyou_score": scores[s.id],
            "review_state": states[s.id],
            "review_label": auth.text(f"manage.list.review.{states[s.id]}"),
            "url": url_for("manage.station", station_id=s.id),
        }
        for s in shown
    ]
    data = {
        "stations": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "filters": {"kind": kind, "status": status, "liuyou": liuyou, "review": review, "q": q},
        "review_states": list(REVIEW_STATES),
        "review_counts": counts,
        "can_edit": g.user.can("edit"),
    }
    return render("manage/stations.html", data, choices=_choices())


def _review_states(found: list[Station], mine: list[Station]) -> dict[str, str]:
    """Each listed station's review state (:data:`REVIEW_STATES`, the first that holds):
    its changes' states in one query (:meth:`ChangeStore.review_states`), then the open
    items of the review queue of the user's areas (``mine``: their stations, read once by the
    list; the queue needs all of them, not only the listed ones, to find duplicates)."""
    from webapp.manage.review import area_queue

    by_changes = ChangeStore(_repo()).review_states()
    queued = {
        sid
        for item in area_queue(g.user.areas, mine)
        if item.state == "open"
        for sid in item.station_ids
    }
    out = {}
    for s in found:
        state = by_changes.get(s.id, "clear")
        if state == "clear" and s.id in queued:
            state = "queue"
        out[s.id] = state
    return out


# -- one station --------------------------------------------------------------------------
def _form_fields() -> dict:
    """The submitted editable fields (only those present; checkbox lists always)."""
    form = request.form
    out = {k: form.get(k, "") for k in EDITABLE_FIELDS if k in form and k not in _LIST_FIELDS}
    for key in _LIST_FIELDS:
        if key in form or f"_{key}" in form:
            out[key] = ",".join(v for v in form.getlist(key) if v)
    return out


def _form_of(s: Station | None) -> dict:
    """The form's values for a stored station (``None``: a new one)."""
    if s is None:
        return {"crs": "wgs84", "status": "open", "precision": "exact", "services": "", "kind": ""}
    rec = station_record(s)
    return {k: "" if rec.get(k) is None else rec.get(k) for k in EDITABLE_FIELDS} | {
        "crs": "wgs84",
        "lon": "" if s.lon is None else s.lon,
        "lat": "" if s.lat is None else s.lat,
    }


def _positions(form: dict) -> dict | None:
    try:
        return all_systems(float(form["lon"]), float(form["lat"]), form.get("crs") or "wgs84")
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def _edit_page(
    s: Station | None,
    *,
    form: dict | None = None,
    result: SubmitResult | None = None,
    status: int = 200,
    base_version: int | None = None,
    notice: str = "",
):
    form = form if form is not None else _form_of(s)
    version = base_version if base_version is not None else (s.version if s else 0)
    conflict = result.conflict if result else None
    data = {
        "station": station_record(s) if s else None,
        "id": s.id if s else None,
        "version": version,
        "form": form,
        "positions": _positions(form),
        "errors": _said(result.issues, result.errors) if result else {},
        "warnings": _said(result.warning_issues, result.warnings) if result else {},
        "conflict": conflict.to_dict()["error"] if conflict else None,
        "notice": notice,
        "pending_changes": _pending_changes(s.id) if s else [],
        "can_edit": g.user.can("edit"),
    }
    config = {
        "convertUrl": url_for("manage.convert"),
        "geocodeUrl": url_for("api.geocode"),
        "lon": (s.lon if s else None),
        "lat": (s.lat if s else None),
        "editable": g.user.can("edit"),
        "text": {k: auth.text(f"manage.stations.js.{k}") for k in _JS_TEXTS},
    }
    config.update(_map_base())
    return render(
        "manage/station_edit.html",
        data,
        status,
        choices=_choices(),
        config=config,
        label=_label,
    )


def _said(issues: dict, messages: dict[str, str]) -> dict[str, str]:
    """Field -> message of the validator's issues in the page's language (``issues``: the
    rejections' or the warnings' :class:`RowIssue` per field, so a field's warning is never
    shown with its rejection's text)."""
    return {k: field_reason(k, issues[k]) if k in issues else v for k, v in messages.items()}


def _pending_changes(station_id: str) -> list[dict]:
    """The station's pending changes for its form: the user's own first (saving again
    supersedes it, :meth:`ChangeStore.propose`), then other users' (read-only), each with
    its fields before/after and the link to its page."""

    def row(c: Change) -> dict:
        return {
            "id": c.id,
            "action": c.action,
            "author": c.author,
            "own": c.author == g.user.name,
            "created_at": c.created_at.isoformat(),
            "base_version": c.base_version,
            "reason": c.reason,
            "fields": [
                {
                    "field": f,
                    "label": field_label(f, auth.page_lang()),
                    "before": before,
                    "after": after,
                }
                for f, (before, after) in sorted(c.changes.items())
            ],
            "url": url_for("manage.change", change_id=c.id),
        }

    rows = [row(c) for c in ChangeStore(_repo()).pending_for(station_id)]
    return sorted(rows, key=lambda r: (not r["own"], r["id"]))


def _map_base() -> dict:
    """The map's base as the planner's result maps have it: the configured basemaps
    (:func:`webapp.public.basemap_layers`; offline county outlines by default) and the
    attribution line (data sources, 审图号, ICP record; :func:`geo.maps.attribution_html`)."""
    from geo.maps import DATA_SOURCES, attribution_html
    from webapp.public import COUNTIES, basemap_layers

    settings = _settings()
    return {
        "basemaps": basemap_layers(settings),
        "outlinesUrl": url_for("public.basemap") if COUNTIES.exists() else "",
        "attributionHtml": attribution_html(
            DATA_SOURCES, map_approval=settings.map_approval, icp=settings.icp
        ),
    }


def _get_covered(station_id: str) -> Station:
    s = _repo().get(station_id)
    if s is None:
        raise NotFound(auth.text("manage.stations.not_found"), station_id=station_id)
    require_covers(s)
    return s


def _base_version() -> int:
    try:
        return parse_version(request.form.get("base_version", ""))
    except ValueError:
        raise ValidationError(
            auth.text("manage.stations.no_version"), field="base_version"
        ) from None


def _after_submit(result: SubmitResult, before: Station | None, form: dict):
    """The answer to a submitted change: JSON, a redirect, or the form again."""
    if result.conflict is not None:
        current = result.conflict.details.get("current_version")
        if wants_json():
            return result.to_dict(), 409
        return _edit_page(
            _repo().get(before.id) if before else None,
            form=form,
            result=result,
            status=409,
            base_version=int(current) if isinstance(current, int) and current > 0 else None,
        )
    if result.errors:
        if wants_json():
            return result.to_dict(), 400
        version = before.version if before else 0
        return _edit_page(before, form=form, result=result, status=400, base_version=version)
    if result.pending is not None:  # approval on: the change waits for a reviewer
        if wants_json():
            return result.to_dict(), 202
        return redirect(url_for("manage.change", change_id=result.pending.id), 303)
    status = 201 if result.action == "create" and result.written else 200
    if wants_json():
        return result.to_dict(), status
    if result.action == "delete":
        return redirect(url_for("manage.stations", deleted=before.id if before else ""), 303)
    s = result.station
    assert s is not None
    if result.warnings:  # saved; the warnings are shown next to their fields
        return _edit_page(s, result=result, notice=auth.text("manage.stations.saved"))
    return redirect(url_for("manage.station", station_id=s.id, saved=1), 303)


@bp.route("/stations/new", methods=["GET", "POST"])
@requires("edit")
def station_new():
    """The form for a new station; ``POST`` creates it."""
    if request.method == "GET":
        return _edit_page(None)
    form = _form_fields()
    result = submit(
        _repo(),
        g.user,
        "create",
        None,
        form,
        base_version=0,
        reason=(request.form.get("reason") or "").strip(),
        settings=_settings(),
    )
    return _after_submit(result, None, {**_form_of(None), **form})


@bp.route("/stations/<station_id>", methods=["GET", "POST"])
@requires("view_manage")
def station(station_id: str):
    """One station's form and map; ``POST`` saves the edit."""
    if request.method == "POST" and not g.user.can("edit"):
        raise Forbidden(auth.text("manage.forbidden"), permission="edit")
    s = _get_covered(station_id)
    if request.method == "GET":
        notice = auth.text("manage.stations.saved") if request.args.get("saved") else ""
        return _edit_page(s, notice=notice)
    form = _form_fields()
    result = submit(
        _repo(),
        g.user,
        "edit",
        s.id,
        form,
        base_version=_base_version(),
        reason=(request.form.get("reason") or "").strip(),
        settings=_settings(),
    )
    return _after_submit(result, s, {**_form_of(s), **form})


def _state_change(station_id: str, action: str):
    s = _get_covered(station_id)
    result = submit(
        _repo(),
        g.user,
        action,
        s.id,
        {},
        base_version=_base_version(),
        reason=(request.form.get("reason") or "").strip(),
        settings=_settings(),
    )
    return _after_submit(result, s, _form_of(s))


@bp.route("/stations/<station_id>/close", methods=["GET", "POST"])
@requires("edit")
def station_close(station_id: str):
    """Close a station (it stays in the registry as closed). ``GET``: back to the station's page."""
    if request.method == "GET":
        return redirect(url_for("manage.station", station_id=station_id), 303)
    return _state_change(station_id, "close")


@bp.route("/stations/<station_id>/reopen", methods=["GET", "POST"])
@requires("edit")
def station_reopen(station_id: str):
    """Reopen a closed station. ``GET``: back to the station's page."""
    if request.method == "GET":
        return redirect(url_for("manage.station", station_id=station_id), 303)
    return _state_change(station_id, "reopen")


@bp.route("/stations/<station_id>/delete", methods=["GET", "POST"])
@requires("edit")
def station_delete(station_id: str):
    """Delete a station (soft: its history keeps it; a revert restores it). ``GET``: back
    to the station's page."""
    if request.method == "GET":
        return redirect(url_for("manage.station", station_id=station_id), 303)
    return _state_change(station_id, "delete")


# -- history ------------------------------------------------------------------------------
def _covered_history(station_id: str) -> list:
    """The station's versions; ``404`` without any, ``403`` when the user's areas cover
    neither the station now nor its last stored record (a deleted station)."""
    versions = _repo().history(station_id)
    current = _repo().get(station_id)
    if not versions and current is None:
        raise NotFound(auth.text("manage.stations.not_found"), station_id=station_id)
    if current is not None:
        require_covers(current)
    else:
        require_covers(_codes(versions[-1].record))
    return versions


def _codes(record: dict) -> SimpleNamespace:
    return SimpleNamespace(**{k: record.get(k) for k in _AREA_CODES})


@bp.get("/stations/<station_id>/history")
@requires("view_manage")
def station_history(station_id: str):
    """Every version of a station: fields before/after, who, when, source, reason."""
    versions = _covered_history(station_id)
    current = _repo().get(station_id)
    latest = versions[-1].version if versions else 0
    # approval (issue 15 item 5): the proposals and decisions, and who approved a version
    timeline = ChangeStore(_repo()).timeline(station_id)
    approved = {e["version"]: e for e in timeline if e["kind"] == "version" and e["reviewer"]}
    data = {
        "id": station_id,
        "name": (current.name if current else (versions[-1].name if versions else "")),
        "deleted": current is None,
        "version": current.version if current else latest,
        "versions": [
            {
                **{k: v for k, v in ver.to_dict().items() if k != "record"},
                "change_id": approved.get(ver.version, {}).get("change_id"),
                "reviewer": approved.get(ver.version, {}).get("reviewer"),
            }
            for ver in reversed(versions)
        ],
        "steps": [
            {k: e.get(k) for k in ("kind", "change_id", "action", "actor", "at", "reason")}
            | {"comment": e.get("comment", ""), "superseded_by": e.get("superseded_by")}
            for e in reversed(timeline)
            if e["kind"] != "version"
        ],
        "can_edit": g.user.can("edit"),
    }
    return render("manage/station_history.html", data, label=_label)


@bp.route("/stations/<station_id>/revert", methods=["GET", "POST"])
@requires("edit")
def station_revert(station_id: str):
    """Make an earlier version current again (a new ``revert`` version, version-checked);
    ``GET``: back to the history page."""
    if request.method == "GET":
        return redirect(url_for("manage.station_history", station_id=station_id), 303)
    versions = _covered_history(station_id)
    try:
        target = parse_version(request.form.get("version", ""))
    except ValueError:
        raise ValidationError(auth.text("manage.stations.no_version"), field="version") from None
    chosen = next((v for v in versions if v.version == target), None)
    if chosen is None:
        raise NotFound(auth.text("manage.stations.not_found"), station_id=station_id)
    require_covers(_codes(chosen.record))  # reverting must not bring in another area's record
    if needs_approval(g.user, bool(_settings().approval)):
        return _propose_revert(station_id, chosen)
    try:
        done = _repo().revert(
            station_id,
            target,
            actor=g.user.name,
            reason=(request.form.get("reason") or "").strip(),
            expected_version=_base_version(),
        )
    except Conflict as exc:
        if wants_json():
            return exc.to_dict(), 409
        data = {
            "id": station_id,
            "name": chosen.name,
            "deleted": _repo().get(station_id) is None,
            "version": exc.details.get("current_version"),
            "versions": [
                {k: v for k, v in ver.to_dict().items() if k != "record"}
                for ver in reversed(_repo().history(station_id))
            ],
            "can_edit": True,
            "conflict": exc.to_dict()["error"],
        }
        return render("manage/station_history.html", data, 409, label=_label)
    if wants_json():
        return {"reverted": done.to_dict() if done else None, "written": done is not None}
    return redirect(url_for("manage.station_history", station_id=station_id), 303)


def _propose_revert(station_id: str, chosen):
    """With approval on, an editor's revert is a pending change like any edit: the earlier
    record proposed over the current version (a create when the station was deleted)."""
    current = _repo().get(station_id)
    reason = (request.form.get("reason") or "").strip()
    deleting = chosen.action == "delete"  # back to a deleted state: propose the delete
    if deleting and current is None:  # deleted already: nothing to do
        if wants_json():
            return {"pending": None, "written": False}
        return redirect(url_for("manage.station_history", station_id=station_id), 303)
    try:
        change = ChangeStore(_repo()).propose(
            "delete" if deleting else ("edit" if current is not None else "create"),
            None if deleting else station_of(chosen.record),
            station_id=station_id,
            base_version=_base_version() if current is not None else 0,
            author=g.user.name,
            reason=auth.text(
                "manage.stations.revert_reason", version=chosen.version, reason=reason
            ),
            source="revert",
        )
    except Conflict as exc:
        if wants_json():
            return exc.to_dict(), 409
        return redirect(url_for("manage.station_history", station_id=station_id), 303)
    if wants_json():
        return {"pending": {"id": change.id, "state": change.state}, "written": False}, 202
    return redirect(url_for("manage.change", change_id=change.id), 303)


# -- coordinates --------------------------------------------------------------------------
@bp.get("/convert")
@requires("view_manage")
def convert():
    """A position in WGS-84, GCJ-02 and BD-09 (JSON only): ``lon``, ``lat``, ``crs``."""
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
    except (KeyError, ValueError):
        raise InvalidParameter("lon", "lon and lat must be numbers") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameter("lon", "out of range")
    crs = request.args.get("crs") or "wgs84"
    return {"crs": CoordSystem.parse(crs).value, "positions": all_systems(lon, lat, crs)}
