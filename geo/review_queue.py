"""The review queue of the registry workspace (issue 15 item 4): what to review in an area,
and the decisions taken on it.

This module owns the *queue*: it computes the items of an area from the stored stations with
the existing checks — :func:`geo.review.review_stations` (coarse positions; coordinates that
contradict the stated county by code or name, with the GCJ-02 hint) and the import's duplicate
check (:func:`geo.records.validate.duplicate_pairs`) — plus *stale* records (not updated for
``stale_days``), and it keeps each item's decision in ``review_items`` (migration 0011_review).
:mod:`geo.review` stays a pure check over stations; nothing here repeats it.

An item's key is ``kind:id`` (``kind:id1:id2`` for duplicates; ids URL-quoted). Kinds:
``coarse``, ``conflict`` (the stated county contradicts the coordinates; or the stated
township contradicts its county, code or name, or — with township outlines — the
coordinates: :func:`geo.review.township_conflicts`), ``duplicate``,
``stale``. States: ``open``, ``accepted`` (as is, with a
reason), ``fixed``, ``merged``, ``dismissed``. A decision stores the versions of the item's
stations at that time; an item whose station has a later version (it changed since) is open
again.

Actions (:func:`apply`): accept (reason required), dismiss, fix (a new WGS-84 position from a
pin or one of the item's candidates, saved through
:meth:`geo.store.StationRepository.save` with ``expected_versions``, source ``review``), merge
(duplicates: keep one, fill its empty fields from the other, delete the other through
:meth:`~geo.store.StationRepository.delete`). Each action writes the stations' history and
the decision in one transaction; a station outside the user's areas is refused
(:class:`geo.errors.Forbidden`) before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import sqlalchemy as sa

from geo import access
from geo import crs as _crs
from geo.crs import CoordSystem
from geo.errors import Conflict, Forbidden, NotFound, ValidationError
from geo.gazetteer import township_outlines
from geo.models import Precision, Station
from geo.review import Reason, review_stations, stated_county_readings, township_conflicts
from geo.store import history as hist
from geo.store.schema import review_items

__all__ = [
    "ACTIONS",
    "KINDS",
    "STATES",
    "Candidate",
    "QueueItem",
    "apply",
    "county_counts",
    "get_item",
    "item_key",
    "parse_key",
    "queue",
    "seen_versions",
]

#: Item kinds, in the order they are listed.
KINDS = ("coarse", "conflict", "duplicate", "stale")
#: Item states (``open`` is never stored: an item without a valid decision is open).
STATES = ("open", "accepted", "fixed", "merged", "dismissed")
#: Actions and the state each leaves.
ACTIONS = {"accept": "accepted", "fix": "fixed", "merge": "merged", "dismiss": "dismissed"}
#: The reason codes made here (those of :data:`geo.review.REASON_CODES` come with them).
REASON_CODES = frozenset({"duplicate", "stale", "stale_never"})


@dataclass
class Candidate:
    """A position the item could be fixed to (WGS-84) and where it comes from."""

    source: str  # "gcj02": the original read as GCJ-02; "bd09": as BD-09
    lon: float
    lat: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class QueueItem:
    """One item of the review queue (``details``: its reasons with their codes,
    :class:`geo.review.Reason`)."""

    kind: str
    station_ids: tuple[str, ...]
    names: tuple[str, ...]
    details: list[Reason]
    county_code: str
    county: str
    lon: float | None = None
    lat: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    state: str = "open"
    actor: str = ""
    at: datetime | None = None
    decision_reason: str = ""

    @property
    def key(self) -> str:
        return item_key(self.kind, self.station_ids)

    @property
    def reasons(self) -> list[str]:
        """The reasons' sentences (:attr:`geo.review.Reason.text`)."""
        return [r.text for r in self.details]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "station_ids": list(self.station_ids),
            "names": list(self.names),
            "reasons": self.reasons,
            "reason_codes": [r.to_dict() for r in self.details],
            "county_code": self.county_code,
            "county": self.county,
            "lon": self.lon,
            "lat": self.lat,
            "candidates": [c.to_dict() for c in self.candidates],
            "versions": dict(self.versions),
            "state": self.state,
            "actor": self.actor,
            "at": self.at.isoformat() if self.at else None,
            "decision_reason": self.decision_reason,
        }


def item_key(kind: str, station_ids: Sequence[str]) -> str:
    """``kind:id[:id]`` with each id URL-quoted (so ``:`` and ``/`` in an id stay apart)."""
    return ":".join([kind, *(quote(str(i), safe="") for i in station_ids)])


def parse_key(key: str) -> tuple[str, tuple[str, ...]]:
    """``(kind, station ids)`` of a key; :class:`ValidationError` for a malformed one."""
    parts = str(key or "").split(":")
    kind, ids = parts[0], tuple(unquote(p) for p in parts[1:])
    count = 2 if kind == "duplicate" else 1
    if kind not in KINDS or len(ids) != count or not all(ids) or len(key) > 200:
        raise ValidationError(f"not a review item: {key[:80]!r}", field="key")
    return kind, ids


def _codes(s: Station) -> dict[str, Any]:
    return {f: getattr(s, f, None) for f in hist.AREA_FIELDS}


def _candidates(
    s: Station, gazetteer, readings: Mapping[str, tuple[float, float]] | None = None
) -> list[Candidate]:
    """Positions that would put ``s`` in its stated county: its original coordinate read as
    GCJ-02 (geo.review's hint) or as BD-09 (``readings``: already found by
    :func:`geo.review.stated_county_readings`, else found here)."""
    if readings is None:
        readings = stated_county_readings([s], gazetteer).get(s.id, {})
    return [
        Candidate(system, round(x, 7), round(y, 7))
        for system in ("gcj02", "bd09")
        if system in readings
        for x, y in [readings[system]]
    ]


def _computed(
    stations: Sequence[Station],
    gazetteer,
    stale_days: int,
    duplicate_radius_m: float,
    now: datetime,
) -> list[QueueItem]:
    """Every item the checks raise for ``stations`` (all open; decisions not applied)."""
    from geo.records.validate import duplicate_pairs

    by_id = {s.id: s for s in stations}

    def item(kind: str, ss: Sequence[Station], reasons: list[Reason]) -> QueueItem:
        first = ss[0]
        return QueueItem(
            kind,
            tuple(s.id for s in ss),
            tuple(s.name for s in ss),
            reasons,
            first.county_code or "",
            first.county or "",
            first.lon,
            first.lat,
            versions={s.id: s.version for s in ss},
        )

    items: list[QueueItem] = []
    for r in review_stations(stations, gazetteer):
        s = by_id[r.id]
        coarse = [x for x in r.details if x.position_only]
        county = [x for x in r.details if not x.position_only]
        if coarse:
            items.append(item("coarse", [s], coarse))
        if county:
            it = item("conflict", [s], county)
            it.candidates = _candidates(s, gazetteer, r.readings)
            items.append(it)
    # Township contradictions (TOWN): names and codes, and positions against the deployment's
    # township outlines; added to the station's conflict item (one item per station).
    outlines = township_outlines()
    conflicts = {i.station_ids[0]: i for i in items if i.kind == "conflict"}
    for sid, found in township_conflicts(stations, gazetteer, outlines).items():
        entry = conflicts.get(sid)
        if entry is None:
            entry = conflicts[sid] = item("conflict", [by_id[sid]], [])
            if found.by_outline and outlines is not None and found.stated is not None:
                entry.candidates = [  # only positions inside the stated township's outline
                    c
                    for c in _candidates(by_id[sid], gazetteer)
                    if found.stated.code in outlines.codes_at(c.lon, c.lat)[0]
                ]
            items.append(entry)
        entry.details.extend(found.details)
    for a, b, d in duplicate_pairs(
        [(s.id, s.name, s.lon, s.lat) for s in stations], duplicate_radius_m
    ):
        items.append(
            item(
                "duplicate",
                [by_id[a], by_id[b]],
                [
                    Reason(
                        "duplicate",
                        {"distance_m": f"{d:.0f}", "radius_m": f"{duplicate_radius_m:g}"},
                        f"same name, {d:.0f} m apart "
                        f"(import duplicate radius {duplicate_radius_m:g} m)",
                    )
                ],
            )
        )
    limit = now - timedelta(days=stale_days)
    for s in stations:
        at = s.updated_at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at is None or at < limit:
            when = at.date().isoformat() if at else "never"
            why = Reason(
                "stale" if at else "stale_never",
                {"since": when, "days": str(stale_days)} if at else {"days": str(stale_days)},
                f"not updated since {when} (over {stale_days} days)",
            )
            items.append(item("stale", [s], [why]))
    return items


def _decisions(conn: sa.Connection, keys: Iterable[str]) -> dict[str, Any]:
    keys = list(keys)
    out: dict[str, Any] = {}
    for i in range(0, len(keys), 500):
        sel = review_items.select().where(review_items.c.key.in_(keys[i : i + 500]))
        out.update({r.key: r for r in conn.execute(sel)})
    return out


def _apply_decision(item: QueueItem, row: Any) -> None:
    """Put a stored decision on ``item`` unless a station changed after it (then open)."""
    if row is None:
        return
    decided = {str(k): int(v) for k, v in (row.versions or {}).items()}
    if any(v > decided.get(sid, 0) for sid, v in item.versions.items()):
        return
    at = row.at
    item.state, item.actor, item.decision_reason = row.state, row.actor, row.reason
    item.at = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def queue(
    repo,
    areas: Sequence[str],
    gazetteer,
    *,
    stale_days: int = 365,
    duplicate_radius_m: float = 50.0,
    kinds: Iterable[str] | None = None,
    states: Iterable[str] | None = ("open",),
    now: datetime | None = None,
    stations: Sequence[Station] | None = None,
) -> list[QueueItem]:
    """The review items of the stations ``areas`` cover (all for no areas), with their state.

    Parameters
    ----------
    repo
        A :class:`geo.store.StationRepository`.
    areas
        Admin codes (:func:`geo.access.areas_cover`).
    stale_days, duplicate_radius_m
        A station not updated for ``stale_days`` is stale; same-name stations within
        ``duplicate_radius_m`` are possible duplicates (the import's rule).
    kinds, states
        Keep only these (``None``: all). By default only open items.
    stations
        The stations ``areas`` cover, when the caller has read them already (the station
        list); ``None`` reads them from ``repo``.
    """
    now = now or datetime.now(UTC)
    if stations is None:
        stations = access.filter_to_areas(repo.all(), areas)
    items = _computed(stations, gazetteer, stale_days, duplicate_radius_m, now)
    with repo.engine.connect() as conn:
        stored = _decisions(conn, [i.key for i in items])
    for it in items:
        _apply_decision(it, stored.get(it.key))
    kinds = set(kinds) if kinds is not None else None
    states = set(states) if states is not None else None
    order = {k: n for n, k in enumerate(KINDS)}
    return sorted(
        (
            i
            for i in items
            if (kinds is None or i.kind in kinds) and (states is None or i.state in states)
        ),
        key=lambda i: (i.county_code, order[i.kind], i.station_ids),
    )


def county_counts(items: Iterable[QueueItem]) -> list[dict[str, Any]]:
    """Open items per county and kind: ``[{"county_code", "county", "<kind>": n, "total"}]``,
    ordered by code (the dashboard's counts)."""
    rows: dict[str, dict[str, Any]] = {}
    for i in items:
        if i.state != "open":
            continue
        row = rows.setdefault(
            i.county_code,
            {
                "county_code": i.county_code,
                "county": i.county,
                **dict.fromkeys(KINDS, 0),
                "total": 0,
            },
        )
        row["county"] = row["county"] or i.county
        row[i.kind] += 1
        row["total"] += 1
    return sorted(rows.values(), key=lambda r: (r["county_code"] == "", r["county_code"]))


def _position(lon: object, lat: object) -> tuple[float, float]:
    try:
        x, y = float(lon), float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("经纬度必须是数字 (lon/lat must be numbers)", field="lon") from None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise ValidationError("经纬度超出范围 (lon/lat out of range)", field="lon")
    if not _crs.in_china(x, y):
        raise ValidationError("位置不在中国境内 (the position is outside China)", field="lon")
    return x, y


def _merged(keep: Station, other: Station) -> Station:
    """``keep`` with its empty fields filled from ``other`` (services and facilities joined)."""
    changes: dict[str, Any] = {}
    for f in ("name_en", "address", "phone", "hours", "union", "notes"):
        if not getattr(keep, f) and getattr(other, f):
            changes[f] = getattr(other, f)
    for f in ("services", "facilities"):
        joined = tuple(sorted(set(getattr(keep, f)) | set(getattr(other, f))))
        if joined != tuple(sorted(getattr(keep, f))):
            changes[f] = joined
    checks = {**(other.liuyou or {}), **(keep.liuyou or {})}
    if checks != (keep.liuyou or {}):
        changes["liuyou"] = checks
    return dataclasses.replace(keep, **changes) if changes else keep


def _stations(repo, key: str, areas: Sequence[str]) -> list[Station]:
    """The stored stations of item ``key``: :class:`NotFound` when one is gone,
    :class:`Forbidden` when ``areas`` do not cover each."""
    _kind, ids = parse_key(key)
    found = [s for s in (repo.get(i) for i in ids) if s is not None]
    if len(found) != len(ids):
        raise NotFound(f"review item {key} is not in the queue")
    if not all(access.areas_cover(areas, s) for s in found):
        raise Forbidden("站点不在您的管辖区域内 (station outside your areas)")
    return found


def _load(
    repo,
    gazetteer,
    key: str,
    areas: Sequence[str],
    stale_days: int,
    duplicate_radius_m: float,
    found: list[Station] | None = None,
) -> tuple[QueueItem, list[Station]]:
    """The current item ``key`` (its decision not applied) and its stored stations."""
    if found is None:
        found = _stations(repo, key, areas)
    now = datetime.now(UTC)
    current = [
        i for i in _computed(found, gazetteer, stale_days, duplicate_radius_m, now) if i.key == key
    ]
    if not current:
        raise NotFound(f"review item {key} is not in the queue")
    return current[0], found


def seen_versions(value: object, ids: Sequence[str]) -> dict[str, int] | None:
    """The versions a decision was based on, ``{station id: version}`` for each of ``ids``,
    from a mapping or its JSON text (a form field); ``None`` for none given;
    :class:`ValidationError` (field ``versions``) for anything else."""
    import json

    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    bad = ValidationError(
        "版本信息无效，请重新打开此事项 (versions must map each station id to its version)",
        field="versions",
    )
    if not isinstance(value, dict) or set(map(str, value)) != set(ids):
        raise bad
    try:  # whole numbers only (geo.store.history.parse_version)
        return {str(k): hist.parse_version(v) for k, v in value.items()}
    except ValueError:
        raise bad from None


def _check_versions(conn: sa.Connection, seen: dict[str, int]) -> None:
    """:class:`geo.errors.Conflict` (with what changed since, who, when) when a stored
    station's version is not the one ``seen``."""
    stored = _stored_versions(conn, list(seen))
    for sid, v in sorted(seen.items()):
        if stored.get(sid, 0) != v:
            raise hist.conflict(conn, sid, v, stored.get(sid, 0))


def get_item(
    repo,
    gazetteer,
    key: str,
    areas: Sequence[str],
    *,
    stale_days: int = 365,
    duplicate_radius_m: float = 50.0,
) -> tuple[QueueItem, list[Station]]:
    """One item of the queue with its state, and its stations; :class:`NotFound` when the
    checks no longer raise it, :class:`Forbidden` when ``areas`` do not cover its stations."""
    item, found = _load(repo, gazetteer, key, areas, stale_days, duplicate_radius_m)
    with repo.engine.connect() as conn:
        _apply_decision(item, _decisions(conn, [key]).get(key))
    return item, found


def apply(
    repo,
    gazetteer,
    key: str,
    action: str,
    *,
    actor: str,
    areas: Sequence[str],
    reason: str = "",
    lon: object = None,
    lat: object = None,
    candidate: object = None,
    keep: str | None = None,
    versions: object = None,
    seen_state: str | None = None,
    stale_days: int = 365,
    duplicate_radius_m: float = 50.0,
) -> QueueItem:
    """Decide a review item; return it with its new state.

    ``accept`` needs a ``reason``; ``fix`` a position (``lon``/``lat``, WGS-84, e.g. from a
    pin) or ``candidate`` (the index of one of the item's candidates); ``merge`` (duplicates
    only) the id to ``keep``.

    ``versions`` are the versions of the item's stations the decision is based on (what the
    user saw: ``{station id: version}``, or its JSON text as a form sends it). They are
    checked inside the decision's transaction; a station at another version is a
    :class:`geo.errors.Conflict` naming what changed since, by whom and when. ``fix`` and
    ``merge`` change stations and require them; ``accept`` and ``dismiss`` without them
    decide on the current versions (which the decision records).

    ``seen_state`` is the item's state the user saw (default ``open``): an item someone
    else decided meanwhile (e.g. a reviewer accepted it with a reason) is a
    :class:`geo.errors.Conflict` naming that decision, so no decision silently replaces
    another; re-deciding a decided item needs its current state.

    Raises :class:`NotFound` for an item that is not in the queue (any more),
    :class:`Forbidden` when ``areas`` do not cover each of its stations,
    :class:`ValidationError` for a missing or wrong field and :class:`geo.errors.Conflict`
    when a station changed since ``versions`` — in every case nothing is written.
    """
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}", field="action")
    found = _stations(repo, key, areas)  # out of area: Forbidden before anything else
    seen = seen_versions(versions, parse_key(key)[1])
    if seen is None and action in ("fix", "merge"):
        raise ValidationError(
            "缺少站点版本，请重新打开此事项后再处理 (versions are required to fix or merge)",
            field="versions",
        )
    if seen is not None and any(seen[s.id] != s.version for s in found):
        with repo.engine.connect() as conn:  # changed since seen (maybe no longer an item)
            _check_versions(conn, seen)
    item, found = _load(repo, gazetteer, key, areas, stale_days, duplicate_radius_m, found)
    with repo.engine.connect() as conn:
        loaded = _decisions(conn, [key]).get(key)
    _apply_decision(item, loaded)
    if seen_state not in (None, "", *STATES):
        raise ValidationError(
            "状态无效，请重新打开此事项 (state must be one of " + ", ".join(STATES) + ")",
            field="state",
        )
    if item.state != "open" and item.state != (seen_state or "open"):
        # decided by someone else since the user saw it (an item open now has no decision
        # to replace: one the user saw has lapsed with a station's change)
        raise _decided_conflict(key, item)
    kind, ids = item.kind, item.station_ids
    now = datetime.now(UTC)
    reason = (reason or "").strip()
    if action == "accept" and not reason:
        raise ValidationError("请填写接受的理由 (a reason is required)", field="reason")
    expected = dict(seen if seen is not None else item.versions)
    versions = dict(expected)
    try:
        with repo.transaction() as conn:
            if action == "fix":
                if len(found) != 1:
                    raise ValidationError(
                        "合并重复站点请用“合并” (use merge for duplicates)", field="action"
                    )
                if candidate not in (None, ""):
                    try:
                        chosen = item.candidates[int(str(candidate))]
                    except (ValueError, IndexError):
                        raise ValidationError(
                            "没有这个候选位置 (no such candidate)", field="candidate"
                        ) from None
                    x, y = chosen.lon, chosen.lat
                else:
                    x, y = _position(lon, lat)
                s = found[0]
                _check_fix_position(gazetteer, areas, s, x, y)
                fixed = dataclasses.replace(
                    s,
                    lon=x,
                    lat=y,
                    precision=Precision.EXACT,
                    orig_lon=x,
                    orig_lat=y,
                    orig_crs=CoordSystem.WGS84,
                    updated_at=None,
                )
                repo.save(
                    [fixed],
                    conn,
                    actor=actor,
                    source="review",
                    reason=reason or f"review {key}: position fixed",
                    expected_versions=expected,
                )
                versions[s.id] = expected[s.id] + 1
            elif action == "merge":
                if kind != "duplicate":
                    raise ValidationError(
                        "只有重复站点可以合并 (only duplicates merge)", field="action"
                    )
                if keep not in ids:
                    raise ValidationError(
                        "请选择保留的站点 (choose the station to keep)", field="keep"
                    )
                kept = next(s for s in found if s.id == keep)
                other = next(s for s in found if s.id != keep)
                why = reason or f"review {key}: merged {other.id} into {kept.id}"
                merged = _merged(kept, other)
                if merged is not kept:
                    repo.save(
                        [merged],
                        conn,
                        actor=actor,
                        source="review",
                        reason=why,
                        expected_versions={kept.id: expected[kept.id]},
                    )
                    versions[kept.id] = expected[kept.id] + 1
                repo.delete(
                    [other.id],
                    conn,
                    actor=actor,
                    source="review",
                    reason=why,
                    expected_versions={other.id: expected[other.id]},
                )
                versions[other.id] = expected[other.id] + 1
            else:  # accept / dismiss: nothing of the station changes; check it did not either
                _check_versions(conn, expected)
            state = ACTIONS[action]
            record = {
                "key": key,
                "kind": kind,
                "station_ids": list(ids),
                "state": state,
                "versions": versions,
                "actor": actor or "unknown",
                "reason": reason,
                "at": now,
                "area_codes": hist.area_codes(*(_codes(s) for s in found)),
            }
            # Replace exactly the decision read above (none, or the one at ``loaded.at``): a
            # decision someone committed meanwhile makes the conditional delete miss (or the
            # insert meet its key), and this one is refused instead of replacing it.
            if loaded is not None:
                gone = review_items.delete().where(
                    review_items.c.key == key, review_items.c.at == loaded.at
                )
                if conn.execute(gone).rowcount != 1:
                    raise _DecidedMeanwhile  # rolls back; the other decision is read after
            try:
                conn.execute(review_items.insert(), [record])
            except sa.exc.IntegrityError:  # another first decision committed meanwhile
                raise _DecidedMeanwhile from None  # rolls back; that decision is read after
    except _DecidedMeanwhile:
        with repo.engine.connect() as conn:
            _apply_decision(item, _decisions(conn, [key]).get(key))
        raise _decided_conflict(key, item) from None
    item.state, item.actor, item.at, item.decision_reason = state, actor, now, reason
    item.versions = versions
    return item


class _DecidedMeanwhile(Exception):
    """Raised inside a decision's transaction (so it rolls back) when another decision of
    the item was committed meanwhile; :func:`apply` answers it with :func:`_decided_conflict`."""


def _decided_conflict(key: str, item: QueueItem) -> Conflict:
    """The refusal of a decision on an item someone decided since the user saw it."""
    at = item.at.isoformat() if item.at else None
    return Conflict(
        f"review item {key} was decided meanwhile ({item.state} by {item.actor} at {at}); "
        "reload it before deciding",
        key=key,
        decided_state=item.state,
        decided_by=item.actor,
        decided_at=at,
        decided_reason=item.decision_reason,
    )


def _stored_versions(conn: sa.Connection, ids: Sequence[str]) -> dict[str, int]:
    """``{id: version}`` of the stored stations among ``ids``."""
    from geo.store.schema import stations

    sel = sa.select(stations.c.id, stations.c.version).where(stations.c.id.in_(list(ids)))
    return {sid: int(v) for sid, v in conn.execute(sel)}


def _check_fix_position(gazetteer, areas: Sequence[str], s: Station, lon: float, lat: float):
    """A fixed position must lie in the user's areas and in the county the record states (a
    fix corrects a position inside its county; moving a station elsewhere is an edit)."""
    if not access.point_covered(areas, lon, lat, gazetteer):
        raise Forbidden("修正后的位置不在您负责的区域内 (the position is outside your areas)")
    if gazetteer is None or not s.county_code:
        return
    import numpy as np

    found = gazetteer.county_codes_at(np.array([lon]), np.array([lat])).tolist()[0]
    if found and str(found)[:6] != str(s.county_code)[:6]:
        raise ValidationError(
            f"修正后的位置不在站点所述的县区 {s.county or s.county_code} 内 "
            "(the position is outside the county the record states)",
            field="lon",
            reason="outside_county",
        )
