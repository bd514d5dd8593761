"""Pending changes and their approval (issue 15 item 5): the ``station_changes`` rows.

With approval on (``YIZHAN_APPROVAL``, :func:`needs_approval`), a change of a station by an
editor does not touch ``stations``: :meth:`ChangeStore.propose` stores it as a *pending
change* (the proposed full record, already validated and in WGS-84, its diff against the
version it was based on, who, why, when). Every public read (map, API, OGC, embed, station
page) reads ``stations`` only, so it keeps showing the approved data.

A reviewer of the change's area decides:

- :meth:`ChangeStore.approve` writes the record through
  :meth:`geo.store.StationRepository.save` (or ``delete``) with
  ``expected_versions={station_id: base_version}``, ``actor`` = the *author*, ``source``
  ``"review"`` and a reason naming the change, the reviewer and the comment, **in the same
  transaction** as the change's state: both are written or neither. The state moves from
  ``pending`` by a conditional update (``WHERE state = 'pending'``), so of two reviewers
  approving at once exactly one applies it; the other gets :class:`geo.errors.Conflict`.
  If the station changed since the base version, the save's :class:`~geo.errors.Conflict`
  (with what changed) refuses the approval and the change **stays pending**: the reviewer
  sees what changed and may reject it with a comment; the author may withdraw it and propose
  again on the new version.
- :meth:`ChangeStore.reject` needs a comment; nothing is written to the station.

A reviewer cannot decide their own change, needs the ``review`` permission, and must cover
the change's area (:func:`geo.access.user_covers`, on the proposed record and on the station
as it is stored): otherwise :class:`geo.errors.Forbidden` and nothing is written.

Ids of created stations: the caller chooses the id when proposing (as for a direct create),
stores it as the change's ``station_id`` with ``base_version`` 0; the approval creates it with
``expected_versions={id: 0}``, so an id taken meanwhile refuses the approval.

History: the approval's station version is the one history row (actor the author, source
``review``); the change row keeps ``applied_version`` (the version it wrote), so
:meth:`ChangeStore.timeline` merges the proposal (author, reason, time) and the decision
(reviewer, comment, time) into the station's history. A new proposal by the same author for
the same station *supersedes* their older pending one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo import access
from geo.errors import Conflict, Forbidden, NotFound, ValidationError
from geo.models import Station
from geo.store import history as hist
from geo.store.repository import StationRepository, _from_row, _to_row
from geo.store.schema import station_changes, station_versions, stations

__all__ = [
    "ACTIONS",
    "REVIEW_STATES",
    "STATES",
    "Change",
    "ChangeStore",
    "needs_approval",
]

#: What a change does.
ACTIONS = ("create", "edit", "close", "reopen", "delete")
#: Where a change is in its life.
STATES = ("pending", "approved", "rejected", "withdrawn", "superseded")
#: A station's review state in the workspace's list, in the order one wins over the next:
#: a pending change waits for a reviewer; the latest proposal was rejected (the editor sees
#: the decision); an open item of the review queue (decided by the caller, who has the
#: queue); none of these.
REVIEW_STATES = ("pending", "rejected", "queue", "clear")
#: Longest comment and reason kept (characters).
MAX_TEXT = 2000


class _User(Protocol):
    name: str
    role: str
    areas: Sequence[str]


def needs_approval(user: _User, approval: bool) -> bool:
    """Whether ``user``'s change must wait for a reviewer: approval is on and the user's role
    may not review (editors). Reviewers and administrators publish directly."""
    return bool(approval) and not access.allowed(user.role, "review")


@dataclass(frozen=True)
class Change:
    """One proposed change of one station (a ``station_changes`` row)."""

    id: int
    station_id: str
    action: str
    base_version: int
    record: dict[str, Any]
    changes: dict[str, list[Any]]
    author: str
    source: str
    reason: str
    created_at: datetime
    state: str
    reviewer: str | None
    comment: str
    decided_at: datetime | None
    applied_version: int | None
    province_code: str | None = None
    prefecture_code: str | None = None
    county_code: str | None = None
    township_code: str | None = None

    @property
    def name(self) -> str:
        """The station's name in the proposed record."""
        return str(self.record.get("name") or "")

    @property
    def moved(self) -> bool:
        """Whether the change moves the station (its WGS-84 position changes)."""
        return "lon" in self.changes or "lat" in self.changes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "station_id": self.station_id,
            "action": self.action,
            "base_version": self.base_version,
            "name": self.name,
            "author": self.author,
            "source": self.source,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "state": self.state,
            "reviewer": self.reviewer,
            "comment": self.comment,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "applied_version": self.applied_version,
            "county_code": self.county_code,
            "changes": self.changes,
            "record": self.record,
        }

    @classmethod
    def from_row(cls, r: Any) -> Change:
        """From a ``station_changes`` row mapping."""
        return cls(
            id=int(r["id"]),
            station_id=r["station_id"],
            action=r["action"],
            base_version=int(r["base_version"]),
            record=dict(r["record"] or {}),
            changes={k: list(v) for k, v in (r["changes"] or {}).items()},
            author=r["author"],
            source=r["source"],
            reason=r["reason"] or "",
            created_at=_utc(r["created_at"]),
            state=r["state"],
            reviewer=r["reviewer"],
            comment=r["comment"] or "",
            decided_at=_utc(r["decided_at"]) if r["decided_at"] is not None else None,
            applied_version=r["applied_version"],
            province_code=r["province_code"],
            prefecture_code=r["prefecture_code"],
            county_code=r["county_code"],
            township_code=r["township_code"],
        )


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite returns naive UTC


def _text(value: object, field: str) -> str:
    """A reason or comment: control characters removed (PostgreSQL text refuses NUL),
    trimmed, at most :data:`MAX_TEXT` characters."""
    from geo.tables import strip_control

    text = strip_control(str(value or ""))[0].strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(
            f"{field} 过长（最多 {MAX_TEXT} 字）({field} is longer than {MAX_TEXT} characters)",
            field=field,
            reason="too_long",
        )
    return text


def station_of(record: dict[str, Any]) -> Station:
    """The :class:`Station` of a change's record (``updated_at`` left for the save to set)."""
    values = {c.name: record.get(c.name) for c in stations.columns}
    values["updated_at"] = None
    values["version"] = 0
    return _from_row(values)  # type: ignore[arg-type]


class ChangeStore:
    """The pending changes of a registry, next to its :class:`StationRepository`."""

    def __init__(self, repo: StationRepository) -> None:
        self.repo = repo
        self.engine = repo.engine

    # -- proposing ---------------------------------------------------------------------
    def propose(
        self,
        action: str,
        station: Station | None,
        *,
        station_id: str | None = None,
        base_version: int,
        author: str,
        reason: str = "",
        source: str = "web",
    ) -> Change:
        """Store an editor's change as pending; nothing of the station is written.

        Parameters
        ----------
        action
            ``create``, ``edit``, ``close``, ``reopen`` or ``delete``.
        station
            The proposed station, validated and in WGS-84 (``None`` for a ``delete``).
        station_id
            The station (required for a ``delete``; else ``station.id``).
        base_version
            The version the editor saw (0 for a create). A station that changed since is
            refused at once with :class:`geo.errors.Conflict` (what changed).
        author, reason, source
            Who proposes, why, and through what (``web``, ``upload``).

        Returns
        -------
        Change
            The pending change. An older pending change of the same author for the same
            station becomes ``superseded``.
        """
        if action not in ACTIONS:
            raise ValidationError(f"unknown action {action!r}", field="action")
        if station is None and action != "delete":
            raise ValidationError(f"a {action} needs the proposed station", field="station")
        sid = station_id or (station.id if station is not None else "")
        if not sid or (station is not None and station.id != sid):
            raise ValidationError("station id missing or inconsistent", field="station_id")
        with self.repo.transaction() as conn:
            return self._propose_in(
                conn, action, station, sid, int(base_version), author, reason, source
            )

    def propose_many(
        self,
        items: Sequence[tuple[str, Station, int]],
        *,
        author: str,
        reason: str = "",
        source: str = "upload",
    ) -> list[Change]:
        """Store several proposed changes ``(action, station, base_version)`` in ONE
        transaction (an upload by an editor): all pending, or none when one is refused
        (:class:`geo.errors.Conflict`, :class:`geo.errors.ValidationError`)."""
        for action, station, _ in items:
            if action not in ("create", "edit") or station is None:
                raise ValidationError(f"cannot propose {action!r} in a batch", field="action")
        with self.repo.transaction() as conn:
            return [
                self._propose_in(conn, action, st, st.id, int(base), author, reason, source)
                for action, st, base in items
            ]

    def _propose_in(
        self,
        conn: Connection,
        action: str,
        station: Station | None,
        sid: str,
        base_version: int,
        author: str,
        reason: str,
        source: str,
    ) -> Change:
        reason = _text(reason, "reason")
        now = datetime.now(UTC)
        row = conn.execute(stations.select().where(stations.c.id == sid)).mappings().first()
        current = int(row["version"]) if row is not None else 0
        if current != int(base_version):
            raise hist.conflict(conn, sid, int(base_version), current)
        before = hist.record_of(_to_row(_from_row(row))) if row is not None else None
        if action == "delete":
            if before is None:
                raise NotFound(f"station {sid} does not exist", station_id=sid)
            record = before
            changes = {"status": [before.get("status"), "deleted"]}
        else:
            assert station is not None
            record = hist.record_of(_to_row(station))
            record["updated_at"] = None
            changes = hist.diff(before, record)
            if not changes:
                raise ValidationError(
                    "没有修改 (the proposed station equals the stored one)",
                    field="station",
                    reason="unchanged",
                )
        c = station_changes.c
        conn.execute(
            station_changes.update()
            .where(c.station_id == sid, c.author == author, c.state == "pending")
            .values(state="superseded", decided_at=now)
        )
        inserted = conn.execute(
            station_changes.insert().values(
                station_id=sid,
                action=action,
                base_version=int(base_version),
                record=record,
                changes=changes,
                author=author,
                source=source or "web",
                reason=reason,
                created_at=now,
                province_code=record.get("province_code"),
                prefecture_code=record.get("prefecture_code"),
                county_code=record.get("county_code"),
                township_code=record.get("township_code"),
                state="pending",
                comment="",
            )
        )
        key = inserted.inserted_primary_key
        assert key is not None
        return self._get_in(conn, int(key[0]))

    # -- reading -----------------------------------------------------------------------
    def get(self, change_id: int) -> Change:
        """One change; :class:`geo.errors.NotFound` if there is none."""
        with self.engine.connect() as conn:
            return self._get_in(conn, change_id)

    def _get_in(self, conn: Connection, change_id: int) -> Change:
        row = (
            conn.execute(station_changes.select().where(station_changes.c.id == change_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"change {change_id} does not exist", change_id=change_id)
        return Change.from_row(row)

    def _select(self, *where: Any) -> list[Change]:
        sel = station_changes.select().where(*where).order_by(station_changes.c.id)
        with self.engine.connect() as conn:
            return [Change.from_row(r) for r in conn.execute(sel).mappings()]

    def current_record(self, station_id: str) -> tuple[dict[str, Any] | None, int]:
        """The station's stored record (JSON values) and version; ``(None, 0)`` if absent."""
        station = self.repo.get(station_id)
        if station is None:
            return None, 0
        return hist.record_of(_to_row(station)), station.version

    def pending(self, areas: Sequence[str] | str | None = None) -> list[Change]:
        """Pending changes in ``areas`` (admin codes; none: all), oldest first."""
        areas = [areas] if isinstance(areas, str) else list(areas or ())
        where = [station_changes.c.state == "pending"]
        condition = access.area_condition(areas, station_changes)
        if condition is not None:
            where.append(condition)
        return self._select(*where)

    def mine(self, author: str) -> list[Change]:
        """Every change ``author`` proposed, newest first (with their decisions)."""
        return self._select(station_changes.c.author == author)[::-1]

    def for_station(self, station_id: str) -> list[Change]:
        """Every change of one station, oldest first."""
        return self._select(station_changes.c.station_id == station_id)

    def pending_for(self, station_id: str) -> list[Change]:
        """The pending changes of one station, oldest first (at most one per author)."""
        c = station_changes.c
        return self._select(c.station_id == station_id, c.state == "pending")

    def successor(self, change: Change) -> int | None:
        """The id of the change that superseded ``change`` (the same author's next proposal
        for the same station); ``None`` unless ``change`` is superseded."""
        if change.state != "superseded":
            return None
        c = station_changes.c
        sel = sa.select(sa.func.min(c.id)).where(
            c.station_id == change.station_id, c.author == change.author, c.id > change.id
        )
        with self.engine.connect() as conn:
            found = conn.execute(sel).scalar()
        return int(found) if found is not None else None

    def review_states(self) -> dict[str, str]:
        """Each station with changes: ``"pending"`` (a change waits for a reviewer),
        ``"rejected"`` (its latest change was rejected and no version of the station was
        written after the rejection: a later direct save by a reviewer, or with approval
        off, settles it) or ``"clear"``, in ONE query (the list of an area reads every
        station's state at once). Stations without any change are absent (clear)."""
        c = station_changes.c
        latest = (
            sa.select(
                c.station_id,
                sa.func.max(c.id).label("latest_id"),
                sa.func.sum(sa.case((c.state == "pending", 1), else_=0)).label("waiting"),
            )
            .group_by(c.station_id)
            .subquery()
        )
        sv = station_versions.c
        saved_since = (
            sa.exists()
            .where(sv.station_id == latest.c.station_id)
            .where(sv.at > c.decided_at)
            .correlate(latest, station_changes)
        )
        sel = sa.select(latest.c.station_id, latest.c.waiting, c.state, saved_since).join(
            station_changes, c.id == latest.c.latest_id
        )
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for sid, waiting, state, settled in conn.execute(sel):
                rejected = state == "rejected" and not settled
                out[sid] = "pending" if waiting else ("rejected" if rejected else "clear")
        return out

    def pending_counts(self, areas: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Pending changes per county in ``areas``: ``[{"county_code", "pending"}]``."""
        c = station_changes.c
        sel = (
            sa.select(c.county_code, sa.func.count())
            .where(c.state == "pending")
            .group_by(c.county_code)
            .order_by(c.county_code)
        )
        condition = access.area_condition(list(areas), station_changes)
        if condition is not None:
            sel = sel.where(condition)
        with self.engine.connect() as conn:
            return [{"county_code": code or "", "pending": int(n)} for code, n in conn.execute(sel)]

    def timeline(self, station_id: str) -> list[dict[str, Any]]:
        """A station's history with its changes merged, oldest first: each history version
        (``kind`` ``"version"``, with ``change_id`` when an approval wrote it) and each
        proposal and decision (``kind`` ``"proposed"`` / ``"approved"`` / ``"rejected"`` /
        ...), as dicts with ``at``, ``actor``, ``action``, ``reason`` / ``comment``."""
        changes = self.for_station(station_id)
        successors: dict[int, int] = {}
        for newer in changes:  # a proposal supersedes the same author's earlier pending ones
            for older in changes:
                if (
                    older.state == "superseded"
                    and older.author == newer.author
                    and older.id < newer.id
                    and older.id not in successors
                ):
                    successors[older.id] = newer.id
        by_version = {c.applied_version: c for c in changes if c.applied_version is not None}
        events: list[tuple[datetime, int, dict[str, Any]]] = []
        for v in self.repo.history(station_id):
            ch = by_version.get(v.version)
            events.append(
                (
                    v.at,
                    2,
                    {
                        **v.to_dict(),
                        "kind": "version",
                        "change_id": ch.id if ch else None,
                        "reviewer": ch.reviewer if ch else None,
                    },
                )
            )
        for ch in changes:
            events.append(
                (
                    ch.created_at,
                    0,
                    {
                        "kind": "proposed",
                        "change_id": ch.id,
                        "action": ch.action,
                        "actor": ch.author,
                        "reason": ch.reason,
                        "at": ch.created_at.isoformat(),
                        "changes": ch.changes,
                    },
                )
            )
            if ch.decided_at is not None and ch.state != "pending":
                events.append(
                    (
                        ch.decided_at,
                        1,
                        {
                            "kind": ch.state,
                            "change_id": ch.id,
                            "action": ch.action,
                            "actor": ch.reviewer or ch.author,
                            "comment": ch.comment,
                            "at": ch.decided_at.isoformat(),
                            "version": ch.applied_version,
                            "superseded_by": successors.get(ch.id),
                        },
                    )
                )
        return [e for _, _, e in sorted(events, key=lambda t: (t[0], t[1]))]

    # -- deciding ----------------------------------------------------------------------
    def _check_reviewer(self, change: Change, reviewer: _User) -> None:
        """:class:`Forbidden` unless ``reviewer`` may decide ``change``."""
        if not access.allowed(reviewer.role, "review"):
            raise Forbidden(
                "只有审核员可以审批修改 (only reviewers decide changes)", change_id=change.id
            )
        if reviewer.name == change.author:
            raise Forbidden(
                "不能审批自己提交的修改 (a reviewer cannot decide their own change)",
                change_id=change.id,
                reason="own_change",
            )
        stored = self.repo.get(change.station_id)
        for target in (station_of(change.record), stored):
            if target is not None and not access.user_covers(reviewer, target):
                raise Forbidden(
                    "此修改不在您的区域内 (the change is outside your areas)",
                    change_id=change.id,
                    reason="out_of_area",
                )

    def _decide(
        self, conn: Connection, change: Change, state: str, reviewer: str, comment: str
    ) -> datetime:
        """Move ``change`` from pending to ``state``; :class:`Conflict` if it was decided."""
        now = datetime.now(UTC)
        c = station_changes.c
        done = conn.execute(
            station_changes.update()
            .where(c.id == change.id, c.state == "pending")
            .values(state=state, reviewer=reviewer, comment=comment, decided_at=now)
        ).rowcount
        if done != 1:
            latest = self._get_in(conn, change.id)
            raise Conflict(
                f"change {change.id} was already decided ({latest.state}"
                + (f" by {latest.reviewer})" if latest.reviewer else ")"),
                change_id=change.id,
                state=latest.state,
                reviewer=latest.reviewer,
            )
        return now

    def approve(self, change_id: int, reviewer: _User, comment: str = "") -> Change:
        """Apply a pending change and mark it approved, in one transaction.

        Raises
        ------
        Forbidden
            ``reviewer`` may not review, is the author, or does not cover the change.
        Conflict
            The change was already decided, or the station changed since the change's base
            version (details: what changed); the change stays pending, nothing is written.
        """
        comment = _text(comment, "comment")
        change = self.get(change_id)
        self._check_reviewer(change, reviewer)
        if change.state != "pending":
            raise Conflict(
                f"change {change.id} is {change.state}, not pending",
                change_id=change.id,
                state=change.state,
            )
        note = f"审核通过 #{change.id}（审核人 {reviewer.name}" + (
            f"：{comment}）" if comment else "）"
        )
        reason = f"{change.reason} · {note}" if change.reason else note
        expected = {change.station_id: change.base_version}
        with self.repo.transaction() as conn:
            # The state first: a second approver waits on this row (PostgreSQL) or the
            # database's write lock (SQLite), then finds it decided.
            self._decide(conn, change, "approved", reviewer.name, comment)
            options = dict(
                actor=change.author, source="review", reason=reason, expected_versions=expected
            )
            if change.action == "delete":
                self.repo.delete([change.station_id], conn, **options)  # type: ignore[arg-type]
            else:
                self.repo.save([station_of(change.record)], conn, **options)  # type: ignore[arg-type]
            applied = hist.latest_versions(conn, [change.station_id]).get(change.station_id)
            conn.execute(
                station_changes.update()
                .where(station_changes.c.id == change.id)
                .values(applied_version=applied)
            )
            return self._get_in(conn, change.id)

    def reject(self, change_id: int, reviewer: _User, comment: str) -> Change:
        """Reject a pending change with a comment (required); the station is untouched."""
        comment = _text(comment, "comment")
        if not comment:
            raise ValidationError(
                "退回修改需要填写意见 (a rejection needs a comment)",
                field="comment",
                reason="required",
            )
        change = self.get(change_id)
        self._check_reviewer(change, reviewer)
        with self.repo.transaction() as conn:
            self._decide(conn, change, "rejected", reviewer.name, comment)
            return self._get_in(conn, change.id)

    def withdraw(self, change_id: int, author: str) -> Change:
        """The author takes back a pending change."""
        change = self.get(change_id)
        if change.author != author:
            raise Forbidden("只有提交人可以撤回 (only the author withdraws a change)")
        with self.repo.transaction() as conn:
            self._decide(conn, change, "withdrawn", author, "")
            return self._get_in(conn, change.id)
