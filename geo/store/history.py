"""Station history and audit: the ``station_versions`` rows (migration 0008_history).

This module owns what one stored change of a station looks like (:class:`StationVersion`),
how it is computed from the row before and after (:func:`record_of`, :func:`diff`,
:func:`action_of`), and the reads over history (a station's versions, an area's audit, what
changed since a version for a :class:`geo.errors.Conflict`). The writes happen in
:class:`geo.store.StationRepository`, in the transaction of the change itself.

Deletion is represented by *absence*: a deleted station's row leaves ``stations`` (so no
public read path can show it: API, OGC, embed, index and exports all read ``stations``) and
its history keeps a ``delete`` version carrying the last full record, from which
:meth:`~geo.store.StationRepository.revert` restores it.

Area matching (:func:`area_clause`) is ``geo.access.covers``'s rule (province, prefecture,
county or township code) applied to the codes stored with each history row (before and after
the change, so a station moved out of a county stays in that county's audit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.errors import Conflict
from geo.store.schema import station_versions

__all__ = [
    "ACTIONS",
    "AREA_FIELDS",
    "SOURCES",
    "StationVersion",
    "action_of",
    "area_clause",
    "area_codes",
    "changes_since",
    "conflict",
    "diff",
    "record_of",
    "time_bounds",
]

#: What a version did.
ACTIONS = ("create", "edit", "close", "reopen", "delete", "revert", "import")
#: Where a change came from ("unknown": a library caller that did not say).
SOURCES = ("web", "upload", "cli", "revert", "review", "migration", "unknown")
#: The record fields that place a station in an area (as ``geo.access.covers``).
AREA_FIELDS = ("province_code", "prefecture_code", "county_code", "township_code")
#: Record fields never compared or diffed: bookkeeping of the store itself.
IGNORED_FIELDS = frozenset({"updated_at", "version"})


@dataclass(frozen=True)
class StationVersion:
    """One stored change of one station.

    Attributes
    ----------
    station_id, version
        The station and its version after the change (1 = created).
    action
        One of :data:`ACTIONS`.
    record
        The full station record after the change (the ``stations`` columns, JSON values); for
        a ``delete``, the last record before it.
    changes
        Field -> ``[before, after]`` (JSON values).
    actor, source, reason
        Who (user name, ``cli:<os user>``), through what (:data:`SOURCES`) and why.
    at
        When (UTC).
    """

    station_id: str
    version: int
    action: str
    record: dict[str, Any]
    changes: dict[str, list[Any]]
    actor: str
    source: str
    reason: str
    at: datetime
    area_codes: str = field(default="", repr=False)

    @property
    def name(self) -> str:
        """The station's name in this version (for lists)."""
        return str(self.record.get("name") or "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``at`` as ISO 8601 UTC)."""
        return {
            "station_id": self.station_id,
            "version": self.version,
            "action": self.action,
            "actor": self.actor,
            "source": self.source,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "changes": self.changes,
            "record": self.record,
        }

    @classmethod
    def from_row(cls, r: Any) -> StationVersion:
        """From a ``station_versions`` row mapping."""
        at = r["at"]
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # SQLite returns naive UTC
        return cls(
            station_id=r["station_id"],
            version=int(r["version"]),
            action=r["action"],
            record=dict(r["record"] or {}),
            changes={k: list(v) for k, v in (r["changes"] or {}).items()},
            actor=r["actor"],
            source=r["source"],
            reason=r["reason"] or "",
            at=at,
            area_codes=r["area_codes"] or "",
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``stations`` row (column -> value) as a JSON record, without ``version``."""
    return {k: _jsonable(v) for k, v in row.items() if k != "version"}


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field -> ``[before, after]`` for every field that differs (bookkeeping fields left
    out); a creation lists every field that has a value."""
    before = before or {}
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        if key in IGNORED_FIELDS:
            continue
        old, new = before.get(key), after.get(key)
        if old in ("", None) and new in ("", None):
            continue
        if old != new:
            out[key] = [old, new]
    return out


def action_of(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """``create`` (no row before), ``close`` / ``reopen`` (status to / from closed), or
    ``edit``."""
    if before is None:
        return "create"
    old, new = before.get("status"), after.get("status")
    if old != new and new == "closed":
        return "close"
    if old != new and old == "closed":
        return "reopen"
    return "edit"


def area_codes(*records: Mapping[str, Any] | None) -> str:
    """The admin codes of ``records`` as ``",450000,450200,450226,"`` (matched with LIKE)."""
    codes: list[str] = []
    for rec in records:
        for key in AREA_FIELDS:
            code = (rec or {}).get(key)
            if code and str(code) not in codes:
                codes.append(str(code))
    return "," + ",".join(codes) + "," if codes else ""


def area_clause(area: str) -> sa.ColumnElement[bool]:
    """SQL: history rows whose station was in ``area`` before or after the change (the
    rule of :func:`geo.access.covers`, on the codes stored with each row)."""
    from geo.access import area_forms

    forms = area_forms(area) if area.strip().isdigit() else ()
    if not forms:  # codes are digits; anything else matches nothing (and never reaches LIKE)
        return sa.false()
    return sa.or_(*(station_versions.c.area_codes.contains(f",{f},") for f in forms))


def time_bounds(
    since: date | datetime | None, until: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``[since, until)`` in UTC. A date is a whole day in China time: ``since`` from its
    start, ``until`` to its end (so ``since=until=day`` is that day)."""
    from geo.hours import CHINA_TZ

    def at(d: date | datetime | None, end: bool) -> datetime | None:
        if d is None:
            return None
        if isinstance(d, datetime):
            return (d if d.tzinfo else d.replace(tzinfo=UTC)).astimezone(UTC)
        day = d + timedelta(days=1) if end else d
        return datetime.combine(day, time(0), tzinfo=CHINA_TZ).astimezone(UTC)

    return at(since, False), at(until, True)


#: The largest version a client may send (a 32-bit column holds it).
MAX_VERSION = 2**31 - 1


def parse_version(value: object) -> int:
    """A station version a client sent (form text or JSON number): a whole number 0 …
    :data:`MAX_VERSION` written with ASCII digits. ``ValueError`` for anything else — ``1.9``,
    ``true``, ``1e400``, ``²`` or a 30-digit number must not pass as, or overflow into, a
    version."""
    if isinstance(value, bool):
        raise ValueError(f"not a version: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(f"not a version: {value!r}")
    if not 0 <= number <= MAX_VERSION:
        raise ValueError(f"not a version: {value!r}")
    return number


def changes_since(conn: Connection, station_id: str, version: int) -> list[StationVersion]:
    """The versions of ``station_id`` after ``version``, oldest first."""
    c = station_versions.c
    sel = (
        station_versions.select()
        .where(c.station_id == station_id, c.version > version)
        .order_by(c.version)
    )
    return [StationVersion.from_row(r) for r in conn.execute(sel).mappings()]


def conflict(conn: Connection, station_id: str, expected: int, current: int) -> Conflict:
    """The :class:`Conflict` for a write based on ``expected`` while ``current`` is stored:
    its details carry each later version's fields, actor, source, time and reason."""
    later = changes_since(conn, station_id, expected)
    changes = [
        {
            "version": v.version,
            "action": v.action,
            "fields": sorted(v.changes),
            "changes": v.changes,
            "actor": v.actor,
            "source": v.source,
            "reason": v.reason,
            "at": v.at.isoformat(),
        }
        for v in later
    ]
    who = ", ".join(sorted({v.actor for v in later})) or "someone"
    return Conflict(
        f"station {station_id} changed since version {expected} (now {current}, by {who}); "
        "reload and apply the change again",
        station_id=station_id,
        expected_version=expected,
        current_version=current,
        changes=changes,
    )


def latest_versions(conn: Connection, ids: Sequence[str], chunk: int = 500) -> dict[str, int]:
    """The highest history version of each of ``ids`` that has history."""
    c = station_versions.c
    out: dict[str, int] = {}
    for i in range(0, len(ids), chunk):
        sel = (
            sa.select(c.station_id, sa.func.max(c.version))
            .where(c.station_id.in_(ids[i : i + chunk]))
            .group_by(c.station_id)
        )
        out.update({sid: int(v) for sid, v in conn.execute(sel)})
    return out
