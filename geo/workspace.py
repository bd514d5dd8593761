"""Station writes from the registry workspace (issue 15 item 2): one function, :func:`submit`.

Every change a person makes to a station through ``/manage/`` (create, edit, close, reopen,
delete) goes through :func:`submit`, which

1. checks the user's role (``edit`` in :data:`geo.access.PERMISSIONS`) and that the user's
   areas cover the station as stored (before the change);
2. builds the station's record (the stored one as an export row,
   :func:`geo.records.station_record`, with the submitted fields over it) and validates it
   with the import's own validator, :func:`geo.records.validate_rows`: the same rules, the
   same messages, the same coordinate conversion (a typed GCJ-02 or BD-09 coordinate is
   stored in WGS-84 with ``orig_lon``/``orig_lat``/``orig_crs`` kept) and the same duplicate
   check against the stored stations;
3. when the position changed, fills the admin codes from the new coordinates (the bundled
   gazetteer, as the CLI import does) and checks that the user's areas still cover the
   station after the change, by its stated codes and by the county its point lies in — an
   editor of 融水 (450225) cannot move a station into or out of another county;
4. saves through :meth:`geo.store.StationRepository.save` / ``delete`` with
   ``expected_versions={id: base_version}``, ``actor`` = the user's name, ``source`` and
   ``reason``, so the history records who, what and why, and a stale form is refused with
   what changed since (:class:`geo.errors.Conflict`).

Deletion is the history module's soft delete: the row leaves ``stations`` and a ``delete``
version keeps it; :meth:`~geo.store.StationRepository.revert` restores it.

A role or area refusal raises :class:`geo.errors.Forbidden` before anything is written;
invalid fields and conflicts are returned in a :class:`SubmitResult` (nothing written).
No Flask here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geo import access
from geo import crs as _crs
from geo.crs import CoordSystem
from geo.errors import Conflict, Forbidden, NotFound, ValidationError
from geo.models import Station
from geo.records.audit import field_label
from geo.records.export import station_record
from geo.records.issues import RowIssue
from geo.records.read import RawRow
from geo.records.validate import validate_rows

__all__ = [
    "ACTIONS",
    "EDITABLE_FIELDS",
    "SubmitResult",
    "all_systems",
    "field_label",
    "submit",
]

#: What :func:`submit` does.
ACTIONS = ("create", "edit", "close", "reopen", "delete")
#: The fields a form may set (the import's field names, :data:`HEADER_ALIASES`); ``crs`` is
#: the system of a typed ``lon``/``lat``.
EDITABLE_FIELDS = (
    "name",
    "name_en",
    "kind",
    "services",
    "address",
    "province",
    "prefecture",
    "county",
    "township",
    "village",
    "lon",
    "lat",
    "crs",
    "precision",
    "hours",
    "phone",
    "union",
    "status",
    "source",
    "notes",
    "facilities",
    "liuyou_sign",
    "liuyou_rules",
    "liuyou_manager",
)
#: Place fields derived again from the coordinates when a station moves.
_PLACE_FIELDS = tuple(
    f"{level}{suffix}"
    for level in ("province", "prefecture", "county", "township", "village")
    for suffix in ("", "_code")
)
#: The codes that place a station in an area (as :func:`geo.access.covers`).
_AREA_CODES = ("province_code", "prefecture_code", "county_code", "township_code")
#: Same point within this many degrees (about 1 mm): the position did not change.
_SAME_DEG = 1e-8


@dataclass
class SubmitResult:
    """What :func:`submit` did.

    Attributes
    ----------
    action
        The action asked for.
    station
        The station as stored after the change (``None`` after a delete, or when refused).
    errors
        Field -> message of each rejected field (nothing was written); messages are the
        import validator's (see :func:`field_label`).
    warnings
        Field -> message of what the validator warned about (the change was written).
    issues
        Field -> the :class:`geo.records.issues.RowIssue` behind each of ``errors`` and
        ``warnings`` (its ``code`` and ``params`` let a page say it in its own language);
        a field with both has its rejection here.
    warning_issues
        Field -> the :class:`geo.records.issues.RowIssue` behind each of ``warnings``.
    conflict
        The :class:`Conflict` when the station changed since ``base_version`` (nothing was
        written); its ``details["changes"]`` say what changed, who and when.
    written
        Whether a new version was stored (``False`` also when nothing differed).
    version
        The station's version after the change (``None`` when refused).
    """

    action: str
    station: Station | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    issues: dict[str, RowIssue] = field(default_factory=dict)
    warning_issues: dict[str, RowIssue] = field(default_factory=dict)
    conflict: Conflict | None = None
    written: bool = False
    version: int | None = None
    #: With approval on and a user who may not review (an editor): the pending change that
    #: waits for a reviewer (:class:`geo.store.changes.Change`); nothing of the station was
    #: written, and ``station`` is the station as it stands.
    pending: Any = None

    @property
    def ok(self) -> bool:
        """No field error and no conflict."""
        return not self.errors and self.conflict is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the station as its export record)."""
        return {
            "action": self.action,
            "ok": self.ok,
            "written": self.written,
            "version": self.version,
            "station": station_record(self.station) if self.station else None,
            "errors": self.errors,
            "warnings": self.warnings,
            "conflict": self.conflict.to_dict()["error"] if self.conflict else None,
            "pending": (
                {"id": self.pending.id, "state": self.pending.state} if self.pending else None
            ),
        }


def _message(name: str | None, reason: str) -> str:
    return f"{field_label(name or '')}：{reason}" if name else reason


def all_systems(lon: float, lat: float, crs: str | CoordSystem = "wgs84") -> dict[str, list]:
    """A position given in ``crs`` in all three systems: ``{"wgs84": [lon, lat], "gcj02":
    …, "bd09": …}`` (7 decimals), converted by :mod:`geo.crs` (the one place that does it)."""
    source = CoordSystem.parse(str(crs))
    x, y = _crs.to_wgs84(float(lon), float(lat), source)
    out: dict[str, list] = {}
    for system in CoordSystem:
        cx, cy = _crs.from_wgs84(x, y, system)
        out[system.value] = [round(float(cx), 7), round(float(cy), 7)]
    return out


def _moved(before: Station | None, values: Mapping[str, Any]) -> bool:
    """Whether the submitted position differs from the stored one."""
    if before is None:
        return True
    crs_text = str(values.get("crs") or "wgs84").strip()
    try:
        system = CoordSystem.parse(crs_text)
    except ValidationError:
        return True
    try:
        lon, lat = float(values.get("lon")), float(values.get("lat"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    if before.lon is None or before.lat is None:
        return True
    if system is not CoordSystem.WGS84:
        return True
    return not (
        math.isclose(lon, before.lon, abs_tol=_SAME_DEG)
        and math.isclose(lat, before.lat, abs_tol=_SAME_DEG)
    )


def _raw_values(before: Station | None, fields: Mapping[str, Any], action: str) -> dict:
    """The record to validate: the stored station as an export row, the form over it."""
    values: dict[str, Any] = dict(station_record(before)) if before is not None else {}
    values.pop("updated_at", None)  # the save stamps the time of the change
    for key, value in fields.items():
        if key in EDITABLE_FIELDS:
            values[key] = value
    if action == "close":
        values["status"] = "closed"
    elif action == "reopen":
        values["status"] = "open"
    guessed = before is not None and (before.extra or {}).get("township_source") == "nearest"
    moved = False
    if before is not None and ("lon" in fields or "lat" in fields):
        if _moved(before, values):
            moved = True
            # A new position: its original is what was typed (set by the validator), and its
            # admin units are those of the new point (filled from the gazetteer).
            for key in ("orig_lon", "orig_lat", "orig_crs", *_PLACE_FIELDS):
                if key not in fields or key.endswith("_code"):
                    values[key] = None
            if guessed and str(values.get("township") or "") == (before.township or ""):
                # the township was the old point's nearest (a guess, not a statement): the
                # new point gets its own, not the old guess promoted to a stated name
                values["township"] = None
        else:
            values["lon"], values["lat"], values["crs"] = before.lon, before.lat, "wgs84"
    renamed = str(values.get("township") or "") != (before.township or "") if before else False
    if before is not None and not moved and renamed:
        # A township name edited without a move: its code is found from the new name (the
        # import's rule), never kept from the old one (a name and a code of two different
        # townships would be published).
        values["township_code"] = None
    if before is not None and (moved or values.get("township_code") is None) and guessed:
        extra = dict(before.extra or {})
        extra.pop("township_source", None)
        values["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
    values.setdefault("crs", "wgs84")
    return values


def submit(
    repo,
    user,
    action: str,
    station_id: str | None,
    fields: Mapping[str, Any],
    *,
    base_version: int,
    reason: str,
    source: str = "web",
    settings=None,
    gazetteer=None,
) -> SubmitResult:
    """Create, edit, close, reopen or delete a station as ``user``; see the module docstring.

    Parameters
    ----------
    repo
        A :class:`geo.store.StationRepository`.
    user
        Has ``name``, ``role`` and ``areas`` (:class:`geo.store.users.User`).
    action
        One of :data:`ACTIONS`.
    station_id
        The station (``None`` for ``create``: the id is derived as import derives it, or
        taken from ``fields["id"]``).
    fields
        Field -> submitted text (:data:`EDITABLE_FIELDS`); for ``close``/``reopen``/
        ``delete`` usually empty.
    base_version
        The version the user's form showed (``0`` for ``create``).
    reason, source
        Why (stored with the version) and through what (:data:`geo.store.history.SOURCES`).
    settings
        Optional deployment settings; ``duplicate_radius_m`` is read from it when present.
    gazetteer
        The gazetteer that places a moved station (default: the bundled one).

    Raises
    ------
    Forbidden
        The role may not edit, or the station (before or after) is outside the user's areas.
    NotFound
        No station ``station_id`` (for edit, close, reopen, delete).
    ValidationError
        An unknown ``action``.
    """
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}", field="action")
    if not access.allowed(user.role, "edit"):
        raise Forbidden("您的角色无权编辑站点 (your role may not edit stations)")
    result = SubmitResult(action)
    before: Station | None = None
    if action != "create":
        before = repo.get(station_id) if station_id else None
        if before is None:
            raise NotFound(f"no station {station_id!r}", station_id=station_id)
        if not access.user_covers(user, before):
            raise Forbidden("站点不在您负责的区域内 (the station is outside your areas)")
    approval = _approval_needed(user, settings)
    if action == "delete":
        assert before is not None
        if approval:
            return _propose(
                repo, user, result, "delete", None, before, base_version, reason, source
            )
        try:
            repo.delete(
                [before.id],
                actor=user.name,
                source=source,
                reason=reason,
                expected_versions={before.id: int(base_version)},
            )
        except Conflict as exc:
            result.conflict = exc
            return result
        result.written = True
        return result

    values = _raw_values(before, fields, action)
    if action == "create":
        values["id"] = str(fields.get("id") or "").strip()
    else:
        assert before is not None
        values["id"] = before.id
    if gazetteer is None:
        from geo.gazetteer import default_gazetteer

        gazetteer = default_gazetteer()
    radius_m = float(getattr(settings, "duplicate_radius_m", 50.0) or 50.0)
    stations, report = validate_rows(
        [RawRow(1, values)],
        "wgs84",
        fix_swapped=False,
        duplicate_radius_m=radius_m,
        existing=repo.positions(),
        source="web",
        gazetteer=gazetteer,
    )
    for issue in report.rejected:  # a field's rejection before its warning
        result.errors.setdefault(issue.field or "", _message(issue.field, issue.reason))
        result.issues.setdefault(issue.field or "", issue)
    for issue in report.warnings:
        result.warnings.setdefault(issue.field or "", _message(issue.field, issue.reason))
        result.issues.setdefault(issue.field or "", issue)
        result.warning_issues.setdefault(issue.field or "", issue)
    if result.errors or not stations:
        return result
    station = stations[0]
    if action == "create" and repo.get(station.id) is not None:
        reason = f"station {station.id} exists already"
        result.errors["id"] = _message("id", reason)
        result.issues["id"] = RowIssue(
            1, "id", reason, station.id, code="id_exists", params={"id": station.id}
        )
        return result
    # After the change: the stated codes and the county its point lies in.
    if (
        station.township
        and not station.township_code
        and before is not None
        and access.user_covers(user, before)
        and not access.user_covers(user, station)
    ):
        # A township name the county has no township of leaves the station without a
        # township code, so a township's editor would lose it: a field error, not a 403.
        why = f"no township of this county is named {station.township}"
        result.errors["township"] = _message("township", why)
        result.issues["township"] = RowIssue(
            1,
            "township",
            why,
            station.township,
            code="township_not_found",
            params={"name": station.township},
        )
        return result
    if not access.user_covers(user, station) or not access.point_covered(
        user.areas, station.lon, station.lat, gazetteer
    ):
        raise Forbidden("修改后的站点不在您负责的区域内 (the change leaves your areas)")
    if approval:
        return _propose(repo, user, result, action, station, before, base_version, reason, source)
    try:
        done = repo.save(
            [station],
            actor=user.name,
            source=source,
            reason=reason,
            expected_versions={station.id: 0 if action == "create" else int(base_version)},
        )
    except Conflict as exc:
        result.conflict = exc
        return result
    result.written = bool(done.inserted or done.updated)
    result.station = repo.get(station.id)
    result.version = result.station.version if result.station else None
    return result


def _approval_needed(user, settings) -> bool:
    """Whether ``user``'s change waits for a reviewer: ``settings.approval`` (the deployment's
    ``YIZHAN_APPROVAL``) is on and the role may not review. Without settings (a library
    caller) changes publish directly."""
    from geo.store.changes import needs_approval

    return needs_approval(user, bool(getattr(settings, "approval", False)))


def _propose(
    repo,
    user,
    result: SubmitResult,
    action: str,
    station: Station | None,
    before: Station | None,
    base_version: int,
    reason: str,
    source: str,
) -> SubmitResult:
    """Store the change as pending (:meth:`geo.store.changes.ChangeStore.propose`)."""
    from geo.store.changes import ChangeStore

    try:
        result.pending = ChangeStore(repo).propose(
            action,
            station,
            station_id=before.id if before is not None else None,
            base_version=0 if action == "create" else int(base_version),
            author=user.name,
            reason=reason,
            source=source,
        )
    except Conflict as exc:
        result.conflict = exc
        return result
    except ValidationError as exc:
        if exc.details.get("reason") != "unchanged":
            raise
        # nothing differs from the stored station: nothing to wait for (as a direct save)
    result.station = before
    result.version = before.version if before is not None else None
    return result
